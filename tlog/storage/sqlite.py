"""SQLite storage (aiosqlite): one file, WAL journal, ``synchronous=FULL``.

Durability: in WAL mode with ``synchronous=FULL`` SQLite fsyncs the write-ahead log at every commit,
so when :meth:`SQLiteStorage.append_batch` returns the batch survives a crash or power loss (with
``NORMAL`` the last commits could be lost on power failure, which the log must never allow: it has
handed out receipts for them).

Checkpointing: SQLite's automatic WAL checkpoint runs inside the commit that crosses the threshold,
copying pages into the database file and fsyncing it while the batch's waiters wait. It is turned
off on the write connection; instead, once the WAL file has grown past :data:`WAL_CHECKPOINT_BYTES`, a
separate connection runs a ``PASSIVE`` checkpoint in the background (SQLite releases the GIL, so on
a multi-core machine this overlaps the next batches), then finishes it between two batches so the
WAL starts over (see :meth:`SQLiteStorage._checkpoint`). Committed data is in the fsynced WAL either
way; a crash before a checkpoint only means a longer WAL to read back at the next open.

Concurrency: one write connection, guarded by an :class:`asyncio.Lock` so a transaction's statements
never interleave with another's, takes SQLite's write lock with ``BEGIN IMMEDIATE``; a small pool of
read-only connections serves reads concurrently from the last committed snapshot (WAL lets readers
proceed while a write is in progress). The size check in :meth:`append_batch` runs under the write
lock, so it also protects against another *process* appending to the same file.

Schema (version 3)::

    schema_version(version)
    log_state(id = 0, size, compact_range)                  -- one row: the tree the latest checkpoint covers
    entries(idx PRIMARY KEY, data)                          -- appended in index order
    dedup(key PRIMARY KEY, idx)                             -- WITHOUT ROWID: SHA-256 of the envelope
    search(key, idx, PRIMARY KEY (key, idx))                -- WITHOUT ROWID: three rows per entry
    tiles(level, idx, data, PRIMARY KEY (level, idx))       -- WITHOUT ROWID: C2SP hash tiles, latest width
    checkpoints(size PRIMARY KEY, root_hash, note)          -- every published checkpoint

Hashes are stored as C2SP hash tiles: row ``(L, N)`` holds the hashes of tree level ``8·L`` at
positions ``256·N`` onwards (up to 256 of them; the partial tile at the right edge grows batch by
batch). A batch rewrites a handful of tile rows instead of inserting two hash rows per entry, and a
tile read is one row. A hash at a level between tile levels is folded from at most 128 hashes of
the tile below it (proofs read O(log n) of them; the sequencer proves new entries from memory).

Write cost shapes the schema: an entry row is appended at the end of its table, and each index it
feeds costs a B-tree insert at a random place. So the search keys share one narrow index whose key
is the first 16 bytes of ``SHA-256(kind ‖ 0x00 ‖ value)`` (kind ``d`` digest, ``i`` identity, ``r``
repository) instead of three indexes over long text columns; ``WHERE key = ? AND idx > ? ORDER BY
idx`` is one range scan. A collision of two 128-bit keys (about 2^-64 for 2^32 distinct values)
would only add an entry to a search result, and search results are hints: clients verify entries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final, TypeVar

import aiosqlite

from tlog import merkle
from tlog.errors import NotFoundError, StorageError
from tlog.storage.base import (
    DEFAULT_PAGE_SIZE,
    MAX_READ_RANGE,
    AppendConflictError,
    LoggedEntry,
    LogState,
    NewEntry,
    NodeHash,
    Page,
    Storage,
    StoredCheckpoint,
    check_extends,
    check_page,
    check_range,
    search_key,
)

__all__ = ["SCHEMA_VERSION", "SQLiteStorage", "open", "search_key"]

#: Size of the write-ahead log after which it is checkpointed in the background. Measured on the
#: WAL file itself: a single-entry commit rewrites whole pages of every table and index it touches
#: (about 39 KB), so counting entry bytes let a WAL grow to hundreds of times the data it held.
WAL_CHECKPOINT_BYTES: Final = 4 * 1024 * 1024
#: The WAL file is truncated to this size after a checkpoint (it otherwise keeps its largest size).
_JOURNAL_SIZE_LIMIT: Final = 8 * 1024 * 1024
#: Longest wait (seconds) between two attempts at a WAL checkpoint that keeps failing.
_MAX_CHECKPOINT_BACKOFF: Final = 60.0
#: Page cache of the write connection, in KiB.
_WRITER_CACHE_KIB: Final = 256 * 1024
#: Version of the schema this module creates and reads.
SCHEMA_VERSION: Final = 3
#: Largest number of bound parameters used in one ``IN (...)`` list.
_CHUNK: Final = 500
#: Highest tree level that can hold a complete subtree (sizes are below 2^63).
_MAX_LEVEL: Final = 63

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS log_state (
        id INTEGER PRIMARY KEY CHECK (id = 0),
        size INTEGER NOT NULL CHECK (size >= 0),
        compact_range BLOB NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS entries (
        idx INTEGER PRIMARY KEY CHECK (idx >= 0),
        data BLOB NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS dedup (
        key BLOB PRIMARY KEY,
        idx INTEGER NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS search (
        key BLOB NOT NULL,
        idx INTEGER NOT NULL,
        PRIMARY KEY (key, idx)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS tiles (
        level INTEGER NOT NULL CHECK (level >= 0),
        idx INTEGER NOT NULL CHECK (idx >= 0),
        data BLOB NOT NULL CHECK (length(data) BETWEEN 32 AND 8192 AND length(data) % 32 = 0),
        PRIMARY KEY (level, idx)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS checkpoints (
        size INTEGER PRIMARY KEY CHECK (size >= 0),
        root_hash BLOB NOT NULL,
        note BLOB NOT NULL
    )""",
)

