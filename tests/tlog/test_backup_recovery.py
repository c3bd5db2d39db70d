"""Backups, restores and recovery from a mirror: the operator's way back from lost storage."""

from __future__ import annotations

import functools
import http.server
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.tlog.live import serve, tlog
from tests.tlog.test_cli import ORIGIN, init
from tests.tlog.test_durability import _assert_consistent
from tests.tlog.test_lost_state import FAST, published, refused, submit
from tests.tlog.test_server import submission
from tlog.checkpoint import open_checkpoint
from tlog.published import PUBLISHED_FILE
from tlog.tiles import entry_bundles_for_size

pytestmark = [pytest.mark.real_server, pytest.mark.xdist_group("tlog-serve")]


def mirror_files(url: str, root: Path) -> int:
    """Copy a log's checkpoint and entry bundles into ``root`` as static files (an auditor's copy); return the size."""
    with httpx.Client(base_url=url, timeout=30) as client:
        note = client.get("/checkpoint").content
        size = int(note.split(b"\n")[1])
        (root / "checkpoint").parent.mkdir(parents=True, exist_ok=True)
        (root / "checkpoint").write_bytes(note)
        for bundle in entry_bundles_for_size(size):
            target = root / bundle.path
            target.parent.mkdir(parents=True, exist_ok=True)
            response = client.get(f"/{bundle.path}")
            assert response.status_code == 200, response.text
            target.write_bytes(response.content)
    return size


