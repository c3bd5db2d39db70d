"""Where registry credentials come from, and where ``login`` puts them.

Lookup order of :class:`DefaultCredentials` (first hit wins):

1. The explicit pair (``-u``/``-p``), each field defaulting to ``NOTATION_USERNAME`` /
   ``NOTATION_PASSWORD`` as notation's flags do. A password without a username is an identity
   token (OAuth2 refresh token), as in notation.
2. notation's ``{NOTATION_CONFIG}/config.json``: ``credHelpers[<server>]``, else ``credsStore``,
   else ``auths[<server>]``.
3. docker's ``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``, read the same way.

A configured helper is authoritative for its file: when ``credHelpers``/``credsStore`` names one,
that file's ``auths`` is not consulted for the server (Docker and oras-go behave the same).

Credential helpers follow the docker-credential-helpers protocol: ``docker-credential-<name> get``
with the server address on stdin answers ``{"ServerURL", "Username", "Secret"}``; the username
``<token>`` marks the secret as an identity token. ``store`` reads that JSON on stdin and ``erase``
the server address. Every helper run has a timeout.

``docker.io`` is looked up as ``https://index.docker.io/v1/``, the key docker writes. A key of
``auths`` written with a scheme or path (``https://host/v1/``) matches its host name.

Secrets never appear in logs, exception messages or ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

from notation_py.config.dirs import ConfigDir
from notation_py.errors import CredentialError
from notation_py.fsutil import atomic_write

logger = logging.getLogger(__name__)

#: The username credential helpers use to mark the secret as an identity token.
IDENTITY_TOKEN_USERNAME: Final = "<token>"  # noqa: S105 - a marker, not a secret
#: The server address docker and oras-go use for Docker Hub.
DOCKER_HUB_SERVER: Final = "https://index.docker.io/v1/"
#: Default time a credential helper may take.
HELPER_TIMEOUT: Final = 30.0

_HELPER_NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_NOT_FOUND_MARKER: Final = "credentials not found"


@dataclass(frozen=True, repr=False)
class Credential:
    """Registry credentials. At most one way of authenticating is normally set.

    Attributes:
        username: Basic-auth user name (also sent to the token service).
        password: Basic-auth password.
        refresh_token: Identity token (OAuth2 refresh token) exchanged at the token service.
        access_token: A registry bearer token sent as is (docker's ``registrytoken``).
    """

    username: str = ""
    password: str = ""
    refresh_token: str = ""
    access_token: str = ""

    @property
    def is_empty(self) -> bool:
        """Whether nothing is set."""
        return not (self.username or self.password or self.refresh_token or self.access_token)

    @property
    def has_basic(self) -> bool:
        """Whether a user name (and possibly a password) can be sent as HTTP Basic."""
        return bool(self.username)

    def __repr__(self) -> str:
        shown = [f"username={self.username!r}"]
        shown += [f"{name}=<hidden>" for name in ("password", "refresh_token", "access_token") if getattr(self, name)]
        return f"Credential({', '.join(shown)})"


@runtime_checkable
class CredentialSource(Protocol):
    """Anything that can answer "which credentials for this registry host?"."""

    def get(self, host: str) -> Credential | None:
        """Credentials for ``host`` (``name[:port]``), or ``None`` to go anonymous.

        Raises:
            CredentialError: A configured source exists but could not be read.
        """
        ...


class StaticCredentials:
    """Fixed credentials per host (useful for tests and for programmatic callers)."""

    def __init__(self, credentials: Mapping[str, Credential] | None = None) -> None:
        """Use ``credentials`` (host → credential); other hosts are anonymous."""
        self._credentials = dict(credentials or {})

    def get(self, host: str) -> Credential | None:
        """The credential given for ``host``, if any."""
        return self._credentials.get(host)


def server_address(host: str) -> str:
    """The key credential stores use for a registry host (``docker.io`` → docker's legacy URL)."""
    return DOCKER_HUB_SERVER if host in ("docker.io", "registry-1.docker.io", "index.docker.io") else host


def _hostname_of_key(key: str) -> str:
    """``https://host:port/v1/`` → ``host:port`` (docker's ``ConvertToHostname``)."""
    for prefix in ("http://", "https://"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
            break
    return key.split("/", 1)[0]


def explicit_credential(
    username: str | None, password: str | None, environ: Mapping[str, str] | None = None
) -> Credential | None:
    """The credential given on the command line, each part defaulting to its environment variable.

    ``NOTATION_USERNAME`` and ``NOTATION_PASSWORD`` fill in what the flags leave unset. A
    password without a user name is an identity token, as notation treats it.

    Returns:
        The credential, or ``None`` when neither part is set anywhere.
    """
    env = os.environ if environ is None else environ
    user = username if username else env.get("NOTATION_USERNAME", "")
    secret = password if password else env.get("NOTATION_PASSWORD", "")
    if not user and not secret:
        return None
    if not user:
        return Credential(refresh_token=secret)
    return Credential(username=user, password=secret)


# --- credential helpers ----------------------------------------------------------------------


def _helper_executable(name: str) -> str:
    if not _HELPER_NAME_RE.fullmatch(name):
        raise CredentialError(f"invalid credential helper name {name!r}")
    exe = f"docker-credential-{name}"
    path = shutil.which(exe)
    if path is None:
        raise CredentialError(f"credential helper {exe} not found in PATH")
    return path


def _run_helper(name: str, action: str, stdin: bytes, timeout: float) -> bytes | None:
    """Run ``docker-credential-<name> <action>``; ``None`` when the helper has no credentials."""
    exe = f"docker-credential-{name}"
    path = _helper_executable(name)
    try:
        proc = subprocess.run([path, action], input=stdin, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise CredentialError(f"credential helper {exe} {action} timed out after {timeout:g} s") from None
    except OSError as e:
        raise CredentialError(f"cannot run credential helper {exe}: {e.strerror or e}") from None
    if proc.returncode != 0:
        # The helper's own message, first line only: it is about the failure, not the secret.
        text = (proc.stdout or proc.stderr).decode("utf-8", "replace").strip()
        if action in ("get", "erase") and _NOT_FOUND_MARKER in text.lower():
            return None
        first = text.splitlines()[0][:200] if text else "no message"
        raise CredentialError(f"credential helper {exe} {action} failed (exit status {proc.returncode}): {first}")
    return proc.stdout


def _helper_get(name: str, server: str, timeout: float) -> Credential | None:
    out = _run_helper(name, "get", server.encode(), timeout)
    if out is None:
        return None
    exe = f"docker-credential-{name}"
    try:
        obj = json.loads(out)
    except (ValueError, UnicodeDecodeError):
        raise CredentialError(f"credential helper {exe} get returned malformed output (not JSON)") from None
    if not isinstance(obj, dict):
        raise CredentialError(f"credential helper {exe} get returned malformed output (not a JSON object)")
    username, secret = obj.get("Username", ""), obj.get("Secret", "")
    if not isinstance(username, str) or not isinstance(secret, str):
        raise CredentialError(f"credential helper {exe} get returned malformed output (Username/Secret not strings)")
    if username == IDENTITY_TOKEN_USERNAME:
        return Credential(refresh_token=secret)
    cred = Credential(username=username, password=secret)
    return None if cred.is_empty else cred


def _helper_store(name: str, server: str, credential: Credential, timeout: float) -> None:
    if credential.refresh_token:
        payload = {"ServerURL": server, "Username": IDENTITY_TOKEN_USERNAME, "Secret": credential.refresh_token}
    else:
        payload = {"ServerURL": server, "Username": credential.username, "Secret": credential.password}
    _run_helper(name, "store", json.dumps(payload).encode(), timeout)


def _helper_erase(name: str, server: str, timeout: float) -> bool:
    return _run_helper(name, "erase", server.encode(), timeout) is not None


# --- config files ----------------------------------------------------------------------------


def _load_config(path: Path) -> dict[str, Any]:
    """A docker-format config file; missing → empty. Members used here are type-checked."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise CredentialError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise CredentialError(f"malformed config file {path}: {e}") from None
    if not isinstance(doc, dict):
        raise CredentialError(f"malformed config file {path}: expected a JSON object")
    for key in ("auths", "credHelpers"):
        value = doc.get(key)
        if value is not None and not isinstance(value, dict):
            raise CredentialError(f'malformed config file {path}: "{key}" must be a JSON object')
    store = doc.get("credsStore")
    if store is not None and not isinstance(store, str):
        raise CredentialError(f'malformed config file {path}: "credsStore" must be a string')
    helpers = doc.get("credHelpers") or {}
    if not all(isinstance(v, str) for v in helpers.values()):
        raise CredentialError(f'malformed config file {path}: "credHelpers" values must be strings')
    return doc


def _helper_for(doc: Mapping[str, Any], server: str) -> str | None:
    helper = (doc.get("credHelpers") or {}).get(server)
    if helper:
        return str(helper)
    store = doc.get("credsStore")
    return str(store) if store else None


def _auth_entry(doc: Mapping[str, Any], server: str) -> tuple[str, Any] | None:
    auths: Mapping[str, Any] = doc.get("auths") or {}
    if server in auths:
        return server, auths[server]
    host = _hostname_of_key(server)
    for key, entry in auths.items():
        if _hostname_of_key(key) == host:
            return key, entry
    return None


def _decode_auth_entry(entry: object, path: Path, key: str) -> Credential | None:
    where = f'config file {path}: auths["{key}"]'
    if not isinstance(entry, dict):
        raise CredentialError(f"malformed {where}: expected a JSON object")
    fields = {}
    for name in ("auth", "username", "password", "identitytoken", "registrytoken"):
        value = entry.get(name, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise CredentialError(f'malformed {where}: "{name}" must be a string')
        fields[name] = value
    username, password = fields["username"], fields["password"]
    if fields["auth"]:
        try:
            decoded = base64.b64decode(fields["auth"], validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise CredentialError(f'malformed {where}: "auth" is not base64 of "user:password"') from None
        username, sep, password = decoded.partition(":")
        if not sep:
            raise CredentialError(f'malformed {where}: "auth" is not base64 of "user:password"')
    cred = Credential(
        username=username,
        password=password,
        refresh_token=fields["identitytoken"],
        access_token=fields["registrytoken"],
    )
    return None if cred.is_empty else cred


def docker_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``."""
    env = os.environ if environ is None else environ
    base = env.get("DOCKER_CONFIG")
    return (Path(base) if base else Path.home() / ".docker") / "config.json"


class DefaultCredentials:
    """notation's credential lookup (see the module docstring) plus ``login``/``logout`` storage.

    Results are cached per host for the life of the object, so a helper runs at most once per
    registry; :meth:`store` and :meth:`erase` drop the cache.
    """

    def __init__(
        self,
        config_dir: ConfigDir,
        explicit: Credential | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        docker_config: Path | None = None,
        helper_timeout: float = HELPER_TIMEOUT,
    ) -> None:
        """Look up credentials for notation's configuration directory ``config_dir``.

        Args:
            config_dir: notation's configuration directory (its ``config.json`` is read first).
            explicit: Credentials from the command line, or ``None``. Fields left empty default
                to ``NOTATION_USERNAME``/``NOTATION_PASSWORD``.
            environ: Environment to read (default ``os.environ``).
            docker_config: docker's ``config.json`` (default from ``DOCKER_CONFIG`` or the home directory).
            helper_timeout: Seconds a credential helper may take.
        """
        self._env: Mapping[str, str] = os.environ if environ is None else environ
        self._notation_config = config_dir.config_json
        self._docker_config = docker_config if docker_config is not None else docker_config_path(self._env)
        self._helper_timeout = helper_timeout
        given = explicit or Credential()
        if given.refresh_token or given.access_token:
            self._explicit: Credential | None = given
        else:
            self._explicit = explicit_credential(given.username, given.password, self._env)
        self._cache: dict[str, Credential | None] = {}

    def get(self, host: str) -> Credential | None:
        """Credentials for ``host``, from the first source that has some (``None``: anonymous).

        Raises:
            CredentialError: A config file is malformed, or a configured helper is missing, fails,
                times out or answers garbage.
        """
        if host in self._cache:
            return self._cache[host]
        cred, source = self._lookup(host)
        # Where credentials came from is useful when debugging; the values never are.
        logger.debug("credentials for %s: %s", host, source)
        self._cache[host] = cred
        return cred

    def _lookup(self, host: str) -> tuple[Credential | None, str]:
        if self._explicit is not None:
            return self._explicit, "command line / NOTATION_USERNAME, NOTATION_PASSWORD"
        server = server_address(host)
        for path in (self._notation_config, self._docker_config):
            doc = _load_config(path)
            helper = _helper_for(doc, server)
            if helper is not None:
                cred = _helper_get(helper, server, self._helper_timeout)
                if cred is not None:
                    return cred, f"credential helper docker-credential-{helper} (configured in {path})"
                continue
            found = _auth_entry(doc, server)
            if found is not None:
                cred = _decode_auth_entry(found[1], path, found[0])
                if cred is not None:
                    return cred, f"auths of {path}"
        return None, "none (anonymous)"

    def store(self, server: str, credential: Credential) -> bool:
        """Save ``credential`` for ``server`` in notation's configuration (``login``).

        The helper named by notation's ``credHelpers``/``credsStore`` is used if there is one;
        otherwise the credential is written base64-encoded (not encrypted) into the ``auths`` of
        ``{NOTATION_CONFIG}/config.json``, atomically and with mode 0600; other members of the file
        are kept.

        Args:
            server: Registry host (``name[:port]``).
            credential: What to save: user name and password, or an identity token.

        Returns:
            ``True`` when the secret was written in plain text to ``config.json`` (the caller
            should warn), ``False`` when a credential helper stored it.

        Raises:
            CredentialError: The credential is empty, the file cannot be read or written, or the
                helper fails.
        """
        if credential.is_empty:
            raise CredentialError("no credentials to store")
        key = server_address(server)
        path = self._notation_config
        doc = _load_config(path)
        self._cache.clear()
        helper = _helper_for(doc, key)
        if helper is not None:
            _helper_store(helper, key, credential, self._helper_timeout)
            return False
        auths = dict(doc.get("auths") or {})
        if credential.refresh_token:
            entry = {"identitytoken": credential.refresh_token}
        else:
            raw = f"{credential.username}:{credential.password}".encode()
            entry = {"auth": base64.b64encode(raw).decode("ascii")}
        auths[key] = entry
        doc["auths"] = auths
        self._write(path, doc)
        return True

    def erase(self, server: str) -> bool:
        """Remove the saved credential of ``server`` from notation's configuration (``logout``).

        Returns:
            Whether something was removed.

        Raises:
            CredentialError: The file cannot be read or written, or the helper fails.
        """
        key = server_address(server)
        path = self._notation_config
        doc = _load_config(path)
        self._cache.clear()
        helper = _helper_for(doc, key)
        if helper is not None:
            return _helper_erase(helper, key, self._helper_timeout)
        auths: dict[str, Any] = dict(doc.get("auths") or {})
        host = _hostname_of_key(key)
        doomed = [k for k in auths if k == key or _hostname_of_key(k) == host]
        if not doomed:
            return False
        for k in doomed:
            del auths[k]
        doc["auths"] = auths
        self._write(path, doc)
        return True

    @staticmethod
    def _write(path: Path, doc: Mapping[str, Any]) -> None:
        try:
            atomic_write(path, (json.dumps(doc, indent="\t") + "\n").encode(), mode=0o600)
        except OSError as e:
            raise CredentialError(f"cannot write {path}: {e.strerror or e}") from None
