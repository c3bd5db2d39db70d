"""The HTTP service of a log (Starlette): submissions, the C2SP tile read API, health and metrics.

Routes::

    POST /v1/entries                       submit a signature (JSON, see tlog.entry.Submission)
    GET  /checkpoint                       latest signed checkpoint (c2sp.org/tlog-tiles)
    GET  /tile/<L>/<N>[.p/<W>]             hash tiles
    GET  /tile/entries/<N>[.p/<W>]         entry bundles
    GET  /v1/log-info                      origin, verifier key, size
    GET  /v1/entries/{index}               one entry with a proof to the latest checkpoint
    GET  /v1/proof/inclusion?index=&size=  RFC 6962 audit path
    GET  /v1/proof/consistency?old=&new=   RFC 6962 consistency proof
    GET  /v1/search?digest=|identity=|repository=[&after=&limit=]
    GET  /healthz                          the process serves (also at the root under a prefix)
    GET  /readyz                           storage, sequencer and checkpoint are fine (idem)
    GET  /metrics                          Prometheus metrics (idem)

A submission is answered only once its entry is durably committed under a signed checkpoint: the
response is an offline-verifiable receipt (``201``, or ``200`` when the envelope was already logged).

Every error is JSON ``{"error": <code>, "detail": <text>}``; :func:`error_response` is the one place
where exceptions become HTTP statuses, so bad input is always a 4xx and never a 5xx. Numbers in paths
and queries are ASCII decimals below 2^63 (what SQLite's signed 64-bit INTEGER holds).

The checkpoint served is the sequencer's published one (:attr:`tlog.log.Log.checkpoint`): a checkpoint
committed to the database is not served before the log has recorded it as published. Entries, hashes
and proofs are read from storage, up to that checkpoint's size. A server sharing its database with
other writers therefore serves its own sequencer's latest checkpoint, not the database's.

Modules: :mod:`~tlog.server.app` (``create_app`` and the request front), :mod:`~tlog.server.routes_write`,
:mod:`~tlog.server.routes_read`, :mod:`~tlog.server.health`, :mod:`~tlog.server.metrics`,
:mod:`~tlog.server.logs` (request ids, log formats), :mod:`~tlog.server.errors`, and
:mod:`~tlog.server.state` (what the handlers share). Every module logs as ``tlog.server``.
"""

from __future__ import annotations

from tlog.server.app import TlogApp, create_app
from tlog.server.common import (
    CHECKPOINT_CACHE_CONTROL,
    DEFAULT_TILE_CACHE_BYTES,
    FULL_TILE_CACHE_CONTROL,
    PARTIAL_TILE_CACHE_CONTROL,
    check_prefix,
    is_loopback,
)
from tlog.server.errors import ApiError, error_response
from tlog.server.logs import LOG_FORMATS, JsonFormatter, TextFormatter, configure_logging, current_request_id
from tlog.server.metrics import Metrics
from tlog.server.state import DEFAULT_STALE_AFTER

__all__ = [
    "CHECKPOINT_CACHE_CONTROL",
    "DEFAULT_STALE_AFTER",
    "DEFAULT_TILE_CACHE_BYTES",
    "FULL_TILE_CACHE_CONTROL",
    "LOG_FORMATS",
    "PARTIAL_TILE_CACHE_CONTROL",
    "ApiError",
    "JsonFormatter",
    "Metrics",
    "TextFormatter",
    "TlogApp",
    "check_prefix",
    "configure_logging",
    "create_app",
    "current_request_id",
    "error_response",
    "is_loopback",
]
