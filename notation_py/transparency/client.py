"""An HTTP client for a ``tlog`` log: submit signatures, read checkpoints, proofs and search results.

The routes and JSON shapes are those of :mod:`tlog.server` (``docs/tlog.md``). Conventions, as in
the registry client (:mod:`notation_py.oci.registry.client`):

* one pooled ``httpx.Client`` with a timeout on connect, read, write and pool waits; HTTPS
  certificates verified with the shared trust (:func:`notation_py.tls.ssl_context`) unless told
  otherwise; redirects are not followed;
* every response body is read with a size cap (:data:`MAX_RESPONSE_SIZE`, the checkpoint
  :data:`~tlog.note.MAX_NOTE_SIZE`) and parsed strictly (no duplicate keys, canonical base64,
  32-byte hashes, echoed indices and sizes checked);
* every failure — connection refused, timeout, TLS, a non-2xx answer (with the log's
  ``{"error", "detail"}``), an oversized or malformed body — is a
  :class:`~notation_py.errors.TransparencyError` naming the log URL and what was being done;
* the running operation's deadline (:mod:`notation_py.deadline`) caps every request's timeouts and
  bounds the reading of every body; once it passes,
  :class:`~notation_py.errors.DeadlineExceededError` is raised instead.

Nothing here trusts what the log says: proofs and checkpoints are verified by the callers
(:mod:`notation_py.transparency.online`). The bearer token is only sent with submissions.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlsplit

import httpx

from notation_py import __version__
from notation_py.deadline import Deadline, current_deadline
from notation_py.deadline_http import body_within, capped_timeout, timed_out_by
from notation_py.errors import TransparencyError, UsageError
from notation_py.jsonutil import JSONFormatError, strict_loads
from notation_py.tls import ssl_context
from tlog.entry import MAX_ENTRY_SIZE, Submission
from tlog.errors import FormatError
from tlog.merkle import HASH_SIZE, MAX_TREE_SIZE, leaf_hash
from tlog.note import MAX_NOTE_SIZE, b64decode_strict
from tlog.proof import MAX_AUDIT_PATH, MAX_PROOF_SIZE

#: Largest JSON response read (a search page of :data:`SEARCH_PAGE_SIZE` maximal entries is ~2.8 MiB).
MAX_RESPONSE_SIZE: Final = 4 * 1024 * 1024
#: Entries asked for per search page (each entry can be 64 KiB, 87 KiB as base64).
SEARCH_PAGE_SIZE: Final = 32
#: Default bound on the entries one search reads.
MAX_SEARCH_RESULTS: Final = 1000
#: Largest error body read (it only feeds a message).
_MAX_ERROR_BODY: Final = 64 * 1024
#: Longest part of an error body quoted in a message.
_MAX_QUOTED: Final = 300


class _MalformedError(Exception):
    """Internal: the response does not have the documented shape."""


@dataclass(frozen=True)
class SubmitResult:
    """The log's answer to a submission (not verified: see :func:`~notation_py.transparency.online.submit_and_prove`).

    Attributes:
        index: The entry's index.
        leaf_hash: The RFC 6962 leaf hash the log reports (checked against ``entry``).
        entry: The logged entry bytes (for a duplicate, as first logged).
        checkpoint_note: The signed checkpoint covering the entry.
        proof: The ``c2sp.org/tlog-proof@v1`` bytes the log returned.
        duplicate: The envelope was already logged (``200`` rather than ``201``).
    """

    index: int
    leaf_hash: bytes = field(repr=False)
    entry: bytes = field(repr=False)
    checkpoint_note: bytes = field(repr=False)
    proof: bytes = field(repr=False)
    duplicate: bool


class LogClient:
    """A client of one log, identified by its URL prefix (where ``/checkpoint`` is served).

    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        verify_tls: bool | ssl.SSLContext = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """Prepare a client (nothing is sent until the first call).

        Args:
            url: ``http(s)://host[:port][/prefix]``.
            token: Bearer token for submissions.
            timeout: Seconds allowed to connect and for each read, write and pool wait.
            verify_tls: ``True`` (the shared trust store), ``False`` (no verification: tests only) or a context.
            transport: An httpx transport (tests).

        Raises:
            UsageError: ``url`` is not an http(s) URL with a host, or ``timeout`` is not positive.
        """
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            raise UsageError(f"invalid transparency log URL {url!r}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise UsageError(f"invalid transparency log URL {url!r}: need http(s)://host[:port][/path]")
        if not timeout > 0:
            raise UsageError(f"transparency log timeout must be positive, got {timeout}")
        self._url = url.rstrip("/")
        self._token = token
        self._timeout = timeout
        verify: bool | ssl.SSLContext = ssl_context() if verify_tls is True else verify_tls
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout),
            verify=verify,
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": f"notation-py/{__version__}"},
        )

    @property
    def url(self) -> str:
        """The log's URL prefix, without a trailing slash."""
        return self._url

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LogClient({self._url!r})"

    # --- API ----------------------------------------------------------------------------------

    def submit(self, submission: Submission) -> SubmitResult:
        """``POST /v1/entries``: log a signature; the answer comes once the entry is checkpointed.

        Raises:
            TransparencyError: the log refused the submission (the message carries its reason) or
                could not be reached, or the answer is malformed.
        """
        what = f"submitting the signature of {submission.subject.digest}"
        headers = {"Content-Type": "application/json"}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        status, body = self._send("POST", "/v1/entries", what, content=submission.to_json(), headers=headers)
        with self._parsing(what):
            if status not in (200, 201):
                raise _MalformedError(f"unexpected status {status}")
            doc = _json_object(body)
            entry = _b64_field(doc, "entry", max_size=MAX_ENTRY_SIZE)
            reported = _b64_field(doc, "leafHash", size=HASH_SIZE)
            if reported != leaf_hash(entry):
                raise _MalformedError("leafHash is not the leaf hash of entry")
            return SubmitResult(
                index=_int_field(doc, "index"),
                leaf_hash=reported,
                entry=entry,
                checkpoint_note=_text_field(doc, "checkpoint", MAX_NOTE_SIZE),
                proof=_text_field(doc, "proof", MAX_PROOF_SIZE),
                duplicate=status == 200,
            )

    def checkpoint(self) -> bytes:
        """``GET /checkpoint``: the latest signed checkpoint note (not verified)."""
        return self._send("GET", "/checkpoint", "fetching the latest checkpoint", max_size=MAX_NOTE_SIZE)[1]

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """``GET /v1/proof/consistency``: the RFC 6962 consistency proof from tree size ``old`` to ``new``."""
        _check_sizes(old, new)
        what = f"fetching the consistency proof from tree size {old} to {new}"
        doc = self._get_json("/v1/proof/consistency", what, {"old": old, "new": new})
        with self._parsing(what):
            if _int_field(doc, "old") != old or _int_field(doc, "new") != new:
                raise _MalformedError(f"the proof is from {doc['old']} to {doc['new']}")
            return _hashes(doc, "hashes", 2 * MAX_AUDIT_PATH)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """``GET /v1/proof/inclusion``: the audit path of entry ``index`` in the tree of ``size`` entries."""
        _check_sizes(index, size)
        what = f"fetching the inclusion proof of entry {index} at tree size {size}"
        doc = self._get_json("/v1/proof/inclusion", what, {"index": index, "size": size})
        with self._parsing(what):
            if _int_field(doc, "index") != index or _int_field(doc, "treeSize") != size:
                raise _MalformedError(f"the proof is for entry {doc['index']} at tree size {doc['treeSize']}")
            return _hashes(doc, "hashes", MAX_AUDIT_PATH)

    def iter_search_digest(self, digest: str, *, max_results: int = MAX_SEARCH_RESULTS) -> Iterator[tuple[int, bytes]]:
        """``GET /v1/search?digest=``: ``(index, entry bytes)`` of the entries whose subject is ``digest``.

        Oldest first, page after page, lazily (stop iterating to stop reading).

        Raises:
            TransparencyError: more than ``max_results`` entries match, or a request fails.
        """
        what = f"searching the entries of {digest}"
        after = -1
        count = 0
        while True:
            params: dict[str, str | int] = {"digest": digest, "limit": SEARCH_PAGE_SIZE}
            if after >= 0:
                params["after"] = after
            doc = self._get_json("/v1/search", what, params)
            with self._parsing(what):
                page, following = _search_page(doc, after)
            for item in page:
                count += 1
                if count > max_results:
                    raise TransparencyError(
                        f"transparency log {self._url}: {what}: more than {max_results} entries match; stopped reading"
                    )
                yield item
            if following is None:
                return
            after = following

    def search_digest(self, digest: str, *, max_results: int = MAX_SEARCH_RESULTS) -> list[tuple[int, bytes]]:
        """Every ``(index, entry bytes)`` whose subject is ``digest`` (see :meth:`iter_search_digest`)."""
        return list(self.iter_search_digest(digest, max_results=max_results))

    def entry(self, index: int) -> bytes:
        """``GET /v1/entries/{index}``: the entry bytes (not verified)."""
        _check_sizes(index)
        what = f"fetching entry {index}"
        doc = self._get_json(f"/v1/entries/{index}", what)
        with self._parsing(what):
            if _int_field(doc, "index") != index:
                raise _MalformedError(f"the log answered entry {doc['index']}")
            data = _b64_field(doc, "entry", max_size=MAX_ENTRY_SIZE)
            if _b64_field(doc, "leafHash", size=HASH_SIZE) != leaf_hash(data):
                raise _MalformedError("leafHash is not the leaf hash of entry")
            return data

    def log_info(self) -> dict[str, Any]:
        """``GET /v1/log-info``: ``origin``, ``verifierKey``, ``size``, ``rootHash``, ``checkpoint`` (not verified)."""
        what = "fetching the log information"
        doc = self._get_json("/v1/log-info", what)
        with self._parsing(what):
            for name in ("origin", "verifierKey", "checkpoint"):
                if not isinstance(doc.get(name), str):
                    raise _MalformedError(f"{name} must be a string")
            _int_field(doc, "size")
            return doc

    # --- plumbing -----------------------------------------------------------------------------

    def _fail(self, what: str, reason: str) -> TransparencyError:
        return TransparencyError(f"transparency log {self._url}: {what} failed: {reason}")

    @contextlib.contextmanager
    def _parsing(self, what: str) -> Iterator[None]:
        try:
            yield
        except _MalformedError as exc:
            raise self._fail(what, f"malformed response: {exc}") from None

    def _get_json(self, path: str, what: str, params: Mapping[str, str | int] | None = None) -> dict[str, Any]:
        body = self._send("GET", path, what, params=params)[1]
        with self._parsing(what):
            return _json_object(body)

    def _send(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: Mapping[str, str | int] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        max_size: int = MAX_RESPONSE_SIZE,
    ) -> tuple[int, bytes]:
        """Send one request; the status and the (bounded) body of a 2xx answer."""
        deadline = current_deadline()
        activity = f"{what} at transparency log {self._url}"
        if deadline is not None:
            deadline.check(activity)
        timeout = capped_timeout(httpx.Timeout(self._timeout), deadline)
        try:
            with self._http.stream(
                method, self._url + path, params=params, content=content, headers=headers, timeout=timeout
            ) as response:
                if not 200 <= response.status_code < 300:
                    body = self._read(
                        response, _MAX_ERROR_BODY, what, truncate=True, deadline=deadline, activity=activity
                    )
                    raise self._fail(what, _status_reason(response, body))
                return response.status_code, self._read(response, max_size, what, deadline=deadline, activity=activity)
        except httpx.TimeoutException:
            if timed_out_by(deadline):
                assert deadline is not None
                raise deadline.exceeded(activity) from None
            raise self._fail(what, f"no answer within {self._timeout:g} s") from None
        except httpx.ConnectError as exc:
            raise self._fail(what, f"cannot connect ({exc or 'connection failed'})") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # the connection broke, a bad encoding, …
            raise self._fail(what, f"{type(exc).__name__}: {exc}") from None

    def _read(
        self,
        response: httpx.Response,
        max_size: int,
        what: str,
        *,
        truncate: bool = False,
        deadline: Deadline | None = None,
        activity: str = "",
    ) -> bytes:
        length = response.headers.get("content-length")
        if not truncate and length is not None and length.isdigit() and int(length) > max_size:
            raise self._fail(what, f"the response is {length} bytes, more than the {max_size} accepted")
        chunks: list[bytes] = []
        total = 0
        with body_within(response, deadline, activity or what) as body:
            for chunk in body:
                chunks.append(chunk)
                total += len(chunk)
                if total > max_size:
                    if truncate:
                        break
                    raise self._fail(what, f"the response is larger than the {max_size} bytes accepted")
        return b"".join(chunks)[:max_size]


