"""The one exception tree of the ``tlog`` package.

Every error raised on purpose by ``tlog`` derives from :class:`TlogError`; callers catch what they need::

    TlogError                      root of every deliberate tlog error
    ├── FormatError                malformed input: note, checkpoint, vkey, tile path, bundle, proof file
    ├── SignatureError             a signed note does not verify against the trusted keys
    │   ├── InvalidSignatureError  a signature by a known key (name and key ID match) fails to verify
    │   └── UnverifiedNoteError    no signature by any known key (the note itself may be well formed)
    ├── ProofError                 an inclusion or consistency proof does not verify
    ├── InconsistentError          data contradicts a signed checkpoint or other stored data (fork, rollback,
    │                              corruption)
    ├── InvalidEntryError          a log entry is refused (too large, malformed)
    ├── NotFoundError              an entry, tile, bundle or checkpoint does not exist
    ├── AuthError                  a request is not authenticated or not authorised
    ├── ConfigError                a log data directory, key file or token file is missing or malformed
    ├── LogOverloadedError         too many submissions are waiting to be sequenced (retry later)
    ├── UnavailableError           verification workers cannot start or died (retry later)
    └── StorageError               the storage backend failed (I/O, locking, database)
        └── AppendConflictError    another writer appended first (the batch is re-sequenced)

``FormatError`` and ``InvalidEntryError`` are also :class:`ValueError`, ``NotFoundError`` is also a
:class:`LookupError`, so generic handlers keep working. ``NoteVerificationError`` is an alias of
:class:`SignatureError`.
"""

from __future__ import annotations


class TlogError(Exception):
    """Root of every deliberate ``tlog`` error."""

    @property
    def message(self) -> str:
        """The human-readable message (the first argument)."""
        return str(self.args[0]) if self.args else self.__class__.__name__


class FormatError(TlogError, ValueError):
    """Input is malformed: it does not follow the grammar of the format it claims to be."""


class SignatureError(TlogError):
    """A signed note (checkpoint) does not verify against the trusted keys."""


#: Alias: some callers find this name clearer when opening notes.
NoteVerificationError = SignatureError


class InvalidSignatureError(SignatureError):
    """A signature by a known key (key name and key ID both match a verifier) fails to verify."""


class UnverifiedNoteError(SignatureError):
    """A well-formed note carries no signature by any of the trusted keys."""


class ProofError(TlogError):
    """An inclusion or consistency proof does not verify (or is asked for impossible sizes)."""


class InconsistentError(TlogError):
    """Data contradicts a signed checkpoint or other stored data: a fork, a rollback or corruption."""


class InvalidEntryError(TlogError, ValueError):
    """A log entry is refused (for example larger than the 65,535 bytes an entry bundle can carry)."""


class NotFoundError(TlogError, LookupError):
    """An entry, tile, entry bundle or checkpoint does not exist."""


class AuthError(TlogError):
    """A request is not authenticated or not authorised."""


class ConfigError(TlogError):
    """A log data directory, signing key file or token file is missing, unreadable or malformed."""


class LogOverloadedError(TlogError):
    """Too many submissions are waiting to be sequenced; the client should retry later (HTTP 503)."""


class UnavailableError(TlogError):
    """A part of the service other than storage is not working: verification workers cannot start or died."""


class StorageError(TlogError):
    """The storage backend failed (I/O, locking, database)."""


class AppendConflictError(StorageError):
    """The batch does not start at the stored tree size: another writer appended first."""


__all__ = [
    "AppendConflictError",
    "AuthError",
    "ConfigError",
    "FormatError",
    "InconsistentError",
    "InvalidEntryError",
    "InvalidSignatureError",
    "LogOverloadedError",
    "NotFoundError",
    "NoteVerificationError",
    "ProofError",
    "SignatureError",
    "StorageError",
    "TlogError",
    "UnavailableError",
    "UnverifiedNoteError",
]
