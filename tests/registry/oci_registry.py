"""The in-process OCI registry of the tests: distribution-spec 1.1, including the referrers API.

One registry serves two kinds of tests. Client unit tests put it behind ``httpx.MockTransport``
(:meth:`OCIRegistry.handle`, :meth:`OCIRegistry.registry_client`) at the made-up host :data:`HOST`;
end-to-end tests serve it on a loopback port (:attr:`OCIRegistry.app` is an ASGI app;
``tests.registry.servers.start_oci_registry`` and the ``oci_registry`` fixture run it with uvicorn).
Either way the same code answers, keeping per repository the blobs, the manifests (exact bytes and
the media type they were pushed with) and the tags, and implementing:

* ``GET /v2/`` (200 ``{}``);
* blobs: ``HEAD``/``GET``/``DELETE /v2/<name>/blobs/<digest>`` with ``Docker-Content-Digest``;
* uploads: ``POST /v2/<name>/blobs/uploads/`` (202 + ``Location``; ``?digest=`` with the body is a
  single-request monolithic upload, 201; ``?mount=&from=`` mounts a blob of another repository, or
  falls back to a new session), ``PATCH`` chunks (``Content-Range`` checked when given, 416 when out
  of order), ``GET`` status (204), ``DELETE`` (cancel) and ``PUT <location>&digest=`` (201, the
  digest verified). The upload ``Location`` carries an opaque ``_state`` query parameter that must
  come back, as distribution's does, so a client that replaces the query instead of appending
  ``digest=`` to it fails here too;
* manifests: ``HEAD``/``GET``/``PUT``/``DELETE /v2/<name>/manifests/<tag|digest>``, served exactly as
  pushed, with ``Docker-Content-Digest`` and the pushed ``Content-Type``. A PUT checks that the body
  is a JSON object whose ``mediaType`` (if any) agrees with ``Content-Type``, that a digest in the
  URL matches, and that the blobs and manifests it references exist (``MANIFEST_BLOB_UNKNOWN``; the
  ``subject`` need not exist). A manifest with a ``subject`` is answered with ``OCI-Subject``;
* ``GET /v2/<name>/referrers/<digest>[?artifactType=]``: an image index of the referrers'
  descriptors (``artifactType`` falling back to the config media type, ``annotations``), filtered
  with ``OCI-Filters-Applied: artifactType`` when asked, in pages of
  :attr:`OCIRegistryOptions.page_size` linked with ``Link: <...>; rel="next"``. An unknown subject
  answers an empty index (200), never 404;
* ``GET /v2/<name>/tags/list[?n=&last=]`` in lexical order, with ``Link`` pagination when ``n`` is given.

Errors have the spec's body ``{"errors": [{"code", "message", "detail"}]}`` and its codes
(``BLOB_UNKNOWN``, ``BLOB_UPLOAD_INVALID``, ``BLOB_UPLOAD_UNKNOWN``, ``DIGEST_INVALID``,
``MANIFEST_BLOB_UNKNOWN``, ``MANIFEST_INVALID``, ``MANIFEST_UNKNOWN``, ``NAME_INVALID``,
``NAME_UNKNOWN``, ``SIZE_INVALID``, ``UNAUTHORIZED``, ``UNSUPPORTED``, ``TOOMANYREQUESTS``); where
the spec names none, distribution's (``UNAVAILABLE`` for 503, ``PAGINATION_NUMBER_INVALID``). A path
the registry does not know gets distribution's plain-text router 404.

Behaviour switches live in :class:`OCIRegistryOptions` (change them at any time through
:attr:`OCIRegistry.options`): no referrers API (a registry like distribution 2.8: router 404 and no
``OCI-Subject``), no server-side filtering, no content headers on manifest ``HEAD``, deletion
disabled, lying about content, failing the first N requests with 503/429 and ``Retry-After``,
absolute ``Location``/``Link`` URLs, an ``intercept`` that answers (or lies, or raises) before the
registry does, and auth: HTTP Basic, or Bearer tokens from a token service (Docker token GET with
Basic credentials or anonymous, OAuth2 ``refresh_token`` POST) at :attr:`OCIRegistry.token_realm`,
scoped per repository and action with ``insufficient_scope`` challenges. Every request is recorded
(:attr:`OCIRegistry.requests`, token requests apart in :attr:`OCIRegistry.token_requests`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import httpx
from starlette.types import Receive, Scope, Send

from notation_py.oci.registry import RegistryClient, RegistryOptions
from notation_py.oci.registry.credentials import CredentialSource

#: Host name of the registry behind ``httpx.MockTransport`` (the client treats it as insecure: HTTP).
HOST = "registry.test"
#: Token realm behind ``httpx.MockTransport`` (served registries use ``<url>/token``).
TOKEN_REALM = "https://auth.test/token"
#: ``service`` of the Bearer challenges.
SERVICE = "registry.test"
#: ``realm`` of the Basic challenge.
BASIC_REALM = "oci-registry"

MEDIA_TYPE_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_TYPE_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_TYPE_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_TYPE_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
IMAGE_MANIFEST_TYPES = frozenset({MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST})
INDEX_TYPES = frozenset({MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_DOCKER_LIST})

#: Manifests larger than this are refused with 413 (the spec asks registries to accept at least 4 MiB).
MAX_MANIFEST_SIZE = 4 * 1024 * 1024

_NAME_RE = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$")
_TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
_DIGEST_RE = re.compile(r"^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")
_HASHES: dict[str, Callable[[bytes], Any]] = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}
_ROUTE_RE = re.compile(
    r"^/v2/(?P<name>.+?)/(?:"
    r"blobs/uploads/(?P<upload>[^/]*)"
    r"|blobs/(?P<blob>[^/]+)"
    r"|manifests/(?P<reference>[^/]+)"
    r"|referrers/(?P<subject>[^/]+)"
    r"|(?P<tags>tags/list)"
    r")$"
)

#: ``(digest, true content) -> bytes to serve instead, or None to tell the truth``.
LieHook = Callable[[str, bytes], bytes | None]
#: ``(method, path) -> whether this request should be failed`` (while :attr:`OCIRegistryOptions.fail_first` lasts).
FailMatch = Callable[[str, str], bool]
#: Called with every request (registry and token service) first; a response it returns is used as is,
#: an exception it raises reaches the client as a transport error (in-process) or a 500 (served).
Intercept = Callable[[httpx.Request], httpx.Response | None]
AuthMode = Literal["none", "basic", "bearer"]


def compute_digest(data: bytes, algorithm: str = "sha256") -> str:
    """``<algorithm>:<hex>`` of ``data``."""
    return f"{algorithm}:{_HASHES[algorithm](data).hexdigest()}"


def error_response(
    status: int, code: str, message: str, detail: Any = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    """A distribution-spec error: ``{"errors": [{"code", "message", "detail"}]}``."""
    return httpx.Response(
        status, json={"errors": [{"code": code, "message": message, "detail": detail}]}, headers=headers
    )


def default_lie(digest: str, content: bytes) -> bytes:
    """Plausible but different bytes: JSON objects gain an annotation (still valid JSON), others a byte."""
    try:
        document = json.loads(content)
    except ValueError:
        document = None
    if isinstance(document, dict):
        annotations = document.get("annotations")
        annotations = dict(annotations) if isinstance(annotations, dict) else {}
        annotations["io.notation-py.test.lie"] = digest
        document["annotations"] = annotations
        return json.dumps(document, separators=(",", ":")).encode()
    return content + b"!"


@dataclass
class OCIRegistryOptions:
    """Behaviour switches of :class:`OCIRegistry`; they may be changed while it serves."""

    #: Serve ``/v2/<name>/referrers/<digest>`` and answer ``OCI-Subject``; False behaves like
    #: distribution 2.8 (router 404 ``text/plain``, no ``OCI-Subject``).
    referrers_api: bool = True
    #: Apply ``?artifactType=`` (and say so with ``OCI-Filters-Applied``); False ignores the filter.
    referrers_filtering: bool = True
    #: Referrers per page; more are linked with ``Link: <...>; rel="next"``.
    page_size: int = 2
    #: Send ``Content-Type`` and ``Docker-Content-Digest`` on manifest ``HEAD`` (False: only ``Content-Length``).
    head_headers: bool = True
    #: Allow ``DELETE`` of manifests (False: 405 ``UNSUPPORTED``, as registries with deletion disabled answer).
    delete_enabled: bool = True
    #: Refuse manifests whose config, layers or index entries are not in the repository.
    check_references: bool = True
    #: Upload ``Location`` and ``Link`` headers as absolute URLs (distribution's habit) instead of relative.
    absolute_locations: bool = False
    #: Serve different bytes than were stored for every manifest and blob GET (headers still claim the
    #: stored digest). Uses :attr:`lie_hook` when set, :func:`default_lie` otherwise.
    lie: bool = False
    #: Per-digest lie (active even when :attr:`lie` is False): return replacement bytes or None.
    lie_hook: LieHook | None = None
    #: Fail this many registry requests (those :attr:`fail_match` selects, all by default) before serving.
    fail_first: int = 0
    #: Status of those failures (503 or 429 usually).
    fail_status: int = 503
    #: ``Retry-After`` value sent with the failures (None: no header).
    retry_after: str | None = "0"
    #: Which requests count for :attr:`fail_first`.
    fail_match: FailMatch | None = None
    #: Answers (or raises) before the registry: see :data:`Intercept`.
    intercept: Intercept | None = None
    #: ``"basic"``: HTTP Basic on every request; ``"bearer"``: tokens from the token service.
    auth: AuthMode = "none"
    #: Accepted user -> password (Basic, and the token service's Basic credentials).
    users: dict[str, str] = field(default_factory=lambda: {"alice": "secret"})
    #: Accepted OAuth2 refresh (identity) tokens -> user.
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    #: Bearer: anonymous tokens may pull.
    anonymous_pull: bool = False
    #: Bearer realm; None: :data:`TOKEN_REALM` in-process, ``<base url>/token`` when served.
    token_realm: str | None = None


@dataclass
class StoredManifest:
    """A manifest as pushed: exact bytes and media type, plus what the referrers API needs."""

    digest: str
    media_type: str
    content: bytes
    subject: str | None
    artifact_type: str | None
    annotations: dict[str, str] | None
    seq: int

    def descriptor(self) -> dict[str, Any]:
        """The descriptor of this manifest as the referrers API lists it."""
        desc: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": len(self.content)}
        if self.artifact_type:
            desc["artifactType"] = self.artifact_type
        if self.annotations:
            desc["annotations"] = self.annotations
        return desc


@dataclass
class Repository:
    """One repository's content (tests may read and change it directly)."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    manifests: dict[str, StoredManifest] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Upload:
    """An upload session in progress."""

    name: str
    state: str
    data: bytearray = field(default_factory=bytearray)


