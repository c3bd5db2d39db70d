"""The storage interface of the log: what the sequencer and the read API need, nothing more.

The interface is async and transactional so that an SQL server (PostgreSQL for several replicas)
can implement it without touching the core:

* **One write, one transaction.** :meth:`Storage.append_batch` stores a batch of entries, the
  Merkle node hashes they complete, the checkpoint that covers them and the serialised compact range
  in one transaction. Either all of it is visible afterwards or none of it.
* **Optimistic append.** The batch's first index is implied (``checkpoint.size - len(entries)``)
  and must equal the stored tree size; otherwise :class:`AppendConflictError` is raised and nothing
  is written. Two writers therefore cannot both append at the same index: the loser re-reads the
  state and re-sequences (SQL: ``UPDATE log_state SET size = new WHERE size = old`` and check the
  row count, inside the transaction).
* **Immutable data.** Entries, hashes and published checkpoints never change once written, so
  readers can cache them and read from replicas that lag.

Stored hashes: every complete subtree of every height (level 0 = leaf hashes). A tree of ``n``
leaves has fewer than ``2n`` complete subtrees, so this is about twice the leaf-hash rows, each
~80 bytes with its key — small next to entries of several KiB. In exchange every hash an RFC 6962
proof or a C2SP tile needs is a point or range read: a level-``8·l`` tile is
``get_hashes(8·l, 256·n, 256·(n+1))`` and an inclusion or consistency proof is ``O(log n)`` point
reads, with no recomputation and no read amplification. Storing only tile levels (0, 8, 16, …)
would save about half the hash rows but turn each proof hash at an intermediate level into up to
128 reads plus hashing.
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final, Self

from tlog import merkle
from tlog.checkpoint import Checkpoint
from tlog.errors import AppendConflictError, FormatError, StorageError

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "MAX_READ_RANGE",
    "AppendConflictError",
    "LogState",
    "LoggedEntry",
    "NewEntry",
    "NodeHash",
    "Page",
    "Storage",
    "StoredCheckpoint",
    "check_extends",
]

#: Default number of entries returned by one search call.
DEFAULT_PAGE_SIZE: Final = 100
#: Largest ``limit`` a search call accepts.
MAX_PAGE_SIZE: Final = 1000
#: Largest ``end - start`` accepted by :meth:`Storage.get_entries` and :meth:`Storage.get_hashes`.
MAX_READ_RANGE: Final = 65_536


#: The kinds of search, and the byte that separates their keys.
SEARCH_KINDS: Final = {"digest": b"d", "identity": b"i", "repository": b"r"}
#: Length of a search key.
SEARCH_KEY_SIZE: Final = 16


def search_key(kind: str, value: str) -> bytes:
    """The 16-byte key under which entries are indexed for one search (``digest``, ``identity``, ``repository``).

    SHA-256 of the kind and the value, truncated: fixed-size keys index compactly whatever the values'
    lengths, and kinds never collide. A backend may store them as they are (SQLite does).
    """
    return hashlib.sha256(SEARCH_KINDS[kind] + b"\x00" + value.encode("utf-8")).digest()[:SEARCH_KEY_SIZE]


@dataclass(frozen=True)
class NewEntry:
    """An entry to append, with the values the search indexes and deduplication need.

    The derived values (``leaf_hash``, ``search_keys``) are computed when the entry is made, which in
    the server is in the verification worker processes: the sequencer and the storage writer, the
    serial stages, only use them.

    Attributes:
        data: The exact entry bytes (the leaf; what entry bundles carry).
        dedup_key: The deduplication key (SHA-256 of the envelope, 32 bytes); unique in the log.
        subject_digest: The signed artifact digest (search key).
        signer_subject: The signer's leaf certificate subject (search key).
        repository: The artifact repository, ``registry/repository`` (search key), or ``None`` when the
            entry names none (an OCI layout or a blob): it is then not found by repository.
        leaf_hash: RFC 6962 leaf hash of ``data`` (derived).
        search_keys: :func:`search_key` of each search value the entry has (derived).
    """

    data: bytes = field(repr=False)
    dedup_key: bytes
    subject_digest: str
    signer_subject: str
    repository: str | None
    leaf_hash: bytes = field(init=False, repr=False, compare=False)
    search_keys: tuple[bytes, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "leaf_hash", merkle.leaf_hash(self.data))
        values = (("digest", self.subject_digest), ("identity", self.signer_subject), ("repository", self.repository))
        object.__setattr__(self, "search_keys", tuple(search_key(k, v) for k, v in values if v is not None))


@dataclass(frozen=True)
class NodeHash:
    """The hash of the complete subtree of height ``level`` covering leaves ``[index·2^level, (index+1)·2^level)``."""

    level: int
    index: int
    hash: bytes


@dataclass(frozen=True)
class StoredCheckpoint:
    """A published checkpoint.

    Attributes:
        size: The tree size it commits to.
        root_hash: The RFC 6962 root hash at that size (32 bytes).
        note: The signed note, exactly as published.
    """

    size: int
    root_hash: bytes
    note: bytes = field(repr=False)


@dataclass(frozen=True)
class LogState:
    """What the sequencer needs to resume: the latest checkpoint and the compact range at its size."""

    checkpoint: StoredCheckpoint
    compact_range: bytes = field(repr=False)


@dataclass(frozen=True)
class LoggedEntry:
    """An entry and its index in the log."""

    index: int
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Page:
    """One page of search results, in index order.

    Attributes:
        entries: Up to ``limit`` matching entries with an index greater than the ``after`` asked for.
        next_after: Pass as ``after`` to get the next page; ``None`` when there are no more matches.
    """

    entries: list[LoggedEntry]
    next_after: int | None


class Storage(abc.ABC):
    """Durable, transactional storage of one log.

    Implementations must make :meth:`append_batch` durable before it returns (an acknowledged entry
    is never lost) and atomic (a failing batch leaves nothing behind). Every failure of the backend
    is raised as :class:`~tlog.errors.StorageError`; a missing item as
    :class:`~tlog.errors.NotFoundError`; a malformed argument as :class:`ValueError`.
    """

    # --- lifecycle --------------------------------------------------------------------------------

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections. Idempotent."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- writes -----------------------------------------------------------------------------------

    @abc.abstractmethod
    async def append_batch(
        self,
        entries: Sequence[NewEntry],
        hashes: Sequence[NodeHash],
        checkpoint: StoredCheckpoint,
        compact_range: bytes,
    ) -> range:
        """Append ``entries`` at indices ``checkpoint.size - len(entries)`` … ``checkpoint.size - 1``.

        In one durable transaction: insert the entries, the node ``hashes`` they complete, the
        ``checkpoint`` (which becomes the latest) and the serialised ``compact_range`` at the new size.
        An empty ``entries`` with a checkpoint at the current size publishes that checkpoint only
        (used for the size-0 checkpoint of a new log).

        Returns:
            The assigned indices.

        Raises:
            AppendConflictError: the batch does not start at the stored size (nothing written).
            StorageError: the transaction failed, including a duplicate dedup key, index or hash
                (nothing written).
        """

    # --- reads ------------------------------------------------------------------------------------

    @abc.abstractmethod
    async def latest_state(self) -> LogState | None:
        """The latest checkpoint and compact range, read together; ``None`` for a new store."""

    async def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The latest published checkpoint, or ``None`` for a new store."""
        state = await self.latest_state()
        return state.checkpoint if state is not None else None

    @abc.abstractmethod
    async def checkpoint_at(self, size: int) -> StoredCheckpoint:
        """The checkpoint published at ``size``.

        Raises:
            NotFoundError: no checkpoint was published at that size.
        """

    async def list_checkpoints(self) -> list[StoredCheckpoint]:
        """Every stored checkpoint, by size (for integrity checks; a backend may not offer it).

        Raises:
            NotImplementedError: the backend cannot list its checkpoints.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot list its checkpoints")

    async def integrity_check(self) -> list[str]:
        """The backend's own consistency check of its files (problems found; empty when none or not offered)."""
        return []

    @abc.abstractmethod
    async def lookup_dedup(self, keys: Iterable[bytes]) -> dict[bytes, int]:
        """The index of every key already in the log (keys not logged are absent from the result)."""

    @abc.abstractmethod
    async def get_entries(self, start: int, end: int) -> list[bytes]:
        """Entry bytes for indices ``[start, end)``.

        Raises:
            NotFoundError: some index in the range is not in the log.
            ValueError: ``start > end`` or the range is longer than :data:`MAX_READ_RANGE`.
        """

    @abc.abstractmethod
    async def get_hashes(self, level: int, start: int, end: int) -> list[bytes]:
        """Hashes of the complete subtrees ``[start, end)`` of height ``level``.

        Raises:
            NotFoundError: some subtree in the range is not complete in the stored tree.
            ValueError: bad level or range.
        """

    @abc.abstractmethod
    async def get_hashes_at(self, coordinates: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """Hashes of the complete subtrees at ``(level, index)`` coordinates, in one round trip.

        Raises:
            NotFoundError: some coordinate is not a complete subtree of the stored tree.
        """

    # --- search -----------------------------------------------------------------------------------

    @abc.abstractmethod
    async def find_by_digest(self, digest: str, *, after: int = -1, limit: int = DEFAULT_PAGE_SIZE) -> Page:
        """Entries whose subject digest is ``digest``, with index ``> after``, oldest first."""

    @abc.abstractmethod
    async def find_by_identity(self, signer_subject: str, *, after: int = -1, limit: int = DEFAULT_PAGE_SIZE) -> Page:
        """Entries signed by a leaf certificate with this subject (Go-style DN, exact match)."""

    @abc.abstractmethod
    async def find_by_repository(self, repository: str, *, after: int = -1, limit: int = DEFAULT_PAGE_SIZE) -> Page:
        """Entries submitted for ``repository`` (``registry/repository``, exact match)."""


def check_range(start: int, end: int, what: str) -> None:
    """Validate a ``[start, end)`` read range (shared by implementations).

    Raises:
        ValueError: negative, reversed or longer than :data:`MAX_READ_RANGE`.
    """
    if start < 0 or end < start:
        raise ValueError(f"invalid {what} range [{start}, {end})")
    if end - start > MAX_READ_RANGE:
        raise ValueError(f"{what} range [{start}, {end}) is longer than {MAX_READ_RANGE}")


def check_page(after: int, limit: int) -> None:
    """Validate search pagination arguments (shared by implementations).

    Raises:
        ValueError: ``after < -1`` or ``limit`` outside ``1..MAX_PAGE_SIZE``.
    """
    if after < -1:
        raise ValueError(f"invalid cursor after={after}")
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")


def check_extends(
    stored_state: bytes | None,
    entries: Sequence[NewEntry],
    hashes: Sequence[NodeHash],
    checkpoint: StoredCheckpoint,
    compact_range: bytes,
) -> None:
    """Refuse a batch that does not extend exactly the stored tree (shared by implementations).

    Called inside the append transaction with the stored compact range: the stored tree extended by
    the batch's leaves must have the checkpoint's size and root, the new compact range and exactly
    the node hashes given, and the checkpoint note must state that size and root. A sequencer whose
    idea of the tree is stale (another writer, a lost reload) therefore cannot commit a checkpoint
    of a history that storage does not hold, even when the sizes happen to match.

    Raises:
        AppendConflictError: the batch was prepared on another tree (nothing may be written).
        StorageError: the stored compact range is unreadable.
    """
    if stored_state is None:
        tree = merkle.CompactRange()
    else:
        try:
            tree = merkle.CompactRange.from_state(stored_state)
        except FormatError as exc:
            raise StorageError(f"the stored compact range is corrupt: {exc.message}") from None
    computed: list[NodeHash] = []
    for entry in entries:
        computed.extend(NodeHash(node.level, node.index, node.hash) for node in tree.append(entry.leaf_hash))
    if tree.size != checkpoint.size or tree.root() != checkpoint.root_hash:
        raise AppendConflictError(
            f"the checkpoint at size {checkpoint.size} is not the stored tree extended by the batch: "
            "the batch was prepared on another history"
        )
    if tree.to_state() != compact_range or list(hashes) != computed:
        raise AppendConflictError("the batch's subtree hashes are not those of the stored tree extended by its entries")
    body, _, _ = checkpoint.note.partition(b"\n\n")
    try:
        stated = Checkpoint.from_body(body + b"\n")
    except FormatError as exc:
        raise AppendConflictError(f"the checkpoint note is malformed: {exc.message}") from None
    if (stated.size, stated.root_hash) != (checkpoint.size, checkpoint.root_hash):
        raise AppendConflictError("the checkpoint note does not state the size and root being stored")