@contextmanager
def static_mirror(root: Path) -> Iterator[str]:
    """Serve ``root`` over HTTP on a free loopback port (a CDN or an auditor's mirror)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def lose_database(directory: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{directory / 'log.db'}{suffix}").unlink(missing_ok=True)


def test_backup_restore_then_recover_from_a_mirror_brings_back_every_published_entry(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    verifier = init(directory)
    backup = tmp_path / "backup.db"
    mirror = tmp_path / "mirror"
    with serve(directory, *FAST) as served:
        first = submit(served, [f"recover-{i}" for i in range(300)])  # more than one entry bundle
        backed_up = tlog("backup", "--dir", directory, backup)  # online, while serving
        assert backed_up.returncode == 0, backed_up.stderr
        assert "at size 300" in backed_up.stderr
        second = submit(served, [f"recover-{i}" for i in range(300, 340)])
        assert mirror_files(served.url, mirror) == 340
        served.process.send_signal(signal.SIGKILL)
        served.process.wait(10)
    acknowledged = first + second
    record = published(directory, verifier)
    assert record.size == 340

    lose_database(directory)
    assert "only 'tlog init' creates a log" in tlog("serve", "--dir", directory, "--listen", "127.0.0.1:0").stderr

    restored = tlog("restore", "--dir", directory, backup)
    assert restored.returncode == 0, restored.stderr
    assert "restored log.example.com/cli-test at size 300" in restored.stderr
    assert "fetch entries 300..339 with 'tlog recover" in restored.stderr
    assert "published a checkpoint at size 340" in refused(directory)  # still behind: not served

    with static_mirror(mirror) as url:
        recovered = tlog("recover", "--dir", directory, "--from", url)
    assert recovered.returncode == 0, recovered.stderr
    assert "recovered entries 300..339" in recovered.stderr
    assert published(directory, verifier) == record
    assert tlog("check", "--dir", directory).returncode == 0

    with serve(directory, *FAST) as served, httpx.Client(base_url=served.url, timeout=30) as client:
        assert client.get("/checkpoint").content == (directory / PUBLISHED_FILE).read_bytes()
        for doc in acknowledged[::37] + acknowledged[-1:]:
            entry = client.get(f"/v1/entries/{doc['index']}").json()
            assert entry["leafHash"] == doc["leafHash"]
        old = open_checkpoint(acknowledged[0]["checkpoint"].encode(), [verifier], ORIGIN)
        _assert_consistent(client, old, record)
        # The log goes on where it stopped; a resubmitted envelope finds its recovered index.
        again = client.post("/v1/entries", json=submission("recover-339"))
        assert again.status_code == 200 and again.json()["index"] == acknowledged[-1]["index"]
        assert submit(served, ["after-recovery"])[0]["index"] == 340


def test_recover_everything_from_a_mirror_when_no_backup_survived(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    verifier = init(directory)
    mirror = tmp_path / "mirror"
    with serve(directory, *FAST) as served:
        submit(served, [f"all-{i}" for i in range(12)])
        mirror_files(served.url, mirror)
    lose_database(directory)
    with static_mirror(mirror) as url:
        recovered = tlog("recover", "--dir", directory, "--from", url)
    assert recovered.returncode == 0, recovered.stderr
    assert "recovered entries 0..11" in recovered.stderr
    assert published(directory, verifier).size == 12
    with serve(directory, *FAST) as served:
        assert submit(served, ["after"])[0]["index"] == 12


def test_recover_refuses_a_mirror_that_is_behind_or_lies_and_changes_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    init(directory)
    behind, lying = tmp_path / "behind", tmp_path / "lying"
    with serve(directory, *FAST) as served:
        submit(served, [f"lie-{i}" for i in range(5)])
        mirror_files(served.url, behind)
        submit(served, [f"lie-{i}" for i in range(5, 10)])
        mirror_files(served.url, lying)
    # The lying mirror serves another envelope in place of entry 7 (its checkpoint is genuine).
    bundle = lying / "tile/entries/000.p/10"
    other = tmp_path / "other"
    lose_database(directory)
    record = (directory / PUBLISHED_FILE).read_bytes()
    with static_mirror(behind) as url:
        result = tlog("recover", "--dir", directory, "--from", url)
    assert result.returncode == 1 and "at size 5, behind the log's published checkpoint (size 10)" in result.stderr
    # Build the forged bundle: the same entries but one replaced by an entry of another log.
    init(other, "log.example.com/other")
    with serve(other, *FAST) as served:
        submit(served, [f"lie-{i}" for i in range(9)] + ["forged"])
        mirror_files(served.url, tmp_path / "forged")
    shutil.copy(tmp_path / "forged/tile/entries/000.p/10", bundle)
    with static_mirror(lying) as url:
        result = tlog("recover", "--dir", directory, "--from", url)
    assert result.returncode == 1
    assert "do not lead to the root of the log's checkpoint at size 10" in result.stderr
    assert not (directory / "log.db").exists()  # nothing was installed
    assert (directory / PUBLISHED_FILE).read_bytes() == record
    assert not [p for p in directory.iterdir() if p.name.endswith(".tmp")]
    # A mirror whose checkpoint is not signed by this log's key is refused before anything is fetched.
    with static_mirror(tmp_path / "forged") as url:
        result = tlog("recover", "--dir", directory, "--from", url)
    assert result.returncode == 1, result.stderr
    assert "the mirror's checkpoint is not a checkpoint of log.example.com/cli-test signed by this log's key" in (
        result.stderr
    )


def test_restore_refuses_a_backup_of_another_history(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    verifier = init(directory)
    pristine = tmp_path / "pristine.db"
    assert tlog("backup", "--dir", directory, pristine).returncode == 0
    with serve(directory, *FAST) as served:
        submit(served, ["mine-0", "mine-1"])
    record = (directory / PUBLISHED_FILE).read_bytes()
    # A backup of the same log that went another way (two other entries at the same indices).
    fork = tmp_path / "fork"
    shutil.copytree(directory, fork)
    lose_database(fork)
    (fork / "log.db").write_bytes(pristine.read_bytes())
    (fork / PUBLISHED_FILE).unlink()
    assert tlog("init", "--dir", fork, "--adopt").returncode == 0
    with serve(fork, *FAST) as served:
        submit(served, ["theirs-0", "theirs-1"])
    other_backup = tmp_path / "other.db"
    assert tlog("backup", "--dir", fork, other_backup).returncode == 0
    before = (directory / "log.db").read_bytes()
    result = tlog("restore", "--dir", directory, other_backup)
    assert result.returncode == 1 and "disagrees with the published checkpoint at size 2" in result.stderr
    assert (directory / "log.db").read_bytes() == before
    assert (directory / PUBLISHED_FILE).read_bytes() == record
    assert published(directory, verifier).size == 2


def test_backup_refuses_to_overwrite_and_needs_a_log(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    init(directory)
    target = tmp_path / "exists.db"
    target.write_bytes(b"keep")
    result = tlog("backup", "--dir", directory, target)
    assert result.returncode == 2 and "refusing to overwrite" in result.stderr
    assert target.read_bytes() == b"keep"
    result = tlog("restore", "--dir", directory, tmp_path / "missing.db")
    assert result.returncode == 2 and "does not exist" in result.stderr
