"""SQLite storage: append/read, dedup, search and pagination, atomicity, optimistic appends, reopening."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlog import merkle
from tlog.checkpoint import Checkpoint
from tlog.errors import AppendConflictError, NotFoundError, StorageError
from tlog.storage import LoggedEntry, NewEntry, NodeHash, Storage, StoredCheckpoint
from tlog.storage import sqlite as sqlite_storage
from tlog.storage.sqlite import SCHEMA_VERSION, SQLiteStorage

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine on a fresh event loop."""
    return asyncio.run(coro)


def entry(i: int, *, repository: str | None = None, digest: str | None = None, signer: str | None = None) -> NewEntry:
    """A synthetic entry number ``i`` (the storage does not interpret entry bytes)."""
    data = f'{{"entry":{i}}}'.encode()
    return NewEntry(
        data=data,
        dedup_key=hashlib.sha256(data).digest(),
        subject_digest=digest or "sha256:" + f"{i % 3:02x}" * 32,
        signer_subject=signer or f"CN=signer-{i % 2}",
        repository=repository or f"registry.example.com/app{i % 4}",
    )


def note(size: int, root: bytes) -> bytes:
    """An unsigned checkpoint note stating ``size`` and ``root`` (storage checks what a note states, not who signed it)."""
    return Checkpoint("log.example.com/test", size, root).to_body() + b"\n"


class Tree:
    """The sequencer's side of a batch, computed with tlog.merkle (so the stored hashes are real)."""

    def __init__(self) -> None:
        self.range = merkle.CompactRange()
        self.leaves: list[bytes] = []

    def batch(self, entries: list[NewEntry]) -> tuple[list[NodeHash], StoredCheckpoint, bytes]:
        tree = self.range.copy()
        nodes = [NodeHash(n.level, n.index, n.hash) for e in entries for n in tree.append(merkle.leaf_hash(e.data))]
        checkpoint = StoredCheckpoint(tree.size, tree.root(), note(tree.size, tree.root()))
        return nodes, checkpoint, tree.to_state()

    def commit(self, entries: list[NewEntry]) -> None:
        for e in entries:
            self.range.append(merkle.leaf_hash(e.data))
            self.leaves.append(merkle.leaf_hash(e.data))

    async def append(self, storage: Storage, entries: list[NewEntry]) -> range:
        nodes, checkpoint, state = self.batch(entries)
        indices = await storage.append_batch(entries, nodes, checkpoint, state)
        self.commit(entries)
        return indices


async def with_storage(path: Path, body: Callable[[SQLiteStorage], Awaitable[T]]) -> T:
    """Open the store at ``path``, run ``body`` and close it."""
    async with await sqlite_storage.open(path) as storage:
        assert isinstance(storage, SQLiteStorage)
        return await body(storage)


def test_open_creates_a_wal_database_with_full_sync(tmp_path: Path) -> None:
    db = tmp_path / "log.db"

    async def body(storage: SQLiteStorage) -> None:
        assert await storage.latest_state() is None
        assert await storage.latest_checkpoint() is None
        rows = list(await storage._writer.execute_fetchall("PRAGMA synchronous"))
        assert rows[0][0] == 2  # FULL: the WAL is fsynced at every commit

    run(with_storage(db, body))
    run(with_storage(db, body))  # idempotent
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"entries", "dedup", "search", "tiles", "checkpoints", "log_state"} <= tables


def test_other_schema_version_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    run(with_storage(db, lambda s: asyncio.sleep(0)))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(StorageError, match="schema version 99"):
        run(sqlite_storage.open(db))


def test_unopenable_path_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="does not exist"):
        run(sqlite_storage.open(tmp_path / "missing" / "log.db"))
    not_a_database = tmp_path / "junk.db"
    not_a_database.write_bytes(b"this is not an SQLite database, just some text " * 100)
    with pytest.raises(StorageError, match="cannot open log database"):
        run(sqlite_storage.open(not_a_database))


