"""CRL caches.

A cache maps a CRL distribution point URL to the last :class:`~notation_py.revocation.crl.CRLBundle`
downloaded from it. A cache is an optimisation only: whatever it returns is parsed, and the
revocation check verifies signatures and freshness of cached CRLs exactly as of downloaded ones.

:class:`FileCRLCache` stores the same files as notation-go's ``FileCache`` (one JSON document
``{"baseCRL": <base64 DER>, "deltaCRL": <base64 DER>}`` per URL, named by the hex SHA-256 of the
URL, under ``{NOTATION_CACHE}/crl``), so notation and notation-py can share a cache directory.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

from notation_py.errors import RevocationError
from notation_py.revocation.bundle import CRLBundle

#: Sub-directory of the notation cache directory that holds CRLs (notation-go ``dir.PathCRLCache``).
CRL_CACHE_SUBDIR = "crl"


@runtime_checkable
class CRLCache(Protocol):
    """Storage of CRL bundles keyed by distribution point URL."""

    def get(self, url: str) -> CRLBundle | None:
        """The bundle stored for ``url``, or ``None`` on a miss.

        Expiry is not judged here; the caller decides whether a bundle is fresh enough.

        Raises:
            RevocationError: The entry exists but cannot be read or decoded.
        """
        ...

    def set(self, url: str, bundle: CRLBundle) -> None:
        """Store ``bundle`` for ``url``, replacing any previous entry.

        Raises:
            RevocationError: The entry cannot be written.
        """
        ...


class MemoryCRLCache:
    """Thread-safe in-process :class:`CRLCache`."""

    def __init__(self) -> None:
        self._entries: dict[str, CRLBundle] = {}
        self._lock = threading.Lock()

    def get(self, url: str) -> CRLBundle | None:
        """The bundle stored for ``url``, or ``None``."""
        with self._lock:
            return self._entries.get(url)

    def set(self, url: str, bundle: CRLBundle) -> None:
        """Store ``bundle`` for ``url``."""
        with self._lock:
            self._entries[url] = bundle


class FileCRLCache:
    """:class:`CRLCache` in a directory, one file per URL, written atomically (temp file + rename).

    Args:
        root: Directory holding the entries; created (mode 0700) if missing.

    Raises:
        RevocationError: ``root`` cannot be created.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise RevocationError(f"failed to create crl file cache: {exc}") from exc

    @classmethod
    def in_cache_dir(cls, notation_cache_dir: str | os.PathLike[str]) -> FileCRLCache:
        """The cache at ``{notation_cache_dir}/crl``, where notation keeps it.

        Raises:
            RevocationError: The directory cannot be created.
        """
        return cls(Path(notation_cache_dir) / CRL_CACHE_SUBDIR)

    def path_for(self, url: str) -> Path:
        """File that holds the entry for ``url``."""
        return self.root / hashlib.sha256(url.encode("utf-8")).hexdigest()

    def get(self, url: str) -> CRLBundle | None:
        """The bundle stored for ``url``, or ``None`` when there is no entry.

        Raises:
            RevocationError: The file cannot be read, is not the expected JSON, or holds a CRL
                that does not parse.
        """
        path = self.path_for(url)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise RevocationError(f"failed to get crl bundle from file cache with key {url!r}: {exc}") from exc
        try:
            content = json.loads(raw)
            if not isinstance(content, dict):
                raise TypeError("not a JSON object")
            base = _decode_field(content, "baseCRL")
            if base is None:
                raise ValueError("baseCRL is missing")
            delta = _decode_field(content, "deltaCRL")
        except (ValueError, TypeError, binascii.Error) as exc:
            raise RevocationError(f"failed to decode file retrieved from file cache: {exc}") from exc
        return CRLBundle.from_der(base, delta)

    def set(self, url: str, bundle: CRLBundle) -> None:
        """Store ``bundle`` for ``url`` atomically.

        Raises:
            RevocationError: The file cannot be written.
        """
        content: dict[str, str] = {"baseCRL": base64.b64encode(bundle.base_der).decode("ascii")}
        if bundle.delta_der is not None:
            content["deltaCRL"] = base64.b64encode(bundle.delta_der).decode("ascii")
        data = json.dumps(content, separators=(",", ":")).encode("ascii")
        target = self.path_for(url)
        try:
            fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.replace(tmp_name, target)
            except BaseException:
                Path(tmp_name).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise RevocationError(f"failed to store crl bundle in file cache: {exc}") from exc


def _decode_field(content: dict[str, object], name: str) -> bytes | None:
    value = content.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} is not a string")
    return base64.b64decode(value, validate=True)
