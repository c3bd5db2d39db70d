"""HTTP for registries: one pooled httpx client, timeouts, retries, authentication, error bodies.

* Every request has connect/read/write/pool timeouts (:class:`RegistryOptions`).
* ``429``, ``502``, ``503`` and ``504`` answers are retried (bounded, exponential backoff with
  jitter, ``Retry-After`` honoured in seconds or as an HTTP date, capped); so are connection
  failures and timeouts of idempotent requests. Bodies are bytes, so every retry resends them.
* A ``401`` is answered once through :class:`~notation_py.oci.registry.auth.Authenticator`.
* An overall :class:`~notation_py.deadline.Deadline` (the client's own and the operation's, see
  :mod:`notation_py.deadline`) bounds everything: each request's timeouts are capped at the time
  left, bodies (token answers included) are read within it, and no retry waits past it.
* Failures become :class:`~notation_py.errors.RegistryError` (or its subclass
  :class:`~notation_py.errors.AuthenticationError` for ``401``/``403``) whose message carries the
  registry's error body, e.g. ``registry 127.0.0.1:5000 answered 401 UNAUTHORIZED: authentication required``.
* Registries are reached over HTTPS (certificates verified, optionally against an extra CA bundle;
  ``SSL_CERT_FILE``/``SSL_CERT_DIR`` work through httpx) unless listed as insecure: then plain HTTP.
  Loopback addresses are not insecure by default, as in notation.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import random
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

import httpx

from notation_py import __version__
from notation_py.deadline import Deadline, effective_deadline
from notation_py.deadline_http import body_within, capped_timeout, timed_out_by
from notation_py.errors import ArtifactError, AuthenticationError, NotFoundError, RegistryError
from notation_py.oci.reference import RegistryReference
from notation_py.oci.registry.auth import Authenticator
from notation_py.oci.registry.credentials import CredentialSource
from notation_py.tls import ssl_context

if TYPE_CHECKING:
    from notation_py.oci.registry.repository import Repository

logger = logging.getLogger(__name__)

#: Statuses that mean "not now": retried.
RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})
#: Methods retried after a connection failure or timeout.
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
#: Largest error body read (it only feeds a message).
MAX_ERROR_BODY: Final = 64 * 1024
#: Default limit of :meth:`RegistryClient.request` bodies.
DEFAULT_MAX_BODY: Final = 4 * 1024 * 1024


@dataclass(frozen=True)
class RegistryOptions:
    """How a :class:`RegistryClient` talks to registries.

    Attributes:
        insecure_registries: Hosts (``name[:port]``) reached over plain HTTP, without TLS
            (``--insecure-registry`` and config.json ``insecureRegistries``).
        ca_file: Extra PEM CA certificates trusted for HTTPS, on top of the default trust store.
        timeout: Seconds allowed for each read, write and pool wait.
        connect_timeout: Seconds allowed to connect.
        max_retries: Retries of a request after a retryable answer or a connection failure.
        retry_backoff: First backoff in seconds; doubled each retry, with jitter.
        max_retry_wait: Longest wait before a retry, ``Retry-After`` included.
        user_agent: ``User-Agent`` header.
        force_referrers_tag: Always maintain the referrers tag schema index on push, even
            when the registry indexes referrers itself.
        referrers_gc: Delete the superseded referrers tag index after an update (best effort).
            Off by default: on distribution 2.8 a concurrent signer reading the tag while the
            index it names is deleted gets a 500 (measured), and a registry answering 404 there
            would make that signer drop every other referrer.
        referrers_tag_attempts: Read-modify-write attempts for the referrers tag index.
        referrers_settle: Seconds (jittered 0.5x-1.5x) to wait before reading the referrers tag
            index a second time after an update, to catch concurrent writers that overwrote it
            late; 0 disables the second check.
    """

    insecure_registries: frozenset[str] | tuple[str, ...] = ()
    ca_file: str | Path | None = None
    timeout: float = 30.0
    connect_timeout: float = 10.0
    max_retries: int = 3
    retry_backoff: float = 0.5
    max_retry_wait: float = 30.0
    user_agent: str = f"notation-py/{__version__}"
    force_referrers_tag: bool = False
    referrers_gc: bool = False
    referrers_tag_attempts: int = 8
    referrers_settle: float = 0.25

    def is_insecure(self, host: str) -> bool:
        """Whether ``host`` is reached over plain HTTP."""
        return host.lower() in {h.lower() for h in self.insecure_registries}


@dataclass(frozen=True)
class Reply:
    """A registry answer whose body has been read (bounded).

    Attributes:
        status: HTTP status code.
        headers: Response headers.
        body: Response body (possibly empty).
        url: The URL that answered (after redirects).
        retries: How many retries it took.
    """

    status: int
    headers: httpx.Headers
    body: bytes
    url: httpx.URL
    retries: int = 0

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status < 300


@dataclass
class _Outcome:
    response: httpx.Response
    retries: int = 0


def host_of(url: httpx.URL) -> str:
    """``name[:port]`` of ``url`` as written in references (IPv6 in brackets)."""
    return url.netloc.decode("ascii")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or HTTP date), or ``None``."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _error_details(body: bytes, content_type: str) -> tuple[str | None, str]:
    """The first error code and a readable summary of a registry error body."""
    try:
        obj = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("errors"), list):
        parts: list[str] = []
        first: str | None = None
        for item in obj["errors"][:5]:
            if not isinstance(item, dict):
                continue
            code = str(item.get("code", "")) or "UNKNOWN"
            first = first or code
            text = code
            if item.get("message"):
                text += f": {item['message']}"
            detail = item.get("detail")
            if detail not in (None, "", {}, []):
                rendered = json.dumps(detail, separators=(",", ":"), default=str)
                text += f" (detail: {rendered[:300]})"
            parts.append(text)
        if parts:
            return first, "; ".join(parts)
    if body and (content_type.startswith("text/") or not content_type):
        snippet = body[:200].decode("utf-8", "replace")
        snippet = " ".join("".join(c if c.isprintable() else " " for c in snippet).split())
        return None, snippet
    return None, ""


def registry_error(host: str, reply: Reply, what: str) -> RegistryError:
    """The exception for a failed answer: its class by status, its message with the error body.

    ``401``/``403`` give :class:`AuthenticationError`; everything else :class:`RegistryError`.
    ``404`` is left to callers (they raise :class:`NotFoundError` via :func:`not_found`).
    """
    code, summary = _error_details(reply.body, reply.headers.get("content-type", ""))
    reason = httpx.codes.get_reason_phrase(reply.status)
    message = f"{what}: registry {host} answered {reply.status}"
    message += f" {summary}" if code else (f" {reason}" if reason else "")
    if summary and not code:
        message += f": {summary}"
    if reply.retries:
        message += f" (gave up after {reply.retries} retries)"
    if reply.status in (401, 403):
        return AuthenticationError(message, status=reply.status, code=code)
    return RegistryError(message, status=reply.status, code=code)


def not_found(host: str, reply: Reply, what: str) -> NotFoundError:
    """A :class:`NotFoundError` carrying the registry's explanation of a ``404``."""
    return NotFoundError(registry_error(host, reply, what).message)


