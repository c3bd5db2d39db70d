"""Storage of the log: the abstract interface (:mod:`tlog.storage.base`) and its SQLite implementation.

The core (:mod:`tlog.log`) only sees :class:`Storage`; :mod:`tlog.storage.sqlite` is the single-node
backend, and a PostgreSQL backend for several replicas can implement the same interface.
"""

from tlog.storage.base import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    MAX_READ_RANGE,
    AppendConflictError,
    LoggedEntry,
    LogState,
    NewEntry,
    NodeHash,
    Page,
    Storage,
    StoredCheckpoint,
)

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
]
