"""An in-process OCI registry following distribution-spec 1.1 closely enough to test a client against.

No registry that implements the OCI 1.1 referrers API is installable here, so the referrers path is
tested against this one. It keeps everything in memory (per repository: blobs, manifests with their
exact bytes and media type, tags) and implements:

* ``GET /v2/`` (200 ``{}``);
* blobs: ``HEAD``/``GET``/``DELETE /v2/<name>/blobs/<digest>``;
* uploads: ``POST /v2/<name>/blobs/uploads/`` (202 + ``Location``; ``?digest=`` with the body is a
  single-request monolithic upload, 201; ``?mount=&from=`` mounts a blob from another repository),
  then ``PATCH`` chunks (``Content-Range`` checked when given, 416 when out of order), ``GET`` status
  (204), ``DELETE`` (cancel), and ``PUT <location>?digest=`` (201; the digest is verified, 400
  ``DIGEST_INVALID`` otherwise). The upload ``Location`` carries an opaque ``_state`` query parameter
  that must come back, as distribution's does, so a client that replaces the query instead of
  appending ``digest=`` to it fails here too;
* manifests: ``HEAD``/``GET``/``PUT``/``DELETE /v2/<name>/manifests/<tag|digest>``; bytes are stored and
  served exactly, with ``Docker-Content-Digest`` and the ``Content-Type`` they were pushed with. A PUT
  checks that the body is a JSON object whose ``mediaType`` (if any) agrees with ``Content-Type``,
  that the digest in the URL (if any) matches, and that referenced blobs and manifests exist (400
  ``MANIFEST_BLOB_UNKNOWN``; the ``subject`` need not exist). A manifest with a ``subject`` gets
  ``OCI-Subject: <subject digest>`` in the PUT response;
* ``GET /v2/<name>/referrers/<digest>[?artifactType=]``: an OCI image index of the referrers'
  descriptors (``mediaType``, ``digest``, ``size``, ``artifactType`` falling back to the config media
  type, ``annotations``), ``OCI-Filters-Applied: artifactType`` when filtered, pages of
  :attr:`FakeRegistryOptions.page_size` linked with ``Link: <...>; rel="next"``. An unknown subject
  answers an empty index (200);
* ``GET /v2/<name>/tags/list[?n=&last=]`` with ``Link`` pagination when ``n`` is given.

Errors are distribution-spec JSON: ``{"errors": [{"code", "message", "detail"}]}``.

Behaviour switches (:class:`FakeRegistryOptions`, mutable while the server runs through
:attr:`FakeRegistry.options`): no referrers API (404 like distribution 2.8, and no ``OCI-Subject``),
no server-side filtering, lying about content, failing the first N requests with 503/429 and
``Retry-After``, HTTP Basic auth, absolute upload locations. Every request is recorded
(:attr:`FakeRegistry.requests`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import uuid
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.registry.token_server import basic_credentials

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
    r"^(?P<name>.+?)/(?:"
    r"blobs/uploads/(?P<upload>[^/]*)"
    r"|blobs/(?P<blob>[^/]+)"
    r"|manifests/(?P<reference>[^/]+)"
    r"|referrers/(?P<subject>[^/]+)"
    r"|(?P<tags>tags/list)"
    r")$"
)

#: ``(digest, true content) -> bytes to serve instead, or None to tell the truth``.
LieHook = Callable[[str, bytes], bytes | None]
#: ``(method, path) -> whether this request should be failed`` (while :attr:`fail_first` lasts).
FailMatch = Callable[[str, str], bool]


def compute_digest(data: bytes, algorithm: str = "sha256") -> str:
    """``<algorithm>:<hex>`` of ``data``."""
    return f"{algorithm}:{_HASHES[algorithm](data).hexdigest()}"


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
class FakeRegistryOptions:
    """Behaviour switches of :class:`FakeRegistry`; may be changed while it runs."""

    #: Serve ``/v2/<name>/referrers/<digest>`` and answer ``OCI-Subject``; False behaves like
    #: distribution 2.8 (router 404 ``text/plain``, no ``OCI-Subject``).
    referrers_api: bool = True
    #: Apply ``?artifactType=`` (and say so with ``OCI-Filters-Applied``); False ignores the filter.
    referrers_filtering: bool = True
    #: Referrers per page; more are linked with ``Link: <...>; rel="next"``.
    page_size: int = 2
    #: Serve different bytes than were stored for every manifest and blob GET (headers still claim the
    #: stored digest). Uses :attr:`lie_hook` when set, :func:`default_lie` otherwise.
    lie: bool = False
    #: Per-digest lie (active even when :attr:`lie` is False): return replacement bytes or None.
    lie_hook: LieHook | None = None
    #: Fail this many requests (those :attr:`fail_match` selects, all by default) before serving.
    fail_first: int = 0
    #: Status of those failures (503 or 429 usually).
    fail_status: int = 503
    #: ``Retry-After`` value sent with the failures (None: no header).
    retry_after: str | None = "0"
    #: Which requests count for :attr:`fail_first`.
    fail_match: FailMatch | None = None
    #: Require HTTP Basic ``(user, password)`` on every request.
    basic_auth: tuple[str, str] | None = None
    #: Upload ``Location`` and ``Link`` headers as absolute URLs (distribution's habit) instead of relative.
    absolute_locations: bool = False
    #: Refuse manifests whose config, layers or index entries are not in the repository.
    check_references: bool = True


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
    """One repository's content."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    manifests: dict[str, StoredManifest] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Upload:
    """An upload session in progress."""

    name: str
    state: str
    data: bytearray = field(default_factory=bytearray)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake registry received."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body_size: int
    status: int


