"""An in-process registry that answers chosen requests slowly: their body one byte per interval.

For the deadline tests (``tests/cli/test_timeout.py``): each socket read then returns quickly, so
no per-read timeout ever fires, and only an overall deadline ends the request. :class:`Drip` is ASGI
middleware around :class:`~tests.registry.oci_registry.OCIRegistry`; :func:`start_dripping_registry`
serves it on a free loopback port like :func:`~tests.registry.servers.start_oci_registry`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.registry.oci_registry import OCIRegistry
from tests.registry.servers import RunningOCIRegistry, serve_oci_registry

#: Selects the requests to answer slowly: ``(method, path) -> bool``.
Match = Callable[[str, str], bool]


def referrers_requests(method: str, path: str) -> bool:
    """Every referrers API request."""
    return method == "GET" and "/referrers/" in path


class Drip:
    """Answers the requests ``match`` selects with the wrapped app's response, its body ``chunk`` bytes per ``interval``.

    Stops sending as soon as the client disconnects, so a client that gave up leaves nothing running.

    Attributes:
        dripped: Paths of the requests answered slowly so far.
    """

    def __init__(self, app: ASGIApp, match: Match, *, interval: float = 1.0, chunk: int = 1) -> None:
        self._app = app
        self._match = match
        self._interval = interval
        self._chunk = chunk
        self._lock = threading.Lock()
        self.dripped: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._match(scope["method"], scope["path"]):
            await self._app(scope, receive, send)
            return
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        await self._app(scope, receive, capture)
        body = b"".join(m.get("body", b"") for m in messages[1:])
        with self._lock:
            self.dripped.append(scope["path"])
        await send(messages[0])
        disconnected = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            disconnected.set()

        watcher = asyncio.create_task(watch())
        try:
            for start in range(0, len(body), self._chunk):
                await send({"type": "http.response.body", "body": body[start : start + self._chunk], "more_body": True})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(disconnected.wait(), self._interval)
                if disconnected.is_set():
                    return
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()


@dataclasses.dataclass
class DrippingRegistry:
    """A running in-process registry behind :class:`Drip`."""

    running: RunningOCIRegistry
    drip: Drip

    def stop(self) -> None:
        """Stop serving."""
        self.running.stop()


def start_dripping_registry(
    match: Match = referrers_requests, *, interval: float = 1.0, **changes: Any
) -> DrippingRegistry:
    """Serve a new :class:`OCIRegistry` (options ``changes``) whose ``match``-ed answers drip."""
    registry = OCIRegistry(**changes)
    drip = Drip(registry.app, match, interval=interval)
    return DrippingRegistry(serve_oci_registry(registry, drip), drip)