def test_empty_store_reads(tmp_path: Path) -> None:
    async def body(storage: SQLiteStorage) -> None:
        assert await storage.get_entries(0, 0) == []
        with pytest.raises(NotFoundError):
            await storage.get_entries(0, 1)
        with pytest.raises(NotFoundError):
            await storage.get_hashes(0, 0, 1)
        with pytest.raises(NotFoundError):
            await storage.checkpoint_at(0)
        assert await storage.lookup_dedup([b"x" * 32]) == {}

    run(with_storage(tmp_path / "log.db", body))


def test_append_and_read_back(tmp_path: Path) -> None:
    tree = Tree()
    batches = [[entry(i) for i in range(0, 5)], [entry(i) for i in range(5, 6)], [entry(i) for i in range(6, 300)]]

    async def body(storage: SQLiteStorage) -> None:
        empty = merkle.CompactRange()
        await storage.append_batch([], [], StoredCheckpoint(0, empty.root(), note(0, empty.root())), empty.to_state())
        with pytest.raises(AppendConflictError, match="already published at size 0"):
            await storage.append_batch(
                [], [], StoredCheckpoint(0, empty.root(), note(0, empty.root())), empty.to_state()
            )
        assert [await tree.append(storage, b) for b in batches] == [range(0, 5), range(5, 6), range(6, 300)]
        everything = [e for b in batches for e in b]
        assert await storage.get_entries(0, 300) == [e.data for e in everything]
        assert await storage.get_entries(299, 300) == [everything[299].data]
        with pytest.raises(NotFoundError):
            await storage.get_entries(299, 301)
        # Level-0 hashes are the leaf hashes; a full level-8 subtree exists once 256 leaves are in.
        assert await storage.get_hashes(0, 0, 300) == tree.leaves
        assert await storage.get_hashes(8, 0, 1) == [merkle.root_from_leaf_hashes(tree.leaves[:256])]
        with pytest.raises(NotFoundError):
            await storage.get_hashes(8, 1, 2)  # [256, 512) is not complete
        assert await storage.get_hashes(2, 74, 75) == [merkle.root_from_leaf_hashes(tree.leaves[296:300])]
        # Every complete subtree of every height is stored: 2n - popcount(n) hashes.
        stored = 0
        for level in range(9):
            stored += len(await storage.get_hashes(level, 0, 300 >> level))
        assert stored == 2 * 300 - (300).bit_count()
        at = await storage.get_hashes_at([(0, 7), (3, 1), (8, 0)])
        assert at[(0, 7)] == tree.leaves[7]
        assert at[(3, 1)] == merkle.root_from_leaf_hashes(tree.leaves[8:16])
        with pytest.raises(NotFoundError, match="level-1 subtree 150"):
            await storage.get_hashes_at([(1, 150)])
        # Checkpoints and state.
        state = await storage.latest_state()
        assert state is not None
        assert state.checkpoint == StoredCheckpoint(
            300, merkle.root_from_leaf_hashes(tree.leaves), note(300, merkle.root_from_leaf_hashes(tree.leaves))
        )
        assert merkle.CompactRange.from_state(state.compact_range) == tree.range
        assert (await storage.checkpoint_at(5)).root_hash == merkle.root_from_leaf_hashes(tree.leaves[:5])
        assert (await storage.checkpoint_at(0)).root_hash == merkle.EMPTY_ROOT
        with pytest.raises(NotFoundError, match="no checkpoint was published at size 7"):
            await storage.checkpoint_at(7)
        assert await storage.latest_checkpoint() == state.checkpoint

    run(with_storage(tmp_path / "log.db", body))


