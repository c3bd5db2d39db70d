"""Crash durability: SIGKILL a loaded ``tlog serve`` and check that nothing it acknowledged or published is lost."""

from __future__ import annotations

import base64
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.tlog.test_cli import ORIGIN, init, serve
from tests.tlog.test_server import submission
from tlog import merkle
from tlog.checkpoint import Checkpoint, open_checkpoint
from tlog.note import Verifier

pytestmark = [pytest.mark.real_server, pytest.mark.xdist_group("tlog-serve")]

THREADS = 16
ENVELOPES = 640  # pre-signed, so the load is not limited by signing
LOAD_SECONDS = 20  # at most
MIN_ACKS = 20  # fewer acknowledgements before the kill would make the test meaningless
KILL_ROUNDS = 3  # kills while WAL checkpoints run every few commits


@dataclass(frozen=True)
class Ack:
    """An acknowledged submission: what the server promised."""

    body: dict[str, Any]
    index: int
    leaf_hash: bytes
    checkpoint: bytes


def _load(url: str, bodies: list[dict[str, Any]], acks: list[Ack], stop: threading.Event, lock: threading.Lock) -> None:
    """Submit ``bodies`` one by one until they run out, ``stop`` is set or the server dies."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for body in bodies:
            if stop.is_set():
                return
            try:
                response = client.post("/v1/entries", json=body)
            except httpx.HTTPError:
                return  # the server was killed: this one was never acknowledged
            assert response.status_code == 201, response.text
            doc = response.json()
            ack = Ack(body, doc["index"], base64.b64decode(doc["leafHash"]), doc["checkpoint"].encode())
            with lock:
                acks.append(ack)


def _poll_checkpoints(url: str, seen: list[bytes], stop: threading.Event) -> None:
    """Fetch ``GET /checkpoint`` repeatedly, keeping every note the server published."""
    with httpx.Client(base_url=url, timeout=30) as client:
        while not stop.is_set():
            try:
                response = client.get("/checkpoint")
            except httpx.HTTPError:
                return
            if response.status_code == 200:
                seen.append(response.content)
            time.sleep(0.01)


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # exited meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _assert_consistent(client: httpx.Client, old: Checkpoint, new: Checkpoint) -> None:
    assert old.size <= new.size, f"the log shrank from {old.size} to {new.size} entries"
    response = client.get("/v1/proof/consistency", params={"old": old.size, "new": new.size})
    assert response.status_code == 200, response.text
    proof = [base64.b64decode(h) for h in response.json()["hashes"]]
    merkle.verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof)


def _load_and_kill(directory: Path, bodies: list[dict[str, Any]], *extra: str) -> tuple[list[Ack], list[bytes]]:
    """Serve ``directory``, submit ``bodies`` from THREADS clients, SIGKILL the server mid-load.

    Returns what was acknowledged before the kill and every checkpoint ``GET /checkpoint`` showed.
    """
    acks: list[Ack] = []
    published: list[bytes] = []
    lock = threading.Lock()
    stop = threading.Event()
    with serve(directory, "--checkpoint-interval", "0.02", *extra) as served:
        workers = [
            threading.Thread(target=_load, args=(served.url, bodies[i::THREADS], acks, stop, lock), daemon=True)
            for i in range(THREADS)
        ]
        poller = threading.Thread(target=_poll_checkpoints, args=(served.url, published, stop), daemon=True)
        for thread in [*workers, poller]:
            thread.start()
        deadline = time.monotonic() + LOAD_SECONDS
        while len(acks) < len(bodies) // 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        helpers = _children(served.process.pid)
        assert helpers, "tlog serve verifies in worker processes by default"
        served.process.send_signal(signal.SIGKILL)
        assert served.process.wait(10) == -signal.SIGKILL
        stop.set()
        for thread in [*workers, poller]:
            thread.join(30)
            assert not thread.is_alive()
        # Whatever a worker reports after the kill was received before it: all of it counts.
        with lock:
            acknowledged = list(acks)
    assert len(acknowledged) >= MIN_ACKS, f"only {len(acknowledged)} acknowledgements before the kill"
    assert len(acknowledged) < len(bodies), "the load finished before the kill: submit more"
    # The killed server's verification workers notice and exit (no orphans).
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in helpers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in helpers if Path(f"/proc/{pid}").exists()], "orphaned worker processes"
    return acknowledged, published


def _check_restart(directory: Path, verifier: Verifier, acknowledged: list[Ack], published: list[bytes]) -> None:
    """Restart the log: every acknowledged entry is there and every checkpoint ever shown is consistent with it."""
    assert len({a.index for a in acknowledged}) == len(acknowledged)
    seen = [open_checkpoint(note, [verifier], ORIGIN) for note in published + [a.checkpoint for a in acknowledged]]
    assert seen
    with serve(directory) as served, httpx.Client(base_url=served.url, timeout=30) as client:
        after = open_checkpoint(client.get("/checkpoint").content, [verifier], ORIGIN)
        for ack in acknowledged:
            response = client.get(f"/v1/entries/{ack.index}")
            assert response.status_code == 200, (ack.index, response.text)
            assert base64.b64decode(response.json()["leafHash"]) == ack.leaf_hash, ack.index
        for old in {(c.size, c.root_hash): c for c in seen}.values():
            _assert_consistent(client, old, after)

        # The log keeps working: an acknowledged envelope deduplicates to its index, a new one is appended.
        first = acknowledged[0]
        again = client.post("/v1/entries", json=first.body)
        assert again.status_code == 200, again.text
        assert again.json()["index"] == first.index
        fresh = client.post("/v1/entries", json=submission(f"durability-after-restart-{after.size}"))
        assert fresh.status_code == 201, fresh.text
        assert fresh.json()["index"] == after.size
        latest = open_checkpoint(fresh.json()["checkpoint"].encode(), [verifier], ORIGIN)
        _assert_consistent(client, after, latest)


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_sigkill_under_load_loses_nothing_acknowledged_or_published(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    verifier: Verifier = init(directory)
    bodies = [submission(f"durability-{i}") for i in range(ENVELOPES)]
    acknowledged, published = _load_and_kill(directory, bodies)
    _check_restart(directory, verifier, acknowledged, published)


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_repeated_sigkills_while_wal_checkpoints_run_lose_nothing(tmp_path: Path) -> None:
    """A WAL checkpoint every few commits (64 KiB): kills land during checkpoints and WAL restarts."""
    directory = tmp_path / "log"
    verifier: Verifier = init(directory)
    everything: list[Ack] = []
    shown: list[bytes] = []
    for round_number in range(KILL_ROUNDS):
        bodies = [submission(f"wal-kill-{round_number}-{i}") for i in range(ENVELOPES // 2)]
        acknowledged, published = _load_and_kill(directory, bodies, "--wal-checkpoint-size", "65536")
        everything += acknowledged
        shown += published
        _check_restart(directory, verifier, everything, shown)
