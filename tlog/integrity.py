"""Checks of a log's stored state: at every start, against the published record, and in full.

* :func:`check_state` runs whenever the sequencer (re)loads: the stored compact range matches the
  latest checkpoint, the stored subtree hashes lead to its root, the newest entries hash to the
  newest level-0 tile and no entry lies beyond the checkpoint. It reads ``O(log n)`` hashes and at
  most 256 entries.
* :func:`check_published` compares storage with the record of the latest *published* checkpoint
  (:mod:`tlog.published`): storage that is behind it lost entries, storage whose hashes lead to
  another root at that size holds another history; either way the log must not serve.
* :func:`full_check` recomputes everything from the entries (``tlog check``, ``tlog serve
  --check``, and after ``restore``/``recover``): every leaf and tile hash, every stored
  checkpoint's root and signature, plus the backend's own integrity check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from tlog import merkle
from tlog.checkpoint import Checkpoint, open_checkpoint
from tlog.errors import FormatError, InconsistentError, NotFoundError, TlogError
from tlog.note import Verifier
from tlog.storage.base import MAX_READ_RANGE, LogState, Storage

__all__ = ["FullCheckReport", "check_published", "check_state", "full_check", "stored_root"]

#: Entries read per step of a full check (a multiple of the tile width).
_CHUNK: Final = 16_384
_TILE_HEIGHT: Final = 8
_TILE_WIDTH: Final = 1 << _TILE_HEIGHT
#: Problems listed in a failed full check's message.
_SHOWN: Final = 10


async def stored_root(storage: Storage, size: int) -> bytes:
    """The root of the first ``size`` leaves, folded from the stored subtree hashes.

    Raises:
        InconsistentError: storage lacks a subtree that a tree of ``size`` leaves has.
    """
    if size == 0:
        return merkle.EMPTY_ROOT
    coordinates = merkle.subtree_nodes(0, size)
    try:
        hashes = await storage.get_hashes_at(coordinates)
    except NotFoundError as exc:
        raise InconsistentError(f"storage lacks subtree hashes of the tree of size {size}: {exc.message}") from None
    return merkle.root_hash(size, lambda level, index: hashes[(level, index)])


async def check_state(storage: Storage, state: LogState, origin: str) -> merkle.CompactRange:
    """Check the stored state the sequencer resumes from; return its compact range.

    Raises:
        InconsistentError: the state contradicts itself, belongs to another origin, or the newest
            entries are missing or do not match the stored hashes.
    """
    checkpoint = state.checkpoint
    try:
        tree = merkle.CompactRange.from_state(state.compact_range)
    except FormatError as exc:
        raise InconsistentError(f"the stored compact range is corrupt: {exc.message}") from None
    if tree.size != checkpoint.size or tree.root() != checkpoint.root_hash:
        raise InconsistentError(
            f"the stored compact range (size {tree.size}) does not match the latest checkpoint "
            f"(size {checkpoint.size}): the database is corrupt"
        )
    body = Checkpoint(origin, checkpoint.size, checkpoint.root_hash).to_body()
    if not checkpoint.note.startswith(body + b"\n"):
        raise InconsistentError(
            f"the latest stored checkpoint is not for origin {origin!r} at size {checkpoint.size}: "
            "wrong database or corrupt checkpoint"
        )
    if await stored_root(storage, checkpoint.size) != checkpoint.root_hash:
        raise InconsistentError(
            f"the stored subtree hashes do not lead to the root of the latest checkpoint (size {checkpoint.size})"
        )
    size = checkpoint.size
    if size:
        first = (size - 1) // _TILE_WIDTH * _TILE_WIDTH
        try:
            entries = await storage.get_entries(first, size)
        except NotFoundError:
            raise InconsistentError(
                f"entries {first}..{size - 1} are not all in storage although the latest checkpoint covers them"
            ) from None
        if [merkle.leaf_hash(e) for e in entries] != await storage.get_hashes(0, first, size):
            raise InconsistentError(f"entries {first}..{size - 1} do not hash to the stored level-0 tile")
    try:
        await storage.get_entries(size, size + 1)
    except NotFoundError:
        pass
    else:
        raise InconsistentError(f"storage holds entry {size}, beyond the latest checkpoint (size {size})")
    return tree


async def check_published(storage: Storage, state: LogState, published: Checkpoint) -> bool:
    """Check storage against the latest published checkpoint; ``True`` when storage is ahead of it.

    Storage may be ahead (a crash after the commit, before the record was written): those
    checkpoints were never shown to anyone, and the caller re-publishes the latest one.

    Raises:
        InconsistentError: storage is behind the published checkpoint (entries were lost) or holds
            another history at its size.
    """
    size = state.checkpoint.size
    if size < published.size:
        raise InconsistentError(
            f"storage holds {size} entries but the log published a checkpoint at size {published.size}: "
            f"entries {size}..{published.size - 1} were lost (a deleted or damaged WAL, an emptied or old copy "
            "of the database); serving would roll the log back. Restore the latest backup ('tlog restore') "
            "and fetch what it lacks from a mirror ('tlog recover --from URL'); see docs/tlog.md"
        )
    if await stored_root(storage, published.size) != published.root_hash:
        raise InconsistentError(
            f"storage disagrees with the published checkpoint at size {published.size}: its entries lead to "
            "another root (another history, or corrupt hashes); serving would fork the log. "
            "Run 'tlog check', then restore a good backup; see docs/tlog.md"
        )
    return size > published.size


@dataclass(frozen=True)
class FullCheckReport:
    """What a full check covered."""

    size: int
    entries: int
    checkpoints: int


async def full_check(
    storage: Storage, verifier: Verifier, origin: str, *, progress: Callable[[int, int], None] | None = None
) -> FullCheckReport:
    """Recompute the whole tree from the stored entries and compare it with everything stored.

    ``progress(done, total)`` is called after each chunk of entries.

    Raises:
        InconsistentError: anything does not match (the message lists the first problems).
    """
    problems = list(await storage.integrity_check())
    state = await storage.latest_state()
    if state is None:
        raise InconsistentError("storage holds no log (no checkpoint)")
    size = state.checkpoint.size
    try:
        await check_state(storage, state, origin)
    except InconsistentError as exc:
        problems.append(exc.message)
    checkpoints = {c.size: c for c in await storage.list_checkpoints()}
    for stored in checkpoints.values():
        try:
            opened = open_checkpoint(stored.note, [verifier], origin)
        except TlogError as exc:
            problems.append(f"the checkpoint stored at size {stored.size} does not verify: {exc.message}")
            continue
        if (opened.size, opened.root_hash) != (stored.size, stored.root_hash):
            problems.append(f"the checkpoint stored at size {stored.size} states size {opened.size} or another root")
    tree = merkle.CompactRange()
    if 0 in checkpoints and checkpoints[0].root_hash != tree.root():
        problems.append("the checkpoint at size 0 does not have the empty root")
    computed: dict[int, list[bytes]] = {}  # tile level -> hashes at level 8·L not yet compared
    compared: dict[int, int] = {}  # tile level -> index of the first hash not yet compared
    for start in range(0, size, _CHUNK):
        end = min(start + _CHUNK, size)
        try:
            entries = await storage.get_entries(start, end)
        except NotFoundError as exc:
            problems.append(exc.message)
            break
        for data in entries:
            for node in tree.append(merkle.leaf_hash(data)):
                if node.level % _TILE_HEIGHT == 0:
                    computed.setdefault(node.level // _TILE_HEIGHT, []).append(node.hash)
            published = checkpoints.get(tree.size)
            if published is not None and published.root_hash != tree.root():
                problems.append(f"the checkpoint stored at size {tree.size} is not the root of the stored entries")
        for tile_level, hashes in computed.items():
            first = compared.get(tile_level, 0)
            for offset in range(0, len(hashes), MAX_READ_RANGE):
                part = hashes[offset : offset + MAX_READ_RANGE]
                level = tile_level * _TILE_HEIGHT
                try:
                    stored_hashes = await storage.get_hashes(level, first + offset, first + offset + len(part))
                except NotFoundError as exc:
                    problems.append(exc.message)
                    continue
                for i, (want, have) in enumerate(zip(part, stored_hashes, strict=True)):
                    if want != have:
                        problems.append(
                            f"the stored level-{level} hash {first + offset + i} does not match the entries"
                        )
            compared[tile_level] = first + len(hashes)
        computed.clear()
        if progress is not None:
            progress(end, size)
        if len(problems) > 1000:
            break
    if tree.size == size and tree.to_state() != state.compact_range:
        problems.append("the stored compact range is not the right edge of the stored entries")
    if size not in checkpoints:
        problems.append(f"no checkpoint is stored at the latest size {size}")
    if problems:
        shown = "; ".join(problems[:_SHOWN])
        more = f" (and {len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
        raise InconsistentError(f"the log at size {size} failed its integrity check: {shown}{more}")
    return FullCheckReport(size, size, len(checkpoints))