def test_read_ranges_are_validated(tmp_path: Path) -> None:
    async def body(storage: SQLiteStorage) -> None:
        for call in (
            storage.get_entries(5, 4),
            storage.get_entries(-1, 4),
            storage.get_entries(0, 70_000),
            storage.get_hashes(64, 0, 1),
            storage.get_hashes(0, 3, 2),
            storage.get_hashes_at([(-1, 0)]),
            storage.find_by_digest("x", limit=0),
            storage.find_by_digest("x", limit=1001),
            storage.find_by_digest("x", after=-2),
        ):
            with pytest.raises(ValueError):
                await call

    run(with_storage(tmp_path / "log.db", body))


def test_dedup_lookup(tmp_path: Path) -> None:
    tree = Tree()
    entries = [entry(i) for i in range(1200)]  # more keys than one IN (...) chunk

    async def body(storage: SQLiteStorage) -> None:
        await tree.append(storage, entries)
        found = await storage.lookup_dedup([e.dedup_key for e in entries] + [b"\x00" * 32])
        assert found == {e.dedup_key: i for i, e in enumerate(entries)}

    run(with_storage(tmp_path / "log.db", body))


def test_search_and_pagination(tmp_path: Path) -> None:
    tree = Tree()
    entries = [entry(i) for i in range(40)]

    async def page_through(find: Callable[..., Awaitable[Any]], value: str, limit: int) -> list[int]:
        seen: list[int] = []
        after = -1
        while True:
            page = await find(value, after=after, limit=limit)
            assert len(page.entries) <= limit
            seen.extend(e.index for e in page.entries)
            if page.next_after is None:
                return seen
            assert page.next_after == page.entries[-1].index
            after = page.next_after

    async def body(storage: SQLiteStorage) -> None:
        await tree.append(storage, entries[:17])
        await tree.append(storage, entries[17:])
        assert await page_through(storage.find_by_repository, "registry.example.com/app1", 3) == list(range(1, 40, 4))
        assert await page_through(storage.find_by_digest, "sha256:" + "02" * 32, 100) == list(range(2, 40, 3))
        assert await page_through(storage.find_by_identity, "CN=signer-1", 20) == list(range(1, 40, 2))
        exact = await storage.find_by_identity("CN=signer-1", limit=20)
        assert len(exact.entries) == 20
        assert exact.next_after is None  # exactly 20 matches: no empty last page
        assert (await storage.find_by_identity("CN=signer-1", after=39)).entries == []
        page = await storage.find_by_repository("registry.example.com/app0", limit=2)
        assert page.entries == [LoggedEntry(0, entries[0].data), LoggedEntry(4, entries[4].data)]
        assert page.next_after == 4
        assert (await storage.find_by_repository("registry.example.com/none")).entries == []
        assert (await storage.find_by_identity("CN=signer")).entries == []  # exact match, not prefix

    run(with_storage(tmp_path / "log.db", body))


def test_entry_without_repository_is_found_by_digest_and_identity_only(tmp_path: Path) -> None:
    tree = Tree()
    base = entry(0, digest="sha256:" + "ee" * 32, signer="CN=layout")
    layout = NewEntry(base.data, base.dedup_key, base.subject_digest, base.signer_subject, repository=None)

    async def body(storage: SQLiteStorage) -> None:
        await tree.append(storage, [layout])
        assert (await storage.find_by_digest("sha256:" + "ee" * 32)).entries == [LoggedEntry(0, layout.data)]
        assert (await storage.find_by_identity("CN=layout")).entries == [LoggedEntry(0, layout.data)]
        assert (await storage.find_by_repository("")).entries == []

    run(with_storage(tmp_path / "log.db", body))


def test_search_kinds_do_not_mix_and_one_value_may_serve_several(tmp_path: Path) -> None:
    tree = Tree()
    same = "same-text"
    entries = [
        entry(0, repository=same, digest="sha256:" + "aa" * 32, signer="CN=a"),
        entry(1, repository="registry.example.com/x", digest="sha256:" + "bb" * 32, signer=same),
        entry(2, repository=same, digest="sha256:" + "cc" * 32, signer=same),
    ]

    async def body(storage: SQLiteStorage) -> None:
        await tree.append(storage, entries)
        assert [e.index for e in (await storage.find_by_repository(same)).entries] == [0, 2]
        assert [e.index for e in (await storage.find_by_identity(same)).entries] == [1, 2]
        assert (await storage.find_by_digest(same)).entries == []

    run(with_storage(tmp_path / "log.db", body))


