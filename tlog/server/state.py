"""The state an app's handlers share (:class:`AppState`) and the sequencer watch behind ``/readyz``."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Final

from tlog.entry import Entry
from tlog.errors import StorageError, UnavailableError
from tlog.log import Log, Receipt
from tlog.server.common import TileCache
from tlog.server.errors import ApiError
from tlog.server.metrics import Metrics
from tlog.storage.base import NewEntry, Storage, StoredCheckpoint
from tlog.verifier import SubmissionVerifier

__all__ = ["DEFAULT_STALE_AFTER", "AppState", "SequencerWatch"]

#: Seconds a submission may wait for its checkpoint, with no receipt delivered meanwhile, before
#: ``/readyz`` calls the published checkpoint stale (``tlog serve`` adds its --checkpoint-interval).
DEFAULT_STALE_AFTER: Final = 10.0


class SequencerWatch:
    """Hands submissions to the sequencer and watches it from the edge: latency, batches, progress.

    ``tlog.log.Log`` has no hooks for its batches, so they are observed here: the commit latency is
    the time from :meth:`Log.add <tlog.log.Log.add>` to the receipt, and a batch's size is the growth
    of the tree size between the receipts of successive checkpoints. The same timestamps tell
    ``/readyz`` whether the published checkpoint keeps up (:meth:`staleness`).
    """

    def __init__(self, log: Log, metrics: Metrics) -> None:
        """Watch ``log``, recording into ``metrics``."""
        self._log = log
        self._metrics = metrics
        # Start time of every submission waiting in the sequencer, oldest first (dicts keep insertion order).
        self._waiting: dict[int, float] = {}
        self._ids = itertools.count()
        self._last_receipt = time.monotonic()
        self._last_failure: float | None = None
        self._last_error = ""
        try:
            self._last_size: int | None = log.checkpoint.size
        except RuntimeError:  # not started: the first receipt sets it
            self._last_size = None

    async def add(self, entry: Entry | NewEntry) -> Receipt:
        """:meth:`Log.add <tlog.log.Log.add>`, timed and tracked."""
        key = next(self._ids)
        started = self._waiting[key] = time.monotonic()
        try:
            receipt = await self._log.add(entry)
        except (StorageError, UnavailableError) as exc:
            self._last_failure = time.monotonic()
            self._last_error = exc.message
            raise
        finally:
            del self._waiting[key]
        now = self._last_receipt = time.monotonic()
        self._metrics.commit_latency.observe(now - started)
        size = receipt.tree_size
        last = self._last_size
        if last is None or size > last:
            # The first receipt of a new checkpoint: the tree grew by that batch's new entries.
            if last is not None:
                self._metrics.batch_size.observe(size - last)
            self._last_size = size
        return receipt

    def staleness(self, limit: float) -> str | None:
        """Why the published checkpoint is not keeping up with submissions, or ``None`` when it is.

        Stale when a submission has waited more than ``limit`` seconds while no receipt at all was
        delivered in the last ``limit`` seconds (under load the oldest submission may wait long, but
        checkpoints keep coming), or when the latest commit failed less than ``limit`` seconds ago
        and none succeeded since. An idle log is never stale.
        """
        now = time.monotonic()
        quiet = now - self._last_receipt
        oldest = next(iter(self._waiting.values()), None)
        if oldest is not None and now - oldest > limit and quiet > limit:
            return (
                f"a submission has waited {now - oldest:.1f} s for a checkpoint and no receipt was "
                f"delivered for {quiet:.1f} s (limit {limit:g} s)"
            )
        failed = self._last_failure
        if failed is not None and failed > self._last_receipt and now - failed <= limit:
            return f"the latest commit failed {now - failed:.1f} s ago and none succeeded since: {self._last_error}"
        return None


@dataclass(eq=False)
class AppState:
    """Everything the route modules of one app share.

    Attributes:
        log: The started log (submissions go to its sequencer, reads to its storage).
        verifier: Turns submission bodies into entries.
        prefix: URL path under which the routes are served (``""``: the root).
        tokens: Bearer tokens accepted for submissions (UTF-8).
        allow_anonymous_writes: With no tokens, accept unauthenticated submissions.
        max_body: Largest submission body in bytes.
        tiles: Cache of full tiles and entry bundles.
        metrics: This app's Prometheus collectors.
        stale_after: ``/readyz``'s freshness limit in seconds (see :meth:`SequencerWatch.staleness`).
        sequencer: Hands submissions to the log (set from ``log`` and ``metrics``).
    """

    log: Log
    verifier: SubmissionVerifier
    prefix: str
    tokens: tuple[bytes, ...]
    allow_anonymous_writes: bool
    max_body: int
    tiles: TileCache
    metrics: Metrics
    stale_after: float = DEFAULT_STALE_AFTER
    sequencer: SequencerWatch = field(init=False)

    def __post_init__(self) -> None:
        self.sequencer = SequencerWatch(self.log, self.metrics)

    @property
    def storage(self) -> Storage:
        """The log's storage."""
        return self.log.storage

    def latest(self) -> StoredCheckpoint:
        """The sequencer's published checkpoint (503 ``not_ready`` before the log has started).

        Not the database's latest: a checkpoint committed but not yet recorded as published must not be
        served (a client could hold a checkpoint the log may lose).
        """
        try:
            return self.log.checkpoint
        except RuntimeError:  # the log is not started
            raise ApiError(503, "not_ready", "the log has no checkpoint yet") from None