@dataclass
class Token:
    """A token the token service issued: granted scopes (``repository:<name>:<actions>``) and user."""

    scopes: tuple[str, ...]
    user: str | None


@dataclass
class RecordedRequest:
    """One request the registry (or its token service) received, and the status it was answered with."""

    method: str
    url: httpx.URL
    headers: httpx.Headers
    content: bytes
    #: 0 until answered, and when an intercept raised instead of answering.
    status: int = 0

    @property
    def path(self) -> str:
        """The URL path."""
        return self.url.path

    @property
    def query(self) -> str:
        """The raw query string."""
        return self.url.query.decode("ascii")

    @property
    def params(self) -> httpx.QueryParams:
        """The query parameters."""
        return self.url.params


class _Reply(Exception):  # noqa: N818 -- control flow, not an error
    """Raised inside a handler to answer at once."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _fail(status: int, code: str, message: str, detail: Any = None) -> _Reply:
    return _Reply(error_response(status, code, message, detail))


def _not_found_page() -> httpx.Response:
    """What distribution's router answers for a path it does not know."""
    return httpx.Response(404, text="404 page not found\n")


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    """``(user, password)`` from an ``Authorization: Basic`` header, or None when absent or not Basic."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def _parse_scope(scope: str) -> tuple[str, str, set[str]]:
    """``type:name:actions`` (the name may hold colons) -> (type, name, actions)."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    return kind, name, {a for a in actions.split(",") if a}


