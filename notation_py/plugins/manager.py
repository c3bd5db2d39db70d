"""Finding installed plugins and calling their commands.

A plugin ``<name>`` is the executable ``notation-<name>`` (``.exe`` on Windows) in
``<plugin directory>/<name>/``; the plugin directory is ``$NOTATION_LIBEXEC/plugins`` when that
variable is set, else ``{NOTATION_CONFIG}/plugins`` (as notation). The executable must be a regular
file (not a symlink) the user may execute.

:class:`Plugin` runs one command per call: the JSON request on stdin, the JSON response on stdout
with exit code 0; on exit code 1 the plugin may write ``{"errorCode", "errorMessage",
"errorMetadata"}`` on stderr, which becomes a :class:`~notation_py.plugins.protocol.PluginRequestError`.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from notation_py.config.dirs import plugin_directory
from notation_py.errors import PluginError
from notation_py.jsonutil import JSONFormatError, strict_loads
from notation_py.plugins.process import DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT, run_executable
from notation_py.plugins.protocol import CONTRACT_VERSION, Command, PluginMetadata, PluginRequestError

__all__ = [
    "Plugin",
    "PluginListing",
    "executable_name",
    "list_plugins",
    "load_plugin",
    "plugin_directory",
]

# Plugin names become path components: refuse anything that could leave the plugin directory.
_FORBIDDEN_NAME_CHARS = frozenset('/\\:*?"<>|\0')


def executable_name(name: str) -> str:
    """``notation-<name>``, with ``.exe`` on Windows."""
    return f"notation-{name}.exe" if sys.platform == "win32" else f"notation-{name}"


def _check_name(name: str) -> None:
    if not name or name in (".", "..") or any(c in _FORBIDDEN_NAME_CHARS for c in name):
        raise PluginError(f'invalid plugin name "{name}"')


class Plugin:
    """One installed plugin executable; each method runs one plugin command.

    Create it with :func:`load_plugin` (which checks the executable) or directly for a known path.

    Args:
        name: Plugin name (its directory name; ``get-plugin-metadata`` must report the same).
        path: The executable.
        timeout: Seconds each command may take.
        max_output: Largest accepted stdout/stderr of a command, bytes.
    """

    def __init__(
        self, name: str, path: Path, *, timeout: float = DEFAULT_TIMEOUT, max_output: int = DEFAULT_MAX_OUTPUT
    ) -> None:
        self.name = name
        self.path = path
        self.timeout = timeout
        self.max_output = max_output

    def __repr__(self) -> str:
        return f"Plugin({self.name!r}, {str(self.path)!r})"

    def run(self, command: Command | str, request: Mapping[str, Any]) -> dict[str, Any]:
        """Run ``command`` with the JSON ``request``; return the JSON object it answered.

        Raises:
            PluginRequestError: the plugin exited non-zero (its JSON error, if any, is kept).
            PluginError: it could not run, timed out, wrote too much, or answered something other
                than one JSON object.
        """
        command = str(command)
        where = f'plugin "{self.name}" {command}'
        data = json.dumps(request, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        result = run_executable(
            self.path, [command], data, timeout=self.timeout, max_output=self.max_output, label=f'plugin "{self.name}"'
        )
        if result.returncode != 0:
            raise self._request_error(command, result.returncode, result.stderr)
        try:
            doc = strict_loads(result.stdout)
        except JSONFormatError as exc:
            raise PluginError(f"{where} response is not valid JSON: {exc.message}") from None
        if not isinstance(doc, dict):
            raise PluginError(f"{where} response must be a JSON object")
        return doc

    def _request_error(self, command: str, returncode: int, stderr: bytes) -> PluginRequestError:
        where = f'plugin "{self.name}" {command}'
        code, message, metadata = "ERROR", None, None
        try:
            doc = strict_loads(stderr)
        except JSONFormatError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("errorMessage"), str | None):
            raw_code = doc.get("errorCode")
            if isinstance(raw_code, str) and raw_code:
                code = raw_code
            message = doc.get("errorMessage") or ""
            raw_meta = doc.get("errorMetadata")
            if isinstance(raw_meta, dict):
                metadata = {str(k): str(v) for k, v in raw_meta.items()}
            text = f"{where} failed with error {code}: {message}" if message else f"{where} failed with error {code}"
        else:
            detail = stderr.decode("utf-8", errors="replace").strip()
            if len(detail) > 1000:
                detail = detail[:1000] + "..."
            text = f"{where} failed with exit code {returncode}" + (f": {detail}" if detail else "")
        return PluginRequestError(text, plugin=self.name, command=command, code=code, error_metadata=metadata)

    # --- commands ---------------------------------------------------------------------------------

    def get_metadata(self, plugin_config: Mapping[str, str] | None = None) -> PluginMetadata:
        """``get-plugin-metadata``, validated (name, description, version, url, capabilities, contract).

        Raises:
            PluginError: the command failed or the metadata is invalid.
        """
        request: dict[str, Any] = {}
        if plugin_config:
            request["pluginConfig"] = dict(plugin_config)
        doc = self.run(Command.GET_PLUGIN_METADATA, request)
        try:
            return PluginMetadata.from_response(doc, self.name)
        except PluginRequestError:
            raise
        except PluginError as exc:
            raise PluginError(f'plugin "{self.name}" get-plugin-metadata: {exc.message}') from None

    def describe_key(self, key_id: str, plugin_config: Mapping[str, str] | None = None) -> dict[str, Any]:
        """``describe-key`` (raw response; :class:`~notation_py.plugins.signer.PluginSigner` checks it)."""
        request: dict[str, Any] = {"contractVersion": CONTRACT_VERSION, "keyId": key_id}
        if plugin_config:
            request["pluginConfig"] = dict(plugin_config)
        return self.run(Command.DESCRIBE_KEY, request)

    def generate_signature(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """``generate-signature`` (raw response)."""
        return self.run(Command.GENERATE_SIGNATURE, {"contractVersion": CONTRACT_VERSION, **request})

    def generate_envelope(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """``generate-envelope`` (raw response)."""
        return self.run(Command.GENERATE_ENVELOPE, {"contractVersion": CONTRACT_VERSION, **request})

    def verify_signature(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """``verify-signature`` (raw response)."""
        return self.run(Command.VERIFY_SIGNATURE, {"contractVersion": CONTRACT_VERSION, **request})


def _executable_problem(path: Path) -> str | None:
    try:
        info = os.lstat(path)
    except OSError as exc:
        return exc.strerror or str(exc)
    if stat.S_ISLNK(info.st_mode):
        return "the plugin executable is a symbolic link"
    if not stat.S_ISREG(info.st_mode):
        return "the plugin executable is not a regular file"
    if sys.platform != "win32" and not os.access(path, os.X_OK):
        return "the plugin executable is not executable"
    return None


def load_plugin(
    name: str,
    directory: Path | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_output: int = DEFAULT_MAX_OUTPUT,
) -> Plugin:
    """The installed plugin ``name`` (nothing is run yet).

    Args:
        name: Plugin name.
        directory: Plugin directory (default :func:`plugin_directory`).
        timeout: Seconds each command may take.
        max_output: Largest accepted stdout/stderr of a command, bytes.

    Raises:
        PluginError: invalid name, or ``plugin executable file is either not found or inaccessible:
            <path>: <reason>`` (missing, a symlink, not a regular file, not executable).
    """
    _check_name(name)
    base = directory if directory is not None else plugin_directory()
    path = base / name / executable_name(name)
    problem = _executable_problem(path)
    if problem is not None:
        raise PluginError(f"plugin executable file is either not found or inaccessible: {path}: {problem}")
    return Plugin(name, path, timeout=timeout, max_output=max_output)


@dataclass(frozen=True)
class PluginListing:
    """One row of ``plugin list``: the plugin's metadata, or why it could not be read.

    Attributes:
        name: The directory name.
        path: The expected executable.
        metadata: The validated metadata (None when ``error`` is set).
        error: Why the plugin is unusable (missing executable, failed or invalid metadata).
    """

    name: str
    path: Path
    metadata: PluginMetadata | None = None
    error: str | None = None


def list_plugins(
    directory: Path | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_output: int = 1024 * 1024,
) -> list[PluginListing]:
    """Every plugin candidate (each sub-directory of the plugin directory), sorted by name.

    Each candidate's ``get-plugin-metadata`` is run; failures are reported in
    :attr:`PluginListing.error` rather than raised, as ``notation plugin list`` shows them.
    A missing plugin directory is an empty list.
    """
    base = directory if directory is not None else plugin_directory()
    try:
        entries = sorted(os.scandir(base), key=lambda e: e.name)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise PluginError(f"cannot read the plugin directory {base}: {exc.strerror}") from None
    listings: list[PluginListing] = []
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False):
            continue
        path = base / entry.name / executable_name(entry.name)
        try:
            plugin = load_plugin(entry.name, base, timeout=timeout, max_output=max_output)
            metadata = plugin.get_metadata()
        except PluginError as exc:
            listings.append(PluginListing(entry.name, path, error=exc.message))
            continue
        listings.append(PluginListing(entry.name, path, metadata=metadata))
    return listings
