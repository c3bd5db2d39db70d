"""Prometheus metrics of one app, in a registry of its own (several apps can share a process).

Every label takes a bounded set of values: outcomes, error codes of
:func:`~tlog.server.errors.error_response`, tile kinds, route templates (never raw paths) and the
few HTTP methods the service answers. The full list, with labels, is in ``docs/tlog.md``.
"""

from __future__ import annotations

import math
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response

from tlog.log import Log, Receipt

__all__ = ["UNMATCHED_ROUTE", "Metrics"]

#: The ``route`` label of requests that matched no route.
UNMATCHED_ROUTE: Final = "unmatched"
_METHODS: Final = frozenset({"GET", "HEAD", "POST"})
#: Batches hold 1 to 1,024 entries (tlog.log.DEFAULT_MAX_BATCH).
_BATCH_BUCKETS: Final = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
#: From a group commit on an idle log (a few ms) to a long --checkpoint-interval or a stalled disk.
_COMMIT_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_HTTP_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The collectors of one app and the helpers the handlers call (cheap: a lock and an add each)."""

    def __init__(self, log: Log, registry: CollectorRegistry | None = None) -> None:
        """Register the collectors in ``registry`` (by default a new one, never the global registry)."""
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self._log = log
        self.appends = Counter(
            "tlog_appends",
            "Submissions answered, by outcome: created (201), duplicate (200, already logged) or failed (any error)",
            ["outcome"],
            registry=r,
        )
        self._created = self.appends.labels("created")
        self._duplicate = self.appends.labels("duplicate")
        self._failed = self.appends.labels("failed")
        self.verification_failures = Counter(
            "tlog_verification_failures",
            "Submissions the verifier refused, by error code (invalid_entry, bad_request, bad_signature, unavailable)",
            ["reason"],
            registry=r,
        )
        self.batch_size = Histogram(
            "tlog_batch_size",
            "New entries per committed checkpoint, observed from the receipts of HTTP submissions",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.commit_latency = Histogram(
            "tlog_commit_latency_seconds",
            "Time from handing a verified submission to the sequencer to its receipt "
            "(batch wait, sequencing, durable commit and publication of the checkpoint)",
            buckets=_COMMIT_BUCKETS,
            registry=r,
        )
        self.tree_size = Gauge("tlog_tree_size", "Tree size of the published checkpoint", registry=r)
        self.tree_size.set_function(self._size)
        self.pending = Gauge("tlog_pending_submissions", "Submissions waiting to be sequenced", registry=r)
        self.pending.set_function(lambda: float(log.pending))
        self.tile_reads = Counter(
            "tlog_tile_reads",
            "Tiles served: kind hash (hash tiles) or entries (entry bundles), tile full or partial",
            ["kind", "tile"],
            registry=r,
        )
        self.http_requests = Counter(
            "tlog_http_requests",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "tlog_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            ["route"],
            buckets=_HTTP_BUCKETS,
            registry=r,
        )
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        # labels() validates and locks on every call: resolved children are kept per label tuple instead.
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._verification_children: dict[str, Counter] = {}
        self._tile_children = {
            (entries, partial): self.tile_reads.labels(
                "entries" if entries else "hash", "partial" if partial else "full"
            )
            for entries in (False, True)
            for partial in (False, True)
        }

    def _size(self) -> float:
        try:
            return float(self._log.checkpoint.size)
        except RuntimeError:  # the log is not started
            return math.nan

    # --- called by the handlers -------------------------------------------------------------------

    def appended(self, receipt: Receipt) -> None:
        """A submission was answered with its receipt."""
        (self._duplicate if receipt.duplicate else self._created).inc()

    def append_failed(self) -> None:
        """A submission was answered with an error."""
        self._failed.inc()

    def verification_failed(self, reason: str) -> None:
        """The verifier refused a submission with the error code ``reason``."""
        child = self._verification_children.get(reason)
        if child is None:
            child = self._verification_children[reason] = self.verification_failures.labels(reason)
        child.inc()

    def tile_read(self, *, entries: bool, partial: bool) -> None:
        """A hash tile (or an entry bundle, ``entries``) was served."""
        self._tile_children[(entries, partial)].inc()

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """An HTTP request was answered (``route``: the route template, or :data:`UNMATCHED_ROUTE`)."""
        # The method comes from the client: anything unusual is "other", so the cache stays bounded too.
        key = (route, method if method in _METHODS else "other", status)
        children = self._request_children.get(key)
        if children is None:
            children = self._request_children[key] = (
                self.http_requests.labels(route, key[1], str(status)),
                self.http_duration.labels(route),
            )
        children[0].inc()
        children[1].observe(seconds)

    # --- GET /metrics -----------------------------------------------------------------------------

    async def endpoint(self, request: Request) -> Response:
        """``GET /metrics``: the Prometheus text exposition of this app's registry, never cached."""
        return Response(
            generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"}
        )
