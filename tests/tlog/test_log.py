"""The sequencer: concurrent submissions, receipts, dedup, proofs, recovery and batch failures."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import sqlite3
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from notation_py.envelope import MEDIA_TYPE_JWS
from tests.envelope.helpers import sign
from tests.pki import chain_signer
from tlog import merkle
from tlog.checkpoint import open_checkpoint
from tlog.entry import Entry, SignerIdentity, Subject, Submission, build_entry
from tlog.errors import (
    InconsistentError,
    InvalidEntryError,
    LogOverloadedError,
    NotFoundError,
    ProofError,
    StorageError,
)
from tlog.log import Log, Receipt
from tlog.note import Signer, Verifier
from tlog.proof import TlogProof, verify_proof
from tlog.storage import LogState, NewEntry, NodeHash, Page, Storage, StoredCheckpoint
from tlog.storage import sqlite as sqlite_storage

T = TypeVar("T")

ORIGIN = "log.example.com/notary"
SIGNER = Signer.from_seed(ORIGIN, bytes(range(32)))
VERIFIER: Verifier = SIGNER.verifier()
FAST = 0.02  # checkpoint interval for tests (seconds)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine on a fresh event loop."""
    return asyncio.run(coro)


def entry(i: int, repository: str = "registry.example.com/app") -> Entry:
    """A synthetic entry: the log does not re-verify entries, so no envelope signing is needed."""
    return Entry(
        subject=Subject(repository, "sha256:" + hashlib.sha256(b"%d" % (i % 7)).hexdigest(), "application/x", 1),
        envelope_media_type=MEDIA_TYPE_JWS,
        envelope=b"envelope %d" % i,
        signer=SignerIdentity(f"CN=signer-{i % 3}", "CN=CA", ("00" * 32,)),
        signing_time=datetime(2026, 1, 1, tzinfo=UTC),
    )