# --- response parsing ----------------------------------------------------------------------------


def _status_reason(response: httpx.Response, body: bytes) -> str:
    """``the log answered 400 invalid_entry: <detail>`` from a JSON error body, else a snippet of it."""
    status = f"the log answered {response.status_code} {response.reason_phrase}".rstrip()
    try:
        doc = strict_loads(body)
    except JSONFormatError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("error"), str):
        detail = doc.get("detail")
        text = f"the log answered {response.status_code} {doc['error']}"
        return f"{text}: {_quote(detail)}" if isinstance(detail, str) and detail else text
    snippet = _quote(body.decode("utf-8", "replace"))
    return f"{status}: {snippet}" if snippet else status


def _quote(text: str) -> str:
    """Printable, whitespace-collapsed and shortened: safe to put in a one-line message."""
    cleaned = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return cleaned if len(cleaned) <= _MAX_QUOTED else cleaned[:_MAX_QUOTED] + "…"


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        doc = strict_loads(body)
    except JSONFormatError as exc:
        raise _MalformedError(f"not JSON: {exc.message}") from None
    if not isinstance(doc, dict):
        raise _MalformedError("not a JSON object")
    return doc


def _int_field(doc: Mapping[str, Any], name: str) -> int:
    value = doc.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TREE_SIZE:
        raise _MalformedError(f"{name} must be an integer between 0 and 2^64-1")
    return value


