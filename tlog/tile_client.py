"""Reading a tiled log over HTTP: the C2SP read API (checkpoint, tiles, entry bundles) of a log or a mirror.

Everything fetched is untrusted: callers verify the checkpoint with the log's key and recompute
every hash they rely on (``tlog prove``, ``tlog audit``, ``tlog recover``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tlog import __version__
from tlog.errors import ConfigError, NotFoundError, StorageError

if TYPE_CHECKING:
    from tlog.checkpoint import Checkpoint
    from tlog.note import Verifier
    from tlog.tiles import TileId

__all__ = ["HttpTileReader"]


class HttpTileReader:
    """Reads a tiled log over HTTP (a :class:`tlog.tiles.TileReader`), caching the tiles it fetched."""

    def __init__(self, url: str, *, timeout: float = 60) -> None:
        """``url``: the log's URL prefix (where ``/checkpoint`` is served).

        Raises:
            ConfigError: the URL is not http(s).
        """
        import httpx

        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"the log URL {url!r} must start with http:// or https://")
        self._prefix = url.rstrip("/") + "/"
        self._client = httpx.Client(timeout=timeout, headers={"User-Agent": f"tlog/{__version__}"})
        self._cache: dict[TileId, bytes] = {}
        self.requests = 0

    @property
    def url(self) -> str:
        """The URL prefix, with a trailing slash."""
        return self._prefix

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def get(self, path: str) -> bytes:
        """The body of ``<prefix>/<path>``.

        Raises:
            NotFoundError: 404.
            StorageError: the request failed or answered another status.
        """
        import httpx

        url = self._prefix + path
        try:
            response = self._client.get(url)
        except httpx.HTTPError as exc:
            raise StorageError(f"cannot fetch {url}: {exc}") from None
        self.requests += 1
        if response.status_code == 404:
            raise NotFoundError(f"{url} does not exist (404)")
        if response.status_code != 200:
            raise StorageError(f"fetching {url} failed: HTTP {response.status_code} {response.text[:200]}")
        return response.content

    def read_tiles(self, tiles: Sequence[TileId]) -> Sequence[bytes]:
        """See :class:`tlog.tiles.TileReader`."""
        out = []
        for tile in tiles:
            if tile not in self._cache:
                self._cache[tile] = self.get(tile.path)
            out.append(self._cache[tile])
        return out

    def checkpoint(self, verifier: Verifier) -> tuple[Checkpoint, bytes]:
        """The log's latest checkpoint, verified with ``verifier`` (origin = key name), and its note."""
        from tlog.checkpoint import open_checkpoint

        note = self.get("checkpoint")
        return open_checkpoint(note, [verifier], verifier.name), note