class RegistryClient:
    """A pooled HTTP client for registries: the factory of :class:`Repository` objects.

    One ``httpx.Client`` (HTTP/1.1 keep-alive pool) and one authentication state (schemes,
    token cache) are shared by every repository of the client. Close it when done, or use it as a
    context manager.
    """

    def __init__(
        self,
        options: RegistryOptions | None = None,
        credentials: CredentialSource | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        deadline: Deadline | None = None,
    ) -> None:
        """Create the client.

        Args:
            options: Transport options (defaults: HTTPS, 30 s timeouts, 3 retries).
            credentials: Where credentials come from (``None``: anonymous only).
            transport: An httpx transport to use instead of the network (tests).
            sleep: Waits between retries (tests replace it).
            jitter: Uniform random number in [0, 1) for backoff jitter.
            deadline: Overall deadline of every request made through this client, on top of the
                one of the running operation (:func:`~notation_py.deadline.deadline_scope`).

        Raises:
            ArtifactError: ``options.ca_file`` cannot be loaded.
        """
        self.options = options or RegistryOptions()
        self._sleep = sleep
        self._jitter = jitter
        ca_file = str(self.options.ca_file) if self.options.ca_file is not None else None
        try:
            verify = ssl_context(ca_file)
        except (OSError, ssl.SSLError) as e:
            raise ArtifactError(f"cannot load CA certificates from {self.options.ca_file}: {e}") from None
        self._deadline = deadline
        self._timeout = httpx.Timeout(self.options.timeout, connect=self.options.connect_timeout)
        headers = {"User-Agent": self.options.user_agent, "Accept-Encoding": "identity"}
        self._http = httpx.Client(
            timeout=self._timeout, verify=verify, headers=headers, transport=transport, follow_redirects=False
        )
        self.auth = Authenticator(credentials, self._fetch_token, realm_allowed=self._realm_allowed)
        #: Which referrers mode works per (host, repository): ``"api"`` or ``"tag"``.
        self.referrers_modes: dict[tuple[str, str], str] = {}
        self._warned: set[str] = set()

    # --- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- public -------------------------------------------------------------------------------

    def deadline(self) -> Deadline | None:
        """The deadline requests made now must meet: the client's or the operation's, whichever is earlier."""
        return effective_deadline(self._deadline)

    def base_url(self, host: str) -> str:
        """``https://<host>`` or, for an insecure registry, ``http://<host>``."""
        return f"{'http' if self.options.is_insecure(host) else 'https'}://{host}"

    def repository(self, ref: RegistryReference | str) -> Repository:
        """The :class:`Repository` of ``ref`` (its tag or digest is ignored).

        Raises:
            UsageError: ``ref`` is a malformed reference string.
        """
        from notation_py.oci.registry.repository import Repository

        if isinstance(ref, str):
            ref = RegistryReference.parse(ref)
        return Repository(self, ref.registry, ref.repository)

    def ping(self, host: str) -> None:
        """Check that ``host`` is a registry and accepts our credentials (``GET /v2/``).

        Used by ``login`` to validate credentials before storing them.

        Raises:
            AuthenticationError: The registry or its token service refused the credentials.
            RegistryError: The registry cannot be reached or answered something else.
            CredentialError: The credential source failed.
        """
        reply = self.request("GET", f"{self.base_url(host)}/v2/", scopes=())
        if not reply.ok:
            raise registry_error(host, reply, "ping")

    # --- requests -----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        scopes: Sequence[str],
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        follow_redirects: bool = False,
        idempotent: bool | None = None,
        activity: str | None = None,
    ) -> Reply:
        """Send a request (authenticated, retried) and read the answer's body.

        A successful answer's body may be at most ``max_body`` bytes; an error body is read up to
        64 KiB for the message. ``activity`` (``reading the referrers of ...``) names the request in
        a deadline error; by default ``<METHOD> <url>``.

        Raises:
            RegistryError: The registry could not be reached.
            ArtifactError: The body exceeds ``max_body``.
            AuthenticationError: A token could not be obtained.
            CredentialError: The credential source failed.
            DeadlineExceededError: The deadline passed (or a retry would wait past it).
        """
        activity = activity or _activity(method, url)
        with self.stream(
            method,
            url,
            scopes=scopes,
            headers=headers,
            content=content,
            follow_redirects=follow_redirects,
            idempotent=idempotent,
            activity=activity,
        ) as (response, retries):
            ok = 200 <= response.status_code < 300
            limit = max_body if ok else MAX_ERROR_BODY
            body = read_limited(response, limit, truncate=not ok, deadline=self.deadline(), activity=activity)
            return Reply(response.status_code, response.headers, body, response.url, retries)

    @contextlib.contextmanager
    def stream(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        scopes: Sequence[str],
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        follow_redirects: bool = False,
        idempotent: bool | None = None,
        activity: str | None = None,
    ) -> Iterator[tuple[httpx.Response, int]]:
        """Like :meth:`request` but yields the unread response (and the retry count); closes it after.

        Read the body within :meth:`deadline` (:func:`~notation_py.deadline_http.body_within`).

        Raises:
            RegistryError: The registry could not be reached.
            AuthenticationError: A token could not be obtained.
            CredentialError: The credential source failed.
            DeadlineExceededError: The deadline passed (or a retry would wait past it).
        """
        outcome = self._send(
            method=method,
            url=httpx.URL(str(url)),
            scopes=scopes,
            headers=headers or {},
            content=content,
            follow_redirects=follow_redirects,
            idempotent=idempotent,
            activity=activity or _activity(method, url),
        )
        try:
            yield outcome.response, outcome.retries
        finally:
            outcome.response.close()

    def _send(
        self,
        *,
        method: str,
        url: httpx.URL,
        scopes: Sequence[str],
        headers: dict[str, str],
        content: bytes | None,
        follow_redirects: bool,
        idempotent: bool | None,
        activity: str,
    ) -> _Outcome:
        host = host_of(url)
        retry_transport = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        retries = 0
        deadline = self.deadline()
        authorization = self.auth.authorization(host, scopes)
        auth_retried = False
        while True:
            if deadline is not None:
                deadline.check(activity)
            request_headers = dict(headers)
            if authorization is not None:
                request_headers["Authorization"] = authorization
            request = self._http.build_request(
                method, url, headers=request_headers, content=content, timeout=capped_timeout(self._timeout, deadline)
            )
            try:
                response = self._http.send(request, stream=True, follow_redirects=follow_redirects)
            except httpx.TransportError as e:
                if timed_out_by(deadline):
                    assert deadline is not None
                    raise deadline.exceeded(activity) from None
                if retry_transport and retries < self.options.max_retries and _tls_error(e) is None:
                    wait = self._backoff(retries)
                    logger.debug("%s %s: %s; retrying in %.2f s", method, url.path, type(e).__name__, wait)
                    self._sleep_within(deadline, wait, f"{activity}: {self._transport_message(method, url, e, 0)}")
                    retries += 1
                    continue
                raise RegistryError(self._transport_message(method, url, e, retries)) from None
            logger.debug("%s %s -> %d", method, url.path, response.status_code)
            self._log_warnings(host, response)
            status = response.status_code
            if status in RETRY_STATUSES and retries < self.options.max_retries:
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                wait = self._backoff(retries) if retry_after is None else retry_after
                wait = min(wait, self.options.max_retry_wait)
                response.close()
                logger.debug("%s %s answered %d; retrying in %.2f s", method, url.path, status, wait)
                reason = httpx.codes.get_reason_phrase(status)
                self._sleep_within(deadline, wait, f"{activity}: registry {host} answered {status} {reason}".rstrip())
                retries += 1
                continue
            if status == 401 and not auth_retried and host_of(response.url) == host:
                new = self.auth.respond(host, response.headers, scopes, authorization)
                if new is not None:
                    response.close()
                    authorization = new
                    auth_retried = True
                    continue
            return _Outcome(response, retries)

    def pause(self, attempt: int, activity: str = "retrying a registry request") -> None:
        """Sleep the jittered exponential backoff of retry number ``attempt`` (0-based).

        Raises:
            DeadlineExceededError: The wait would pass the deadline (``activity`` names what waits).
        """
        self._sleep_within(self.deadline(), self._backoff(attempt), activity)

    def wait(self, seconds: float, activity: str = "waiting for the registry") -> None:
        """Sleep ``seconds`` (through the injectable sleep function).

        Raises:
            DeadlineExceededError: The wait would pass the deadline (``activity`` names what waits).
        """
        self._sleep_within(self.deadline(), seconds, activity)

    def _sleep_within(self, deadline: Deadline | None, seconds: float, activity: str) -> None:
        # A wait that would end past the deadline fails now rather than when the deadline passes.
        if deadline is not None:
            deadline.check_wait(seconds, activity)
        self._sleep(seconds)

    def jitter(self) -> float:
        """A uniform random number in [0, 1) from the injectable jitter source."""
        return self._jitter()

    def _backoff(self, retries: int) -> float:
        base = self.options.retry_backoff * (2.0**retries)
        return min(base * (0.5 + self._jitter() / 2), self.options.max_retry_wait)

    @staticmethod
    def _transport_message(method: str, url: httpx.URL, error: httpx.TransportError, retries: int) -> str:
        kind = {
            httpx.ConnectTimeout: "connection timed out",
            httpx.ReadTimeout: "read timed out",
            httpx.WriteTimeout: "write timed out",
            httpx.PoolTimeout: "no free connection in the pool",
            httpx.ConnectError: "cannot connect",
        }.get(type(error), type(error).__name__)
        detail = str(error).strip()
        text = f"registry {host_of(url)} unreachable: {kind}"
        if detail and detail != kind:
            text += f" ({detail})"
        text += f" ({method} {url.path})"
        if retries:
            text += f" (gave up after {retries} retries)"
        tls = _tls_error(error)
        if url.scheme == "https" and tls is not None and tls.reason in _PLAIN_HTTP_REASONS:
            text += f"; if {host_of(url)} serves plain HTTP, use --insecure-registry"
        return text

    def _log_warnings(self, host: str, response: httpx.Response) -> None:
        # distribution-spec: Warning: 299 - "text"; report each once, take no action on them.
        for value in response.headers.get_list("warning"):
            if not value.startswith("299"):
                continue
            key = f"{host} {value}"
            if key not in self._warned:
                self._warned.add(key)
                logger.warning("registry %s: %s", host, value[3:].strip(" -\"'"))

    # --- token service ------------------------------------------------------------------------

    def _realm_allowed(self, host: str, realm: httpx.URL) -> bool:
        return realm.scheme == "https" or self.options.is_insecure(host) or self.options.is_insecure(host_of(realm))

    def _fetch_token(
        self, method: str, url: httpx.URL, headers: dict[str, str], form: dict[str, str] | None
    ) -> tuple[int, httpx.Headers, bytes]:
        retry_transport = method == "GET"
        retries = 0
        deadline = self.deadline()
        activity = f"fetching a token from {url.copy_with(query=None)}"
        while True:
            if deadline is not None:
                deadline.check(activity)
            timeout = capped_timeout(self._timeout, deadline)
            request = self._http.build_request(method, url, headers=headers, data=form, timeout=timeout)
            try:
                response = self._http.send(request, stream=True)
            except httpx.TransportError as e:
                if timed_out_by(deadline):
                    assert deadline is not None
                    raise deadline.exceeded(activity) from None
                if retry_transport and retries < self.options.max_retries and _tls_error(e) is None:
                    self._sleep_within(deadline, self._backoff(retries), f"{activity}: {type(e).__name__}")
                    retries += 1
                    continue
                raise AuthenticationError(
                    self._transport_message(method, url, e, retries).replace("registry", "token service", 1)
                ) from None
            try:
                if response.status_code in RETRY_STATUSES and retries < self.options.max_retries:
                    wait = parse_retry_after(response.headers.get("retry-after"))
                    wait = min(self._backoff(retries) if wait is None else wait, self.options.max_retry_wait)
                    self._sleep_within(deadline, wait, f"{activity}: the token service answered {response.status_code}")
                    retries += 1
                    continue
                ok = 200 <= response.status_code < 300
                limit = 1024 * 1024 if ok else MAX_ERROR_BODY
                body = read_limited(response, limit, truncate=not ok, deadline=deadline, activity=activity)
                return response.status_code, response.headers, body
            finally:
                response.close()


