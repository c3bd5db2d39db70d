"""The httpx edge of :mod:`notation_py.deadline`: request timeouts capped, bodies read within the deadline.

Shared by the registry, transparency log, revocation and timestamp clients:

* :func:`capped_timeout` caps a request's connect, read, write and pool timeouts at the time left;
* :func:`body_within` reads a streamed body chunk by chunk, failing between chunks once the deadline
  has passed. A read can still block for up to a whole read timeout, so a watchdog also shuts the
  connection's socket down when the deadline passes; the blocked read then ends at once, and the
  error it raises is reported as the passed deadline.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import httpx

from notation_py.deadline import Deadline

#: Smallest timeout handed to httpx: a timeout of 0 would make its sockets non-blocking.
_MIN_TIMEOUT = 0.001


def capped_timeout(base: httpx.Timeout, deadline: Deadline | None) -> httpx.Timeout:
    """``base`` with every timeout (``None``: unlimited) capped at the time ``deadline`` leaves."""
    if deadline is None:
        return base
    left = max(deadline.remaining(), _MIN_TIMEOUT)

    def cap(value: float | None) -> float:
        return left if value is None else min(value, left)

    return httpx.Timeout(connect=cap(base.connect), read=cap(base.read), write=cap(base.write), pool=cap(base.pool))


def timed_out_by(deadline: Deadline | None) -> bool:
    """Whether a timeout that just happened is the deadline's (it has passed)."""
    return deadline is not None and deadline.expired


class _Watchdog:
    """Shuts the response's socket down when the deadline passes, ending a read blocked on it."""

    def __init__(self, response: httpx.Response, deadline: Deadline) -> None:
        self.fired = False
        self._timer: threading.Timer | None = None
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):  # absent with mock transports: nothing to interrupt
            self._timer = threading.Timer(deadline.remaining(), self._fire, args=(sock,))
            self._timer.daemon = True
            self._timer.start()

    def _fire(self, sock: socket.socket) -> None:
        self.fired = True
        # socket.socket's own shutdown, also for an SSLSocket: it only wakes the blocked reader, while
        # SSLSocket.shutdown would also drop the TLS state under the reading thread's feet.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _chunks(response: httpx.Response, deadline: Deadline, activity: str, watchdog: _Watchdog) -> Iterator[bytes]:
    try:
        for chunk in response.iter_bytes():
            deadline.check(activity)
            yield chunk
    except httpx.TransportError:
        if watchdog.fired or deadline.expired:
            raise deadline.exceeded(activity) from None
        raise


@contextlib.contextmanager
def body_within(response: httpx.Response, deadline: Deadline | None, activity: str) -> Iterator[Iterator[bytes]]:
    """The chunks of ``response``'s body, read within ``deadline`` (unbounded when it is None).

    Iterating raises :class:`~notation_py.errors.DeadlineExceededError` (naming ``activity``) once
    the deadline has passed, also when it interrupted a blocked read; other transport errors pass
    through as httpx raised them.
    """
    if deadline is None:
        yield response.iter_bytes()
        return
    deadline.check(activity)
    no_body = response.request.method == "HEAD" or response.headers.get("content-length") == "0"
    watchdog = _Watchdog(response, deadline) if not no_body else None
    try:
        if watchdog is None:
            yield response.iter_bytes()
        else:
            yield _chunks(response, deadline, activity, watchdog)
    finally:
        if watchdog is not None:
            watchdog.cancel()


__all__ = ["body_within", "capped_timeout", "timed_out_by"]
