"""A log never starts on lost or damaged state: one writer, the published-checkpoint record, start-up checks."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.tlog.live import TLOG_COMMAND, Served, serve, tlog
from tests.tlog.test_cli import ORIGIN, init
from tests.tlog.test_server import submission
from tlog.checkpoint import Checkpoint, open_checkpoint
from tlog.note import Verifier
from tlog.published import PUBLISHED_FILE

pytestmark = [pytest.mark.real_server, pytest.mark.xdist_group("tlog-serve")]

FAST = ("--verify-workers", "0")


def submit(served: Served, names: list[str]) -> list[dict[str, Any]]:
    """Submit one entry per name; every one must be acknowledged."""
    docs = []
    with httpx.Client(base_url=served.url, timeout=30) as client:
        for name in names:
            response = client.post("/v1/entries", json=submission(name))
            assert response.status_code == 201, response.text
            docs.append(response.json())
    return docs


def published(directory: Path, verifier: Verifier) -> Checkpoint:
    return open_checkpoint((directory / PUBLISHED_FILE).read_bytes(), [verifier], ORIGIN)


def killed_log(directory: Path, count: int, prefix: str = "entry") -> tuple[Verifier, list[dict[str, Any]]]:
    """A log of ``count`` entries whose server was SIGKILLed: everything since the last WAL checkpoint is in the WAL."""
    verifier = init(directory)
    with serve(directory, *FAST) as served:
        docs = submit(served, [f"{prefix}-{i}" for i in range(count)])
        served.process.send_signal(signal.SIGKILL)
        served.process.wait(10)
    return verifier, docs


def refused(directory: Path, *extra: str) -> str:
    """Run ``tlog serve``; it must exit 1 at once with one line (no traceback) and return that line."""
    result = subprocess.run(
        [*TLOG_COMMAND, "serve", "--dir", str(directory), "--listen", "127.0.0.1:0", *FAST, *extra],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr


# --- one writer -----------------------------------------------------------------------------------


def test_a_second_server_on_the_same_log_exits_at_once_naming_the_holder(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    init(directory)
    with serve(directory, *FAST) as first:
        started = time.monotonic()
        message = refused(directory)
        assert time.monotonic() - started < 30
        assert f"in use by another tlog process (PID {first.process.pid})" in message
        # Restore and recover need the log stopped too.
        backup = tmp_path / "backup.db"
        assert tlog("backup", "--dir", directory, backup).returncode == 0  # an online backup is fine
        commands: list[list[str | Path]] = [
            ["restore", "--dir", directory, backup],
            ["recover", "--dir", directory, "--from", first.url],
        ]
        for args in commands:
            result = tlog(*args)
            assert result.returncode == 1, result.stderr
            assert f"PID {first.process.pid}" in result.stderr
        submit(first, ["still-serving"])
    # The kernel released the lock with the process: the log starts again (also after a SIGKILL).
    with serve(directory, *FAST) as again:
        again.process.send_signal(signal.SIGKILL)
        again.process.wait(10)
    with serve(directory, *FAST):
        pass


# --- the published-checkpoint record --------------------------------------------------------------


def test_every_receipt_and_served_checkpoint_is_covered_by_the_record(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    verifier = init(directory)
    assert published(directory, verifier).size == 0
    with serve(directory, *FAST) as served, httpx.Client(base_url=served.url, timeout=30) as client:
        for i in range(15):
            response = client.post("/v1/entries", json=submission(f"covered-{i}"))
            assert response.status_code == 201
            receipt = open_checkpoint(response.json()["checkpoint"].encode(), [verifier], ORIGIN)
            served_now = open_checkpoint(client.get("/checkpoint").content, [verifier], ORIGIN)
            record = published(directory, verifier)
            assert record.size >= receipt.size and record.size >= served_now.size


def test_a_deleted_wal_after_a_crash_is_refused_not_restarted_empty(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    verifier, _docs = killed_log(directory, 30)
    wal = directory / "log.db-wal"
    assert wal.stat().st_size > 0, "the entries should still be in the WAL"
    wal.unlink()
    (directory / "log.db-shm").unlink(missing_ok=True)
    message = refused(directory)
    assert "published a checkpoint at size 30" in message
    assert "were lost" in message and "tlog restore" in message
    assert published(directory, verifier).size == 30  # the record is untouched


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_truncated_or_bit_flipped_wal_is_refused(tmp_path: Path, damage: str) -> None:
    directory = tmp_path / "log"
    _, _docs = killed_log(directory, 30)
    wal = directory / "log.db-wal"
    data = bytearray(wal.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0x40
    wal.write_bytes(bytes(data))
    message = refused(directory)
    assert "published a checkpoint at size 30" in message


def test_an_emptied_or_missing_database_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    killed_log(directory, 5)
    for suffix in ("-wal", "-shm"):
        Path(f"{directory / 'log.db'}{suffix}").unlink(missing_ok=True)
    (directory / "log.db").write_bytes(b"")
    assert "holds no log" in refused(directory)
    assert (directory / "log.db").stat().st_size == 0  # nothing was written into it
    (directory / "log.db").unlink()
    result = tlog("serve", "--dir", directory, "--listen", "127.0.0.1:0")
    assert result.returncode == 2 and "only 'tlog init' creates a log" in result.stderr


def test_a_deleted_last_entry_or_a_flipped_entry_is_refused_at_start(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    init(directory)
    with serve(directory, *FAST) as served:
        submit(served, [f"row-{i}" for i in range(8)])
        served.process.send_signal(signal.SIGTERM)  # clean stop: everything in log.db
        served.process.wait(30)
    database = directory / "log.db"
    with sqlite3.connect(database) as conn:
        (data,) = conn.execute("SELECT data FROM entries WHERE idx = 2").fetchone()
        conn.execute("DELETE FROM entries WHERE idx = 7")
    assert "are not all in storage" in refused(directory)
    with sqlite3.connect(database) as conn:
        conn.execute("INSERT INTO entries (idx, data) VALUES (7, ?)", (bytes(data),))  # the wrong bytes
    assert "do not hash to the stored level-0 tile" in refused(directory)


def test_storage_that_disagrees_with_the_record_is_refused(tmp_path: Path) -> None:
    """A database of the same log from another history (a copy that went its own way) is a fork."""
    directory = tmp_path / "log"
    verifier = init(directory)
    pristine = tmp_path / "pristine.db"
    assert tlog("backup", "--dir", directory, pristine).returncode == 0
    with serve(directory, *FAST) as served:
        submit(served, ["history-a-0", "history-a-1"])
    record = (directory / PUBLISHED_FILE).read_bytes()
    # Another history of the same size: restore the empty copy, log two other entries.
    (directory / PUBLISHED_FILE).unlink()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{directory / 'log.db'}{suffix}").unlink(missing_ok=True)
    (directory / "log.db").write_bytes(pristine.read_bytes())
    assert tlog("init", "--dir", directory, "--adopt").returncode == 0
    with serve(directory, *FAST) as served:
        submit(served, ["history-b-0", "history-b-1"])
    (directory / PUBLISHED_FILE).write_bytes(record)
    message = refused(directory)
    assert "disagrees with the published checkpoint at size 2" in message and "fork" in message
    assert published(directory, verifier).size == 2


def test_a_missing_record_is_refused_until_adopted_after_a_full_check(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    verifier, _ = killed_log(directory, 4)
    (directory / PUBLISHED_FILE).unlink()
    assert "no record of the latest published checkpoint" in refused(directory)
    adopted = tlog("init", "--dir", directory, "--adopt")
    assert adopted.returncode == 0, adopted.stderr
    assert published(directory, verifier).size == 4
    again = tlog("init", "--dir", directory, "--adopt")
    assert again.returncode == 2 and "already records" in again.stderr
    with serve(directory, *FAST) as served:
        assert submit(served, ["after-adopt"])[0]["index"] == 4


def test_a_forged_or_foreign_record_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    killed_log(directory, 2)
    record = directory / PUBLISHED_FILE
    note = bytearray(record.read_bytes())
    note[len(ORIGIN) + 1] ^= 0x01  # the size line
    record.write_bytes(bytes(note))
    assert "not a checkpoint of" in refused(directory)


def test_storage_ahead_of_the_record_is_republished(tmp_path: Path) -> None:
    """A crash between the commit and the record leaves storage ahead: nothing was shown, so it is fine."""
    directory = tmp_path / "log"
    verifier = init(directory)
    record = (directory / PUBLISHED_FILE).read_bytes()  # size 0
    with serve(directory, *FAST) as served:
        submit(served, ["ahead-0", "ahead-1", "ahead-2"])
    (directory / PUBLISHED_FILE).write_bytes(record)
    with serve(directory, *FAST) as served, httpx.Client(base_url=served.url, timeout=30) as client:
        assert open_checkpoint(client.get("/checkpoint").content, [verifier], ORIGIN).size == 3
    assert published(directory, verifier).size == 3


# --- full checks ------------------------------------------------------------------------------------


def test_check_and_serve_check_find_a_flipped_entry_anywhere(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    init(directory)
    with serve(directory, *FAST) as served:
        submit(served, [f"checked-{i}" for i in range(6)])
    ok = tlog("check", "--dir", directory)
    assert ok.returncode == 0, ok.stderr
    assert "6 entries and" in ok.stdout and "at the published checkpoint (size 6)" in ok.stdout
    database = directory / "log.db"
    with sqlite3.connect(database) as conn:
        (data,) = conn.execute("SELECT data FROM entries WHERE idx = 1").fetchone()
        flipped = bytearray(data)
        flipped[-3] ^= 0x01
        conn.execute("UPDATE entries SET data = ? WHERE idx = 1", (bytes(flipped),))
    bad = tlog("check", "--dir", directory)
    assert bad.returncode == 1
    assert "failed its integrity check" in bad.stderr and "level-0 hash 1 does not match" in bad.stderr
    message = refused(directory, "--check")
    assert "failed its integrity check" in message


def test_serve_check_passes_on_a_good_log(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    init(directory)
    with serve(directory, *FAST, "--check") as served:
        submit(served, ["good"])
        assert "full check passed (0 entries" in served.stderr()
