"""Disaster recovery: rebuild a log's missing entries from any mirror of its C2SP tiles and entry bundles.

When entries the log already published are gone from its storage (a lost disk, a deleted WAL, a
backup older than the last published checkpoint), the log must not serve again until they are
back. Any copy of the log's public read API holds them: an auditor's or witness's mirror, a CDN
cache, another replica. Nothing fetched is trusted: the mirror's checkpoint must be signed by this
log's own key, every entry is recomputed into the tree on top of the local state, and the root must
equal both that checkpoint's and the log's own record of what it published. Only then is anything
made the log's database.

The work happens in a scratch copy of the database; the log's files are replaced in one rename at
the end (:func:`tlog.backup.install_database`), so a failed or interrupted recovery changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tlog import merkle
from tlog.backup import copy_database, install_database, scratch_path
from tlog.checkpoint import Checkpoint
from tlog.entry import Entry
from tlog.errors import ConfigError, FormatError, InconsistentError, SignatureError, TlogError
from tlog.integrity import check_state, full_check, stored_root
from tlog.note import Verifier
from tlog.published import PublishedCheckpoint
from tlog.storage import sqlite as sqlite_storage
from tlog.storage.base import NewEntry, NodeHash, StoredCheckpoint
from tlog.tile_client import HttpTileReader
from tlog.tiles import ENTRIES_LEVEL, TILE_WIDTH, TileId, decode_entry_bundle

__all__ = ["RecoveryResult", "recover_from_mirror"]

#: Entries written per transaction into the scratch database.
_STEP: Final = 4096


@dataclass(frozen=True)
class RecoveryResult:
    """What a recovery did: the local size before, and the checkpoint the log now stands at."""

    local_size: int
    size: int
    root_hash: bytes


async def recover_from_mirror(
    database: Path,
    published: PublishedCheckpoint,
    verifier: Verifier,
    origin: str,
    mirror: HttpTileReader,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> RecoveryResult:
    """Fetch the entries the local database lacks from ``mirror``, verify them, and install the result.

    The target is the mirror's checkpoint (signed by ``verifier``); it must reach the log's record of
    its latest published checkpoint. The caller holds the log's writer lock.

    Raises:
        InconsistentError: the mirror is behind the published checkpoint, disagrees with it or with
            the local entries, or serves entries that do not hash to its checkpoint.
        TlogError: the mirror or the storage failed (nothing was changed).
    """
    try:
        target, target_note = mirror.checkpoint(verifier)
    except (FormatError, SignatureError) as exc:
        raise InconsistentError(
            f"the mirror's checkpoint is not a checkpoint of {origin} signed by this log's key: {exc.message}"
        ) from None
    record = published.read()
    if record is not None and target.size < record[0].size:
        raise InconsistentError(
            f"the mirror {mirror.url} is at size {target.size}, behind the log's published checkpoint "
            f"(size {record[0].size}): find a more complete mirror"
        )
    scratch = scratch_path(database, "recover")
    if database.is_file():
        copy_database(database, scratch)
    try:
        result = await _rebuild(
            scratch,
            record=record,
            target=(target, target_note),
            verifier=verifier,
            origin=origin,
            mirror=mirror,
            progress=progress,
        )
        install_database(scratch, database)
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{scratch}{suffix}").unlink(missing_ok=True)
    published.write(target_note)
    return result


async def _rebuild(
    scratch: Path,
    *,
    record: tuple[Checkpoint, bytes] | None,
    target: tuple[Checkpoint, bytes],
    verifier: Verifier,
    origin: str,
    mirror: HttpTileReader,
    progress: Callable[[int, int], None] | None,
) -> RecoveryResult:
    checkpoint, note = target
    storage = await sqlite_storage.open(scratch)
    try:
        state = await storage.latest_state()
        tree = merkle.CompactRange()
        if state is not None:
            try:
                tree = await check_state(storage, state, origin)
            except InconsistentError as exc:
                raise InconsistentError(
                    f"the local database is damaged ({exc.message}): restore a good backup first, or move "
                    "the database away to recover every entry from the mirror"
                ) from None
        local_size = tree.size
        if local_size >= checkpoint.size:
            if await stored_root(storage, checkpoint.size) != checkpoint.root_hash:
                raise InconsistentError(
                    f"the local entries disagree with the mirror's checkpoint at size {checkpoint.size}"
                )
            raise ConfigError(
                f"nothing to recover: the local database holds {local_size} entries, the mirror {checkpoint.size}"
            )
        if (
            record is not None
            and record[0].size <= local_size
            and await stored_root(storage, record[0].size) != record[0].root_hash
        ):
            raise InconsistentError(
                f"the local entries disagree with the log's published checkpoint at size {record[0].size}"
            )
        milestones = {checkpoint.size: checkpoint}
        if record is not None and record[0].size > local_size:
            milestones[record[0].size] = record[0]
        checkpoints = [StoredCheckpoint(checkpoint.size, checkpoint.root_hash, note)]
        if record is not None and record[0].size != checkpoint.size and record[0].size > local_size:
            checkpoints.append(StoredCheckpoint(record[0].size, record[0].root_hash, record[1]))
        entries: list[NewEntry] = []
        nodes: list[NodeHash] = []
        first_bundle = local_size // TILE_WIDTH
        for bundle_index in range((checkpoint.size + TILE_WIDTH - 1) // TILE_WIDTH)[first_bundle:]:
            width = min(checkpoint.size - bundle_index * TILE_WIDTH, TILE_WIDTH)
            bundle = TileId(ENTRIES_LEVEL, bundle_index, width)
            try:
                datas = decode_entry_bundle(mirror.get(bundle.path), width)
            except TlogError as exc:
                raise InconsistentError(f"the mirror's entry bundle {bundle.path} is unusable: {exc.message}") from None
            for offset, data in enumerate(datas):
                index = bundle_index * TILE_WIDTH + offset
                if index < local_size:
                    continue
                entries.append(_record(index, data))
                nodes.extend(NodeHash(n.level, n.index, n.hash) for n in tree.append(entries[-1].leaf_hash))
                expected = milestones.get(tree.size)
                if expected is not None and tree.root() != expected.root_hash:
                    raise InconsistentError(
                        f"the entries from the mirror do not lead to the root of the log's checkpoint at size "
                        f"{tree.size}: the mirror (or the local database) holds another history"
                    )
            if len(entries) >= _STEP or tree.size == checkpoint.size:
                last = tree.size == checkpoint.size
                await storage.import_batch(entries, nodes, tree.to_state(), checkpoints if last else ())
                entries, nodes = [], []
                if progress is not None:
                    progress(tree.size, checkpoint.size)
        await full_check(storage, verifier, origin)
        return RecoveryResult(local_size, checkpoint.size, checkpoint.root_hash)
    finally:
        await storage.close()


def _record(index: int, data: bytes) -> NewEntry:
    """The storage record of entry ``index`` as the mirror served it (it must be a canonical tlog entry)."""
    try:
        record = Entry.from_bytes(data).to_record()
    except TlogError as exc:
        raise InconsistentError(f"entry {index} from the mirror is not a valid log entry: {exc.message}") from None
    if record.data != data:
        raise InconsistentError(f"entry {index} from the mirror is not in canonical form")
    return record