class OCIRegistry:
    """State, request handler (:meth:`handle`) and ASGI app (:attr:`app`) of the in-process registry."""

    def __init__(self, options: OCIRegistryOptions | None = None, /, **changes: Any) -> None:
        """An empty registry with ``options`` (default :class:`OCIRegistryOptions`) and ``changes`` applied."""
        self.options = replace(options or OCIRegistryOptions(), **changes)
        #: Base URL (``http://127.0.0.1:PORT``) once served; used for absolute locations and the token realm.
        self.base_url = ""
        self.repositories: dict[str, Repository] = {}
        self.uploads: dict[str, Upload] = {}
        #: Tokens the token service issued (tests may add their own) -> what they grant.
        self.tokens: dict[str, Token] = {}
        #: How many requests :attr:`OCIRegistryOptions.fail_first` has failed so far.
        self.failures_served = 0
        self._requests: list[RecordedRequest] = []
        self._token_requests: list[RecordedRequest] = []
        self._seq = 0
        self._lock = threading.RLock()

    # ----------------------------------------------------------------- inspection and seeding

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the registry requests received so far, oldest first (token requests apart)."""
        with self._lock:
            return list(self._requests)

    @property
    def token_requests(self) -> list[RecordedRequest]:
        """A copy of the token service's requests so far, oldest first."""
        with self._lock:
            return list(self._token_requests)

    def seen(self, method: str, path_prefix: str = "") -> list[RecordedRequest]:
        """The recorded registry requests with ``method`` whose path starts with ``path_prefix``."""
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def clear_requests(self) -> None:
        """Forget the recorded requests (token requests too)."""
        with self._lock:
            self._requests.clear()
            self._token_requests.clear()

    @property
    def token_realm(self) -> str:
        """The Bearer realm the challenges name."""
        if self.options.token_realm:
            return self.options.token_realm
        return f"{self.base_url}/token" if self.base_url else TOKEN_REALM

    def repository(self, name: str) -> Repository:
        """The content of repository ``name`` (created empty if it has none)."""
        with self._lock:
            return self.repositories.setdefault(name, Repository())

    def add_blob(self, name: str, data: bytes) -> str:
        """Store a blob directly (no HTTP); returns its sha256 digest."""
        digest = compute_digest(data)
        with self._lock:
            self.repository(name).blobs[digest] = bytes(data)
        return digest

    def add_manifest(self, name: str, content: bytes, media_type: str, tag: str | None = None) -> str:
        """Store a manifest directly (no HTTP, no reference checks); returns its sha256 digest."""
        document = json.loads(content)
        with self._lock:
            return self._store_manifest(name, content, media_type, document, tag, None)

    def manifest(self, name: str, reference: str) -> StoredManifest | None:
        """The stored manifest for a tag or digest, or None."""
        with self._lock:
            repo = self.repositories.get(name)
            if repo is None:
                return None
            digest = reference if _DIGEST_RE.match(reference) else repo.tags.get(reference)
            return repo.manifests.get(digest) if digest else None

    def referrers(self, name: str, subject: str, artifact_type: str | None = None) -> list[StoredManifest]:
        """Stored manifests whose ``subject`` is ``subject``, in push order."""
        with self._lock:
            repo = self.repositories.get(name)
            if repo is None:
                return []
            found = {m.digest: m for m in repo.manifests.values() if m.subject == subject}
        selected = [m for m in found.values() if artifact_type is None or m.artifact_type == artifact_type]
        return sorted(selected, key=lambda m: m.seq)

    def registry_client(
        self, credentials: CredentialSource | None = None, **options: Any
    ) -> tuple[RegistryClient, list[float]]:
        """A project client wired in-process to this registry at :data:`HOST` and the list of its sleeps.

        ``options`` are :class:`~notation_py.oci.registry.RegistryOptions` fields (plain HTTP to
        :data:`HOST` by default); sleeps are recorded instead of slept, and retry jitter is fixed at 0.5.
        """
        sleeps: list[float] = []
        options.setdefault("insecure_registries", (HOST,))
        client = RegistryClient(
            RegistryOptions(**options),
            credentials,
            transport=httpx.MockTransport(self.handle),
            sleep=sleeps.append,
            jitter=lambda: 0.5,
        )
        return client, sleeps

    # ----------------------------------------------------------------- transports

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (the handler of ``httpx.MockTransport``; :attr:`app` uses it too)."""
        content = request.read()
        is_token = self._is_token_endpoint(request.url)
        record = RecordedRequest(request.method, request.url, httpx.Headers(request.headers), content)
        with self._lock:
            (self._token_requests if is_token else self._requests).append(record)
        response: httpx.Response | None = None
        intercept = self.options.intercept
        if intercept is not None:
            response = intercept(request)
        if response is None:
            try:
                response = self._token(request, content) if is_token else self._serve(request, content)
            except _Reply as reply:
                response = reply.response
        if not is_token:
            response.headers.setdefault("Docker-Distribution-Api-Version", "registry/2.0")
        record.status = response.status_code
        return response

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The registry as an ASGI application (serve it with ``tests.registry.servers.start_oci_registry``)."""
        if scope["type"] != "http":
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            body.extend(message.get("body", b""))
            more = message.get("more_body", False)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        host = next((v for k, v in headers if k.lower() == "host"), None)
        if host is None:
            server_host, server_port = scope["server"]
            host = f"{server_host}:{server_port}"
        query = scope.get("query_string", b"").decode("latin-1")
        path = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        url = f"{scope['scheme']}://{host}{path}" + (f"?{query}" if query else "")
        request = httpx.Request(scope["method"], url, headers=headers, content=bytes(body))
        try:
            response = self.handle(request)
            content = response.read()
        except Exception as exc:  # an intercept raised: what a broken server does
            response = error_response(500, "UNKNOWN", f"intercept raised {exc!r}")
            content = response.read()
        if "content-length" not in response.headers:
            response.headers["Content-Length"] = str(len(content))
        raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.multi_items()]
        await send({"type": "http.response.start", "status": response.status_code, "headers": raw_headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else content})

    def _is_token_endpoint(self, url: httpx.URL) -> bool:
        if self.options.auth != "bearer":
            return False
        realm = httpx.URL(self.token_realm)
        return (url.host, url.port, url.path) == (realm.host, realm.port, realm.path)

    # ----------------------------------------------------------------- dispatch

    def _serve(self, request: httpx.Request, body: bytes) -> httpx.Response:
        opts = self.options
        method, path = request.method, request.url.path
        with self._lock:
            should_fail = self.failures_served < opts.fail_first and (
                opts.fail_match is None or opts.fail_match(method, path)
            )
            if should_fail:
                self.failures_served += 1
        if should_fail:
            headers = {"Retry-After": opts.retry_after} if opts.retry_after is not None else None
            code = "TOOMANYREQUESTS" if opts.fail_status == 429 else "UNAVAILABLE"
            return error_response(opts.fail_status, code, "try again later", None, headers)

        if path == "/v2/":
            self._authorize(request, None, ())
            if method not in ("GET", "HEAD"):
                return _not_found_page()
            return httpx.Response(200, json={})
        match = _ROUTE_RE.match(path)
        if match is None:
            return _not_found_page()
        name = match["name"]
        if match["subject"] is not None and not opts.referrers_api:
            return _not_found_page()
        if method == "DELETE":
            actions: tuple[str, ...] = ("delete",)
        elif method in ("PUT", "POST", "PATCH"):
            actions = ("pull", "push")
        else:
            actions = ("pull",)
        self._authorize(request, name, actions)
        if not _NAME_RE.match(name):
            raise _fail(400, "NAME_INVALID", "invalid repository name", {"name": name})
        with self._lock:
            if match["upload"] is not None:
                return self._uploads(request, body, name, match["upload"])
            if match["blob"] is not None:
                return self._blobs(method, name, match["blob"])
            if match["reference"] is not None:
                return self._manifests(request, body, name, match["reference"])
            if match["subject"] is not None:
                return self._referrers(request, name, match["subject"])
            return self._tags(request, name)

    # ----------------------------------------------------------------- auth

    def _authorize(self, request: httpx.Request, name: str | None, actions: tuple[str, ...]) -> None:
        """Return when the request may go on; raise a 401 with the right challenge otherwise."""
        opts = self.options
        header = request.headers.get("authorization", "")
        if opts.auth == "none":
            return
        if opts.auth == "basic":
            credentials = _basic_credentials(header)
            if credentials is not None and self._password_ok(*credentials):
                return
            raise _Reply(
                error_response(
                    401,
                    "UNAUTHORIZED",
                    "authentication required",
                    None,
                    {"WWW-Authenticate": f'Basic realm="{BASIC_REALM}"'},
                )
            )
        needed = f"repository:{name}:{','.join(actions)}" if name else ""
        realm = f'Bearer realm="{self.token_realm}",service="{SERVICE}"'
        if header.startswith("Bearer "):
            with self._lock:
                token = self.tokens.get(header[len("Bearer ") :])
            if token is not None and (name is None or self._granted(token, name, actions)):
                return
            if token is not None:
                challenge = f'{realm},scope="{needed}",error="insufficient_scope"'
                raise _Reply(
                    error_response(
                        401, "UNAUTHORIZED", "authentication required", None, {"WWW-Authenticate": challenge}
                    )
                )
        challenge = realm + (f',scope="{needed}"' if needed else "")
        raise _Reply(
            error_response(401, "UNAUTHORIZED", "authentication required", None, {"WWW-Authenticate": challenge})
        )

    def _password_ok(self, user: str, password: str) -> bool:
        expected = self.options.users.get(user)
        return expected is not None and hmac.compare_digest(expected.encode(), password.encode())

    @staticmethod
    def _granted(token: Token, name: str, actions: tuple[str, ...]) -> bool:
        for scope in token.scopes:
            kind, granted_name, granted = _parse_scope(scope)
            if kind == "repository" and granted_name == name and set(actions) <= granted:
                return True
        return False

    def _token(self, request: httpx.Request, body: bytes) -> httpx.Response:
        """The token service: Docker token GET (Basic or anonymous) or OAuth2 refresh-token POST."""
        opts = self.options
        user: str | None = None
        if request.method == "POST":
            form = dict(urllib.parse.parse_qsl(body.decode()))
            if form.get("grant_type") != "refresh_token" or form.get("refresh_token") not in opts.refresh_tokens:
                return httpx.Response(401, json={"error": "invalid_grant"})
            user = opts.refresh_tokens[form["refresh_token"]]
            scopes: Sequence[str] = form.get("scope", "").split()
        elif request.method == "GET":
            credentials = _basic_credentials(request.headers.get("authorization"))
            if credentials is not None:
                if not self._password_ok(*credentials):
                    return httpx.Response(401, json={"details": "incorrect username or password"})
                user = credentials[0]
            scopes = [s for value in request.url.params.get_list("scope") for s in value.split()]
        else:
            return httpx.Response(405)
        granted = []
        for scope in scopes:
            kind, name, allowed = _parse_scope(scope)
            if user is None:
                allowed &= {"pull"} if opts.anonymous_pull else set()
            if allowed:
                granted.append(f"{kind}:{name}:{','.join(sorted(allowed))}")
        value = uuid.uuid4().hex
        with self._lock:
            self.tokens[value] = Token(tuple(granted), user)
        key = "access_token" if request.method == "POST" else "token"
        return httpx.Response(200, json={key: value, "expires_in": 300})

    # ----------------------------------------------------------------- blobs

    def _blobs(self, method: str, name: str, digest: str) -> httpx.Response:
        if not _DIGEST_RE.match(digest):
            raise _fail(400, "DIGEST_INVALID", "invalid digest", {"digest": digest})
        repo = self.repositories.get(name)
        data = repo.blobs.get(digest) if repo else None
        if data is None:
            if method == "HEAD":
                return httpx.Response(404)
            raise _fail(404, "BLOB_UNKNOWN", "blob unknown to registry", {"digest": digest})
        if method == "DELETE":
            assert repo is not None
            del repo.blobs[digest]
            return httpx.Response(202)
        if method not in ("GET", "HEAD"):
            raise _fail(405, "UNSUPPORTED", "method not allowed")
        headers = {"Content-Type": "application/octet-stream", "Docker-Content-Digest": digest, "ETag": f'"{digest}"'}
        if method == "HEAD":
            return httpx.Response(200, headers=headers | {"Content-Length": str(len(data))})
        return httpx.Response(200, headers=headers, content=self._maybe_lie(digest, data))

    def _uploads(self, request: httpx.Request, body: bytes, name: str, session: str) -> httpx.Response:
        method, params = request.method, request.url.params
        if session == "":
            if method != "POST":
                raise _fail(405, "UNSUPPORTED", "method not allowed")
            mount, source = params.get("mount"), params.get("from")
            if mount and source:
                src = self.repositories.get(source)
                if src is not None and mount in src.blobs:
                    self.repository(name).blobs[mount] = src.blobs[mount]
                    return self._blob_created(name, mount)
            digest = params.get("digest")
            if digest is not None:
                self._verify_digest(digest, body)
                self.repository(name).blobs[digest] = body
                return self._blob_created(name, digest)
            session = uuid.uuid4().hex
            started = Upload(name, uuid.uuid4().hex)
            self.uploads[session] = started
            return self._upload_status(202, session, started)

        upload = self.uploads.get(session)
        if upload is None or upload.name != name:
            raise _fail(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", {"session": session})
        if method == "DELETE":
            del self.uploads[session]
            return httpx.Response(204)
        if method == "GET":
            return self._upload_status(204, session, upload)
        if params.get("_state") != upload.state:
            raise _fail(400, "BLOB_UPLOAD_INVALID", "upload state (_state) missing from the upload URL")
        if method == "PATCH":
            self._append_chunk(request, session, upload, body)
            return self._upload_status(202, session, upload)
        if method == "PUT":
            digest = params.get("digest")
            if not digest:
                raise _fail(400, "DIGEST_INVALID", "digest parameter missing")
            if body:
                self._append_chunk(request, session, upload, body)
            data = bytes(upload.data)
            self._verify_digest(digest, data)
            del self.uploads[session]
            self.repository(name).blobs[digest] = data
            return self._blob_created(name, digest)
        raise _fail(405, "UNSUPPORTED", "method not allowed")

    def _append_chunk(self, request: httpx.Request, session: str, upload: Upload, body: bytes) -> None:
        content_range = request.headers.get("content-range")
        if content_range:
            m = re.fullmatch(r"(?:bytes[ =])?(\d+)-(\d+)", content_range.strip())
            if m is None or int(m[1]) != len(upload.data) or int(m[2]) != len(upload.data) + len(body) - 1:
                raise _Reply(
                    httpx.Response(
                        416,
                        headers={
                            "Location": self._upload_location(session, upload),
                            "Range": f"0-{max(len(upload.data) - 1, 0)}",
                            "Blob-Upload-Session-ID": session,
                        },
                    )
                )
        upload.data.extend(body)

    def _verify_digest(self, digest: str, data: bytes) -> None:
        if not _DIGEST_RE.match(digest):
            raise _fail(400, "DIGEST_INVALID", "invalid digest", {"digest": digest})
        algorithm = digest.split(":", 1)[0]
        if compute_digest(data, algorithm) != digest:
            raise _fail(400, "DIGEST_INVALID", "provided digest did not match uploaded content", {"digest": digest})

    def _absolute(self, path: str) -> str:
        return self.base_url + path if self.options.absolute_locations else path

    def _link(self, path: str, query: dict[str, str]) -> str:
        return self._absolute(f"{path}?{urllib.parse.urlencode(query)}")

    def _upload_location(self, session: str, upload: Upload) -> str:
        return self._link(f"/v2/{upload.name}/blobs/uploads/{session}", {"_state": upload.state})

    def _upload_status(self, status: int, session: str, upload: Upload) -> httpx.Response:
        return httpx.Response(
            status,
            headers={
                "Location": self._upload_location(session, upload),
                "Range": f"0-{max(len(upload.data) - 1, 0)}",
                "Blob-Upload-Session-ID": session,
                "Docker-Upload-UUID": session,
                "Content-Length": "0",
            },
        )

    def _blob_created(self, name: str, digest: str) -> httpx.Response:
        location = self._absolute(f"/v2/{name}/blobs/{digest}")
        return httpx.Response(
            201, headers={"Location": location, "Docker-Content-Digest": digest, "Content-Length": "0"}
        )

    # ----------------------------------------------------------------- manifests

    def _manifests(self, request: httpx.Request, body: bytes, name: str, reference: str) -> httpx.Response:
        method = request.method
        is_digest = _DIGEST_RE.match(reference) is not None
        if not is_digest and not _TAG_RE.match(reference):
            raise _fail(400, "MANIFEST_INVALID", "invalid tag or digest", {"reference": reference})
        if method == "PUT":
            return self._put_manifest(request, body, name, reference, is_digest)
        repo = self.repositories.get(name)
        digest = reference if is_digest else (repo.tags.get(reference) if repo else None)
        stored = repo.manifests.get(digest) if repo and digest else None
        if stored is None:
            if method == "HEAD":
                return httpx.Response(404)
            raise _fail(404, "MANIFEST_UNKNOWN", "manifest unknown to registry", {"reference": reference})
        if method == "DELETE":
            assert repo is not None
            if not self.options.delete_enabled:
                raise _fail(405, "UNSUPPORTED", "The operation is unsupported.")
            if is_digest:
                for key in [k for k, m in repo.manifests.items() if m is stored]:
                    del repo.manifests[key]
                for tag in [t for t, d in repo.tags.items() if d == stored.digest]:
                    del repo.tags[tag]
            else:
                del repo.tags[reference]
            return httpx.Response(202)
        if method not in ("GET", "HEAD"):
            raise _fail(405, "UNSUPPORTED", "method not allowed")
        headers = {
            "Content-Type": stored.media_type,
            "Docker-Content-Digest": stored.digest,
            "ETag": f'"{stored.digest}"',
        }
        if method == "HEAD":
            if not self.options.head_headers:
                headers = {}
            return httpx.Response(200, headers=headers | {"Content-Length": str(len(stored.content))})
        return httpx.Response(200, headers=headers, content=self._maybe_lie(stored.digest, stored.content))

    def _put_manifest(
        self, request: httpx.Request, body: bytes, name: str, reference: str, is_digest: bool
    ) -> httpx.Response:
        if len(body) > MAX_MANIFEST_SIZE:
            raise _fail(413, "SIZE_INVALID", "manifest too large", {"size": len(body)})
        try:
            document = json.loads(body)
        except ValueError as exc:
            raise _fail(400, "MANIFEST_INVALID", "manifest is not JSON", {"error": str(exc)}) from None
        if not isinstance(document, dict):
            raise _fail(400, "MANIFEST_INVALID", "manifest is not a JSON object")
        content_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip()
        body_type = document.get("mediaType")
        if body_type is not None and content_type and body_type != content_type:
            raise _fail(
                400,
                "MANIFEST_INVALID",
                "mediaType in the manifest does not match Content-Type",
                {"mediaType": body_type, "contentType": content_type},
            )
        media_type = content_type or body_type
        if not isinstance(media_type, str) or not media_type:
            raise _fail(400, "MANIFEST_INVALID", "no Content-Type and no mediaType in the manifest")
        if is_digest:
            algorithm = reference.split(":", 1)[0]
            if compute_digest(body, algorithm) != reference:
                raise _fail(400, "DIGEST_INVALID", "manifest digest does not match the URL", {"digest": reference})
        if self.options.check_references:
            self._check_references(self.repositories.get(name) or Repository(), media_type, document)
        tag, digest_reference = (None, reference) if is_digest else (reference, None)
        digest = self._store_manifest(name, body, media_type, document, tag, digest_reference)
        headers = {"Location": self._absolute(f"/v2/{name}/manifests/{digest}"), "Docker-Content-Digest": digest}
        subject = self.repositories[name].manifests[digest].subject
        if subject and self.options.referrers_api:
            headers["OCI-Subject"] = subject
        return httpx.Response(201, headers=headers)

    @staticmethod
    def _check_references(repo: Repository, media_type: str, document: dict[str, Any]) -> None:
        wanted: Sequence[tuple[Any, Container[str]]] = ()
        if media_type in IMAGE_MANIFEST_TYPES:
            config = document.get("config")
            layers = document.get("layers")
            if not isinstance(config, dict) or not isinstance(layers, list):
                raise _fail(400, "MANIFEST_INVALID", "image manifest needs config and layers")
            wanted = [(config, repo.blobs)] + [(layer, repo.blobs) for layer in layers]
        elif media_type in INDEX_TYPES:
            manifests = document.get("manifests")
            if not isinstance(manifests, list):
                raise _fail(400, "MANIFEST_INVALID", "index needs manifests")
            wanted = [(m, repo.manifests) for m in manifests]
        for desc, store in wanted:
            if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
                raise _fail(400, "MANIFEST_INVALID", "descriptor without digest")
            if desc["digest"] not in store:
                raise _fail(400, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry", {"digest": desc["digest"]})

    def _store_manifest(
        self,
        name: str,
        content: bytes,
        media_type: str,
        document: dict[str, Any],
        tag: str | None,
        digest_reference: str | None,
    ) -> str:
        digest = compute_digest(content)
        subject = document.get("subject")
        subject_digest = subject.get("digest") if isinstance(subject, dict) else None
        artifact_type = document.get("artifactType")
        if artifact_type is None:
            config = document.get("config")
            artifact_type = config.get("mediaType") if isinstance(config, dict) else None
        annotations = document.get("annotations")
        repo = self.repository(name)
        old = repo.manifests.get(digest)
        self._seq += 1
        stored = StoredManifest(
            digest=digest,
            media_type=media_type,
            content=bytes(content),
            subject=subject_digest if isinstance(subject_digest, str) else None,
            artifact_type=artifact_type if isinstance(artifact_type, str) else None,
            annotations=dict(annotations) if isinstance(annotations, dict) else None,
            seq=old.seq if old else self._seq,
        )
        repo.manifests[digest] = stored
        if digest_reference and digest_reference != digest:
            repo.manifests[digest_reference] = stored  # pushed by a sha512 digest: reachable by both
        if tag:
            repo.tags[tag] = digest
        return digest

    def _maybe_lie(self, digest: str, content: bytes) -> bytes:
        hook = self.options.lie_hook
        if hook is not None:
            replacement = hook(digest, content)
            if replacement is not None:
                return replacement
        if self.options.lie:
            return default_lie(digest, content)
        return content

    # ----------------------------------------------------------------- referrers and tags

    def _referrers(self, request: httpx.Request, name: str, subject: str) -> httpx.Response:
        if request.method not in ("GET", "HEAD"):
            raise _fail(405, "UNSUPPORTED", "method not allowed")
        if not _DIGEST_RE.match(subject):
            raise _fail(400, "DIGEST_INVALID", "invalid digest", {"digest": subject})
        params = request.url.params
        artifact_type = params.get("artifactType") or None
        filtering = artifact_type is not None and self.options.referrers_filtering
        found = self.referrers(name, subject, artifact_type if filtering else None)
        cursor = params.get("_cursor")
        if cursor is not None:
            try:
                after = int(cursor)
            except ValueError:
                raise _fail(400, "PAGINATION_NUMBER_INVALID", "invalid cursor") from None
            found = [m for m in found if m.seq > after]
        page_size = max(self.options.page_size, 1)
        page, more = found[:page_size], len(found) > page_size
        headers = {"Content-Type": MEDIA_TYPE_OCI_INDEX}
        if filtering:
            headers["OCI-Filters-Applied"] = "artifactType"
        if more:
            query = {"_cursor": str(page[-1].seq)}
            if artifact_type is not None:
                query["artifactType"] = artifact_type
            headers["Link"] = f'<{self._link(f"/v2/{name}/referrers/{subject}", query)}>; rel="next"'
        index = {"schemaVersion": 2, "mediaType": MEDIA_TYPE_OCI_INDEX, "manifests": [m.descriptor() for m in page]}
        content = json.dumps(index).encode()
        if request.method == "HEAD":
            return httpx.Response(200, headers=headers | {"Content-Length": str(len(content))})
        return httpx.Response(200, headers=headers, content=content)

    def _tags(self, request: httpx.Request, name: str) -> httpx.Response:
        if request.method not in ("GET", "HEAD"):
            raise _fail(405, "UNSUPPORTED", "method not allowed")
        repo = self.repositories.get(name)
        if repo is None:
            raise _fail(404, "NAME_UNKNOWN", "repository name not known to registry", {"name": name})
        tags = sorted(repo.tags)
        params = request.url.params
        last = params.get("last")
        if last:
            tags = [t for t in tags if t > last]
        headers = {}
        n = params.get("n")
        if n is not None:
            try:
                limit = int(n)
            except ValueError:
                raise _fail(400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested") from None
            if 0 <= limit < len(tags):
                tags = tags[:limit]
                if tags:
                    link = self._link(f"/v2/{name}/tags/list", {"n": str(limit), "last": tags[-1]})
                    headers["Link"] = f'<{link}>; rel="next"'
        return httpx.Response(200, json={"name": name, "tags": tags}, headers=headers)
