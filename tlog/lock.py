"""One process per log: an exclusive lock held for the life of the process that writes it.

Two sequencers over one database both start, both sign checkpoints and, under load, sign roots of
histories that storage does not hold. The lock is an ``flock`` on ``<database>.lock``: the kernel
releases it when the holder exits, however it exits (SIGKILL included), so a stale lock file never
blocks a restart. The file holds the holder's PID, for the error message only.

``flock`` needs a local file system (or one that implements it across hosts): put the data
directory on local storage.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Self

from tlog.errors import TlogError

__all__ = ["LogLockedError", "WriterLock"]


class LogLockedError(TlogError):
    """Another process holds the log's writer lock."""


class WriterLock:
    """The exclusive writer lock of one log database (a context manager)."""

    def __init__(self, database: Path) -> None:
        """``database``: the log database the lock protects."""
        self._path = database.with_name(database.name + ".lock")
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        """The lock file."""
        return self._path

    def acquire(self) -> None:
        """Take the lock without waiting.

        Raises:
            LogLockedError: another process holds it (the message names its PID).
            TlogError: the lock file cannot be opened.
        """
        if self._fd is not None:
            raise RuntimeError("the lock is already held")
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise TlogError(f"cannot open the lock file {str(self._path)!r}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise LogLockedError(
                f"the log database {str(self._path.with_suffix(''))!r} is in use by another tlog process "
                f"(PID {holder}); only one process may write a log"
            ) from None
        except OSError as exc:
            os.close(fd)
            raise TlogError(f"cannot lock {str(self._path)!r}: {exc.strerror}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor releases the flock

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
