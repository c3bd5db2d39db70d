"""The ASGI application: the route modules assembled under the prefix, behind a thin front.

The front (:class:`TlogApp`) gives every request its id (see :mod:`tlog.server.logs`), counts it
in the metrics by route template and status, and serves ``POST /v1/entries`` directly: skipping
Starlette's middleware stack and route matching saves about a fifth of the server's CPU per
submission. Everything else goes through Starlette's router.
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from typing import Any, Final

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tlog.entry import MAX_SUBMISSION_SIZE
from tlog.log import Log
from tlog.server.common import DEFAULT_TILE_CACHE_BYTES, TileCache, check_prefix
from tlog.server.errors import http_error_handler
from tlog.server.health import HealthRoutes
from tlog.server.logs import REQUEST_ID_HEADER, request_id_from_headers, reset_request_id, set_request_id
from tlog.server.metrics import UNMATCHED_ROUTE, Metrics
from tlog.server.routes_read import ReadRoutes
from tlog.server.routes_write import WriteRoutes
from tlog.server.state import DEFAULT_STALE_AFTER, AppState
from tlog.verifier import InlineVerifier, SubmissionVerifier

__all__ = ["TlogApp", "create_app"]

_SUBMIT_ROUTE: Final = "/v1/entries"


class TlogApp:
    """The ASGI application of one log (made by :func:`create_app`).

    Attributes:
        state: What the handlers share, including :attr:`AppState.metrics <tlog.server.state.AppState.metrics>`.
    """

    def __init__(self, state: AppState, write: WriteRoutes, router: ASGIApp, labels: dict[int, str]) -> None:
        """``write``: the submission handler; ``router``: Starlette serving every route;
        ``labels``: the route template of each endpoint, by ``id()``."""
        self.state = state
        self._router = router
        self._labels = labels
        self._submit = write.add_entry
        self._submit_path = state.prefix + _SUBMIT_ROUTE
        self._metrics = state.metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection (HTTP; anything else goes straight to Starlette)."""
        if scope["type"] != "http":
            await self._router(scope, receive, send)
            return
        request_id = request_id_from_headers(scope["headers"])
        token = set_request_id(request_id)
        started = time.perf_counter()
        try:
            if scope["method"] == "POST" and scope["path"] == self._submit_path:
                # The hot path: the handler never raises, so its response takes the header directly.
                response = await self._submit(Request(scope, receive))
                response.raw_headers.append((REQUEST_ID_HEADER, request_id.encode("ascii")))
                try:
                    await response(scope, receive, send)
                finally:
                    self._metrics.request(_SUBMIT_ROUTE, "POST", response.status_code, time.perf_counter() - started)
            else:
                await self._route_request(scope, receive, send, request_id, started)
        finally:
            reset_request_id(token)

    async def _route_request(self, scope: Scope, receive: Receive, send: Send, request_id: str, started: float) -> None:
        """Everything but submissions: through Starlette, echoing the id and counting the route answered."""
        echo = (REQUEST_ID_HEADER, request_id.encode("ascii"))
        status = 500  # what the client gets when the app fails before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), echo]
            await send(message)

        try:
            await self._router(scope, receive, send_with_id)
        finally:
            self._metrics.request(self._route(scope), scope["method"], status, time.perf_counter() - started)

    def _route(self, scope: MutableMapping[str, Any]) -> str:
        # Starlette's router records the matched endpoint (also for a 405) in the scope it was given. By
        # identity: a Mount's endpoint is a Router, which is not hashable; the routes keep the endpoints alive.
        return self._labels.get(id(scope.get("endpoint")), UNMATCHED_ROUTE)


def create_app(
    log: Log,
    *,
    tokens: frozenset[str],
    allow_anonymous_writes: bool,
    max_body: int = MAX_SUBMISSION_SIZE,
    verifier: SubmissionVerifier | None = None,
    tile_cache_bytes: int = DEFAULT_TILE_CACHE_BYTES,
    prefix: str = "",
    stale_after: float = DEFAULT_STALE_AFTER,
    metrics: Metrics | None = None,
) -> TlogApp:
    """The ASGI application (Starlette) serving ``log`` (which must be started, and outlive the app).

    Args:
        log: The started log; submissions go to its sequencer, reads to its storage.
        tokens: Bearer tokens accepted for ``POST /v1/entries``; when empty, see ``allow_anonymous_writes``.
        allow_anonymous_writes: With no tokens, accept unauthenticated submissions (the CLI allows this
            only on a loopback address); otherwise submissions are refused with 403.
        max_body: Largest submission body in bytes (413 beyond).
        verifier: Verifies submissions (started by the caller, who also closes it); by default in a
            thread of this process (:class:`~tlog.verifier.InlineVerifier`).
        tile_cache_bytes: Memory for caching full tiles and entry bundles (0 disables the cache).
        prefix: URL path under which every route is served (``""``: the root; else ``/a[/b…]``).
            ``/healthz``, ``/readyz`` and ``/metrics`` are served at the root as well, for local probes.
        stale_after: Seconds after which ``/readyz`` calls the checkpoint stale (see
            :meth:`~tlog.server.state.SequencerWatch.staleness`); keep it above the checkpoint interval.
        metrics: The Prometheus collectors (by default new ones, in a registry of this app's own).
    """
    prefix = check_prefix(prefix)
    state = AppState(
        log=log,
        verifier=verifier or InlineVerifier(),
        prefix=prefix,
        tokens=tuple(t.encode("utf-8") for t in tokens),
        allow_anonymous_writes=allow_anonymous_writes,
        max_body=max_body,
        tiles=TileCache(tile_cache_bytes),
        metrics=metrics if metrics is not None else Metrics(log),
        stale_after=stale_after,
    )
    write = WriteRoutes(state)
    operations = [*HealthRoutes(state).routes(), Route("/metrics", state.metrics.endpoint, methods=["GET"])]
    # The front serves submissions itself; this route is what Starlette routes to otherwise (none in
    # practice) and what makes GET /v1/entries a 405 rather than a 404.
    routes: list[BaseRoute] = [
        Route(_SUBMIT_ROUTE, write.add_entry, methods=["POST"]),
        *ReadRoutes(state).routes(),
        *operations,
    ]
    labels = {id(r.endpoint): r.path for r in routes if isinstance(r, Route)}
    # No trailing-slash redirects: a path with an empty segment (``/v1/entries/``) is a JSON 404, not a 307.
    mounted: list[BaseRoute] = (
        [*operations, Mount(prefix, app=Router(routes, redirect_slashes=False))] if prefix else routes
    )
    handlers = {HTTPException: http_error_handler, Exception: http_error_handler}
    app = Starlette(routes=mounted, exception_handlers=handlers)
    app.router.redirect_slashes = False
    return TlogApp(state, write, app, labels)
