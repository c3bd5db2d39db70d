"""A lean asyncio HTTP/1.1 load generator for ``scripts/bench_tlog.py``.

The benchmark client shares the machine's cores with the server, so its own cost per request must
be small next to the server's: httpx spends ~0.3–0.5 ms of CPU per request, this client a few tens
of microseconds. Each of C keep-alive connections (``asyncio.open_connection``) writes pre-built
request bytes and reads the status line, the headers up to ``\\r\\n\\r\\n`` and exactly the framed
body. Framing is handled as HTTP/1.1 requires: ``Content-Length``, ``Transfer-Encoding: chunked``
(decoded; any other transfer coding fails the run), a body delimited by the connection closing,
and ``Connection: close`` (the connection is reopened for the next request and the reopenings are
counted, since they distort the measurement). Interim ``1xx`` responses are skipped. A protocol
violation, a connection closed mid-response, a stalled server or a response that the caller's
``check`` rejects aborts the whole run (:class:`ClientError`); nothing is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "ClientError",
    "Connection",
    "LoadResult",
    "Response",
    "StatusError",
    "Target",
    "percentile",
    "run_load",
    "window_rates",
]

#: Largest response head (status line and headers) or chunk-size line accepted; also how much the
#: stream buffers before it stops reading the socket (large entry bundles are read in fewer steps).
_HEAD_LIMIT = 1 << 20
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


class ClientError(Exception):
    """The run cannot go on: protocol violation, connection lost, stalled server or rejected response."""


class StatusError(ClientError):
    """A response with a status the benchmark does not accept."""

    def __init__(self, what: str, status: int, body: bytes) -> None:
        """``what``: the request (``"POST /v1/entries"``); ``status`` and ``body`` of the response."""
        text = body[:4000].decode("utf-8", "replace")
        super().__init__(f"{what}: unexpected HTTP status {status}; body: {text}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Target:
    """Where requests go: from a ``http://host:port[/prefix]`` URL."""

    host: str
    port: int
    authority: str
    base_path: str

    @classmethod
    def parse(cls, url: str) -> Target:
        """Parse a base URL (plain ``http`` only: the load generator does not do TLS).

        Raises:
            ValueError: not an ``http://`` URL with a host, or with a query or fragment.
        """
        parts = urlsplit(url)
        if parts.scheme != "http":
            raise ValueError(f"{url!r}: the load generator speaks plain http:// only")
        if not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"{url!r}: give a base URL http://HOST:PORT[/prefix]")
        authority = parts.netloc.rpartition("@")[2]
        return cls(parts.hostname, parts.port or 80, authority, parts.path.rstrip("/"))

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: Sequence[tuple[str, str]] = ()
    ) -> bytes:
        """The complete request bytes: request line, ``Host``, ``headers``, ``Content-Length`` and body."""
        lines = [f"{method} {self.base_path}/{path.lstrip('/')} HTTP/1.1", f"Host: {self.authority}"]
        lines.extend(f"{name}: {value}" for name, value in headers)
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
        return head + body if body is not None else head


@dataclass(frozen=True, slots=True)
class Response:
    """A final (non-1xx) response: status and decoded body."""

    status: int
    body: bytes