def test_failing_batch_leaves_nothing(tmp_path: Path) -> None:
    tree = Tree()
    first = [entry(i) for i in range(3)]

    async def snapshot(storage: SQLiteStorage) -> tuple[Any, ...]:
        return (
            await storage.latest_state(),
            await storage.lookup_dedup([entry(i).dedup_key for i in range(10)]),
            await storage.find_by_repository("registry.example.com/app3"),
            list(await storage._writer.execute_fetchall("SELECT COUNT(*), SUM(length(data)) FROM tiles")),
            list(await storage._writer.execute_fetchall("SELECT COUNT(*) FROM checkpoints")),
        )

    async def body(storage: SQLiteStorage) -> None:
        await tree.append(storage, first)
        before = await snapshot(storage)
        # A duplicate dedup key (UNIQUE) in the middle of the batch.
        bad = [entry(3), entry(4), first[1], entry(5)]
        nodes, checkpoint, state = tree.batch(bad)
        with pytest.raises(StorageError, match=r"appending entries 3\.\.6 failed"):
            await storage.append_batch(bad, nodes, checkpoint, state)
        assert await snapshot(storage) == before
        # A hash that already exists: fails after the entries were inserted.
        good = [entry(3), entry(4)]
        nodes, checkpoint, state = tree.batch(good)
        with pytest.raises(StorageError):
            await storage.append_batch(good, [*nodes, NodeHash(0, 0, b"\x00" * 32)], checkpoint, state)
        assert await snapshot(storage) == before
        # The store still works afterwards.
        assert await tree.append(storage, good) == range(3, 5)

    run(with_storage(tmp_path / "log.db", body))