#: OpenSSL reasons for a TLS handshake answered by a plain-HTTP server.
_PLAIN_HTTP_REASONS: Final = frozenset(
    {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE"}
)


def _tls_error(error: BaseException) -> ssl.SSLError | None:
    """The TLS error behind a transport error, if any: it is deterministic, so not retried."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _activity(method: str, url: str | httpx.URL) -> str:
    """Default name of a request in deadline errors: ``GET registry.example/v2/app/manifests/v1``."""
    parsed = httpx.URL(str(url))
    return f"{method} {host_of(parsed)}{parsed.path}"


def read_limited(
    response: httpx.Response,
    limit: int,
    *,
    truncate: bool = False,
    deadline: Deadline | None = None,
    activity: str | None = None,
) -> bytes:
    """Read at most ``limit`` bytes of ``response``, within ``deadline`` if one is given.

    Raises:
        ArtifactError: The body is longer than ``limit`` (unless ``truncate``: then it is cut).
        RegistryError: The connection failed while reading.
        DeadlineExceededError: The deadline passed while reading (``activity`` names the read).
    """
    what = f"{response.request.method} {response.url.path}"
    declared = response.headers.get("content-length")
    if not truncate and declared is not None and declared.isdigit() and int(declared) > limit:
        raise ArtifactError(f"{what}: response too large ({declared} bytes)")
    buf = bytearray()
    try:
        with body_within(response, deadline, activity or what) as chunks:
            for chunk in chunks:
                buf += chunk
                if len(buf) > limit:
                    if truncate:
                        return bytes(buf[:limit])
                    raise ArtifactError(f"{what}: response larger than {limit} bytes")
    except httpx.TransportError as e:
        raise RegistryError(f"{what}: reading the answer failed: {e}") from None
    return bytes(buf)
