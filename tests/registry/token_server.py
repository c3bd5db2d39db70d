"""A Docker-token-protocol authorisation server for the token-auth registry fixture.

The registry (distribution 2.8.2 configured with ``auth: token``) answers an unauthorised request with
``401`` and ``WWW-Authenticate: Bearer realm="<this server>/token",service="...",scope="..."``. The client
then asks this server for a token::

    GET /token?service=test-registry&scope=repository:demo:pull,push     (HTTP Basic credentials optional)

and retries with ``Authorization: Bearer <token>``. The token is an RS256 JWT whose header carries ``x5c``
(the DER signing certificate, which is also the registry's ``rootcertbundle``) and whose ``access`` claim
lists what was granted. Known users get every action they ask for (unless a :data:`GrantPolicy` says
otherwise); anonymous requests get a token granting nothing, so the registry answers
``401 insufficient_scope``; wrong credentials get ``401``.

The OAuth2 variant (``POST /token`` with ``grant_type=password``) is answered too. Every request is
counted (:attr:`TokenServer.token_requests`) and recorded (:attr:`TokenServer.requests`) so client tests
can assert token caching.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from jwcrypto import jwk, jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

#: ``(username or None for anonymous, resource type, resource name, requested actions) -> granted actions``.
GrantPolicy = Callable[[str | None, str, str, Sequence[str]], Sequence[str]]


def grant_all_to_users(user: str | None, _type: str, _name: str, actions: Sequence[str]) -> Sequence[str]:
    """Default policy: an authenticated user gets every requested action, anonymous gets none."""
    return list(actions) if user is not None else []


@dataclass(frozen=True)
class SigningIdentity:
    """The token-signing key and its self-signed certificate (the registry's ``rootcertbundle``)."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def certificate_pem(self) -> bytes:
        """The certificate in PEM, for the registry's ``rootcertbundle``."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def x5c(self) -> list[str]:
        """The JWT ``x5c`` header value: standard base64 of the DER certificate."""
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return [base64.b64encode(der).decode("ascii")]


@cache
def signing_identity() -> SigningIdentity:
    """A token-signing identity made once per process (RSA key generation is slow)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-token-signer")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return SigningIdentity(key=key, certificate=certificate)


@dataclass(frozen=True)
class TokenRequest:
    """One request the token server answered."""

    method: str
    user: str | None
    service: str | None
    scopes: tuple[str, ...]
    status: int


@dataclass(frozen=True)
class AccessEntry:
    """One entry of a token's ``access`` claim."""

    type: str
    name: str
    actions: tuple[str, ...]


def parse_scopes(values: Sequence[str]) -> list[AccessEntry]:
    """Parse ``scope`` parameters (``type:name:action,action``; several per value, space-separated).

    The name may itself contain ``:`` (e.g. a port in a registry host), so the type is split at the
    first colon and the actions at the last one. Malformed scopes are ignored, as the reference token
    servers do.
    """
    entries: list[AccessEntry] = []
    for value in values:
        for scope in value.split():
            rtype, sep1, rest = scope.partition(":")
            name, sep2, actions = rest.rpartition(":")
            if not (sep1 and sep2 and rtype and name):
                continue
            # "repository(plugin)" style resource classes are reduced to their type.
            rtype = rtype.split("(", 1)[0]
            entries.append(AccessEntry(rtype, name, tuple(a for a in actions.split(",") if a)))
    return entries


class TokenServer:
    """The token server's state and Starlette app (:attr:`app`); run it with ``servers.ServerThread``."""

    def __init__(
        self,
        *,
        users: Mapping[str, str],
        service: str = "test-registry",
        issuer: str = "test-issuer",
        lifetime: int = 300,
        identity: SigningIdentity | None = None,
        grant: GrantPolicy = grant_all_to_users,
    ) -> None:
        """Make a token server for ``users`` (name -> password) issuing tokens valid ``lifetime`` seconds.

        :attr:`lifetime`, :attr:`expires_in` and :attr:`grant` may be changed while the server runs.
        Distribution 2.8.2 accepts a token up to 60 s after its ``exp``, so an expired token needs
        ``lifetime`` below -60.
        """
        self.users = dict(users)
        self.service = service
        self.issuer = issuer
        self.lifetime = lifetime
        #: ``expires_in`` to announce; None announces :attr:`lifetime` (set it to make a client cache a
        #: token the registry refuses).
        self.expires_in: int | None = None
        self.identity = identity or signing_identity()
        self.grant = grant
        self._lock = threading.Lock()
        self._requests: list[TokenRequest] = []
        self._jwk = jwk.JWK.from_pyca(self.identity.key)
        self.app = Starlette(routes=[Route("/token", self._endpoint, methods=["GET", "POST"])])

    @property
    def token_requests(self) -> int:
        """How many requests reached ``/token`` (answered or refused)."""
        with self._lock:
            return len(self._requests)

    @property
    def requests(self) -> list[TokenRequest]:
        """A copy of the recorded requests, oldest first."""
        with self._lock:
            return list(self._requests)

    def reset_counters(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._requests.clear()

    def issue(self, user: str | None, service: str, entries: Sequence[AccessEntry]) -> str:
        """Sign a token for ``user`` granting what :attr:`grant` allows of ``entries``."""
        now = int(dt.datetime.now(dt.UTC).timestamp())
        access = []
        for entry in entries:
            granted = [a for a in self.grant(user, entry.type, entry.name, entry.actions) if a]
            if granted:
                access.append({"type": entry.type, "name": entry.name, "actions": granted})
        claims = {
            "iss": self.issuer,
            "sub": user or "",
            "aud": service,
            "exp": now + self.lifetime,
            "nbf": now - 10,  # tolerate a little clock skew between us and the registry
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        token = jwt.JWT(header={"alg": "RS256", "typ": "JWT", "x5c": self.identity.x5c}, claims=claims)
        token.make_signed_token(self._jwk)
        serialized: str = token.serialize()
        return serialized

    def _record(self, method: str, user: str | None, service: str | None, scopes: Sequence[str], status: int) -> None:
        with self._lock:
            self._requests.append(TokenRequest(method, user, service, tuple(scopes), status))

    def _check_password(self, username: str, password: str) -> bool:
        expected = self.users.get(username)
        return expected is not None and hmac.compare_digest(expected.encode(), password.encode())

    async def _endpoint(self, request: Request) -> Response:
        if request.method == "POST":
            form = await request.form()
            fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
            scopes = [v for k, v in form.multi_items() if k == "scope" and isinstance(v, str)]
            service = fields.get("service")
            if fields.get("grant_type") != "password":
                self._record("POST", None, service, scopes, 400)
                return _oauth_error(400, "unsupported_grant_type", "only grant_type=password is supported")
            username, password = fields.get("username", ""), fields.get("password", "")
            if not self._check_password(username, password):
                self._record("POST", username, service, scopes, 401)
                return _oauth_error(401, "invalid_grant", "bad credentials")
            user: str | None = username
        else:
            scopes = request.query_params.getlist("scope")
            service = request.query_params.get("service")
            credentials = basic_credentials(request.headers.get("authorization"))
            if credentials is None:
                user = None
            elif self._check_password(*credentials):
                user = credentials[0]
            else:
                self._record("GET", credentials[0], service, scopes, 401)
                return JSONResponse(
                    {"errors": [{"code": "UNAUTHORIZED", "message": "authentication failed", "detail": None}]},
                    status_code=401,
                    headers={"WWW-Authenticate": 'Basic realm="token"'},
                )
        token = self.issue(user, service or self.service, parse_scopes(scopes))
        self._record(request.method, user, service, scopes, 200)
        issued_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return JSONResponse(
            {
                "token": token,
                "access_token": token,
                "expires_in": self.lifetime if self.expires_in is None else self.expires_in,
                "issued_at": issued_at,
            }
        )


def basic_credentials(header: str | None) -> tuple[str, str] | None:
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


def _oauth_error(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)
