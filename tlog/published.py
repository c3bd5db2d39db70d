"""The record of the latest published checkpoint, kept outside the database.

A log's promise is that it never shows two histories. The database alone cannot keep it: an
operator who deletes a WAL after a crash, restores an old copy of ``log.db`` or starts on an empty
file would otherwise get a log that silently starts again at an older size and signs, with the same
key, a different root for a size it already published. So every checkpoint is also written here
(atomically replaced and fsynced) *before* any receipt or ``GET /checkpoint`` shows it, and the
log refuses to start when its storage is behind this record or disagrees with it.

The file holds the signed note exactly as published. It is checked with the log's own key when
read, so a damaged or foreign file is refused rather than trusted.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Final

from tlog.checkpoint import Checkpoint, open_checkpoint
from tlog.errors import InconsistentError, StorageError, TlogError
from tlog.note import Verifier

__all__ = ["PUBLISHED_FILE", "PublishedCheckpoint"]

#: File name of the record inside the data directory.
PUBLISHED_FILE: Final = "published-checkpoint"
#: Largest record read (a checkpoint note with witness cosignatures is a few KiB).
_MAX_SIZE: Final = 1 << 16


class PublishedCheckpoint:
    """The latest published checkpoint of one log, in a file (see the module docstring)."""

    def __init__(self, path: Path, verifier: Verifier, origin: str) -> None:
        """``path``: the record file; ``verifier``/``origin``: the log's own key and origin."""
        self._path = path
        self._verifier = verifier
        self._origin = origin

    @property
    def path(self) -> Path:
        """The record file."""
        return self._path

    def read(self) -> tuple[Checkpoint, bytes] | None:
        """The recorded checkpoint and its note, or ``None`` when there is no record.

        Raises:
            InconsistentError: the file is unreadable, not a checkpoint of this log, or not signed by its key.
        """
        try:
            with self._path.open("rb") as f:
                note = f.read(_MAX_SIZE + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise InconsistentError(f"cannot read the published-checkpoint record {str(self._path)!r}: {exc}") from None
        if len(note) > _MAX_SIZE:
            raise InconsistentError(f"the published-checkpoint record {str(self._path)!r} is too large")
        try:
            checkpoint = open_checkpoint(note, [self._verifier], self._origin)
        except TlogError as exc:
            raise InconsistentError(
                f"the published-checkpoint record {str(self._path)!r} is not a checkpoint of {self._origin} "
                f"signed by its key: {exc.message}"
            ) from None
        return checkpoint, note

    def write(self, note: bytes) -> None:
        """Replace the record with ``note`` atomically and durably (file and directory fsynced).

        Raises:
            StorageError: the record could not be written (the previous one is left in place).
        """
        temporary = self._path.with_name(f".{self._path.name}.{os.getpid()}.tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, note)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, self._path)
            fsync_directory(self._path.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise StorageError(f"cannot record the published checkpoint in {str(self._path)!r}: {exc}") from None


def fsync_directory(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