def _b64_field(doc: Mapping[str, Any], name: str, *, size: int | None = None, max_size: int | None = None) -> bytes:
    value = doc.get(name)
    if not isinstance(value, str):
        raise _MalformedError(f"{name} must be a base64 string")
    try:
        raw = b64decode_strict(value, name)
    except FormatError as exc:
        raise _MalformedError(exc.message) from None
    if size is not None and len(raw) != size:
        raise _MalformedError(f"{name} is {len(raw)} bytes, not {size}")
    if max_size is not None and not 0 < len(raw) <= max_size:
        raise _MalformedError(f"{name} must hold 1 to {max_size} bytes")
    return raw


def _text_field(doc: Mapping[str, Any], name: str, max_size: int) -> bytes:
    value = doc.get(name)
    if not isinstance(value, str) or not value:
        raise _MalformedError(f"{name} must be a non-empty string")
    data = value.encode("utf-8", "surrogatepass")
    if len(data) > max_size:
        raise _MalformedError(f"{name} is larger than {max_size} bytes")
    return data


def _hashes(doc: Mapping[str, Any], name: str, max_count: int) -> list[bytes]:
    value = doc.get(name)
    if not isinstance(value, list) or len(value) > max_count:
        raise _MalformedError(f"{name} must be a list of at most {max_count} base64 hashes")
    return [_b64_field({name: item}, name, size=HASH_SIZE) for item in value]


