"""The read API: the C2SP checkpoint and tiles, log info, entries with proofs, proofs, search.

The checkpoint served is the sequencer's published one (:meth:`AppState.latest
<tlog.server.state.AppState.latest>`); entries, hashes and proofs are read from storage, up to that
checkpoint's size.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tlog.errors import FormatError, NotFoundError, ProofError
from tlog.log import consistency_proof, inclusion_proof
from tlog.proof import TlogProof
from tlog.server.common import (
    BINARY,
    CHECKPOINT_CACHE_CONTROL,
    FULL_TILE_CACHE_CONTROL,
    MAX_NUMBER,
    PARTIAL_TILE_CACHE_CONTROL,
    TEXT,
    accepts_gzip,
    b64,
    endpoint,
    entry_json,
    number,
    query_int,
)
from tlog.server.errors import NO_STORE, ApiError
from tlog.server.state import AppState
from tlog.storage.base import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from tlog.tiles import TILE_HEIGHT, TILE_WIDTH, TileId, encode_entry_bundle, encode_tile, parse_tile_path

__all__ = ["ReadRoutes"]


class ReadRoutes:
    """The read handlers of one app."""

    def __init__(self, state: AppState) -> None:
        """Serve ``state``'s log."""
        self._state = state

    def routes(self) -> list[Route]:
        """The read routes (relative to the app's prefix), every error mapped to JSON."""
        return [
            Route("/checkpoint", endpoint(self.get_checkpoint), methods=["GET"]),
            Route("/tile/{path:path}", endpoint(self.get_tile), methods=["GET"]),
            Route("/v1/log-info", endpoint(self.log_info), methods=["GET"]),
            Route("/v1/entries/{index}", endpoint(self.get_entry), methods=["GET"]),
            Route("/v1/proof/inclusion", endpoint(self.get_inclusion), methods=["GET"]),
            Route("/v1/proof/consistency", endpoint(self.get_consistency), methods=["GET"]),
            Route("/v1/search", endpoint(self.search), methods=["GET"]),
        ]

    async def get_checkpoint(self, request: Request) -> Response:
        """``GET /checkpoint``: the latest signed checkpoint note."""
        checkpoint = self._state.latest()
        return Response(checkpoint.note, media_type=TEXT, headers={"Cache-Control": CHECKPOINT_CACHE_CONTROL})

    async def get_tile(self, request: Request) -> Response:
        """``GET /tile/...``: a hash tile or an entry bundle (bundles gzip-compressed when accepted)."""
        path = "tile/" + request.path_params["path"]
        try:
            tile = parse_tile_path(path)
        except FormatError as exc:
            raise ApiError(400, "bad_tile_path", exc.message) from None
        if (start := tile.leaf_range()[0]) > MAX_NUMBER:
            raise ApiError(
                400, "bad_tile_path", f"{tile.path} starts at entry {start}, beyond any tree this log can hold"
            )
        headers = {"Cache-Control": PARTIAL_TILE_CACHE_CONTROL if tile.is_partial else FULL_TILE_CACHE_CONTROL}
        compressed = False
        if tile.is_entries:
            headers["Vary"] = "Accept-Encoding"
            if accepts_gzip(request):
                headers["Content-Encoding"] = "gzip"
                compressed = True
        data = await self._read_tile(tile, compressed=compressed)
        self._state.metrics.tile_read(entries=tile.is_entries, partial=tile.is_partial)
        return Response(data, media_type=BINARY, headers=headers)

    async def _read_tile(self, tile: TileId, *, compressed: bool = False) -> bytes:
        state = self._state
        key = tile.path + (".gz" if compressed else "")
        if not tile.is_partial and (cached := state.tiles.get(key)) is not None:
            return cached
        size = state.latest().size
        end = tile.leaf_range()[1]
        if end > size:
            raise NotFoundError(f"{tile.path} is beyond the tree size {size}")
        first = tile.index * TILE_WIDTH
        if tile.is_entries:
            data = encode_entry_bundle(await state.storage.get_entries(first, first + tile.width))
            if compressed:
                # mtime=0: the same bundle always compresses to the same bytes (cacheable, comparable).
                data = await asyncio.to_thread(gzip.compress, data, 6, mtime=0)
        else:
            data = encode_tile(await state.storage.get_hashes(TILE_HEIGHT * tile.level, first, first + tile.width))
        if not tile.is_partial:
            state.tiles.put(key, data)
        return data

    async def log_info(self, request: Request) -> Response:
        """``GET /v1/log-info``."""
        state = self._state
        checkpoint = state.latest()
        info: dict[str, Any] = {
            "origin": state.log.origin,
            "verifierKey": state.log.verifier_key,
            "size": checkpoint.size,
            "rootHash": b64(checkpoint.root_hash),
            "checkpoint": checkpoint.note.decode("utf-8"),
        }
        return JSONResponse(info, headers={"Cache-Control": CHECKPOINT_CACHE_CONTROL})

    async def get_entry(self, request: Request) -> Response:
        """``GET /v1/entries/{index}``: the entry with a proof to the latest checkpoint."""
        state = self._state
        index = number(request.path_params["index"], "entry index")
        checkpoint = state.latest()
        if index >= checkpoint.size:
            raise NotFoundError(f"entry {index} is not in the log (size {checkpoint.size})")
        data = (await state.storage.get_entries(index, index + 1))[0]
        path = await inclusion_proof(state.storage, index, checkpoint.size)
        proof = TlogProof(index, tuple(path), checkpoint.note)
        doc = {
            **entry_json(index, data),
            "treeSize": checkpoint.size,
            "checkpoint": checkpoint.note.decode("utf-8"),
            "proof": proof.to_bytes().decode("utf-8"),
        }
        return JSONResponse(doc, headers={"Cache-Control": CHECKPOINT_CACHE_CONTROL})

    async def get_inclusion(self, request: Request) -> Response:
        """``GET /v1/proof/inclusion?index=&size=`` (``size`` defaults to the latest checkpoint)."""
        state = self._state
        checkpoint = state.latest()
        index = query_int(request, "index")
        size = query_int(request, "size", checkpoint.size)
        if size > checkpoint.size:
            raise NotFoundError(f"the log has {checkpoint.size} entries; there is no tree of size {size}")
        if index >= size:
            raise ProofError(f"entry {index} is not in the tree of size {size}")
        path = await inclusion_proof(state.storage, index, size)
        doc: dict[str, Any] = {"index": index, "treeSize": size, "hashes": [b64(h) for h in path]}
        with contextlib.suppress(NotFoundError):  # no checkpoint was published at exactly that size
            doc["checkpoint"] = (await state.storage.checkpoint_at(size)).note.decode("utf-8")
        return JSONResponse(doc, headers={"Cache-Control": FULL_TILE_CACHE_CONTROL})

    async def get_consistency(self, request: Request) -> Response:
        """``GET /v1/proof/consistency?old=&new=`` (``new`` defaults to the latest checkpoint)."""
        state = self._state
        checkpoint = state.latest()
        old = query_int(request, "old")
        new = query_int(request, "new", checkpoint.size)
        if new > checkpoint.size:
            raise NotFoundError(f"the log has {checkpoint.size} entries; there is no tree of size {new}")
        if old > new:
            raise ProofError(f"old tree size {old} is larger than new tree size {new}")
        path = await consistency_proof(state.storage, old, new)
        doc = {"old": old, "new": new, "hashes": [b64(h) for h in path]}
        return JSONResponse(doc, headers={"Cache-Control": FULL_TILE_CACHE_CONTROL})

    async def search(self, request: Request) -> Response:
        """``GET /v1/search?digest=|identity=|repository=[&after=&limit=]``: one key, paginated."""
        storage = self._state.storage
        keys = [k for k in ("digest", "identity", "repository") if k in request.query_params]
        if len(keys) != 1:
            raise ApiError(400, "bad_request", "give exactly one of the query parameters digest, identity, repository")
        key = keys[0]
        values = request.query_params.getlist(key)
        if len(values) != 1 or not values[0]:
            raise ApiError(400, "bad_request", f"query parameter {key!r} must be given once and not be empty")
        after = query_int(request, "after", -1, minimum=-1)
        limit = query_int(request, "limit", DEFAULT_PAGE_SIZE, minimum=1, maximum=MAX_PAGE_SIZE)
        finder = {
            "digest": storage.find_by_digest,
            "identity": storage.find_by_identity,
            "repository": storage.find_by_repository,
        }[key]
        page = await finder(values[0], after=after, limit=limit)
        doc = {"entries": [entry_json(e.index, e.data) for e in page.entries], "next": page.next_after}
        return JSONResponse(doc, headers={"Cache-Control": NO_STORE})
