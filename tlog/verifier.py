"""Verifying submissions off the event loop: in worker processes, in batches.

Verifying a submission (parse the JSON, decode the envelope, check its signature and certificate
chain, canonicalise the entry) costs several times more CPU than logging it, and it is pure Python
holding the GIL: in a thread it would still compete with the event loop that serves HTTP and runs
the sequencer. :class:`ProcessVerifier` therefore runs :func:`verify_submissions` in a pool of
worker processes, and sends the bodies that queue up while the workers are busy as one task, so
the pickling and inter-process round trip is paid per batch, not per submission. Workers keep their
own caches (parsed certificates, validated chains) warm across batches.

What comes back is the storage record (:class:`~tlog.storage.base.NewEntry`), or the exception
that refused the submission, re-raised in the caller so the HTTP layer maps it as usual.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import concurrent.futures.process
import contextlib
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from typing import Final

from tlog.entry import Submission, build_entry
from tlog.errors import UnavailableError
from tlog.storage.base import NewEntry

__all__ = [
    "DEFAULT_BATCH",
    "InlineVerifier",
    "ProcessVerifier",
    "SubmissionVerifier",
    "default_workers",
    "verify_submissions",
]

_log = logging.getLogger(__name__)

#: Most submissions sent to a worker as one task.
DEFAULT_BATCH: Final = 64
#: How often a worker checks that the server process is still its parent.
_PARENT_POLL_SECONDS: Final = 0.5


def verify_submissions(bodies: Sequence[bytes]) -> list[NewEntry | Exception]:
    """Verify POST bodies; for each, its storage record or the exception that refused it.

    Runs in worker processes: exceptions are returned, not raised, so one bad submission does not
    fail the others of its batch.
    """
    results: list[NewEntry | Exception] = []
    for body in bodies:
        try:
            results.append(build_entry(Submission.from_json(body)).to_record())
        except Exception as exc:  # returned to the caller, which re-raises it for this body only
            results.append(exc)
    return results


def _watch_parent(parent: int) -> None:
    """Worker initializer: exit when the server that started this worker is gone.

    A SIGKILLed server cannot shut its pool down, and its workers do not see end-of-file on the task
    queue (each holds both ends of the pipe), so without this they would live on as orphans.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="tlog-parent-watch", daemon=True).start()


def default_workers() -> int:
    """Worker processes by default: one per CPU the process may use, less one for the event loop.

    The event loop (HTTP, sequencing, commits) is the serial stage: when verification workers
    compete with it for every core, it is descheduled and the whole pipeline stalls. Measured on 2
    cores with 64 clients: 1 worker ~1,800 appends/s, 2 workers ~1,300/s, 3 workers ~1,380/s.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, cpus - 1)


class SubmissionVerifier(abc.ABC):
    """Turns a POST body into the record to log, or raises why it is refused."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Prepare (start worker processes)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release workers. Idempotent."""

    @abc.abstractmethod
    async def verify(self, body: bytes) -> NewEntry:
        """Verify one submission body.

        Raises:
            InvalidEntryError, FormatError: the submission is refused (the message says why).
        """


class InlineVerifier(SubmissionVerifier):
    """Verifies in a thread of this process (tests, tiny deployments)."""

    async def verify(self, body: bytes) -> NewEntry:
        """See :meth:`SubmissionVerifier.verify`."""
        (result,) = await asyncio.to_thread(verify_submissions, [body])
        if isinstance(result, Exception):
            raise result
        return result


class ProcessVerifier(SubmissionVerifier):
    """Verifies in ``workers`` processes, in batches of at most ``batch`` submissions."""

    def __init__(self, workers: int | None = None, *, batch: int = DEFAULT_BATCH) -> None:
        """``workers``: processes (default :func:`default_workers`); ``batch``: most bodies per task."""
        self._workers = workers or default_workers()
        if self._workers < 1 or batch < 1:
            raise ValueError("workers and batch must be positive")
        self._batch = batch
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._queue: list[tuple[bytes, asyncio.Future[NewEntry]]] = []
        self._slots: asyncio.Semaphore | None = None
        self._wakeup = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def workers(self) -> int:
        """Number of worker processes."""
        return self._workers

    async def start(self) -> None:
        """Start the worker processes (``spawn``: the parent has threads) and wait until they are ready."""
        if self._pool is not None:
            return
        self._pool = self._new_pool()
        loop = asyncio.get_running_loop()
        try:
            # One empty task per worker imports the verification code in every process before the first request.
            await asyncio.gather(
                *(loop.run_in_executor(self._pool, verify_submissions, []) for _ in range(self._workers))
            )
        except Exception as exc:  # cannot fork, out of memory, a broken installation in the workers
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            raise UnavailableError(f"cannot start {self._workers} verification worker process(es): {exc}") from exc
        self._slots = asyncio.Semaphore(self._workers)
        self._dispatcher = asyncio.create_task(self._dispatch(), name="tlog-verifier")

    def _new_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        # spawn, not fork: the parent runs SQLite and event-loop threads that a fork would copy mid-state.
        return concurrent.futures.ProcessPoolExecutor(
            self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_watch_parent,
            initargs=(os.getpid(),),
        )

    async def close(self) -> None:
        """Stop dispatching, fail what is queued, and shut the workers down. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
        for _, future in self._queue:
            if not future.done():
                future.set_exception(UnavailableError("the log is shutting down"))
        self._queue.clear()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await asyncio.to_thread(pool.shutdown, True, cancel_futures=True)

    async def verify(self, body: bytes) -> NewEntry:
        """See :meth:`SubmissionVerifier.verify`."""
        if self._closed or self._dispatcher is None:
            raise UnavailableError("the submission verifier is not running")
        future: asyncio.Future[NewEntry] = asyncio.get_running_loop().create_future()
        self._queue.append((body, future))
        self._wakeup.set()
        return await future

    async def _dispatch(self) -> None:
        assert self._slots is not None
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            await self._slots.acquire()  # a worker is free: send whatever queued meanwhile
            batch, self._queue = self._queue[: self._batch], self._queue[self._batch :]
            task = asyncio.create_task(self._run(batch))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _run(self, batch: list[tuple[bytes, asyncio.Future[NewEntry]]]) -> None:
        assert self._slots is not None and self._pool is not None
        pool = self._pool
        try:
            loop = asyncio.get_running_loop()
            results = await loop.run_in_executor(pool, verify_submissions, [body for body, _ in batch])
        except Exception as exc:  # a worker died (killed, out of memory): fail this batch, keep serving
            _log.error("submission verification failed in a worker process: %r", exc)
            if isinstance(exc, concurrent.futures.process.BrokenProcessPool) and self._pool is pool:
                # A broken pool refuses all later work: replace it (its processes are already gone).
                self._pool = self._new_pool()
                pool.shutdown(wait=False)
            error = UnavailableError("verification workers are unavailable; retry later")
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        finally:
            self._slots.release()
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
