"""Registry authentication: challenges, HTTP Basic, and Docker/OAuth2 bearer tokens.

The registry says how to authenticate in a ``401`` answer's ``WWW-Authenticate`` header:

* ``Basic realm="..."``: from then on every request to that host carries Basic credentials
  up front (no second round trip, no body sent twice).
* ``Bearer realm="...",service="...",scope="..."[,error="insufficient_scope"]`` (Docker token
  spec): a token is requested from the realm for the scopes the request needs plus those the
  challenge names, with ``GET realm?service=&scope=...`` (Basic credentials if any) or, with an
  identity token, ``POST realm`` (``grant_type=refresh_token``, distribution's OAuth2 spec). The
  answer's ``token`` or ``access_token`` is cached per (host, realm, service, scope set) until
  shortly before ``expires_in`` (60 s when absent) runs out. Once a host's realm is known,
  tokens are fetched before the request; a cached token whose scopes cover the request is reused.

Reads ask ``repository:<name>:pull``; writes ``repository:<name>:pull,push``.

Credentials go to a token realm over plain HTTP only when the registry itself is reached over
plain HTTP or the realm's host is listed as insecure.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import httpx

from notation_py.errors import AuthenticationError
from notation_py.oci.registry.credentials import Credential, CredentialSource

#: OAuth2 ``client_id`` sent to token services (notation sends ``notation``).
CLIENT_ID: Final = "notation"
#: Lifetime assumed for a token that does not say (Docker token spec).
DEFAULT_TOKEN_LIFETIME: Final = 60.0
#: Tokens are dropped this long before they expire.
TOKEN_EXPIRY_LEEWAY: Final = 10.0
#: Largest token-service answer read.
MAX_TOKEN_RESPONSE: Final = 1024 * 1024

_TOKEN68_RE: Final = re.compile(r"[A-Za-z0-9._~+/-]+=*(?=\s*(?:,|$))")
_PARAM_RE: Final = re.compile(r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*')
_SCHEME_RE: Final = re.compile(r"\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:\s+|(?=,)|$)")


# --- challenges ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge.

    Attributes:
        scheme: The scheme, lowercased (``basic``, ``bearer``, ...).
        params: Its auth-params, names lowercased, quoted values unescaped.
    """

    scheme: str
    params: dict[str, str]


def parse_challenges(values: Iterable[str]) -> list[Challenge]:
    """Parse ``WWW-Authenticate`` header values (RFC 9110 §11.6.1) into challenges.

    Several challenges may share one header value; malformed parts are skipped.
    """
    out: list[Challenge] = []
    for value in values:
        pos = 0
        current: Challenge | None = None
        while pos < len(value):
            if value[pos] in ", \t":
                pos += 1
                continue
            param = _PARAM_RE.match(value, pos)
            if current is not None and param is not None and param.group(2) != "":
                name, raw = param.group(1).lower(), param.group(2)
                if raw.startswith('"'):
                    raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                current.params[name] = raw
                pos = param.end()
                continue
            scheme = _SCHEME_RE.match(value, pos)
            if scheme is None:
                break
            current = Challenge(scheme.group(1).lower(), {})
            out.append(current)
            pos = scheme.end()
            token68 = _TOKEN68_RE.match(value, pos)
            if token68 is not None:
                pos = token68.end()
    return out


# --- scopes ----------------------------------------------------------------------------------


def repository_scope(repository: str, *actions: str) -> str:
    """``repository:<name>:<actions>``, e.g. ``repository:demo:pull,push``."""
    return f"repository:{repository}:{','.join(actions)}"


