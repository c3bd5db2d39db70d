"""Auditing a log from outside: download its tiles and entry bundles and recompute every hash.

:func:`audit_log` is what ``tlog audit`` runs, as a library: it verifies the log's checkpoint with
the log's key, recomputes the tree from the entry bundles and the hash tiles up to the checkpoint's
root, checks that each entry is a canonical entry of this log, and, given the checkpoint audited
the previous time, proves that the log only grew since (the root at the old size, computed from the
same tiles that lead to the new root, must be the old root). With a previous checkpoint only the
entries added since are downloaded: the old ones are bound by the old root.

:class:`AuditState` remembers the last checkpoint audited per log in a small JSON file, so that
successive runs prove consistency without the operator keeping anything.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from tlog import merkle
from tlog.checkpoint import Checkpoint, open_checkpoint
from tlog.entry import Entry
from tlog.errors import ConfigError, FormatError, InvalidEntryError, TlogError
from tlog.note import Verifier
from tlog.tile_client import HttpTileReader
from tlog.tiles import (
    TILE_WIDTH,
    TileId,
    decode_entry_bundle,
    decode_tile,
    entry_bundles_for_size,
    root_from_tiles,
    tile_for_size,
    tile_root,
    tiles_for_size,
)

__all__ = ["AuditProgress", "AuditReport", "AuditState", "audit_log", "default_state_path"]

#: Problems kept in a report (the count is always exact).
_MAX_PROBLEMS: Final = 1000
_STATE_VERSION: Final = 1


@dataclass(frozen=True)
class AuditProgress:
    """How far an audit is: tiles and entry bundles fetched, entries checked, seconds since it started."""

    tiles: int
    tiles_total: int
    bundles: int
    bundles_total: int
    entries: int
    elapsed: float


@dataclass(frozen=True)
class AuditReport:
    """What an audit found.

    Attributes:
        origin: The log's origin.
        size: The audited checkpoint's tree size.
        root_hash: Its root hash.
        checkpoint_note: The audited checkpoint, as the log served it.
        tiles: Hash tiles fetched and checked.
        bundles: Entry bundles fetched and checked.
        entries: Entries checked (those added since ``previous`` when there is one).
        previous: The checkpoint audited before, which this one was proven consistent with.
        problems: Everything that did not match; empty when the log passed.
        problem_count: How many problems there were (``problems`` keeps the first 1,000).
    """

    origin: str
    size: int
    root_hash: bytes
    checkpoint_note: bytes = field(repr=False)
    tiles: int
    bundles: int
    entries: int
    previous: Checkpoint | None
    problems: tuple[str, ...]
    problem_count: int

    @property
    def ok(self) -> bool:
        """True when the log passed."""
        return not self.problem_count

    def to_json(self) -> dict[str, Any]:
        """The report as the ``tlog audit --output json`` document (without the envelope members)."""
        previous = self.previous
        return {
            "result": "ok" if self.ok else "failed",
            "origin": self.origin,
            "size": self.size,
            "rootHash": base64.b64encode(self.root_hash).decode(),
            "tiles": self.tiles,
            "bundles": self.bundles,
            "entries": self.entries,
            "previous": None
            if previous is None
            else {"size": previous.size, "rootHash": base64.b64encode(previous.root_hash).decode()},
            "problems": list(self.problems),
            "problemCount": self.problem_count,
        }


def audit_log(
    reader: HttpTileReader,
    verifier: Verifier,
    *,
    check_entries: bool = True,
    previous: Checkpoint | None = None,
    progress: Callable[[AuditProgress], None] | None = None,
) -> AuditReport:
    """Audit the log behind ``reader`` (see the module docstring).

    Raises:
        SignatureError, FormatError: the log's checkpoint is not signed by ``verifier`` or malformed.
        StorageError, NotFoundError: the log could not be read (a missing tile is a failure to read,
            not a finding: the caller retries).
    """
    started = time.monotonic()
    checkpoint, note = reader.checkpoint(verifier)
    size = checkpoint.size
    problems: list[str] = []
    count = 0

    def problem(text: str) -> None:
        nonlocal count
        count += 1
        if len(problems) < _MAX_PROBLEMS:
            problems.append(text)

    if previous is not None and previous.size > size:
        problem(
            f"the log's checkpoint (size {size}) is older than the one audited before (size {previous.size}): "
            "the log rolled back"
        )
        previous_size = 0
    else:
        previous_size = previous.size if previous is not None else 0
    tiles = tiles_for_size(size)
    first_bundle = previous_size // TILE_WIDTH
    bundles = [b for b in entry_bundles_for_size(size) if b.index >= first_bundle]
    total_tiles, done_tiles, done_bundles, checked = len(tiles), 0, 0, 0

    def report() -> None:
        if progress is not None:
            progress(
                AuditProgress(done_tiles, total_tiles, done_bundles, len(bundles), checked, time.monotonic() - started)
            )

    hashes: dict[TileId, list[bytes]] = {}
    for tile in tiles:
        try:
            hashes[tile] = decode_tile(reader.read_tiles([tile])[0], tile.width)
        except FormatError as exc:
            problem(f"{tile.path}: {exc.message}")
        done_tiles += 1
        if done_tiles % 64 == 0:
            report()
    for bundle in bundles:
        tile = TileId(0, bundle.index, bundle.width)
        try:
            entries = decode_entry_bundle(reader.get(bundle.path), bundle.width)
        except FormatError as exc:
            problem(f"{bundle.path}: {exc.message}")
            continue
        if hashes.get(tile) != [merkle.leaf_hash(e) for e in entries]:
            problem(f"{bundle.path}: the entries do not hash to {tile.path}")
        if check_entries:
            for i, entry in enumerate(entries):
                index = bundle.index * TILE_WIDTH + i
                if index < previous_size:
                    continue
                try:
                    Entry.from_bytes(entry)
                except InvalidEntryError as exc:
                    problem(f"entry {index}: {exc.message}")
        checked += sum(1 for i in range(len(entries)) if bundle.index * TILE_WIDTH + i >= previous_size)
        done_bundles += 1
        report()
    for tile in tiles:
        if tile.level == 0 or tile not in hashes:
            continue
        for i, digest in enumerate(hashes[tile]):
            child = TileId(tile.level - 1, tile.index * TILE_WIDTH + i)
            if child in hashes and tile_root(hashes[child]) != digest:
                problem(f"{tile.path}: hash {i} does not match {child.path}")
    if not count:
        if root_from_tiles(reader, size) != checkpoint.root_hash:
            problem(f"the tiles lead to a root that is not the checkpoint's (size {size})")
        elif (
            previous is not None
            and previous_size
            and root_from_tiles(_PrefixReader(reader, size), previous_size) != previous.root_hash
        ):
            problem(
                f"the log is not consistent with the checkpoint audited before (size {previous_size}): "
                "the tree at that size has another root (the log forked)"
            )
    report()
    return AuditReport(
        checkpoint.origin,
        size,
        checkpoint.root_hash,
        note,
        len(tiles),
        len(bundles),
        checked,
        previous,
        tuple(problems),
        count,
    )


class _PrefixReader:
    """Serves the tiles of an older tree size from the current tiles: a partial tile is a prefix of
    the same tile at a later size, and a log may prune partial tiles once the full one exists."""

    def __init__(self, reader: HttpTileReader, size: int) -> None:
        self._reader = reader
        self._size = size

    def read_tiles(self, tiles: Sequence[TileId]) -> Sequence[bytes]:
        current = [tile_for_size(t.level, t.index, self._size) for t in tiles]
        data = self._reader.read_tiles(current)
        return [d[: t.width * merkle.HASH_SIZE] for t, d in zip(tiles, data, strict=True)]


def default_state_path() -> Path:
    """``$TLOG_AUDIT_STATE``, else ``$XDG_STATE_HOME/tlog/audit.json`` (``~/.local/state/tlog/audit.json``)."""
    explicit = os.environ.get("TLOG_AUDIT_STATE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "tlog" / "audit.json"


class AuditState:
    """The last checkpoint audited, per log (keyed by the log's verifier key), in a JSON file."""

    def __init__(self, path: Path) -> None:
        """``path``: the state file (created on the first :meth:`record`)."""
        self.path = path

    def _load(self) -> dict[str, Any]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {"version": _STATE_VERSION, "logs": {}}
        except OSError as exc:
            raise ConfigError(f"cannot read the audit state {str(self.path)!r}: {exc.strerror}") from None
        try:
            doc = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"the audit state {str(self.path)!r} is not valid JSON: {exc}") from None
        if not isinstance(doc, dict) or doc.get("version") != _STATE_VERSION or not isinstance(doc.get("logs"), dict):
            raise ConfigError(f"the audit state {str(self.path)!r} is not a tlog audit state (version 1)")
        return doc

    def previous(self, verifier: Verifier) -> Checkpoint | None:
        """The checkpoint last audited for the log of ``verifier``, verified again with it.

        Raises:
            ConfigError: the state file is unreadable, or its checkpoint for this log does not verify.
        """
        record = self._load()["logs"].get(verifier.vkey)
        if record is None:
            return None
        try:
            return open_checkpoint(str(record["checkpoint"]).encode(), [verifier], verifier.name)
        except (KeyError, TlogError) as exc:
            raise ConfigError(
                f"the audit state {str(self.path)!r} holds an unusable checkpoint for {verifier.name}: {exc}"
            ) from None

    def record(self, verifier: Verifier, note: bytes) -> None:
        """Remember ``note`` as the last checkpoint audited for this log (atomically replaced).

        Raises:
            ConfigError: the file cannot be written.
        """
        doc = self._load()
        doc["logs"][verifier.vkey] = {
            "origin": verifier.name,
            "checkpoint": note.decode("utf-8"),
            "auditedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(doc, indent=2) + "\n", "utf-8")
            os.replace(temporary, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise ConfigError(f"cannot write the audit state {str(self.path)!r}: {exc.strerror}") from None
