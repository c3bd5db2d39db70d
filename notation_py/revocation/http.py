"""The HTTP edge of revocation checking.

Everything that touches the network goes through a :class:`Transport`, so tests, air-gapped
set-ups and plugins can substitute their own source of OCSP responses and CRLs. The default,
:class:`HttpxTransport`, wraps an :class:`httpx.Client` and also keeps to the overall deadline of
the running operation (:mod:`notation_py.deadline`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from notation_py.deadline import current_deadline
from notation_py.errors import RevocationError

# httpx (and what it loads) is imported on the first request: most chains have no OCSP or CRL URLs,
# so most verifications never send one, and a command-line verification starts faster without it.
if TYPE_CHECKING:
    import httpx

#: Default timeout of one OCSP exchange, seconds (notation-go).
OCSP_TIMEOUT = 2.0
#: Default timeout of one CRL download, seconds (notation-go).
CRL_TIMEOUT = 5.0


@runtime_checkable
class Transport(Protocol):
    """Minimal HTTP client used for OCSP and CRL retrieval.

    Implementations return the body of a ``200 OK`` response and raise
    :class:`~notation_py.errors.RevocationError` for anything else (network failure, timeout,
    other status, body larger than ``max_bytes``). The message becomes the server result's error.
    """

    def get(self, url: str, *, timeout: float, max_bytes: int) -> bytes:
        """GET ``url`` and return the response body.

        Raises:
            RevocationError: The body could not be retrieved.
        """
        ...

    def post(self, url: str, body: bytes, *, content_type: str, timeout: float, max_bytes: int) -> bytes:
        """POST ``body`` to ``url`` and return the response body.

        Raises:
            RevocationError: The body could not be retrieved.
        """
        ...


class HttpxTransport:
    """:class:`Transport` backed by :class:`httpx.Client`.

    ``timeout`` bounds the whole exchange (connect, send and read), like Go's ``http.Client.Timeout``,
    and is cut to the time the operation's deadline leaves (:func:`~notation_py.deadline.current_deadline`);
    when that deadline passes, :class:`~notation_py.errors.DeadlineExceededError` is raised instead of a
    :class:`~notation_py.errors.RevocationError`, so verification stops rather than reporting an unknown
    status. Redirects are followed (at most 10, as Go does).

    Args:
        client: Client to use; by default a new client honouring the proxy environment variables
            is created and owned (closed by :meth:`close`).
    """

    def __init__(self, client: httpx.Client | None = None) -> None:
        self._owned = client is None
        # Created on first use: most chains have no OCSP/CRL URLs, so most checks never need it.
        self._lazy: httpx.Client | None = client

    @property
    def _client(self) -> httpx.Client:
        if self._lazy is None:
            import httpx

            from notation_py.tls import ssl_context

            self._lazy = httpx.Client(follow_redirects=True, max_redirects=10, verify=ssl_context())
        return self._lazy

    def close(self) -> None:
        """Close the underlying client if this transport created it."""
        if self._owned and self._lazy is not None:
            self._lazy.close()

    def __enter__(self) -> HttpxTransport:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def get(self, url: str, *, timeout: float, max_bytes: int) -> bytes:
        """GET ``url`` and return the body of a ``200 OK`` response.

        Raises:
            RevocationError: Network failure, timeout, non-200 status or oversized body.
            DeadlineExceededError: The operation's deadline passed.
        """
        return self._exchange("GET", url, None, {}, timeout=timeout, max_bytes=max_bytes)

    def post(self, url: str, body: bytes, *, content_type: str, timeout: float, max_bytes: int) -> bytes:
        """POST ``body`` to ``url`` and return the body of a ``200 OK`` response.

        Raises:
            RevocationError: Network failure, timeout, non-200 status or oversized body.
            DeadlineExceededError: The operation's deadline passed.
        """
        return self._exchange("POST", url, body, {"Content-Type": content_type}, timeout=timeout, max_bytes=max_bytes)

    def _exchange(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str], *, timeout: float, max_bytes: int
    ) -> bytes:
        import httpx

        from notation_py.deadline_http import body_within, capped_timeout, timed_out_by

        overall = current_deadline()
        activity = f"checking revocation ({method} {url})"
        if overall is not None:
            overall.check(activity)
        limit = capped_timeout(httpx.Timeout(timeout), overall)
        deadline = time.monotonic() + (limit.read or timeout)
        try:
            with self._client.stream(
                method, url, content=body, headers=headers, timeout=limit, follow_redirects=True
            ) as response:
                if response.status_code != httpx.codes.OK:
                    raise RevocationError(f"{method} {url!r}: unexpected status code {response.status_code}")
                data = bytearray()
                with body_within(response, overall, activity) as chunks:
                    for chunk in chunks:
                        data += chunk
                        if len(data) > max_bytes:
                            raise RevocationError(f"{method} {url!r}: response exceeds the {max_bytes}-byte limit")
                        if time.monotonic() > deadline:
                            raise httpx.ReadTimeout("deadline exceeded")
                return bytes(data)
        except httpx.TimeoutException as exc:
            if timed_out_by(overall):
                assert overall is not None
                raise overall.exceeded(activity) from None
            raise RevocationError(f"{method} {url!r}: exceeded timeout threshold of {timeout:.2f} seconds") from exc
        except httpx.HTTPError as exc:
            raise RevocationError(f"{method} {url!r}: request failed: {exc}") from exc