def merge_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Scopes with the actions of the same resource merged, sorted (``pull`` + ``push`` → ``pull,push``).

    A scope that does not look like ``type:name:actions`` is kept as is.
    """
    actions: dict[tuple[str, str], set[str]] = {}
    opaque: set[str] = set()
    for scope in scopes:
        for item in scope.split():
            kind, sep, rest = item.partition(":")
            name, sep2, acts = rest.rpartition(":")
            if not sep or not sep2 or not name:
                opaque.add(item)
                continue
            bucket = actions.setdefault((kind, name), set())
            bucket.update(a for a in acts.split(",") if a)
    merged = {f"{k}:{n}:{','.join(sorted(a))}" for (k, n), a in actions.items()}
    return tuple(sorted(merged | opaque))


def _covers(have: Sequence[str], need: Sequence[str]) -> bool:
    """Whether a token for ``have`` grants everything ``need`` asks (as far as scopes tell)."""
    granted: dict[tuple[str, str], set[str]] = {}
    for scope in have:
        kind, _, rest = scope.partition(":")
        name, _, acts = rest.rpartition(":")
        granted.setdefault((kind, name), set()).update(acts.split(","))
    for scope in need:
        kind, _, rest = scope.partition(":")
        name, _, acts = rest.rpartition(":")
        got = granted.get((kind, name))
        if got is None or not (set(acts.split(",")) <= got or "*" in got):
            return False
    return True


# --- token service ---------------------------------------------------------------------------


class TokenFetcher(Protocol):
    """How the authenticator talks to a token realm (the registry client's plain HTTP, with retries)."""

    def __call__(
        self, method: str, url: httpx.URL, headers: dict[str, str], form: dict[str, str] | None
    ) -> tuple[int, httpx.Headers, bytes]:
        """Send a request (``form``: url-encoded body) without registry auth; answer status, headers, body."""
        ...


@dataclass(frozen=True)
class _Bearer:
    realm: str
    service: str


@dataclass
class _Token:
    value: str
    scopes: tuple[str, ...]
    expires: float


def _basic_header(cred: Credential) -> str:
    raw = f"{cred.username}:{cred.password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def _token_error(realm: str, status: int, body: bytes) -> str:
    detail = ""
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        obj = None
    if isinstance(obj, dict):
        errors = obj.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            detail = f"{errors[0].get('code', '')}: {errors[0].get('message', '')}".strip(": ")
        elif isinstance(obj.get("error"), str):
            detail = str(obj["error"]) + (f": {obj['error_description']}" if obj.get("error_description") else "")
        elif isinstance(obj.get("details"), str):
            detail = obj["details"]
    elif body:
        text = body[:200].decode("utf-8", "replace")
        detail = "".join(c if c.isprintable() else " " for c in text).strip()
    return f"token service {realm} answered {status}" + (f": {detail}" if detail else "")


class Authenticator:
    """Per-client authentication state: each host's scheme and realm, and the token cache.

    Thread-safe; shared by every repository of a :class:`~notation_py.oci.registry.RegistryClient`.
    """

    def __init__(
        self,
        credentials: CredentialSource | None,
        fetch: TokenFetcher,
        *,
        realm_allowed: Callable[[str, httpx.URL], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Authenticate with ``credentials`` (``None``: anonymous only).

        Args:
            credentials: Where credentials come from.
            fetch: Sends token-service requests.
            realm_allowed: ``(registry host, realm URL)`` → may credentials be sent to that realm.
            clock: Monotonic clock (tests may replace it).
        """
        self._credentials = credentials
        self._fetch = fetch
        self._realm_allowed = realm_allowed
        self._clock = clock
        self._lock = threading.Lock()
        self._schemes: dict[str, str | _Bearer] = {}
        self._tokens: dict[tuple[str, _Bearer], list[_Token]] = {}
        #: Number of tokens requested from token services (observability and tests).
        self.token_requests = 0

    def credential(self, host: str) -> Credential | None:
        """The credential for ``host`` from the configured source.

        Raises:
            CredentialError: The source failed.
        """
        if self._credentials is None:
            return None
        cred = self._credentials.get(host)
        return None if cred is None or cred.is_empty else cred

    def authorization(self, host: str, scopes: Sequence[str]) -> str | None:
        """The ``Authorization`` value to send up front to ``host``, once its scheme is known.

        Raises:
            AuthenticationError: A token could not be obtained.
            CredentialError: The credential source failed.
        """
        with self._lock:
            scheme = self._schemes.get(host)
        if scheme is None:
            return None
        if scheme == "basic":
            cred = self.credential(host)
            return _basic_header(cred) if cred is not None and cred.has_basic else None
        assert isinstance(scheme, _Bearer)
        wanted = merge_scopes(scopes)
        cached = self._cached_token(host, scheme, wanted)
        if cached is not None:
            return f"Bearer {cached}"
        return f"Bearer {self._get_token(host, scheme, wanted)}"

    def respond(self, host: str, headers: httpx.Headers, scopes: Sequence[str], sent: str | None) -> str | None:
        """React to a ``401``: the ``Authorization`` value to retry with, or ``None`` to give up.

        Args:
            host: The registry host that answered.
            headers: The ``401`` answer's headers.
            scopes: The scopes the request needs.
            sent: The ``Authorization`` value the failed request carried, if any.

        Raises:
            AuthenticationError: The token service refused or failed.
            CredentialError: The credential source failed.
        """
        challenges = parse_challenges(headers.get_list("www-authenticate"))
        bearer = next((c for c in challenges if c.scheme == "bearer" and c.params.get("realm")), None)
        if bearer is not None:
            state = _Bearer(bearer.params["realm"], bearer.params.get("service", ""))
            with self._lock:
                self._schemes[host] = state
            wanted = merge_scopes([*scopes, bearer.params.get("scope", "")])
            token = self._get_token(host, state, wanted)
            value = f"Bearer {token}"
            return None if value == sent else value
        if any(c.scheme == "basic" for c in challenges):
            with self._lock:
                self._schemes[host] = "basic"
            cred = self.credential(host)
            if cred is None or not cred.has_basic:
                return None
            value = _basic_header(cred)
            return None if value == sent else value
        return None

    def _cached_token(self, host: str, bearer: _Bearer, wanted: tuple[str, ...]) -> str | None:
        now = self._clock()
        with self._lock:
            tokens = self._tokens.get((host, bearer), [])
            tokens[:] = [t for t in tokens if t.expires > now]
            exact = next((t for t in tokens if t.scopes == wanted), None)
            if exact is not None:
                return exact.value
            wider = next((t for t in tokens if _covers(t.scopes, wanted)), None)
            return wider.value if wider is not None else None

    def _get_token(self, host: str, bearer: _Bearer, scopes: tuple[str, ...]) -> str:
        cred = self.credential(host)
        if cred is not None and cred.access_token:
            return cred.access_token
        try:
            realm = httpx.URL(bearer.realm)
        except httpx.InvalidURL:
            raise AuthenticationError(f"registry {host} named an invalid token realm {bearer.realm!r}") from None
        if realm.scheme not in ("http", "https"):
            raise AuthenticationError(f"registry {host} named an unsupported token realm {bearer.realm!r}")
        if cred is not None and not self._realm_allowed(host, realm):
            raise AuthenticationError(
                f"refusing to send credentials for {host} to the plain-HTTP token service {bearer.realm}; "
                "list the realm's host as an insecure registry if this is intended"
            )
        if cred is not None and cred.refresh_token:
            form = {"grant_type": "refresh_token", "refresh_token": cred.refresh_token, "client_id": CLIENT_ID}
            if bearer.service:
                form["service"] = bearer.service
            if scopes:
                form["scope"] = " ".join(scopes)
            method, url, headers, body = "POST", realm, {}, form
        else:
            params: list[tuple[str, str | int | float | bool | None]] = []
            if bearer.service:
                params.append(("service", bearer.service))
            params += [("scope", s) for s in scopes]
            method, url, body = "GET", realm.copy_merge_params(params) if params else realm, None
            headers = {"Authorization": _basic_header(cred)} if cred is not None and cred.has_basic else {}
        with self._lock:
            self.token_requests += 1
        status, _, answer = self._fetch(method, url, headers, body)
        if not 200 <= status < 300:
            raise AuthenticationError(_token_error(bearer.realm, status, answer), status=status)
        token, lifetime = self._parse_token(bearer.realm, answer)
        entry = _Token(token, scopes, self._clock() + max(lifetime - TOKEN_EXPIRY_LEEWAY, 1.0))
        with self._lock:
            tokens = self._tokens.setdefault((host, bearer), [])
            tokens[:] = [t for t in tokens if t.scopes != scopes]
            tokens.append(entry)
        return token

    @staticmethod
    def _parse_token(realm: str, body: bytes) -> tuple[str, float]:
        try:
            obj = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise AuthenticationError(f"token service {realm} answered something that is not JSON") from None
        if not isinstance(obj, dict):
            raise AuthenticationError(f"token service {realm} answered something that is not a JSON object")
        token = obj.get("token") or obj.get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthenticationError(f"token service {realm} answered no token")
        expires_in = obj.get("expires_in")
        lifetime = DEFAULT_TOKEN_LIFETIME
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
            lifetime = float(expires_in)
        return token, lifetime