_T = TypeVar("_T")
_log = logging.getLogger(__name__)
HASH_SIZE: Final = merkle.HASH_SIZE
#: C2SP tlog-tiles: tiles are 2^8 = 256 hashes wide.
TILE_HEIGHT: Final = 8
TILE_WIDTH: Final = 1 << TILE_HEIGHT


async def open(
    path: str | Path, *, readers: int = 2, create: bool = True, wal_checkpoint_bytes: int | None = None
) -> SQLiteStorage:
    """Open the log database at ``path``, creating it when ``create`` is true.

    Args:
        path: The database file; its directory must exist.
        readers: Number of read-only connections serving reads concurrently with writes.
        create: Create the file and schema if missing; when false, a missing, empty or foreign
            file is refused (only ``tlog init`` creates a log).
        wal_checkpoint_bytes: WAL size that starts a background checkpoint (default
            :data:`WAL_CHECKPOINT_BYTES`; smaller keeps the WAL small on a small volume, at some cost
            in throughput).

    Raises:
        StorageError: the file cannot be opened, holds no log (``create`` false), or holds a
            schema of another version.
    """
    return await SQLiteStorage.open(path, readers=readers, create=create, wal_checkpoint_bytes=wal_checkpoint_bytes)


class SQLiteStorage(Storage):
    """:class:`~tlog.storage.base.Storage` in one SQLite file. Create it with :meth:`open`."""

    def __init__(
        self,
        path: Path,
        writer: aiosqlite.Connection,
        readers: list[aiosqlite.Connection],
        checkpointer: aiosqlite.Connection,
    ) -> None:
        self._path = path
        self._writer = writer
        self._checkpointer = checkpointer
        self._checkpoint_task: asyncio.Task[None] | None = None
        self._wal_path = Path(f"{path}-wal")
        self._checkpoint_backoff = 0.0
        self._checkpoint_retry_at = 0.0
        self._wal_checkpoint_bytes = WAL_CHECKPOINT_BYTES
        self._write_lock = asyncio.Lock()
        self._all_readers = readers
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for conn in readers:
            self._readers.put_nowait(conn)
        self._closed = False

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        readers: int = 2,
        create: bool = True,
        wal_checkpoint_bytes: int | None = None,
    ) -> SQLiteStorage:
        """Open the database, set WAL and ``synchronous=FULL``, create the schema idempotently (see :func:`open`).

        Raises:
            StorageError: the file cannot be opened, holds no log (``create`` false), or holds a
                schema of another version.
        """
        if readers < 1:
            raise ValueError("at least one reader connection is needed")
        if wal_checkpoint_bytes is None:
            wal_checkpoint_bytes = WAL_CHECKPOINT_BYTES
        if wal_checkpoint_bytes < 1:
            raise ValueError("wal_checkpoint_bytes must be positive")
        path = Path(path)
        if not path.parent.is_dir():
            # Checked here: aiosqlite leaves its worker thread behind when connecting fails.
            raise StorageError(f"cannot open log database {str(path)!r}: directory {str(path.parent)!r} does not exist")
        if not create and not path.is_file():
            raise StorageError(f"the log database {str(path)!r} does not exist")
        conns: list[aiosqlite.Connection] = []
        try:
            writer = await aiosqlite.connect(path, isolation_level=None)
            conns.append(writer)
            await _configure(writer)
            if not create and not await _row(
                writer, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
            ):
                raise StorageError(
                    f"{str(path)!r} holds no log (an empty or foreign file); only 'tlog init' creates one"
                )
            mode = await _scalar(writer, "PRAGMA journal_mode = WAL")
            if str(mode).lower() != "wal":
                raise StorageError(f"cannot use write-ahead logging for {str(path)!r} (journal mode {mode})")
            await _create_schema(writer, path)
            await writer.execute("PRAGMA wal_autocheckpoint = 0")  # see "Checkpointing" above
            # The dedup and search indexes take inserts at random places: keep their pages in memory
            # (SQLite's default is 2 MiB; at 1,000,000 entries those indexes are ~150 MB).
            await writer.execute(f"PRAGMA cache_size = -{_WRITER_CACHE_KIB}")
            await writer.execute(f"PRAGMA journal_size_limit = {_JOURNAL_SIZE_LIMIT}")
            checkpointer = await aiosqlite.connect(path, isolation_level=None)
            conns.append(checkpointer)
            await _configure(checkpointer)
            for _ in range(readers):
                reader = await aiosqlite.connect(path, isolation_level=None)
                conns.append(reader)
                await _configure(reader)
                await reader.execute("PRAGMA query_only = ON")
        except BaseException as exc:
            for conn in conns:
                await conn.close()
            if isinstance(exc, sqlite3.Error):
                raise StorageError(f"cannot open log database {str(path)!r}: {exc}") from exc
            raise
        storage = cls(path, writer, conns[2:], checkpointer)
        storage._wal_checkpoint_bytes = wal_checkpoint_bytes
        return storage

    async def close(self) -> None:
        """Close every connection. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._checkpoint_task is not None:
            await asyncio.gather(self._checkpoint_task, return_exceptions=True)
        async with self._write_lock:
            with contextlib.suppress(sqlite3.Error):  # leave a short WAL behind; it is only an optimisation
                await self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            for conn in (self._writer, self._checkpointer, *self._all_readers):
                await conn.close()

    # --- writes -----------------------------------------------------------------------------------

    async def append_batch(
        self,
        entries: Sequence[NewEntry],
        hashes: Sequence[NodeHash],
        checkpoint: StoredCheckpoint,
        compact_range: bytes,
    ) -> range:
        """See :meth:`Storage.append_batch`; one ``BEGIN IMMEDIATE`` transaction, fsynced at commit."""
        start = checkpoint.size - len(entries)
        if start < 0:
            raise ValueError(f"checkpoint size {checkpoint.size} is smaller than the batch ({len(entries)} entries)")
        self._check_open()
        async with self._transaction(f"appending entries {start}..{checkpoint.size - 1}") as conn:
            await self._append_locked(
                conn, start, entries=entries, hashes=hashes, checkpoint=checkpoint, compact_range=compact_range
            )
        self._maybe_checkpoint()
        return range(start, checkpoint.size)

    @asynccontextmanager
    async def _transaction(self, what: str) -> AsyncIterator[aiosqlite.Connection]:
        """One ``BEGIN IMMEDIATE`` write transaction under the write lock: committed, or rolled back on any error."""
        async with self._write_lock:
            conn = self._writer
            try:
                await conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    await conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        await conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise StorageError(f"{what} failed: {exc}") from exc

    def _maybe_checkpoint(self) -> None:
        """Start a background WAL checkpoint once the WAL file is past :data:`WAL_CHECKPOINT_BYTES`."""
        if self._checkpoint_task is not None:
            return
        try:
            wal_size = os.stat(self._wal_path).st_size
        except OSError:
            return
        if wal_size >= self._wal_checkpoint_bytes:
            self._checkpoint_task = asyncio.create_task(self._checkpoint(), name="tlog-sqlite-checkpoint")

    async def _checkpoint(self) -> None:
        """Copy committed WAL pages into the database file, then restart the WAL.

        The bulk is copied with ``PASSIVE``, concurrently with new commits. But the WAL only starts
        over once *every* frame is in the database while no transaction is writing, which under
        continuous load never happens by itself (the WAL grew past 2 GB in a benchmark). So the
        few frames committed meanwhile are copied, and the file truncated, between two batches:
        under the write lock, with ``TRUNCATE``. A failure (a full disk) is logged once and retried
        with exponential backoff, not at every commit.
        """
        loop = asyncio.get_running_loop()
        try:
            if loop.time() < self._checkpoint_retry_at:
                return
            await self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")
            async with self._write_lock:
                if not self._closed:
                    await self._checkpointer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:  # retried later; the data is safe in the WAL
            level = logging.DEBUG if self._checkpoint_backoff else logging.WARNING
            self._checkpoint_backoff = min(max(self._checkpoint_backoff * 2, 1.0), _MAX_CHECKPOINT_BACKOFF)
            self._checkpoint_retry_at = loop.time() + self._checkpoint_backoff
            _log.log(
                level, "WAL checkpoint of %s failed (retrying in %.0f s): %s", self._path, self._checkpoint_backoff, exc
            )
        else:
            if self._checkpoint_backoff:
                _log.warning("WAL checkpoint of %s succeeded again", self._path)
            self._checkpoint_backoff = 0.0
        finally:
            self._checkpoint_task = None

    @staticmethod
    async def _append_locked(
        conn: aiosqlite.Connection,
        start: int,
        *,
        entries: Sequence[NewEntry],
        hashes: Sequence[NodeHash],
        checkpoint: StoredCheckpoint,
        compact_range: bytes,
    ) -> None:
        row = await _row(conn, "SELECT size, compact_range FROM log_state WHERE id = 0")
        current = 0 if row is None else int(row[0])
        if current != start:
            raise AppendConflictError(
                f"the batch starts at index {start} but the log holds {current} entries (another writer appended)"
            )
        if not entries and await _row(conn, "SELECT 1 FROM checkpoints WHERE size = ?", (checkpoint.size,)):
            raise AppendConflictError(f"a checkpoint is already published at size {checkpoint.size}")
        check_extends(None if row is None else bytes(row[1]), entries, hashes, checkpoint, compact_range)
        await _insert_entries(conn, start, entries)
        await _extend_tiles(conn, hashes)
        await conn.execute(
            "INSERT INTO checkpoints (size, root_hash, note) VALUES (?, ?, ?)",
            (checkpoint.size, checkpoint.root_hash, checkpoint.note),
        )
        await conn.execute(
            "INSERT INTO log_state (id, size, compact_range) VALUES (0, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET size = excluded.size, compact_range = excluded.compact_range",
            (checkpoint.size, compact_range),
        )

    # --- reads ------------------------------------------------------------------------------------

    async def latest_state(self) -> LogState | None:
        """See :meth:`Storage.latest_state` (one statement, hence one snapshot)."""
        row = await self._fetch_one(
            "SELECT s.size, c.root_hash, c.note, s.compact_range FROM log_state s "
            "JOIN checkpoints c ON c.size = s.size WHERE s.id = 0"
        )
        if row is None:
            return None
        return LogState(StoredCheckpoint(int(row[0]), bytes(row[1]), bytes(row[2])), bytes(row[3]))

    async def checkpoint_at(self, size: int) -> StoredCheckpoint:
        """See :meth:`Storage.checkpoint_at`."""
        row = await self._fetch_one("SELECT size, root_hash, note FROM checkpoints WHERE size = ?", (size,))
        if row is None:
            raise NotFoundError(f"no checkpoint was published at size {size}")
        return StoredCheckpoint(int(row[0]), bytes(row[1]), bytes(row[2]))

    async def list_checkpoints(self) -> list[StoredCheckpoint]:
        """See :meth:`Storage.list_checkpoints`."""
        rows = await self._fetch_all("SELECT size, root_hash, note FROM checkpoints ORDER BY size")
        return [StoredCheckpoint(int(r[0]), bytes(r[1]), bytes(r[2])) for r in rows]

    async def integrity_check(self) -> list[str]:
        """``PRAGMA integrity_check``: every page, index and constraint of the file."""
        rows = await self._fetch_all("PRAGMA integrity_check")
        problems = [str(r[0]) for r in rows]
        return [] if problems == ["ok"] else [f"SQLite integrity check: {p}" for p in problems]

    async def import_batch(
        self,
        entries: Sequence[NewEntry],
        hashes: Sequence[NodeHash],
        compact_range: bytes,
        checkpoints: Sequence[StoredCheckpoint] = (),
    ) -> None:
        """Append entries recovered from a mirror, with the published ``checkpoints`` among them.

        Like :meth:`append_batch` but a step may end at a size no checkpoint was published at
        (recovery writes large gaps in steps, into a database that is not served until the last
        step stored the checkpoint it was verified against). The batch must extend the stored tree.

        Raises:
            AppendConflictError: the batch does not extend the stored tree.
            StorageError: the transaction failed (nothing written).
        """
        self._check_open()
        async with self._transaction("importing recovered entries") as conn:
            row = await _row(conn, "SELECT size, compact_range FROM log_state WHERE id = 0")
            start = 0 if row is None else int(row[0])
            tree = merkle.CompactRange() if row is None else merkle.CompactRange.from_state(bytes(row[1]))
            nodes = [NodeHash(n.level, n.index, n.hash) for e in entries for n in tree.append(e.leaf_hash)]
            if tree.to_state() != compact_range or list(hashes) != nodes:
                raise AppendConflictError("the recovered entries do not extend the stored tree")
            await _insert_entries(conn, start, entries)
            await _extend_tiles(conn, hashes)
            await conn.executemany(
                "INSERT OR IGNORE INTO checkpoints (size, root_hash, note) VALUES (?, ?, ?)",
                [(c.size, c.root_hash, c.note) for c in checkpoints],
            )
            await conn.execute(
                "INSERT INTO log_state (id, size, compact_range) VALUES (0, ?, ?) ON CONFLICT (id) "
                "DO UPDATE SET size = excluded.size, compact_range = excluded.compact_range",
                (tree.size, compact_range),
            )

    async def lookup_dedup(self, keys: Iterable[bytes]) -> dict[bytes, int]:
        """See :meth:`Storage.lookup_dedup`."""
        unique = list(dict.fromkeys(keys))
        found: dict[bytes, int] = {}
        for chunk in _chunks(unique):
            marks = ",".join("?" * len(chunk))
            for key, idx in await self._fetch_all(
                f"SELECT key, idx FROM dedup WHERE key IN ({marks})",  # noqa: S608 - only '?' marks
                chunk,
            ):
                found[bytes(key)] = int(idx)
        return found

    async def get_entries(self, start: int, end: int) -> list[bytes]:
        """See :meth:`Storage.get_entries`."""
        check_range(start, end, "entry")
        rows = await self._fetch_all("SELECT data FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx", (start, end))
        if len(rows) != end - start:
            raise NotFoundError(f"entries [{start}, {end}) are not all in the log")
        return [bytes(r[0]) for r in rows]

    async def get_hashes(self, level: int, start: int, end: int) -> list[bytes]:
        """See :meth:`Storage.get_hashes`."""
        _check_level(level)
        check_range(start, end, "hash")
        tile_level, shift = divmod(level, TILE_HEIGHT)
        if (end - start) << shift > MAX_READ_RANGE:
            raise ValueError(f"level-{level} range [{start}, {end}) needs more than {MAX_READ_RANGE} stored hashes")
        if start == end:
            return []
        first, last = (start << shift) // TILE_WIDTH, ((end << shift) - 1) // TILE_WIDTH
        rows = await self._fetch_all(
            "SELECT idx, data FROM tiles WHERE level = ? AND idx >= ? AND idx <= ? ORDER BY idx",
            (tile_level, first, last),
        )
        below = b"".join(bytes(r[1]) for r in rows)
        if [int(r[0]) for r in rows] != list(range(first, last + 1)) or len(below) < (
            (end << shift) - first * TILE_WIDTH
        ) * HASH_SIZE:
            raise NotFoundError(f"level-{level} subtrees [{start}, {end}) are not all complete in the log")
        offset = first * TILE_WIDTH
        return [_fold(below, (i << shift) - offset, 1 << shift) for i in range(start, end)]

    async def get_hashes_at(self, coordinates: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """See :meth:`Storage.get_hashes_at` (one query for all the tiles the coordinates fall in)."""
        wanted: dict[tuple[int, int], tuple[int, int, int]] = {}
        for level, index in coordinates:
            _check_level(level)
            if index < 0:
                raise ValueError(f"invalid subtree index {index}")
            tile_level, shift = divmod(level, TILE_HEIGHT)
            position = index << shift  # first hash of the subtree at the tile level below it
            wanted[(level, index)] = (tile_level, position // TILE_WIDTH, shift)
        tiles = await _select_tiles(self._fetch_all, sorted({(t, n) for t, n, _ in wanted.values()}))
        found: dict[tuple[int, int], bytes] = {}
        for (level, index), (tile_level, idx, shift) in sorted(wanted.items()):
            offset = (index << shift) - idx * TILE_WIDTH
            data = tiles.get((tile_level, idx), b"")
            if len(data) < (offset + (1 << shift)) * HASH_SIZE:
                raise NotFoundError(f"level-{level} subtree {index} is not complete in the log")
            found[(level, index)] = _fold(data, offset, 1 << shift)
        return found

    # --- search -----------------------------------------------------------------------------------

    async def find_by_digest(self, digest: str, *, after: int = -1, limit: int = DEFAULT_PAGE_SIZE) -> Page:
        """See :meth:`Storage.find_by_digest`."""
        return await self._search("digest", digest, after, limit)

    async def find_by_identity(self, signer_subject: str, *, after: int = -1, limit: int = DEFAULT_PAGE_SIZE) -> Page:
        """See :meth:`Storage.find_by_identity`."""
        return await self._search("identity", signer_subject, after, limit)

    async def find_by_repository(self, repository: str, *, after: int = -1, limit: int = DEFAULT_PAGE_SIZE) -> Page:
        """See :meth:`Storage.find_by_repository`."""
        return await self._search("repository", repository, after, limit)

    async def _search(self, key: str, value: str, after: int, limit: int) -> Page:
        check_page(after, limit)
        rows = await self._fetch_all(
            "SELECT e.idx, e.data FROM search s JOIN entries e ON e.idx = s.idx "
            "WHERE s.key = ? AND s.idx > ? ORDER BY s.idx LIMIT ?",
            (search_key(key, value), after, limit + 1),
        )
        entries = [LoggedEntry(int(r[0]), bytes(r[1])) for r in rows[:limit]]
        return Page(entries, entries[-1].index if len(rows) > limit else None)

    # --- plumbing ---------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"the log database {str(self._path)!r} is closed")

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator[aiosqlite.Connection]:
        self._check_open()
        conn = await self._readers.get()
        try:
            yield conn
        finally:
            self._readers.put_nowait(conn)

    async def _fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            async with self._reader() as conn:
                return list(await conn.execute_fetchall(sql, params))
        except sqlite3.Error as exc:
            raise StorageError(f"reading the log database failed: {exc}") from exc

    async def _fetch_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = await self._fetch_all(sql, params)
        return rows[0] if rows else None


async def _configure(conn: aiosqlite.Connection) -> None:
    await conn.execute("PRAGMA busy_timeout = 10000")
    await conn.execute("PRAGMA synchronous = FULL")


async def _create_schema(conn: aiosqlite.Connection, path: Path) -> None:
    await conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _SCHEMA:
            await conn.execute(statement)
        versions = [int(r[0]) for r in await conn.execute_fetchall("SELECT version FROM schema_version")]
        if not versions:
            await conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        elif versions != [SCHEMA_VERSION]:
            raise StorageError(
                f"the log database {str(path)!r} has schema version {max(versions)}; "
                f"this version of tlog reads version {SCHEMA_VERSION}"
            )
        await conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            await conn.execute("ROLLBACK")
        raise


async def _insert_entries(conn: aiosqlite.Connection, start: int, entries: Sequence[NewEntry]) -> None:
    """Insert entries at ``start`` onwards with their dedup and search keys."""
    await conn.executemany(
        "INSERT INTO entries (idx, data) VALUES (?, ?)", [(start + i, e.data) for i, e in enumerate(entries)]
    )
    await conn.executemany(
        "INSERT INTO dedup (key, idx) VALUES (?, ?)", [(e.dedup_key, start + i) for i, e in enumerate(entries)]
    )
    await conn.executemany(
        "INSERT OR IGNORE INTO search (key, idx) VALUES (?, ?)",
        [(key, start + i) for i, e in enumerate(entries) for key in e.search_keys],
    )


async def _row(conn: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
    rows = list(await conn.execute_fetchall(sql, params))
    return rows[0] if rows else None


async def _scalar(conn: aiosqlite.Connection, sql: str) -> Any:
    row = await _row(conn, sql)
    return None if row is None else row[0]


def _fold(hashes: bytes, offset: int, count: int) -> bytes:
    """The hash of the complete subtree over ``count`` (a power of two) consecutive hashes from ``offset``."""
    level = [hashes[i * HASH_SIZE : (i + 1) * HASH_SIZE] for i in range(offset, offset + count)]
    while len(level) > 1:
        level = [merkle.node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


async def _select_tiles(
    fetch: Callable[[str, Sequence[Any]], Awaitable[Iterable[Any]]], keys: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """The stored tile rows ``(tile level, index) -> data`` among ``keys`` (missing ones are absent)."""
    found: dict[tuple[int, int], bytes] = {}
    for chunk in _chunks(keys):
        marks = ",".join("(?, ?)" for _ in chunk)
        for tile_level, idx, data in await fetch(
            f"SELECT level, idx, data FROM tiles WHERE (level, idx) IN (VALUES {marks})",  # noqa: S608 - only '?' marks
            [value for key in chunk for value in key],
        ):
            found[(int(tile_level), int(idx))] = bytes(data)
    return found


async def _extend_tiles(conn: aiosqlite.Connection, hashes: Sequence[NodeHash]) -> None:
    """Append the new subtree hashes at tile levels (0, 8, 16, …) to their tile rows.

    Within a level the new hashes are consecutive and must start exactly where the stored tile
    ends (the sequencer's tree and the stored one agree, or the batch is refused).
    """
    by_tile: dict[tuple[int, int], list[NodeHash]] = {}
    for node in hashes:
        tile_level, remainder = divmod(node.level, TILE_HEIGHT)
        if not remainder:
            by_tile.setdefault((tile_level, node.index // TILE_WIDTH), []).append(node)
    if not by_tile:
        return
    keys = sorted(by_tile)
    stored = await _select_tiles(conn.execute_fetchall, keys)
    rows = []
    for key in keys:
        nodes = sorted(by_tile[key], key=lambda n: n.index)
        data = stored.get(key, b"")
        first = key[1] * TILE_WIDTH + len(data) // HASH_SIZE
        if [n.index for n in nodes] != list(range(first, first + len(nodes))):
            raise AppendConflictError(
                f"new level-{key[0] * TILE_HEIGHT} hashes {nodes[0].index}.. do not extend the stored tile "
                f"{key[1]} (which ends at {first})"
            )
        rows.append((key[0], key[1], data + b"".join(n.hash for n in nodes)))
    await conn.executemany("INSERT OR REPLACE INTO tiles (level, idx, data) VALUES (?, ?, ?)", rows)


def _check_level(level: int) -> None:
    if not 0 <= level <= _MAX_LEVEL:
        raise ValueError(f"invalid tree level {level}")


def _chunks(items: Sequence[_T]) -> Iterable[Sequence[_T]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]
