"""The log never shows two histories: sequencers that share a database, and the storage's own guard."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from pathlib import Path

import pytest

from tests.tlog.test_log import ORIGIN, SIGNER, VERIFIER, GatedStorage, entry, opened, run
from tlog import merkle
from tlog.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from tlog.errors import AppendConflictError, NotFoundError, StorageError, UnavailableError
from tlog.log import Log, Receipt
from tlog.storage import LogState, NodeHash, Storage, StoredCheckpoint
from tlog.storage import sqlite as sqlite_storage


def _stored_history(db: Path) -> tuple[list[bytes], dict[int, bytes]]:
    """Every stored entry (in index order) and every stored checkpoint's root, read with plain sqlite3."""
    with sqlite3.connect(db) as conn:
        entries = [bytes(row[0]) for row in conn.execute("SELECT data FROM entries ORDER BY idx")]
        notes = {int(size): bytes(note) for size, note in conn.execute("SELECT size, note FROM checkpoints")}
    roots = {}
    for size, note in notes.items():
        checkpoint = open_checkpoint(note, [VERIFIER], ORIGIN)
        assert checkpoint.size == size
        roots[size] = checkpoint.root_hash
    return entries, roots


def _roots_of(entries: list[bytes], sizes: set[int]) -> dict[int, bytes]:
    tree = merkle.CompactRange()
    roots = {0: tree.root()} if 0 in sizes else {}
    for data in entries:
        tree.append(merkle.leaf_hash(data))
        if tree.size in sizes:
            roots[tree.size] = tree.root()
    return roots


def test_two_sequencers_under_load_sign_only_checkpoints_of_the_stored_entries(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    rng = random.Random(7)

    async def body() -> list[Receipt]:
        storage_a, log_a = await opened(db, checkpoint_interval=0.0)
        storage_b, log_b = await opened(db, checkpoint_interval=0.0)
        receipts: list[Receipt] = []
        try:

            async def client(log_index: int, numbers: list[int]) -> None:
                log = (log_a, log_b)[log_index]
                for start in range(0, len(numbers), 5):
                    burst = [log.submit(entry(i)) for i in numbers[start : start + rng.randint(1, 5)]]
                    for outcome in await asyncio.gather(*burst, return_exceptions=True):
                        if isinstance(outcome, Receipt):
                            receipts.append(outcome)
                        else:  # only ever "gave up after conflicts", never a wrong receipt
                            assert isinstance(outcome, StorageError), outcome
                    await asyncio.sleep(rng.random() * 0.002)

            numbers = list(range(1200))
            await asyncio.gather(*(client(k % 2, numbers[k::8]) for k in range(8)))
        finally:
            for log in (log_a, log_b):
                await log.close()
            for storage in (storage_a, storage_b):
                await storage.close()
        return receipts

    receipts = run(body())
    assert len(receipts) > 600
    entries, roots = _stored_history(db)
    assert roots, "no checkpoint was stored"
    # Every published checkpoint is the root of the stored entries at its size: one history.
    assert _roots_of(entries, set(roots)) == roots
    # Every acknowledged receipt verifies against that history.
    for receipt in receipts:
        assert entries[receipt.index] == receipt.entry_bytes
        assert roots[receipt.tree_size] == receipt.root_hash
        receipt.verify()


class ReloadFailingStorage(GatedStorage):
    """A gated storage whose next ``reloads`` state reads fail (a busy or briefly unreadable database)."""

    def __init__(self, inner: Storage) -> None:
        super().__init__(inner)
        self.reloads = 0

    async def latest_state(self) -> LogState | None:
        if self.reloads:
            self.reloads -= 1
            raise StorageError("database is locked")
        return await super().latest_state()


def test_a_batch_prepared_on_a_batch_that_did_not_commit_is_never_committed(tmp_path: Path) -> None:
    """The race of the conflict path: batch k loses to another writer, the state cannot be re-read at once,
    and batch k+1 (prepared on top of k) starts exactly where the other writer ended."""
    db = tmp_path / "log.db"

    async def body() -> list[Receipt | BaseException]:
        storage_a, log_a = await opened(db)
        await asyncio.gather(*(log_a.add(entry(i)) for i in range(3)))
        storage_b = ReloadFailingStorage(await sqlite_storage.open(db))
        log_b = await Log.open(storage_b, SIGNER, ORIGIN, checkpoint_interval=0.0)  # B's tip: size 3
        try:
            gate = storage_b.gate = asyncio.Event()
            storage_b.entered.clear()
            k = [log_b.submit(entry(i)) for i in (100, 101)]  # B's batch k: indices 3, 4 on B's tip
            await asyncio.wait_for(storage_b.entered.wait(), 5)
            k1 = [log_b.submit(entry(102))]  # batch k+1, prepared on top of k: index 5
            for _ in range(200):
                if log_b.pending == 0:
                    break
                await asyncio.sleep(0.005)
            # Meanwhile A appends two entries: storage now ends exactly where B's batch k+1 starts.
            await asyncio.gather(log_a.add(entry(200)), log_a.add(entry(201)))
            storage_b.reloads = 2
            gate.set()
            return await asyncio.gather(*k, *k1, return_exceptions=True)
        finally:
            await log_a.close()
            await log_b.close()
            await storage_a.close()
            await storage_b.close()

    outcomes = run(body())
    entries, roots = _stored_history(db)
    assert _roots_of(entries, set(roots)) == roots, "a checkpoint of another history was stored"
    for outcome in outcomes:
        if isinstance(outcome, Receipt):
            assert entries[outcome.index] == outcome.entry_bytes
            assert roots[outcome.tree_size] == outcome.root_hash
        else:
            assert isinstance(outcome, StorageError | UnavailableError), outcome


def test_storage_refuses_a_batch_that_starts_at_the_stored_size_but_extends_another_tree(tmp_path: Path) -> None:
    async def body() -> None:
        storage = await sqlite_storage.open(tmp_path / "log.db")
        try:
            log = await Log.open(storage, SIGNER, ORIGIN, create=True)
            await asyncio.gather(*(log.add(entry(i)) for i in range(3)))
            await log.close()
            before = await storage.latest_state()
            assert before is not None
            # The sequencer's idea of the tree: three other leaves, then one new entry.
            other = merkle.CompactRange()
            for i in range(3):
                other.append(merkle.leaf_hash(b"another history %d" % i))
            new = entry(3).to_record()
            nodes = [NodeHash(n.level, n.index, n.hash) for n in other.append(new.leaf_hash)]
            root = other.root()
            checkpoint = StoredCheckpoint(4, root, sign_checkpoint(Checkpoint(ORIGIN, 4, root), SIGNER))
            with pytest.raises(AppendConflictError, match="prepared on another history"):
                await storage.append_batch([new], nodes, checkpoint, other.to_state())
            assert await storage.latest_state() == before
            with pytest.raises(NotFoundError):
                await storage.get_entries(3, 4)
            # A note that states another size or root than the row is refused too.
            tree = merkle.CompactRange.from_state(before.compact_range)
            nodes = [NodeHash(n.level, n.index, n.hash) for n in tree.append(new.leaf_hash)]
            lying = sign_checkpoint(Checkpoint(ORIGIN, 4, bytes(32)), SIGNER)
            with pytest.raises(AppendConflictError, match="does not state"):
                await storage.append_batch([new], nodes, StoredCheckpoint(4, tree.root(), lying), tree.to_state())
            assert await storage.latest_state() == before
        finally:
            await storage.close()

    run(body())