def mth(leaves: Sequence[bytes]) -> bytes:
    """Private RFC 6962 Merkle Tree Hash over leaf hashes (the recursive definition), to cross-check."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def check_receipt(receipt: Receipt, expected: Entry | None = None) -> None:
    """Verify a receipt the way an offline client would: checkpoint signature, then inclusion."""
    checkpoint = open_checkpoint(receipt.checkpoint_note, [VERIFIER], ORIGIN)
    assert (checkpoint.size, checkpoint.root_hash) == (receipt.tree_size, receipt.root_hash)
    assert receipt.leaf_hash == merkle.leaf_hash(receipt.entry_bytes)
    merkle.verify_inclusion(
        receipt.index, checkpoint.size, receipt.leaf_hash, receipt.inclusion_proof, checkpoint.root_hash
    )
    receipt.verify()
    offline = TlogProof.from_bytes(receipt.to_tlog_proof().to_bytes())
    assert verify_proof(offline, merkle.leaf_hash(receipt.entry_bytes), [VERIFIER], ORIGIN).size == receipt.tree_size
    if expected is not None:
        assert receipt.entry_bytes == expected.data


async def opened(path: Path, **options: Any) -> tuple[Storage, Log]:
    """A SQLite store at ``path`` and a started log over it."""
    storage = await sqlite_storage.open(path)
    log = await Log.open(storage, SIGNER, ORIGIN, **{"checkpoint_interval": FAST, "create": True, **options})
    return storage, log


async def with_log(path: Path, body: Callable[[Log], Awaitable[T]], **options: Any) -> T:
    """Open a log at ``path``, run ``body``, close log and storage."""
    storage, log = await opened(path, **options)
    try:
        return await body(log)
    finally:
        await log.close()
        await storage.close()


async def check_consistency(log: Log, sizes: Iterable[int]) -> None:
    """Consistency proofs between successive published checkpoints verify."""
    ordered = sorted(set(sizes))
    for old, new in itertools.pairwise(ordered):
        old_cp = open_checkpoint((await log.storage.checkpoint_at(old)).note, [VERIFIER], ORIGIN)
        new_cp = open_checkpoint((await log.storage.checkpoint_at(new)).note, [VERIFIER], ORIGIN)
        proof = await log.consistency_proof(old, new)
        merkle.verify_consistency(old, new, old_cp.root_hash, new_cp.root_hash, proof)


# --- the happy path -----------------------------------------------------------------------------


def test_concurrent_submissions_get_unique_indices_and_verifiable_receipts(tmp_path: Path) -> None:
    entries = [entry(i) for i in range(600)]

    async def body(log: Log) -> None:
        assert log.size == 0
        receipts = await asyncio.gather(*(log.add(e) for e in entries))
        assert sorted(r.index for r in receipts) == list(range(600))
        for e, r in zip(entries, receipts, strict=True):
            check_receipt(r, e)
            assert not r.duplicate
        sizes = {r.tree_size for r in receipts}
        assert len(sizes) >= 5  # max_batch 128: several batches, several checkpoints
        assert log.size == 600
        # Cross-check the final root with an independent RFC 6962 implementation.
        leaves = [merkle.leaf_hash(d) for d in await log.storage.get_entries(0, 600)]
        assert log.checkpoint.root_hash == mth(leaves)
        await check_consistency(log, [0, *sizes])
        # Every published checkpoint is kept, and proofs work for any past size.
        for size in sizes:
            stored = await log.storage.checkpoint_at(size)
            assert stored.root_hash == mth(leaves[:size])
        merkle.verify_inclusion(3, 10, leaves[3], await log.inclusion_proof(3, 10), mth(leaves[:10]))

    run(with_log(tmp_path / "log.db", body, max_batch=128))


def test_real_signed_envelope_end_to_end(tmp_path: Path) -> None:
    envelope = sign(MEDIA_TYPE_JWS, chain_signer("ec-256"))
    submission = Submission(Subject("registry.example.com/app", "sha256:" + "ab" * 32), MEDIA_TYPE_JWS, envelope)
    logged = build_entry(submission)

    async def body(log: Log) -> None:
        receipt = await log.add(logged)
        check_receipt(receipt, logged)
        assert Entry.from_bytes(receipt.entry_bytes) == logged
        found = await log.storage.find_by_identity(logged.signer.subject)
        assert [e.index for e in found.entries] == [receipt.index]
        assert (await log.storage.find_by_digest("sha256:" + "ab" * 32)).entries[0].data == logged.data

    run(with_log(tmp_path / "log.db", body))


def test_empty_log_publishes_a_size_zero_checkpoint(tmp_path: Path) -> None:
    async def body(log: Log) -> None:
        checkpoint = open_checkpoint(log.checkpoint.note, [VERIFIER], ORIGIN)
        assert (checkpoint.size, checkpoint.root_hash) == (0, merkle.EMPTY_ROOT)
        assert await log.storage.checkpoint_at(0) == log.checkpoint

    run(with_log(tmp_path / "log.db", body))


# --- dedup ----------------------------------------------------------------------------------------


def test_resubmitted_envelope_returns_the_existing_index(tmp_path: Path) -> None:
    async def body(log: Log) -> None:
        first, again_in_batch, other = await asyncio.gather(log.add(entry(1)), log.add(entry(1)), log.add(entry(2)))
        assert first.index == again_in_batch.index != other.index
        assert (first.duplicate, again_in_batch.duplicate, other.duplicate) == (False, True, False)
        await log.add(entry(3))
        # Same envelope, different repository: the existing entry (and its bytes) is returned.
        later = await log.add(entry(1, repository="registry.example.com/elsewhere"))
        assert later.index == first.index
        assert later.duplicate
        assert later.entry_bytes == entry(1).data
        assert later.tree_size == 3
        check_receipt(later)
        assert log.size == 3

    run(with_log(tmp_path / "log.db", body))


# --- recovery -------------------------------------------------------------------------------------


def test_restart_recovers_the_tree_and_keeps_appending(tmp_path: Path) -> None:
    db = tmp_path / "log.db"

    async def first_run(log: Log) -> StoredCheckpoint:
        await asyncio.gather(*(log.add(entry(i)) for i in range(40)))
        return log.checkpoint

    async def second_run(log: Log) -> None:
        assert log.checkpoint == before
        receipts = await asyncio.gather(*(log.add(entry(i)) for i in range(30, 70)))
        assert [r.index for r in receipts[:10]] == list(range(30, 40))  # dedup survived the restart
        assert all(r.duplicate for r in receipts[:10])
        assert sorted(r.index for r in receipts[10:]) == list(range(40, 70))
        for r in receipts:
            check_receipt(r)
        await check_consistency(log, [40, 70])

    before = run(with_log(db, first_run))
    run(with_log(db, second_run))


def _corrupt(db: Path, sql: str, *params: Any) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(sql, params)


def test_restart_detects_a_corrupt_state(tmp_path: Path) -> None:
    db = tmp_path / "log.db"

    async def fill(log: Log) -> None:
        await asyncio.gather(*(log.add(entry(i)) for i in range(10)))

    run(with_log(db, fill))

    async def reopen(origin: str = ORIGIN) -> None:
        storage = await sqlite_storage.open(db)
        try:
            await Log.open(storage, Signer.from_seed(origin, bytes(32)), origin)
        finally:
            await storage.close()

    with pytest.raises(InconsistentError, match=r"not for origin 'other\.example\.com/log'"):
        run(reopen("other.example.com/log"))
    # Leaf hash 8 (bytes 256..287 of the first level-0 tile) feeds the level-1 node 4 of the root.
    with sqlite3.connect(db) as conn:
        (tile,) = conn.execute("SELECT data FROM tiles WHERE level = 0 AND idx = 0").fetchone()
    _corrupt(db, "UPDATE tiles SET data = ? WHERE level = 0 AND idx = 0", tile[:256] + bytes(32) + tile[288:])
    with pytest.raises(InconsistentError, match="stored subtree hashes do not lead to the root"):
        run(reopen())
    _corrupt(db, "UPDATE log_state SET compact_range = ?", b"\x00" * 8)
    with pytest.raises(InconsistentError, match="does not match the latest checkpoint"):
        run(reopen())
    _corrupt(db, "UPDATE log_state SET compact_range = ?", b"junk")
    with pytest.raises(InconsistentError, match="compact range is corrupt"):
        run(reopen())


# --- failures -------------------------------------------------------------------------------------


class FlakyStorage(Storage):
    """Delegates to a real storage; ``fail`` makes the next append_batch fail (before or after committing)."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.fail: BaseException | None = None
        self.fail_after_commit = False

    async def close(self) -> None:
        await self.inner.close()

    async def append_batch(
        self,
        entries: Sequence[NewEntry],
        hashes: Sequence[NodeHash],
        checkpoint: StoredCheckpoint,
        compact_range: bytes,
    ) -> range:
        failure, self.fail = self.fail, None
        if failure is not None and not self.fail_after_commit:
            raise failure
        result = await self.inner.append_batch(entries, hashes, checkpoint, compact_range)
        if failure is not None:
            raise failure
        return result

    async def latest_state(self) -> LogState | None:
        return await self.inner.latest_state()

    async def checkpoint_at(self, size: int) -> StoredCheckpoint:
        return await self.inner.checkpoint_at(size)

    async def lookup_dedup(self, keys: Iterable[bytes]) -> dict[bytes, int]:
        return await self.inner.lookup_dedup(keys)

    async def get_entries(self, start: int, end: int) -> list[bytes]:
        return await self.inner.get_entries(start, end)

    async def get_hashes(self, level: int, start: int, end: int) -> list[bytes]:
        return await self.inner.get_hashes(level, start, end)

    async def get_hashes_at(self, coordinates: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return await self.inner.get_hashes_at(coordinates)

    async def find_by_digest(self, digest: str, *, after: int = -1, limit: int = 100) -> Page:
        return await self.inner.find_by_digest(digest, after=after, limit=limit)

    async def find_by_identity(self, signer_subject: str, *, after: int = -1, limit: int = 100) -> Page:
        return await self.inner.find_by_identity(signer_subject, after=after, limit=limit)

    async def find_by_repository(self, repository: str, *, after: int = -1, limit: int = 100) -> Page:
        return await self.inner.find_by_repository(repository, after=after, limit=limit)


@pytest.mark.parametrize(
    "failure", [StorageError("disk full"), RuntimeError("driver bug")], ids=["storage-error", "unexpected-error"]
)
def test_batch_failure_fails_every_waiter_and_leaves_storage_unchanged(tmp_path: Path, failure: Exception) -> None:
    async def body() -> None:
        storage = FlakyStorage(await sqlite_storage.open(tmp_path / "log.db"))
        async with storage, await Log.open(storage, SIGNER, ORIGIN, checkpoint_interval=FAST, create=True) as log:
            await asyncio.gather(*(log.add(entry(i)) for i in range(5)))
            before = await storage.latest_state()
            storage.fail = failure
            results = await asyncio.gather(*(log.add(entry(i)) for i in range(5, 25)), return_exceptions=True)
            assert all(isinstance(r, StorageError) for r in results)
            assert {str(r) for r in results} == {
                "disk full" if isinstance(failure, StorageError) else "the batch was not logged: driver bug"
            }
            assert await storage.latest_state() == before
            assert await storage.lookup_dedup(e.dedup_key for e in map(entry, range(5, 25))) == {}
            # The sequencer survives, and no index was burnt.
            receipts = await asyncio.gather(*(log.add(entry(i)) for i in range(5, 10)))
            assert sorted(r.index for r in receipts) == list(range(5, 10))
            for r in receipts:
                check_receipt(r)

    run(body())


def test_failure_after_commit_is_recovered_by_resubmitting(tmp_path: Path) -> None:
    async def body() -> None:
        storage = FlakyStorage(await sqlite_storage.open(tmp_path / "log.db"))
        async with storage, await Log.open(storage, SIGNER, ORIGIN, checkpoint_interval=FAST, create=True) as log:
            storage.fail, storage.fail_after_commit = StorageError("connection lost during commit"), True
            with pytest.raises(StorageError, match="connection lost"):
                await log.add(entry(0))
            receipt = await log.add(entry(0))  # the log re-read its state: the entry is there
            assert (receipt.index, receipt.duplicate, receipt.tree_size) == (0, True, 1)
            check_receipt(receipt, entry(0))
            assert (await log.add(entry(1))).index == 1

    run(body())


def test_two_sequencers_on_one_database_never_reuse_an_index(tmp_path: Path) -> None:
    db = tmp_path / "log.db"

    async def body() -> None:
        storage_a, log_a = await opened(db)
        storage_b, log_b = await opened(db)
        try:
            assert (await log_a.add(entry(0))).index == 0
            receipt = await log_b.add(entry(1))  # B's view is stale: conflict, reload, re-sequence
            assert receipt.index == 1
            check_receipt(receipt, entry(1))
            both = await asyncio.gather(*(log.add(entry(i)) for i in range(2, 40) for log in (log_a, log_b)))
            indices = {r.index for r in both}
            assert indices == set(range(2, 40))  # each entry submitted twice, logged once
            for r in both:
                check_receipt(r)
        finally:
            for log in (log_a, log_b):
                await log.close()
            for storage in (storage_a, storage_b):
                await storage.close()

    run(body())


# --- lifecycle and limits -------------------------------------------------------------------------


def test_close_flushes_pending_submissions(tmp_path: Path) -> None:
    async def body() -> None:
        storage, log = await opened(tmp_path / "log.db", checkpoint_interval=30)
        futures = [log.submit(entry(i)) for i in range(50)]
        loop = asyncio.get_running_loop()
        started = loop.time()
        await log.close()
        assert loop.time() - started < 5  # did not wait for the 30 s interval
        assert sorted(f.result().index for f in futures) == list(range(50))
        with pytest.raises(StorageError, match="not accepting submissions"):
            log.submit(entry(99))
        await storage.close()

    run(body())


def test_cancelled_waiter_does_not_disturb_the_batch(tmp_path: Path) -> None:
    async def body(log: Log) -> None:
        futures = [log.submit(entry(i)) for i in range(10)]
        futures[3].cancel()
        results = await asyncio.gather(*futures[:3], *futures[4:])
        assert sorted(r.index for r in results) == [0, 1, 2, 4, 5, 6, 7, 8, 9]
        assert (await log.add(entry(3))).duplicate  # it was logged anyway

    run(with_log(tmp_path / "log.db", body))


def test_pushback_when_too_many_submissions_are_pending(tmp_path: Path) -> None:
    async def body(log: Log) -> None:
        futures = [log.submit(entry(i)) for i in range(4)]
        with pytest.raises(LogOverloadedError, match="retry later"):
            log.submit(entry(4))
        await asyncio.gather(*futures)

    run(with_log(tmp_path / "log.db", body, max_batch=2, max_pending=4, checkpoint_interval=1))


def test_oversized_entry_is_refused_at_submission(tmp_path: Path) -> None:
    huge = Entry(
        subject=Subject("registry.example.com/app", "sha256:" + "ab" * 32, "application/x", 1),
        envelope_media_type=MEDIA_TYPE_JWS,
        envelope=b"x" * 50_000,
        signer=SignerIdentity("CN=s", "CN=CA", ()),
        signing_time=datetime(2026, 1, 1, tzinfo=UTC),
    )

    async def body(log: Log) -> None:
        with pytest.raises(InvalidEntryError, match="larger than the 65535-byte entry limit"):
            log.submit(huge)

    run(with_log(tmp_path / "log.db", body))


def test_proof_requests_are_checked(tmp_path: Path) -> None:
    async def body(log: Log) -> None:
        await asyncio.gather(*(log.add(entry(i)) for i in range(5)))
        with pytest.raises(NotFoundError, match="no tree of size 6"):
            await log.inclusion_proof(0, 6)
        with pytest.raises(ProofError):
            await log.inclusion_proof(5, 5)
        with pytest.raises(ProofError):
            await log.consistency_proof(4, 3)
        with pytest.raises(NotFoundError):
            await log.consistency_proof(1, 9)
        assert await log.consistency_proof(0, 5) == []
        assert await log.consistency_proof(5, 5) == []

    run(with_log(tmp_path / "log.db", body))


def test_constructor_validates_options(tmp_path: Path) -> None:
    async def body() -> None:
        async with await sqlite_storage.open(tmp_path / "log.db") as storage:
            with pytest.raises(ValueError):
                Log(storage, SIGNER, ORIGIN, max_batch=0)
            with pytest.raises(ValueError):
                Log(storage, SIGNER, ORIGIN, max_batch=10, max_pending=5)
            with pytest.raises(ValueError):
                Log(storage, SIGNER, ORIGIN, checkpoint_interval=-1)
            with pytest.raises(ValueError, match="spaces"):
                Log(storage, SIGNER, "has spaces")
            log = Log(storage, SIGNER, ORIGIN)
            with pytest.raises(StorageError, match="not accepting"):
                log.submit(entry(0))

    run(body())


class GatedStorage(FlakyStorage):
    """A FlakyStorage whose next append_batch waits at a gate, so the sequencer prepares the next batch meanwhile."""

    def __init__(self, inner: Storage) -> None:
        super().__init__(inner)
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def append_batch(
        self,
        entries: Sequence[NewEntry],
        hashes: Sequence[NodeHash],
        checkpoint: StoredCheckpoint,
        compact_range: bytes,
    ) -> range:
        gate, self.gate = self.gate, None
        if gate is not None:
            self.entered.set()
            await gate.wait()
        return await super().append_batch(entries, hashes, checkpoint, compact_range)


async def _wait_until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.002)
    raise AssertionError("timed out")