class Connection:
    """One keep-alive HTTP/1.1 connection: one request at a time, reopened after ``Connection: close``."""

    def __init__(self, target: Target) -> None:
        """A connection to ``target``; :meth:`connect` opens it (:meth:`send` does too, when needed)."""
        self._target = target
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._opened = 0

    @property
    def reconnects(self) -> int:
        """How many times the server closed the connection and it was reopened."""
        return max(0, self._opened - 1)

    async def connect(self) -> None:
        """Open the TCP connection (a no-op when it is open)."""
        if self._writer is None:
            try:
                self._reader, self._writer = await asyncio.open_connection(
                    self._target.host, self._target.port, limit=_HEAD_LIMIT
                )
            except OSError as exc:
                raise ClientError(f"cannot connect to {self._target.authority}: {exc}") from None
            self._opened += 1

    async def close(self) -> None:
        """Close the connection."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def send(self, request: bytes) -> Response:
        """Write ``request`` (complete bytes, see :meth:`Target.request`) and read the final response.

        Raises:
            ClientError: the connection failed or closed mid-response, or the response is malformed.
        """
        await self.connect()
        assert self._reader is not None and self._writer is not None
        try:
            self._writer.write(request)
            await self._writer.drain()
            response, keep_alive = await self._read_response(self._reader)
        except asyncio.IncompleteReadError as exc:
            await self.close()
            raise ClientError(
                f"the server closed the connection after {len(exc.partial)} bytes of a response part"
            ) from None
        except asyncio.LimitOverrunError:
            await self.close()
            raise ClientError(f"a response head or chunk-size line is larger than {_HEAD_LIMIT} bytes") from None
        except OSError as exc:
            await self.close()
            raise ClientError(f"connection to {self._target.authority} failed: {exc}") from None
        except ClientError:
            await self.close()
            raise
        if not keep_alive:
            await self.close()
        return response

    async def _read_response(self, reader: asyncio.StreamReader) -> tuple[Response, bool]:
        """The final response and whether the connection stays open after it."""
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head[:-4].split(b"\r\n")
            version, _, rest = lines[0].partition(b" ")
            code = rest[:3]
            if (
                not version.startswith(b"HTTP/1.")
                or len(code) != 3
                or not code.isdigit()
                or rest[3:4] not in (b"", b" ")
            ):
                raise ClientError(f"malformed status line {lines[0]!r}")
            status = int(code)
            if status == 101:
                raise ClientError("unexpected 101 Switching Protocols")
            if status >= 200:
                break
            # 1xx interim response (100 Continue, 103 Early Hints): the final response follows.
        length: int | None = None
        chunked = False
        close = version == b"HTTP/1.0"
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep or not name or name != name.strip():
                raise ClientError(f"malformed header line {line!r}")
            name = name.lower()
            value = value.strip()
            if name == b"content-length":
                if not value.isdigit() or (length is not None and int(value) != length):
                    raise ClientError(f"malformed or conflicting Content-Length {value!r}")
                length = int(value)
            elif name == b"transfer-encoding":
                if value.lower() != b"chunked":
                    raise ClientError(f"unsupported Transfer-Encoding {value!r} (only chunked is decoded)")
                chunked = True
            elif name == b"connection":
                tokens = {token.strip().lower() for token in value.split(b",")}
                if b"close" in tokens:
                    close = True
                elif b"keep-alive" in tokens:
                    close = False
        if chunked:  # Transfer-Encoding overrides Content-Length (RFC 9112 §6.3)
            body = await self._read_chunked(reader)
        elif length is not None:
            body = await reader.readexactly(length)
        elif status in (204, 304):
            body = b""
        else:  # delimited by the server closing the connection
            body = await reader.read()
            close = True
        return Response(status, body), not close

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        parts = []
        while True:
            line = await reader.readuntil(b"\r\n")
            size_text = line[:-2].split(b";", 1)[0].strip()
            if not size_text or not _HEX_DIGITS.issuperset(size_text):
                raise ClientError(f"malformed chunk-size line {line!r}")
            size = int(size_text, 16)
            if size == 0:
                break
            chunk = await reader.readexactly(size + 2)
            if chunk[-2:] != b"\r\n":
                raise ClientError("a chunk is not followed by CRLF")
            parts.append(chunk[:-2])
        while await reader.readuntil(b"\r\n") != b"\r\n":  # trailer fields, then the empty line
            pass
        return b"".join(parts)


@dataclass
class LoadResult:
    """What :func:`run_load` measured (times in seconds, relative to the first request)."""

    elapsed: float
    """First request sent to last response received."""
    latencies: list[float]
    """Per request: request written to response read, in completion order."""
    completions: list[float]
    """Per request: when its response was read."""
    deadline_reached: bool
    """The run stopped because the duration was over (else the requests ran out)."""
    reconnects: int
    """Connections the server closed and the client reopened."""
    client_cpu: float
    """CPU seconds this process used during the run (all threads)."""


async def run_load(
    target: Target,
    requests: Iterable[bytes],
    concurrency: int,
    check: Callable[[bytes, Response], None],
    *,
    duration: float | None = None,
    stall_timeout: float = 120.0,
) -> LoadResult:
    """Send ``requests`` over ``concurrency`` keep-alive connections, each one request at a time.

    The connections are opened before the clock starts. Each worker takes the next request, sends it,
    reads the response and passes the request and the response to ``check`` (which raises to abort
    the run). With ``duration``,
    no request is started after ``duration`` seconds (those in flight complete). The run fails with
    :class:`ClientError` when no response arrives for ``stall_timeout`` seconds.
    """
    connections = [Connection(target) for _ in range(concurrency)]
    pending_requests = iter(requests)
    latencies: list[float] = []
    completions: list[float] = []
    deadline_reached = False
    clock = time.perf_counter
    try:
        await asyncio.gather(*(c.connect() for c in connections))
        cpu_start = time.process_time()
        start = clock()
        deadline = math.inf if duration is None else start + duration

        async def worker(connection: Connection) -> None:
            nonlocal deadline_reached
            for request in pending_requests:
                sent = clock()
                if sent >= deadline:
                    deadline_reached = True
                    return
                response = await connection.send(request)
                done = clock()
                check(request, response)
                latencies.append(done - sent)
                completions.append(done - start)

        async def watchdog() -> None:
            while True:
                await asyncio.sleep(1.0)
                last = completions[-1] if completions else 0.0
                if clock() - start - last > stall_timeout:
                    raise ClientError(f"no response for {stall_timeout:.0f} s: the server is stalled")

        workers = [asyncio.create_task(worker(c)) for c in connections]
        tasks: set[asyncio.Task[None]] = {*workers, asyncio.create_task(watchdog())}
        try:
            waiting = set(tasks)
            while not all(w.done() for w in workers):
                done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # the first failure aborts the run
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        elapsed = max(completions, default=clock() - start)
        client_cpu = time.process_time() - cpu_start
    finally:
        await asyncio.gather(*(c.close() for c in connections))
    return LoadResult(
        elapsed=elapsed,
        latencies=latencies,
        completions=completions,
        deadline_reached=deadline_reached,
        reconnects=sum(c.reconnects for c in connections),
        client_cpu=client_cpu,
    )


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile ``q`` (0–100) of an ascending, non-empty sequence."""
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def window_rates(completions: Sequence[float], window: float, elapsed: float) -> list[tuple[float, float, int]]:
    """Completions per ``window`` seconds: ``(window start, window length, count)``.

    The last window may be shorter; a tail shorter than half a window (the requests still in flight
    when a ``duration`` ended) is merged into the window before it rather than reported on its own.
    """
    if elapsed <= 0:
        return []
    count = max(1, math.ceil(elapsed / window))
    if count > 1 and elapsed - (count - 1) * window < window / 2:
        count -= 1
    counts = [0] * count
    for t in completions:
        counts[min(int(t // window), count - 1)] += 1
    return [(i * window, (elapsed - i * window) if i == count - 1 else window, n) for i, n in enumerate(counts)]
