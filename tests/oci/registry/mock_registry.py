"""An in-memory distribution-spec registry served through ``httpx.MockTransport``.

Small but strict where the client's behaviour is under test: manifests are stored as the exact
bytes pushed, keyed by digest, with the request's ``Content-Type``; uploads need ``POST`` then
``PUT ?digest=`` and keep the upload state in the ``Location`` query; auth can be none, Basic or
Bearer (a token service on another host). Switches make it behave like distribution 2.8
(no referrers API: plain-text router 404, no ``OCI-Subject``) or like an OCI 1.1 registry, and
``intercept`` lets a test answer (or lie) before the registry does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from notation_py.oci.registry import RegistryClient, RegistryOptions
from notation_py.oci.registry.credentials import CredentialSource

HOST = "registry.test"
TOKEN_HOST = "auth.test"
REALM = f"https://{TOKEN_HOST}/token"
SERVICE = "registry.test"
INDEX = "application/vnd.oci.image.index.v1+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def error(
    status: int, code: str, message: str, detail: Any = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if detail is not None:
        body["detail"] = detail
    return httpx.Response(status, json={"errors": [body]}, headers=headers)


@dataclass
class Token:
    scopes: tuple[str, ...]
    user: str | None


@dataclass
class MockRegistry:
    """State and switches of the fake registry.

    Attributes:
        referrers_api: Serve ``/referrers/`` (else: plain-text 404 like distribution 2.8).
        oci_subject: Answer manifest pushes with a subject with ``OCI-Subject``.
        filters_applied: Honour ``artifactType`` and say so in ``OCI-Filters-Applied``.
        page_size: Referrers per page (``Link`` pagination beyond it).
        auth: ``None``, ``"basic"`` or ``"bearer"``.
        users: Accepted user → password.
        refresh_tokens: Accepted identity tokens → user.
        anonymous_pull: Bearer: anonymous tokens may pull.
        head_headers: Send Content-Type/Docker-Content-Digest on manifest HEAD.
        intercept: Called first with every request; a response it returns is used as is.
    """

    referrers_api: bool = False
    oci_subject: bool = False
    filters_applied: bool = True
    page_size: int = 1000
    auth: str | None = None
    users: dict[str, str] = field(default_factory=lambda: {"alice": "secret"})
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    anonymous_pull: bool = False
    head_headers: bool = True
    intercept: Callable[[httpx.Request], httpx.Response | None] | None = None
    delete_enabled: bool = True

    blobs: dict[str, bytes] = field(default_factory=dict)
    manifests: dict[tuple[str, str], tuple[str, bytes]] = field(default_factory=dict)
    tags: dict[tuple[str, str], str] = field(default_factory=dict)
    uploads: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    token_requests: list[httpx.Request] = field(default_factory=list)

    # --- helpers for tests ----------------------------------------------------------------------

    def client(self, credentials: CredentialSource | None = None, **options: Any) -> tuple[RegistryClient, list[float]]:
        """A client wired to this registry (HTTP insecure by default) and the list of its sleeps."""
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

    def put_manifest(self, repo: str, data: bytes, media_type: str, tag: str | None = None) -> str:
        digest = sha256(data)
        self.manifests[(repo, digest)] = (media_type, data)
        if tag is not None:
            self.tags[(repo, tag)] = digest
        return digest

    def seen(self, method: str, path_prefix: str = "") -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path.startswith(path_prefix)]

    # --- dispatch -------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == TOKEN_HOST:
            self.token_requests.append(request)
            return self._token(request)
        self.requests.append(request)
        if self.intercept is not None:
            answer = self.intercept(request)
            if answer is not None:
                return answer
        path = request.url.path
        if path == "/v2/":
            denied = self._authorize(request, None, ())
            return denied or httpx.Response(200, json={})
        m = re.fullmatch(r"/v2/(.+?)/(manifests|blobs|referrers)/(.+)", path)
        if m is None:
            return httpx.Response(404, text="404 page not found\n", headers={"Content-Type": "text/plain"})
        repo, kind, ref = m.groups()
        if kind == "referrers" and not self.referrers_api:
            return httpx.Response(404, text="404 page not found\n", headers={"Content-Type": "text/plain"})
        write = request.method in ("PUT", "POST", "PATCH")
        actions = ("delete",) if request.method == "DELETE" else (("pull", "push") if write else ("pull",))
        denied = self._authorize(request, repo, actions)
        if denied is not None:
            return denied
        if kind == "manifests":
            return self._manifest(request, repo, ref)
        if kind == "blobs":
            return self._blob(request, repo, ref)
        return self._referrers(request, repo, ref)

    # --- auth -----------------------------------------------------------------------------------

    def _authorize(self, request: httpx.Request, repo: str | None, actions: tuple[str, ...]) -> httpx.Response | None:
        header = request.headers.get("authorization", "")
        if self.auth is None:
            return None
        if self.auth == "basic":
            if header.startswith("Basic "):
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                if self.users.get(user) == password:
                    return None
            return error(
                401,
                "UNAUTHORIZED",
                "authentication required",
                headers={"WWW-Authenticate": 'Basic realm="basic-realm"'},
            )
        needed = f"repository:{repo}:{','.join(actions)}" if repo else ""
        if header.startswith("Bearer "):
            token = self.tokens.get(header[7:])
            if token is not None and (repo is None or self._granted(token, repo, actions)):
                return None
            if token is not None:
                challenge = f'Bearer realm="{REALM}",service="{SERVICE}",scope="{needed}",error="insufficient_scope"'
                return error(401, "UNAUTHORIZED", "authentication required", headers={"WWW-Authenticate": challenge})
        challenge = f'Bearer realm="{REALM}",service="{SERVICE}"' + (f',scope="{needed}"' if needed else "")
        return error(401, "UNAUTHORIZED", "authentication required", headers={"WWW-Authenticate": challenge})

    @staticmethod
    def _granted(token: Token, repo: str, actions: tuple[str, ...]) -> bool:
        for scope in token.scopes:
            kind, _, rest = scope.partition(":")
            name, _, acts = rest.rpartition(":")
            if kind == "repository" and name == repo and set(actions) <= set(acts.split(",")):
                return True
        return False

    def _token(self, request: httpx.Request) -> httpx.Response:
        user: str | None = None
        if request.method == "POST":
            form = dict(urllib.parse.parse_qsl(request.content.decode()))
            if form.get("grant_type") != "refresh_token" or form.get("refresh_token") not in self.refresh_tokens:
                return httpx.Response(401, json={"error": "invalid_grant"})
            user = self.refresh_tokens[form["refresh_token"]]
            scopes = tuple(form.get("scope", "").split())
        else:
            header = request.headers.get("authorization", "")
            if header.startswith("Basic "):
                name, _, password = base64.b64decode(header[6:]).decode().partition(":")
                if self.users.get(name) != password:
                    return httpx.Response(401, json={"details": "incorrect username or password"})
                user = name
            scopes = tuple(request.url.params.get_list("scope"))
        granted = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, acts = rest.rpartition(":")
            allowed = set(acts.split(","))
            if user is None:
                allowed &= {"pull"} if self.anonymous_pull else set()
            if allowed:
                granted.append(f"{kind}:{name}:{','.join(sorted(allowed))}")
        value = uuid.uuid4().hex
        self.tokens[value] = Token(tuple(granted), user)
        key = "access_token" if request.method == "POST" else "token"
        return httpx.Response(200, json={key: value, "expires_in": 300})

    # --- content --------------------------------------------------------------------------------

    def _resolve(self, repo: str, ref: str) -> str | None:
        digest = ref if ref.startswith("sha256:") else self.tags.get((repo, ref))
        return digest if digest is not None and (repo, digest) in self.manifests else None

    def _manifest(self, request: httpx.Request, repo: str, ref: str) -> httpx.Response:
        if request.method in ("GET", "HEAD"):
            digest = self._resolve(repo, ref)
            if digest is None:
                return error(404, "MANIFEST_UNKNOWN", "manifest unknown", {"Tag": ref})
            media_type, data = self.manifests[(repo, digest)]
            headers = {"Content-Length": str(len(data))}
            if request.method == "GET" or self.head_headers:
                headers |= {"Content-Type": media_type, "Docker-Content-Digest": digest}
            if request.method == "HEAD":
                return httpx.Response(200, headers=headers)
            return httpx.Response(200, headers=headers, content=data)
        if request.method == "PUT":
            data = request.content
            media_type = request.headers.get("content-type", "")
            obj = json.loads(data)
            refs = [obj["config"], *obj.get("layers", [])] if "config" in obj else obj.get("manifests", [])
            for d in refs:
                known = d["digest"] in self.blobs or (repo, d["digest"]) in self.manifests
                if not known:
                    return error(400, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry", d["digest"])
            digest = sha256(data)
            if ref.startswith("sha256:") and ref != digest:
                return error(400, "DIGEST_INVALID", "provided digest did not match uploaded content")
            self.manifests[(repo, digest)] = (media_type, data)
            if not ref.startswith("sha256:"):
                self.tags[(repo, ref)] = digest
            headers = {"Docker-Content-Digest": digest, "Location": f"/v2/{repo}/manifests/{digest}"}
            if self.oci_subject and obj.get("subject"):
                headers["OCI-Subject"] = obj["subject"]["digest"]
            return httpx.Response(201, headers=headers)
        if request.method == "DELETE":
            if not self.delete_enabled:
                return error(405, "UNSUPPORTED", "The operation is unsupported.")
            if (repo, ref) not in self.manifests:
                return error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            del self.manifests[(repo, ref)]
            for key in [k for k, v in self.tags.items() if k[0] == repo and v == ref]:
                del self.tags[key]
            return httpx.Response(202)
        return httpx.Response(405)

    def _blob(self, request: httpx.Request, repo: str, ref: str) -> httpx.Response:
        if ref.startswith("uploads/"):
            return self._upload(request, repo, ref[len("uploads/") :])
        if request.method in ("GET", "HEAD"):
            data = self.blobs.get(ref)
            if data is None:
                return error(404, "BLOB_UNKNOWN", "blob unknown to registry", ref)
            headers = {"Content-Length": str(len(data)), "Docker-Content-Digest": ref}
            return httpx.Response(200, headers=headers, content=b"" if request.method == "HEAD" else data)
        return httpx.Response(405)

    def _upload(self, request: httpx.Request, repo: str, session: str) -> httpx.Response:
        if request.method == "POST" and session == "":
            if "digest" in request.url.params:
                return httpx.Response(202)  # distribution 2.8 ignores single-POST uploads
            sid = uuid.uuid4().hex
            state = uuid.uuid4().hex
            self.uploads[sid] = state
            return httpx.Response(202, headers={"Location": f"/v2/{repo}/blobs/uploads/{sid}?_state={state}"})
        if request.method == "PUT":
            if self.uploads.get(session) != request.url.params.get("_state"):
                return error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
            digest = request.url.params.get("digest")
            if digest != sha256(request.content):
                return error(400, "DIGEST_INVALID", "provided digest did not match uploaded content")
            del self.uploads[session]
            self.blobs[digest] = request.content
            return httpx.Response(201, headers={"Docker-Content-Digest": digest})
        return httpx.Response(405)

    def _referrers(self, request: httpx.Request, repo: str, subject: str) -> httpx.Response:
        found = []
        for (r, digest), (media_type, data) in sorted(self.manifests.items()):
            if r != repo:
                continue
            obj = json.loads(data)
            if (obj.get("subject") or {}).get("digest") != subject:
                continue
            desc: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": len(data)}
            if obj.get("annotations"):
                desc["annotations"] = obj["annotations"]
            artifact_type = obj.get("artifactType") or (obj.get("config") or {}).get("mediaType")
            if artifact_type:
                desc["artifactType"] = artifact_type
            found.append(desc)
        headers = {"Content-Type": INDEX}
        wanted = request.url.params.get("artifactType")
        if wanted is not None and self.filters_applied:
            found = [d for d in found if d.get("artifactType") == wanted]
            headers["OCI-Filters-Applied"] = "artifactType"
        start = int(request.url.params.get("last", "0"))
        page = found[start : start + self.page_size]
        if start + self.page_size < len(found):
            query = f"last={start + self.page_size}"
            if wanted:
                query += "&artifactType=" + urllib.parse.quote(wanted, safe="")
            headers["Link"] = f'</v2/{repo}/referrers/{subject}?{query}>; rel="next"'
        body = {"schemaVersion": 2, "mediaType": INDEX, "manifests": page}
        return httpx.Response(200, headers=headers, content=json.dumps(body).encode())
