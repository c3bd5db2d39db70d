"""notation_py.deadline (the deadline object and its context) and notation_py.deadline_http (its httpx edge)."""

from __future__ import annotations

import contextvars
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from notation_py.deadline import (
    Deadline,
    current_deadline,
    deadline_scope,
    earliest,
    effective_deadline,
    valid_timeout,
)
from notation_py.deadline_http import body_within, capped_timeout
from notation_py.errors import DeadlineExceededError, NotationError, UsageError, VerificationError


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


# --- the deadline -----------------------------------------------------------------------------------


def test_remaining_time_and_expiry() -> None:
    clock = Clock()
    deadline = Deadline(2.5, "verification of x", setting="--timeout", clock=clock)
    assert (deadline.seconds, deadline.remaining(), deadline.expired) == (2.5, 2.5, False)
    clock.now += 1
    assert deadline.remaining() == 1.5
    deadline.check("resolving x")  # time left: nothing happens
    clock.now += 1.5
    assert (deadline.remaining(), deadline.expired) == (0.0, True)
    clock.now += 10
    assert deadline.remaining() == 0.0
    with pytest.raises(DeadlineExceededError) as info:
        deadline.check("reading the referrers of x")
    assert info.value.message == (
        "verification of x did not finish within the 2.5 s deadline (--timeout): "
        "reading the referrers of x was still in progress"
    )
    assert (info.value.operation, info.value.seconds) == ("verification of x", 2.5)


def test_a_wait_must_end_before_the_deadline() -> None:
    clock = Clock()
    deadline = Deadline(10, clock=clock)
    deadline.check_wait(9.5, "retrying")
    with pytest.raises(
        DeadlineExceededError, match=r"retrying; waiting 10 s before trying again would pass the deadline"
    ):
        deadline.check_wait(10, "retrying")
    assert "the operation did not finish within the 10 s deadline: " in deadline.error("x").message


def test_the_error_ends_the_operation_rather_than_failing_one_signature() -> None:
    error = Deadline(1).error("x")
    assert isinstance(error, NotationError)
    assert not isinstance(error, VerificationError)


@pytest.mark.parametrize("seconds", [0, -1, float("nan"), float("inf"), True])
def test_invalid_deadlines_are_refused(seconds: float) -> None:
    with pytest.raises(UsageError, match="expected a positive number of seconds"):
        Deadline(seconds)


def test_valid_timeout() -> None:
    assert [valid_timeout(v) for v in (60, 0.5, 1e9)] == [60.0, 0.5, 1e9]
    assert [valid_timeout(v) for v in (0, -3, "60", None, True, float("nan"), float("inf"), [1])] == [None] * 8


def test_earliest_and_scopes() -> None:
    clock = Clock()
    soon, late = Deadline(1, clock=clock), Deadline(100, clock=clock)
    assert earliest() is None
    assert earliest(None, late, soon) is soon
    assert current_deadline() is None
    with deadline_scope(late) as outer:
        assert outer is late and current_deadline() is late
        with deadline_scope(soon) as inner:
            assert inner is soon and effective_deadline(late) is soon
        with deadline_scope(Deadline(500, clock=clock)) as looser:
            assert looser is late  # an enclosing, earlier deadline still applies
        with deadline_scope(None) as unchanged:
            assert unchanged is late
        assert effective_deadline(soon) is soon
        assert current_deadline() is late
    assert current_deadline() is None
    assert effective_deadline(soon) is soon


def test_threads_see_the_deadline_only_with_a_copied_context() -> None:
    deadline = Deadline(30)
    with deadline_scope(deadline), ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(current_deadline).result() is None
        assert pool.submit(contextvars.copy_context().run, current_deadline).result() is deadline


# --- the httpx edge ----------------------------------------------------------------------------------


def test_timeouts_are_capped_at_the_time_left() -> None:
    clock = Clock()
    base = httpx.Timeout(30.0, connect=10.0)
    assert capped_timeout(base, None) is base
    deadline = Deadline(5, clock=clock)
    assert capped_timeout(base, deadline).as_dict() == {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}
    clock.now += 4.5
    assert capped_timeout(httpx.Timeout(None), deadline).as_dict() == {
        "connect": 0.5,
        "read": 0.5,
        "write": 0.5,
        "pool": 0.5,
    }
    clock.now += 1  # passed: never 0, which would make httpx's sockets non-blocking
    assert capped_timeout(base, deadline).read == 0.001


class SlowServer:
    """Answers one request on 127.0.0.1 with a 100-byte body, one byte every ``interval`` seconds."""

    def __init__(self, interval: float) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/slow"
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._listener.accept()
        with conn:
            conn.recv(65536)
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
                for _ in range(100):
                    if self._stop.wait(self._interval):
                        return
                    conn.sendall(b"x")
            except OSError:
                return  # the client hung up

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(5)


@pytest.fixture
def slow_server() -> Iterator[SlowServer]:
    server = SlowServer(interval=2.0)
    yield server
    server.close()


@pytest.mark.real_server
def test_a_body_read_ends_when_the_deadline_passes_not_at_the_next_byte(slow_server: SlowServer) -> None:
    """Bytes every 2 s, deadline 3 s: the read blocked from 2 s to 4 s is interrupted at 3 s."""
    started = time.monotonic()
    deadline = Deadline(3, "fetching x")
    received = bytearray()
    with (
        httpx.Client(timeout=30, trust_env=False) as client,
        client.stream("GET", slow_server.url) as response,
        pytest.raises(DeadlineExceededError) as info,
        body_within(response, deadline, "reading the slow body") as chunks,
    ):
        for chunk in chunks:
            received += chunk
    elapsed = time.monotonic() - started
    assert info.value.message == (
        "fetching x did not finish within the 3 s deadline: reading the slow body was still in progress"
    )
    assert received == b"x"
    assert 2.9 <= elapsed < 3.8, f"ended after {elapsed:.2f} s"


def test_bodies_without_a_socket_are_read_within_the_deadline() -> None:
    clock = Clock()
    transport = httpx.MockTransport(lambda _request: httpx.Response(200, content=b"abc"))
    with httpx.Client(transport=transport) as client:
        for deadline in (None, Deadline(1, clock=clock)):
            with client.stream("GET", "http://mock/x") as response, body_within(response, deadline, "x") as chunks:
                assert b"".join(chunks) == b"abc"
        passed = Deadline(1, "y", clock=clock)
        clock.now += 1
        with (
            client.stream("GET", "http://mock/x") as response,
            pytest.raises(DeadlineExceededError, match="y did not finish within the 1 s deadline: x was still"),
            body_within(response, passed, "x"),
        ):
            pass
