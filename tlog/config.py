"""The data directory of a log: configuration, checkpoint signing key and database.

Layout (created by :func:`init_log_dir`, read by :func:`load_log_dir`)::

    DIR/
      config.json        {"origin": ..., "keyFile": "log-key.pem", "database": "log.db"}
      log-key.pem        Ed25519 PKCS#8 PEM private key (mode 0600): the checkpoint signer
      log.db             SQLite database (tlog.storage.sqlite), plus its -wal/-shm files
      log.db.lock        the writer lock (tlog.lock): one process writes a log
      published-checkpoint  the latest published checkpoint (tlog.published), kept outside the database

``keyFile`` and ``database`` are relative to ``DIR`` (absolute paths are accepted too). The key name
of the signer is the origin, as C2SP recommends, so the verifier key is ``<origin>+<id>+<key>``.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from tlog.checkpoint import Checkpoint
from tlog.errors import ConfigError, FormatError
from tlog.merkle import EMPTY_ROOT
from tlog.note import Signer, check_key_name, generate_signer
from tlog.published import PUBLISHED_FILE

__all__ = [
    "CONFIG_FILE",
    "DEFAULT_DATABASE",
    "DEFAULT_KEY_FILE",
    "TOKENS_ENV",
    "LogConfig",
    "check_origin",
    "init_log_dir",
    "load_log_dir",
    "load_tokens",
    "tokens_from_env",
]

#: Configuration file name inside the data directory.
CONFIG_FILE: Final = "config.json"
#: Default signing key file name.
DEFAULT_KEY_FILE: Final = "log-key.pem"
#: Default database file name.
DEFAULT_DATABASE: Final = "log.db"
#: Environment variable holding bearer tokens (comma or whitespace separated), beside --token-file.
TOKENS_ENV: Final = "TLOG_TOKENS"
#: Largest configuration, key or token file read.
_MAX_FILE_SIZE: Final = 1 << 20
_CONFIG_FIELDS: Final = frozenset({"origin", "keyFile", "database"})


@dataclass(frozen=True)
class LogConfig:
    """A loaded data directory.

    Attributes:
        directory: The data directory.
        origin: The checkpoint origin (and key name).
        key_file: Absolute path of the PEM signing key.
        database: Absolute path of the SQLite database.
    """

    directory: Path
    origin: str
    key_file: Path
    database: Path

    @property
    def published_file(self) -> Path:
        """The record of the latest published checkpoint (:mod:`tlog.published`), in the data directory."""
        return self.directory / PUBLISHED_FILE

    def load_signer(self) -> Signer:
        """The checkpoint signer from :attr:`key_file`.

        Raises:
            ConfigError: the key file is missing, readable by group or others, or not an Ed25519 key.
        """
        try:
            mode = self.key_file.stat().st_mode
        except OSError as exc:
            raise ConfigError(f"cannot read the signing key {str(self.key_file)!r}: {exc.strerror}") from None
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"the signing key {str(self.key_file)!r} is accessible by group or others "
                f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {self.key_file}"
            )
        pem = _read_small(self.key_file, "signing key")
        try:
            return Signer.from_private_key_pem(self.origin, pem)
        except FormatError as exc:
            raise ConfigError(f"the signing key {str(self.key_file)!r} is unusable: {exc.message}") from None


def _read_small(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_FILE_SIZE + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} {str(path)!r}: {exc.strerror}") from None
    if len(data) > _MAX_FILE_SIZE:
        raise ConfigError(f"the {what} {str(path)!r} is larger than {_MAX_FILE_SIZE} bytes")
    return data


def check_origin(origin: str) -> None:
    """Refuse an origin that cannot be both a checkpoint origin line and a note key name.

    Raises:
        ConfigError: the origin is empty, contains spaces, ``+`` or control characters.
    """
    try:
        Checkpoint(origin, 0, EMPTY_ROOT)
        check_key_name(origin)
    except FormatError as exc:
        raise ConfigError(f"invalid origin {origin!r}: {exc.message}") from None


def init_log_dir(directory: Path, origin: str) -> tuple[LogConfig, Signer]:
    """Create a data directory with a new signing key and configuration (the database is created by the caller).

    The directory may exist (empty or not) but must not already hold a log: an existing
    configuration, key or database is never overwritten.

    Raises:
        ConfigError: bad origin, the directory already holds a log, or it cannot be written.
    """
    check_origin(origin)
    config_path = directory / CONFIG_FILE
    key_path = directory / DEFAULT_KEY_FILE
    database = directory / DEFAULT_DATABASE
    for existing in (config_path, key_path, database, directory / PUBLISHED_FILE):
        if existing.exists():
            raise ConfigError(
                f"{str(directory)!r} already holds a log ({existing.name} exists); refusing to overwrite it"
            )
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(f"cannot create the data directory {str(directory)!r}: {exc.strerror}") from None
    signer, _ = generate_signer(origin)
    _write_new(key_path, signer.private_key_pem(), 0o600)
    doc = {"origin": origin, "keyFile": DEFAULT_KEY_FILE, "database": DEFAULT_DATABASE}
    _write_new(config_path, (json.dumps(doc, indent=2) + "\n").encode(), 0o644)
    return LogConfig(directory.resolve(), origin, key_path.resolve(), database.resolve()), signer


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` exclusively with ``mode`` and write ``data`` durably."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise ConfigError(f"{str(path)!r} already exists; refusing to overwrite it") from None
    except OSError as exc:
        raise ConfigError(f"cannot create {str(path)!r}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        with contextlib.suppress(OSError):
            path.unlink()
        raise ConfigError(f"cannot write {str(path)!r}: {exc.strerror}") from None


def load_log_dir(directory: Path) -> LogConfig:
    """Read ``DIR/config.json``.

    Raises:
        ConfigError: the directory or configuration is missing or malformed.
    """
    config_path = directory / CONFIG_FILE
    if not directory.is_dir():
        raise ConfigError(f"the data directory {str(directory)!r} does not exist (create it with 'tlog init')")
    if not config_path.is_file():
        raise ConfigError(f"{str(directory)!r} holds no log ({CONFIG_FILE} is missing; create it with 'tlog init')")
    raw = _read_small(config_path, "configuration")
    try:
        doc: Any = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{str(config_path)!r} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{str(config_path)!r} must hold a JSON object")
    unknown = sorted(set(doc) - _CONFIG_FIELDS)
    if unknown:
        raise ConfigError(f"{str(config_path)!r}: unknown field(s) {', '.join(map(repr, unknown))}")
    origin = doc.get("origin")
    if not isinstance(origin, str):
        raise ConfigError(f"{str(config_path)!r}: 'origin' must be a string")
    check_origin(origin)
    paths: dict[str, Path] = {}
    for name, default in (("keyFile", DEFAULT_KEY_FILE), ("database", DEFAULT_DATABASE)):
        value = doc.get(name, default)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{str(config_path)!r}: {name!r} must be a non-empty path string")
        paths[name] = (directory / value).resolve()
    return LogConfig(directory.resolve(), origin, paths["keyFile"], paths["database"])


def load_tokens(path: Path) -> frozenset[str]:
    """Bearer tokens from a file: one per line; blank lines and lines starting with ``#`` are ignored.

    Raises:
        ConfigError: the file cannot be read, holds no token, or a token has spaces or non-ASCII.
    """
    raw = _read_small(path, "token file")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise ConfigError(f"the token file {str(path)!r} must be ASCII") from None
    tokens: set[str] = set()
    for number, line in enumerate(text.splitlines(), 1):
        token = line.strip()
        if not token or token.startswith("#"):
            continue
        tokens.add(_check_token(token, f"{str(path)!r} line {number}"))
    if not tokens:
        raise ConfigError(f"the token file {str(path)!r} holds no token")
    return frozenset(tokens)


def tokens_from_env(value: str, name: str = TOKENS_ENV) -> frozenset[str]:
    """Bearer tokens from an environment variable: separated by commas or whitespace.

    Raises:
        ConfigError: the variable holds no token, or a token is malformed.
    """
    tokens = {_check_token(token, f"${name}") for token in value.replace(",", " ").split()}
    if not tokens:
        raise ConfigError(f"${name} is set but holds no token")
    return frozenset(tokens)


def _check_token(token: str, where: str) -> str:
    if not token.isascii() or any(ch.isspace() or not ch.isprintable() for ch in token):
        raise ConfigError(f"{where}: a token must be printable ASCII without spaces")
    if len(token) < 16:
        raise ConfigError(f"{where}: a token must be at least 16 characters long")
    return token