@pytest.mark.parametrize("fail", [False, True], ids=["commit-succeeds", "commit-fails"])
def test_next_batch_prepared_during_a_commit(tmp_path: Path, fail: bool) -> None:
    async def body() -> None:
        storage = GatedStorage(await sqlite_storage.open(tmp_path / "log.db"))
        async with storage, await Log.open(storage, SIGNER, ORIGIN, checkpoint_interval=FAST, create=True) as log:
            await asyncio.gather(*(log.add(entry(i)) for i in range(3)))
            gate = storage.gate = asyncio.Event()
            if fail:
                storage.fail = StorageError("disk full")
            first = [log.submit(entry(i)) for i in range(3, 8)]
            try:
                await asyncio.wait_for(storage.entered.wait(), 5)  # batch k is committing
                # Batch k+1: new entries and a duplicate of an entry of batch k, prepared while k commits.
                second = [log.submit(entry(i)) for i in (8, 9, 4)]
                await _wait_until(lambda: log.pending == 0)
            finally:
                gate.set()
            results = await asyncio.gather(*first, return_exceptions=True)
            later = await asyncio.gather(*second)
            if fail:
                assert all(isinstance(r, StorageError) for r in results)
                # Batch k+1 was prepared on top of k; after k failed it is sequenced again from index 3.
                assert sorted(r.index for r in later) == [3, 4, 5]
                assert not any(r.duplicate for r in later)
            else:
                assert [r.index for r in results if isinstance(r, Receipt)] == [3, 4, 5, 6, 7]
                assert [(r.index, r.duplicate) for r in later] == [(8, False), (9, False), (4, True)]
            for r in later:
                check_receipt(r)
            assert log.size == (6 if fail else 10)
            await check_consistency(log, [3, log.size])

    run(body())