class _Reply(Exception):  # noqa: N818 -- control flow, not an error
    """Raised inside a handler to answer at once."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def error_response(
    status: int, code: str, message: str, detail: Any = None, headers: dict[str, str] | None = None
) -> Response:
    """A distribution-spec error body ``{"errors": [{"code", "message", "detail"}]}``."""
    return JSONResponse(
        {"errors": [{"code": code, "message": message, "detail": detail}]}, status_code=status, headers=headers
    )


def _fail(status: int, code: str, message: str, detail: Any = None) -> _Reply:
    return _Reply(error_response(status, code, message, detail))


class FakeRegistry:
    """State and Starlette app (:attr:`app`) of the in-process registry."""

    def __init__(self, options: FakeRegistryOptions | None = None) -> None:
        """Make an empty registry with ``options`` (defaults: referrers API on, page size 2, honest)."""
        self.options = options or FakeRegistryOptions()
        #: Base URL (``http://127.0.0.1:PORT``) once served; used for absolute locations and links.
        self.base_url = ""
        self.repositories: dict[str, Repository] = {}
        self.uploads: dict[str, Upload] = {}
        self.failures_served = 0
        self._requests: list[RecordedRequest] = []
        self._seq = 0
        self._lock = threading.RLock()
        methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
        self.app = Starlette(routes=[Route("/v2/{rest:path}", self._endpoint, methods=methods)])

    # ----------------------------------------------------------------- inspection and seeding

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._requests.clear()

    def add_blob(self, name: str, data: bytes) -> str:
        """Store a blob directly (no HTTP); returns its sha256 digest."""
        digest = compute_digest(data)
        with self._lock:
            self.repositories.setdefault(name, Repository()).blobs[digest] = bytes(data)
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
            found = [m for m in repo.manifests.values() if m.subject == subject]
        if artifact_type is not None:
            found = [m for m in found if m.artifact_type == artifact_type]
        return sorted(found, key=lambda m: m.seq)

    # ----------------------------------------------------------------- dispatch

    async def _endpoint(self, request: Request) -> Response:
        body = await request.body()
        try:
            response = self._handle(request, body)
        except _Reply as reply:
            response = reply.response
        response.headers.setdefault("Docker-Distribution-Api-Version", "registry/2.0")
        with self._lock:
            self._requests.append(
                RecordedRequest(
                    request.method,
                    request.url.path,
                    request.url.query,
                    {k.lower(): v for k, v in request.headers.items()},
                    len(body),
                    response.status_code,
                )
            )
        return response

    def _handle(self, request: Request, body: bytes) -> Response:
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
        if opts.basic_auth is not None:
            credentials = basic_credentials(request.headers.get("authorization"))
            user, password = opts.basic_auth
            if credentials is None or not (
                hmac.compare_digest(credentials[0].encode(), user.encode())
                and hmac.compare_digest(credentials[1].encode(), password.encode())
            ):
                return error_response(
                    401,
                    "UNAUTHORIZED",
                    "authentication required",
                    None,
                    {"WWW-Authenticate": 'Basic realm="fake-registry"'},
                )

        rest = request.path_params["rest"]
        if rest == "":
            if method not in ("GET", "HEAD"):
                return _not_found_page()
            return JSONResponse({})
        match = _ROUTE_RE.match(rest)
        if match is None:
            return _not_found_page()
        name = match["name"]
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

    # ----------------------------------------------------------------- blobs

    def _blobs(self, method: str, name: str, digest: str) -> Response:
        if not _DIGEST_RE.match(digest):
            raise _fail(400, "DIGEST_INVALID", "invalid digest", {"digest": digest})
        repo = self.repositories.get(name)
        data = repo.blobs.get(digest) if repo else None
        if data is None:
            if method == "HEAD":
                return Response(status_code=404)
            raise _fail(404, "BLOB_UNKNOWN", "blob unknown to registry", {"digest": digest})
        if method == "DELETE":
            assert repo is not None
            del repo.blobs[digest]
            return Response(status_code=202)
        if method not in ("GET", "HEAD"):
            raise _fail(405, "UNSUPPORTED", "method not allowed")
        served = self._maybe_lie(digest, data) if method == "GET" else data
        headers = {"Docker-Content-Digest": digest, "Content-Length": str(len(served)), "ETag": f'"{digest}"'}
        return Response(served if method == "GET" else b"", media_type="application/octet-stream", headers=headers)

    def _uploads(self, request: Request, body: bytes, name: str, session: str) -> Response:
        method, params = request.method, request.query_params
        if session == "":
            if method != "POST":
                raise _fail(405, "UNSUPPORTED", "method not allowed")
            mount, source = params.get("mount"), params.get("from")
            if mount and source:
                src = self.repositories.get(source)
                if src is not None and mount in src.blobs:
                    self.repositories.setdefault(name, Repository()).blobs[mount] = src.blobs[mount]
                    return self._blob_created(name, mount)
            digest = params.get("digest")
            if digest is not None:
                self._verify_digest(digest, body)
                self.repositories.setdefault(name, Repository()).blobs[digest] = body
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
            return Response(status_code=204)
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
            self.repositories.setdefault(name, Repository()).blobs[digest] = data
            return self._blob_created(name, digest)
        raise _fail(405, "UNSUPPORTED", "method not allowed")

    def _append_chunk(self, request: Request, session: str, upload: Upload, body: bytes) -> None:
        content_range = request.headers.get("content-range")
        if content_range:
            m = re.fullmatch(r"(?:bytes[ =])?(\d+)-(\d+)", content_range.strip())
            if m is None or int(m[1]) != len(upload.data) or int(m[2]) != len(upload.data) + len(body) - 1:
                raise _Reply(
                    Response(
                        status_code=416,
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

    def _link(self, path: str, query: dict[str, str]) -> str:
        url = f"{path}?{urlencode(query)}"
        return self.base_url + url if self.options.absolute_locations else url

    def _upload_location(self, session: str, upload: Upload) -> str:
        path = f"/v2/{upload.name}/blobs/uploads/{session}?" + urlencode({"_state": upload.state})
        return self.base_url + path if self.options.absolute_locations else path

    def _upload_status(self, status: int, session: str, upload: Upload) -> Response:
        return Response(
            status_code=status,
            headers={
                "Location": self._upload_location(session, upload),
                "Range": f"0-{max(len(upload.data) - 1, 0)}",
                "Blob-Upload-Session-ID": session,
                "Docker-Upload-UUID": session,
                "Content-Length": "0",
            },
        )

    def _blob_created(self, name: str, digest: str) -> Response:
        location = f"/v2/{name}/blobs/{digest}"
        if self.options.absolute_locations:
            location = self.base_url + location
        return Response(
            status_code=201, headers={"Location": location, "Docker-Content-Digest": digest, "Content-Length": "0"}
        )

    # ----------------------------------------------------------------- manifests

    def _manifests(self, request: Request, body: bytes, name: str, reference: str) -> Response:
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
                return Response(status_code=404)
            raise _fail(404, "MANIFEST_UNKNOWN", "manifest unknown to registry", {"reference": reference})
        if method == "DELETE":
            assert repo is not None
            if is_digest:
                del repo.manifests[stored.digest]
                for tag in [t for t, d in repo.tags.items() if d == stored.digest]:
                    del repo.tags[tag]
            else:
                del repo.tags[reference]
            return Response(status_code=202)
        if method not in ("GET", "HEAD"):
            raise _fail(405, "UNSUPPORTED", "method not allowed")
        served = self._maybe_lie(stored.digest, stored.content) if method == "GET" else stored.content
        headers = {"Docker-Content-Digest": stored.digest, "Content-Length": str(len(served))}
        headers["ETag"] = f'"{stored.digest}"'
        return Response(served if method == "GET" else b"", media_type=stored.media_type, headers=headers)

    def _put_manifest(self, request: Request, body: bytes, name: str, reference: str, is_digest: bool) -> Response:
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
        repo = self.repositories.get(name) or Repository()
        if self.options.check_references:
            self._check_references(repo, media_type, document)
        tag, digest_reference = (None, reference) if is_digest else (reference, None)
        digest = self._store_manifest(name, body, media_type, document, tag, digest_reference)
        headers = {"Location": f"/v2/{name}/manifests/{digest}", "Docker-Content-Digest": digest}
        subject = self.repositories[name].manifests[digest].subject
        if subject and self.options.referrers_api:
            headers["OCI-Subject"] = subject
        return Response(status_code=201, headers=headers)

    def _check_references(self, repo: Repository, media_type: str, document: dict[str, Any]) -> None:
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
        repo = self.repositories.setdefault(name, Repository())
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

    def _referrers(self, request: Request, name: str, subject: str) -> Response:
        if not self.options.referrers_api:
            return _not_found_page()
        if request.method not in ("GET", "HEAD"):
            raise _fail(405, "UNSUPPORTED", "method not allowed")
        if not _DIGEST_RE.match(subject):
            raise _fail(400, "DIGEST_INVALID", "invalid digest", {"digest": subject})
        params = request.query_params
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
        headers = {}
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
            headers["Content-Length"] = str(len(content))
            content = b""
        return Response(content, media_type=MEDIA_TYPE_OCI_INDEX, headers=headers)

    def _tags(self, request: Request, name: str) -> Response:
        if request.method not in ("GET", "HEAD"):
            raise _fail(405, "UNSUPPORTED", "method not allowed")
        repo = self.repositories.get(name)
        if repo is None:
            raise _fail(404, "NAME_UNKNOWN", "repository name not known to registry", {"name": name})
        tags = sorted(repo.tags)
        last = request.query_params.get("last")
        if last:
            tags = [t for t in tags if t > last]
        headers = {}
        n = request.query_params.get("n")
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
        return JSONResponse({"name": name, "tags": tags}, headers=headers)


def _not_found_page() -> Response:
    """What distribution's router answers for a path it does not know."""
    return PlainTextResponse("404 page not found\n", status_code=404)
