"""Helpers shared by the route modules: cache policies, path and query numbers, the tile cache."""

from __future__ import annotations

import base64
import ipaddress
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from tlog import merkle
from tlog.checkpoint import parse_decimal
from tlog.errors import FormatError
from tlog.server.errors import ApiError, error_response

__all__ = [
    "BINARY",
    "CHECKPOINT_CACHE_CONTROL",
    "DEFAULT_TILE_CACHE_BYTES",
    "FULL_TILE_CACHE_CONTROL",
    "MAX_NUMBER",
    "PARTIAL_TILE_CACHE_CONTROL",
    "TEXT",
    "Handler",
    "TileCache",
    "accepts_gzip",
    "b64",
    "check_prefix",
    "endpoint",
    "entry_json",
    "is_loopback",
    "number",
    "query_int",
]

#: The checkpoint changes with every batch: caches may keep it only briefly.
CHECKPOINT_CACHE_CONTROL: Final = "public, max-age=2"
#: Full tiles and bundles never change.
FULL_TILE_CACHE_CONTROL: Final = "public, max-age=31536000, immutable"
#: Partial tiles never change either, but are superseded (and may be pruned) once the full tile exists.
PARTIAL_TILE_CACHE_CONTROL: Final = "public, max-age=60"
#: Memory kept for full tiles and entry bundles (immutable, so cached without invalidation).
DEFAULT_TILE_CACHE_BYTES: Final = 64 * 1024 * 1024
TEXT: Final = "text/plain; charset=utf-8"
BINARY: Final = "application/octet-stream"
#: Largest number accepted in a path or query: SQLite's INTEGER is signed 64-bit, so tree sizes and
#: indices stay below 2^63 and a larger value would fail in the storage instead of as bad input.
MAX_NUMBER: Final = (1 << 63) - 1

Handler = Callable[[Request], Awaitable[Response]]


def endpoint(handler: Handler) -> Handler:
    """Wrap a handler so that every exception goes through :func:`~tlog.server.errors.error_response`."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except Exception as exc:
            return error_response(exc)

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an IP address or ``localhost``) only accepts connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def b64(data: bytes) -> str:
    """Standard base64 as text."""
    return base64.b64encode(data).decode("ascii")


def number(text: str, what: str, *, minimum: int = 0, maximum: int = MAX_NUMBER) -> int:
    """``text`` as an ASCII decimal (no sign but ``-1`` when ``minimum`` allows it, no leading zeros) in
    ``[minimum, maximum]``; 400 naming ``what`` otherwise."""
    try:
        value = -1 if minimum < 0 and text == "-1" else parse_decimal(text, what)
    except FormatError as exc:
        raise ApiError(400, "bad_request", exc.message) from None
    if not minimum <= value <= maximum:
        raise ApiError(400, "bad_request", f"{what} {value} is out of range (at least {minimum}, at most {maximum})")
    return value


def query_int(
    request: Request, name: str, default: int | None = None, *, minimum: int = 0, maximum: int = MAX_NUMBER
) -> int:
    """A decimal query parameter in ``[minimum, maximum]`` (see :func:`number`); 400 when bad or missing."""
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise ApiError(400, "bad_request", f"query parameter {name!r} is given more than once")
    if not values:
        if default is None:
            raise ApiError(400, "bad_request", f"query parameter {name!r} is required")
        return default
    return number(values[0], f"query parameter {name!r}", minimum=minimum, maximum=maximum)


def entry_json(index: int, data: bytes, leaf_hash: bytes | None = None) -> dict[str, Any]:
    """``{"index", "leafHash", "entry"}`` of one logged entry."""
    leaf = merkle.leaf_hash(data) if leaf_hash is None else leaf_hash
    return {"index": index, "leafHash": b64(leaf), "entry": b64(data)}


_PREFIX_CHARACTERS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")


def check_prefix(prefix: str) -> str:
    """A URL path prefix: ``""`` (or ``/``) for the root, else ``/segment[/segment…]``, no trailing slash.

    Segments use unreserved URL characters and are not ``.`` or ``..``.

    Raises:
        ValueError: anything else.
    """
    if prefix in ("", "/"):
        return ""
    segments = prefix.split("/")
    if segments[0] or any(not seg or seg in (".", "..") or not set(seg) <= _PREFIX_CHARACTERS for seg in segments[1:]):
        raise ValueError(f"invalid URL prefix {prefix!r}: use a path such as /notary-log (letters, digits, -._~)")
    return prefix


class TileCache:
    """Least-recently-used cache of full tiles and entry bundles, bounded by total bytes.

    Full tiles never change (C2SP tlog-tiles), so a cached one is never stale.
    """

    def __init__(self, max_bytes: int) -> None:
        """``max_bytes``: total size of the cached values (0 disables the cache)."""
        self._max = max_bytes
        self._size = 0
        self._items: OrderedDict[str, bytes] = OrderedDict()

    def get(self, key: str) -> bytes | None:
        """The cached value, or ``None``."""
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: bytes) -> None:
        """Cache ``value``, evicting the least recently used values beyond the size bound."""
        if len(value) > self._max or key in self._items:
            return
        self._items[key] = value
        self._size += len(value)
        while self._size > self._max:
            _, old = self._items.popitem(last=False)
            self._size -= len(old)


def accepts_gzip(request: Request) -> bool:
    """Whether ``Accept-Encoding`` lists gzip with a non-zero quality (RFC 9110 §12.5.3)."""
    for item in request.headers.get("accept-encoding", "").split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() != "gzip":
            continue
        name, _, value = params.replace(" ", "").lower().partition("=")
        if name != "q":
            return True
        try:
            return float(value) > 0
        except ValueError:
            return False
    return False
