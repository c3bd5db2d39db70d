"""``GET /healthz`` (the process answers) and ``GET /readyz`` (the log can take submissions now).

Both are unauthenticated and never cached. ``/readyz`` answers 200 only when every check passes:

``storage``
    the storage answers a trivial read (an empty range of entries) within a few seconds;
``sequencer``
    the log is started and its sequencer has not stopped for good (:attr:`tlog.log.Log.stopped`);
``checkpoint``
    the published checkpoint keeps up with submissions
    (:meth:`~tlog.server.state.SequencerWatch.staleness`): an idle log is fresh.

Otherwise 503 with ``failing``: the names of the failing checks, and each check's reason.
"""

from __future__ import annotations

import asyncio
from typing import Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tlog.errors import TlogError
from tlog.server.errors import NO_STORE
from tlog.server.state import AppState

__all__ = ["STORAGE_PROBE_TIMEOUT", "HealthRoutes"]

#: Longest wait (seconds) for the storage to answer the readiness read.
STORAGE_PROBE_TIMEOUT: Final = 2.0
_OK: Final = "ok"
_HEADERS: Final = {"Cache-Control": NO_STORE}


class HealthRoutes:
    """The liveness and readiness handlers of one app."""

    def __init__(self, state: AppState) -> None:
        """Report on ``state``'s log."""
        self._state = state

    def routes(self) -> list[Route]:
        """``/healthz`` and ``/readyz``."""
        return [
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
        ]

    async def healthz(self, request: Request) -> Response:
        """``GET /healthz``: 200 ``{"status": "ok"}`` whenever the process serves HTTP."""
        return JSONResponse({"status": "ok"}, headers=_HEADERS)

    async def readyz(self, request: Request) -> Response:
        """``GET /readyz``: 200 when storage, sequencer and checkpoint are fine, else 503 naming what is not."""
        state = self._state
        checks = {
            "storage": await self._storage(),
            "sequencer": self._sequencer(),
            "checkpoint": state.sequencer.staleness(state.stale_after) or _OK,
        }
        failing = [name for name, result in checks.items() if result != _OK]
        doc: dict[str, object] = {"status": "not_ready" if failing else "ready", "checks": checks}
        if failing:
            doc["failing"] = failing
        else:
            doc["treeSize"] = state.log.checkpoint.size
        return JSONResponse(doc, status_code=503 if failing else 200, headers=_HEADERS)

    async def _storage(self) -> str:
        try:
            await asyncio.wait_for(self._state.storage.get_entries(0, 0), STORAGE_PROBE_TIMEOUT)
        except TimeoutError:
            return f"the storage did not answer a read within {STORAGE_PROBE_TIMEOUT:g} s"
        except TlogError as exc:
            return f"the storage cannot be read: {exc.message}"
        except Exception as exc:  # a backend bug is as unready as a closed database
            return f"the storage cannot be read: {exc!r}"
        return _OK

    def _sequencer(self) -> str:
        log = self._state.log
        if log.stopped is not None:
            return f"the sequencer stopped: {log.stopped}"
        try:
            log.checkpoint  # noqa: B018 - raises before the log has started
        except RuntimeError:
            return "the log is not started"
        return _OK
