"""Overall deadlines: how long a whole operation (``verify``, ``sign``, ``inspect``, ...) may take.

httpx's timeouts bound each network wait (one connect, one socket read), not an exchange: a server
that sends one byte per second never trips a 30 s read timeout. A :class:`Deadline` bounds the whole
operation, and every network edge asks it how long it may still wait:

* before a request: fail if it has passed, and cap the request's timeouts at the time left;
* while a body is read: fail between chunks once it has passed, and interrupt a read still blocked
  when it passes (:mod:`notation_py.deadline_http`);
* before a retry: a wait (backoff or ``Retry-After``) that would end after it fails at once.

The deadline of the running operation is held in a context variable (:func:`deadline_scope`), so
the revocation and transparency-log clients deep inside verification see it without every layer in
between passing it on. Code that starts threads copies the context into them
(``contextvars.copy_context().run``). Entry points (``verify_artifact``, ``RegistryClient``) also
take one explicitly; the earliest deadline in effect wins.

Passing it raises :class:`~notation_py.errors.DeadlineExceededError`. This module does no I/O.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final

from notation_py.errors import DeadlineExceededError, UsageError

#: Deadline of an operation when neither ``--timeout`` nor config.json ``timeout`` sets one, seconds.
DEFAULT_TIMEOUT: Final = 60.0


def valid_timeout(value: object) -> float | None:
    """``value`` as a number of seconds if it is a positive, finite number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = float(value)
    return seconds if math.isfinite(seconds) and seconds > 0 else None


class Deadline:
    """A moment, on a monotonic clock, by which an operation must have finished.

    Args:
        seconds: Time allowed from now; a positive, finite number.
        operation: What must finish, for messages (``verification of registry.example/app:v1``).
        setting: Where the limit comes from, for messages (``--timeout``).
        clock: Monotonic clock in seconds (tests replace it).

    Raises:
        UsageError: ``seconds`` is not a positive, finite number.
    """

    def __init__(
        self,
        seconds: float,
        operation: str = "the operation",
        *,
        setting: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        checked = valid_timeout(seconds)
        if checked is None:
            raise UsageError(f"invalid deadline {seconds!r}: expected a positive number of seconds")
        self.seconds = checked
        self.operation = operation
        self.setting = setting
        self._clock = clock
        #: The clock reading at which the deadline passes.
        self.expires_at = clock() + checked

    def __repr__(self) -> str:
        return f"Deadline({self.seconds:g} s, {self.operation!r}, {self.remaining():.3f} s left)"

    def remaining(self) -> float:
        """Seconds left (0 once passed)."""
        return max(0.0, self.expires_at - self._clock())

    @property
    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return self._clock() >= self.expires_at

    def error(self, detail: str) -> DeadlineExceededError:
        """The error to raise: ``<operation> did not finish within the <n> s deadline (<setting>): <detail>``."""
        setting = f" ({self.setting})" if self.setting else ""
        return DeadlineExceededError(
            f"{self.operation} did not finish within the {self.seconds:g} s deadline{setting}: {detail}",
            self.operation,
            self.seconds,
        )

    def exceeded(self, activity: str) -> DeadlineExceededError:
        """The error for a deadline that passed during ``activity`` (``reading the referrers of ...``)."""
        return self.error(f"{activity} was still in progress")

    def check(self, activity: str) -> None:
        """Raise :meth:`exceeded` if the deadline has passed.

        Raises:
            DeadlineExceededError: it has.
        """
        if self.expired:
            raise self.exceeded(activity)

    def check_wait(self, seconds: float, activity: str) -> None:
        """Raise unless a wait of ``seconds`` (before a retry) ends before the deadline.

        Waiting until the deadline only to give up then would waste the caller's time.

        Raises:
            DeadlineExceededError: the wait would end at or after the deadline.
        """
        if seconds >= self.remaining():
            raise self.error(f"{activity}; waiting {seconds:g} s before trying again would pass the deadline")


def earliest(*deadlines: Deadline | None) -> Deadline | None:
    """The deadline that passes first (None if none is given)."""
    found = [d for d in deadlines if d is not None]
    return min(found, key=lambda d: d.expires_at) if found else None


_current: ContextVar[Deadline | None] = ContextVar("notation_py_deadline", default=None)


def current_deadline() -> Deadline | None:
    """The deadline of the operation running in this context (see :func:`deadline_scope`), if any."""
    return _current.get()


def effective_deadline(explicit: Deadline | None = None) -> Deadline | None:
    """The earlier of ``explicit`` and the :func:`current_deadline`."""
    return earliest(explicit, _current.get())


@contextmanager
def deadline_scope(deadline: Deadline | None) -> Iterator[Deadline | None]:
    """Make ``deadline`` the current one inside the block (an earlier enclosing one still wins).

    Yields the deadline in effect. ``None`` leaves the current deadline as it is.
    """
    effective = earliest(deadline, _current.get())
    token = _current.set(effective)
    try:
        yield effective
    finally:
        _current.reset(token)


__all__ = [
    "DEFAULT_TIMEOUT",
    "Deadline",
    "current_deadline",
    "deadline_scope",
    "earliest",
    "effective_deadline",
    "valid_timeout",
]