def _search_page(doc: Mapping[str, Any], after: int) -> tuple[list[tuple[int, bytes]], int | None]:
    """The entries of one search page and the ``after`` of the next (``None``: last page).

    Indices must increase and lie beyond ``after``, and ``next`` beyond them, so a misbehaving log
    cannot make the client loop.
    """
    items = doc.get("entries")
    if not isinstance(items, list) or len(items) > SEARCH_PAGE_SIZE:
        raise _MalformedError(f"entries must be a list of at most {SEARCH_PAGE_SIZE} entries")
    page: list[tuple[int, bytes]] = []
    last = after
    for item in items:
        if not isinstance(item, dict):
            raise _MalformedError("every search result must be a JSON object")
        index = _int_field(item, "index")
        if index <= last:
            raise _MalformedError("search results are not in increasing index order")
        data = _b64_field(item, "entry", max_size=MAX_ENTRY_SIZE)
        if _b64_field(item, "leafHash", size=HASH_SIZE) != leaf_hash(data):
            raise _MalformedError(f"the leafHash of entry {index} is not the leaf hash of its bytes")
        page.append((index, data))
        last = index
    following = doc.get("next")
    if following is None:
        return page, None
    if not page or _int_field(doc, "next") < last:
        raise _MalformedError("next must follow the entries of the page")
    return page, following


def _check_sizes(*values: int) -> None:
    for value in values:
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TREE_SIZE:
            raise UsageError(f"invalid tree size or index {value!r}")


__all__ = ["MAX_RESPONSE_SIZE", "MAX_SEARCH_RESULTS", "SEARCH_PAGE_SIZE", "LogClient", "SubmitResult"]