def test_append_must_start_at_the_stored_size(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    tree = Tree()

    async def body() -> None:
        async with await sqlite_storage.open(db) as one, await sqlite_storage.open(db) as two:
            await tree.append(one, [entry(0), entry(1)])
            # A writer that believes the log is empty (it missed the append above) loses.
            stale = Tree()
            nodes, checkpoint, state = stale.batch([entry(7)])
            with pytest.raises(AppendConflictError, match="starts at index 0 but the log holds 2 entries"):
                await two.append_batch([entry(7)], nodes, checkpoint, state)
            # Both writers race to append at index 2: exactly one wins.
            a, b = Tree(), Tree()
            for t in (a, b):
                t.commit([entry(0), entry(1)])
            results = await asyncio.gather(
                a.append(one, [entry(10)]), b.append(two, [entry(20), entry(21)]), return_exceptions=True
            )
            assert sorted(type(r).__name__ for r in results) == ["AppendConflictError", "range"]
            state_after = await one.latest_state()
            assert state_after is not None
            assert state_after.checkpoint.size in (3, 4)

    run(body())


def test_reopen_keeps_everything(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    tree = Tree()
    entries = [entry(i) for i in range(50)]

    async def write(storage: SQLiteStorage) -> Any:
        await tree.append(storage, entries[:20])
        await tree.append(storage, entries[20:])
        return await storage.latest_state()

    async def read(storage: SQLiteStorage) -> Any:
        assert await storage.get_entries(0, 50) == [e.data for e in entries]
        assert await storage.get_hashes(0, 0, 50) == tree.leaves
        assert (await storage.checkpoint_at(20)).size == 20
        return await storage.latest_state()

    written = run(with_storage(db, write))
    assert run(with_storage(db, read)) == written


def test_closed_storage_refuses_work(tmp_path: Path) -> None:
    async def body() -> None:
        storage = await sqlite_storage.open(tmp_path / "log.db")
        await storage.close()
        await storage.close()  # idempotent
        with pytest.raises(StorageError, match="closed"):
            await storage.get_entries(0, 0)
        with pytest.raises(StorageError, match="closed"):
            await Tree().append(storage, [entry(0)])

    run(body())


def test_reads_run_while_a_write_is_in_progress(tmp_path: Path) -> None:
    tree = Tree()

    async def body(storage: SQLiteStorage) -> None:
        await tree.append(storage, [entry(i) for i in range(100)])
        big = [entry(i) for i in range(100, 3100)]

        async def reader() -> int:
            count = 0
            for _ in range(20):
                assert len(await storage.get_entries(0, 100)) == 100
                count += 1
            return count

        results = await asyncio.gather(tree.append(storage, big), *(reader() for _ in range(4)))
        assert results[0] == range(100, 3100)
        assert results[1:] == [20] * 4

    run(with_storage(tmp_path / "log.db", body))


def test_the_wal_starts_over_under_continuous_appends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_storage, "WAL_CHECKPOINT_BYTES", 64 * 1024)
    tree = Tree()
    wal = tmp_path / "log.db-wal"
    payload = b"x" * 4000

    def big(i: int) -> NewEntry:
        data = payload + b"%d" % i
        return NewEntry(data, hashlib.sha256(data).digest(), "sha256:" + "ab" * 32, "CN=s", "r.example/app")

    async def body(storage: SQLiteStorage) -> None:
        largest = 0
        for start in range(0, 2000, 50):  # ~8 MB of entries, no pause between batches
            await tree.append(storage, [big(i) for i in range(start, start + 50)])
            largest = max(largest, wal.stat().st_size)
        assert largest < 4 * 1024 * 1024, f"the WAL grew to {largest} bytes"
        assert len(await storage.get_entries(1990, 2000)) == 10

    run(with_storage(tmp_path / "log.db", body))
    assert not wal.exists() or wal.stat().st_size == 0  # truncated at close


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.integers(1, 300), min_size=1, max_size=6))
def test_tiles_answer_every_subtree_whatever_the_batch_sizes(tmp_path: Path, batches: list[int]) -> None:
    tree = Tree()
    db = tmp_path / f"tiles-{uuid.uuid4().hex}.db"  # a fresh database for every example

    async def body(storage: SQLiteStorage) -> None:
        start = 0
        for count in batches:
            await tree.append(storage, [entry(i) for i in range(start, start + count)])
            start += count
        size = len(tree.leaves)
        reference = merkle.hash_getter(tree.leaves)
        for level in range(size.bit_length()):
            complete = size >> level
            assert await storage.get_hashes(level, 0, complete) == [reference(level, i) for i in range(complete)]
            with pytest.raises(NotFoundError):
                await storage.get_hashes(level, complete, complete + 1)
        coordinates = [(level, i) for level in range(size.bit_length()) for i in range(0, size >> level, 7)]
        assert await storage.get_hashes_at(coordinates) == {(lv, i): reference(lv, i) for lv, i in coordinates}
        edge = await storage.get_hashes_at(merkle.subtree_nodes(0, size))
        assert merkle.root_hash(size, lambda lv, i: edge[(lv, i)]) == tree.range.root()

    run(with_storage(db, body))


def test_hashes_that_do_not_extend_the_stored_tiles_are_refused(tmp_path: Path) -> None:
    tree = Tree()

    async def body(storage: SQLiteStorage) -> None:
        await tree.append(storage, [entry(i) for i in range(5)])
        nodes, checkpoint, state = tree.batch([entry(5)])
        shifted = [NodeHash(n.level, n.index + 1, n.hash) for n in nodes]  # a gap at index 5
        with pytest.raises(AppendConflictError, match="subtree hashes are not those of the stored tree"):
            await storage.append_batch([entry(5)], shifted, checkpoint, state)
        assert (await storage.latest_state()) is not None
        assert (await storage.latest_state()).checkpoint.size == 5  # type: ignore[union-attr]

    run(with_storage(tmp_path / "log.db", body))
