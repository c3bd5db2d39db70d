"""Copies of a log's SQLite database: consistent online backups, and installing a copy as the log's database.

Copying ``log.db`` with ``cp`` is not a backup: committed transactions live in ``log.db-wal`` until
a WAL checkpoint copies them over, so a copy of the main file alone lacks the latest entries (and a
copy taken while the server writes may be torn). :func:`backup_database` uses SQLite's online
backup API instead: a consistent snapshot, WAL included, taken while the log keeps serving.

:func:`install_database` replaces a log's database with a prepared copy (``tlog restore`` and
``tlog recover``): the old WAL and shared-memory files are removed first, since a stale WAL
applied to another database file would corrupt it, and the copy is renamed into place, so a crash
leaves either the old file or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from tlog.errors import ConfigError, StorageError
from tlog.published import fsync_directory

__all__ = ["backup_database", "copy_database", "install_database", "scratch_path"]


def scratch_path(database: Path, purpose: str) -> Path:
    """A temporary file beside ``database`` (same file system, so it can be renamed into place)."""
    return database.with_name(f".{database.name}.{purpose}.{os.getpid()}.tmp")


def backup_database(source: Path, destination: Path) -> None:
    """Write a consistent copy of the SQLite database ``source`` to ``destination``.

    Safe while another process writes ``source``. ``destination`` must not exist; it appears only
    once complete and fsynced.

    Raises:
        ConfigError: ``source`` does not exist or ``destination`` does.
        StorageError: SQLite or the file system failed (nothing is left at ``destination``).
    """
    if not source.is_file():
        raise ConfigError(f"the log database {str(source)!r} does not exist")
    if destination.exists():
        raise ConfigError(f"{str(destination)!r} already exists; refusing to overwrite it")
    if not destination.parent.is_dir():
        raise ConfigError(f"the directory {str(destination.parent)!r} does not exist")
    temporary = scratch_path(destination, "backup")
    try:
        _copy(source, temporary)
        os.replace(temporary, destination)
        fsync_directory(destination.parent)
    except (OSError, sqlite3.Error) as exc:
        _remove(temporary)
        raise StorageError(f"backing up {str(source)!r} to {str(destination)!r} failed: {exc}") from None


def copy_database(source: Path, destination: Path) -> None:
    """Copy ``source`` to the new file ``destination`` with SQLite's backup API, fsynced.

    Raises:
        ConfigError: ``source`` does not exist.
        StorageError: SQLite or the file system failed (``destination`` is removed).
    """
    if not source.is_file():
        raise ConfigError(f"{str(source)!r} does not exist")
    try:
        _copy(source, destination)
    except (OSError, sqlite3.Error) as exc:
        _remove(destination)
        raise StorageError(f"copying {str(source)!r} failed: {exc}") from None


def install_database(prepared: Path, database: Path) -> None:
    """Make ``prepared`` (a complete, checked copy) the log's ``database``, replacing whatever is there.

    The caller holds the log's writer lock, so no process has the database open.

    Raises:
        StorageError: the file system failed.
    """
    try:
        for suffix in ("-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{database}{suffix}").unlink()
        os.replace(prepared, database)
        fsync_directory(database.parent)
    except OSError as exc:
        raise StorageError(f"installing the database at {str(database)!r} failed: {exc}") from None


def _copy(source: Path, destination: Path) -> None:
    # A read-write connection that never writes: read-only ones cannot open a WAL database whose
    # -shm file is missing (the log is stopped), and the backup must see the WAL's transactions.
    src = sqlite3.connect(f"file:{source}?mode=rw", uri=True)
    try:
        dst = sqlite3.connect(destination)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            dst.close()
    finally:
        src.close()
    fd = os.open(destination, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            Path(f"{path}{suffix}").unlink()
