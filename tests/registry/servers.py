"""Registry servers for tests: distribution 2.8.2 subprocesses and the in-process OCI registry, as pytest fixtures.

Registered for the whole suite by ``pytest_plugins`` in ``tests/conftest.py``. Fixtures:

* ``registry_noauth``, ``registry_basic``, ``registry_token`` -- a fresh distribution 2.8.2
  (``docker-registry serve``) per test, without auth, with htpasswd Basic auth, or with Docker token
  auth backed by :class:`~tests.registry.token_server.TokenServer`; each yields a
  :class:`RunningRegistry`.
* ``distribution`` -- factory ``distribution(auth="none", **kwargs) -> RunningRegistry`` for other
  settings (e.g. ``token_lifetime=2``); everything it started is stopped at teardown.
* ``oci_registry`` -- factory ``oci_registry(options=None, **changes) -> RunningOCIRegistry`` serving
  :class:`~tests.registry.oci_registry.OCIRegistry` (OCI 1.1 referrers API) on a free port.

Outside pytest use :func:`start_distribution` and :func:`start_oci_registry` (both return objects that
are context managers). Helpers for tests: :func:`tiny_image` and :func:`artifact` build deterministic
content, :func:`push_content` pushes it over plain httpx, :meth:`RunningRegistry.client` gives an httpx
client that authenticates the way the registry wants, :func:`run_skopeo` runs skopeo against a server.
"""

from __future__ import annotations

import base64
import io
import json
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import tarfile
import threading
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol, Self

import bcrypt
import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

from tests.registry.oci_registry import (
    MEDIA_TYPE_OCI_MANIFEST,
    OCIRegistry,
    OCIRegistryOptions,
    RecordedRequest,
    compute_digest,
)
from tests.registry.token_server import GrantPolicy, TokenServer, grant_all_to_users

AuthMode = Literal["none", "basic", "token"]

DOCKER_REGISTRY = "/usr/bin/docker-registry"
SERVICE = "test-registry"
ISSUER = "test-issuer"
DEFAULT_USER = "tester"

#: Header (with a random value per registry) that tells our docker-registry from any other server that
#: took its port first: ``free_port`` only probes, so another process (another pytest worker, say) can
#: bind the port before the registry does, and would otherwise answer for it.
INSTANCE_HEADER = "X-Test-Registry-Instance"

#: How long a server may take to answer ``GET /v2/`` before the fixture gives up.
STARTUP_DEADLINE = 10.0

MEDIA_TYPE_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_TYPE_OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
MEDIA_TYPE_EMPTY = "application/vnd.oci.empty.v1+json"


# --------------------------------------------------------------------------- uvicorn in a thread


class ServerThread:
    """Serve an ASGI app with uvicorn in a daemon thread on a free ``127.0.0.1`` port.

    The listening socket is bound before the thread starts, so the port is known (and reserved) at once.
    """

    def __init__(self, app: ASGIApp, name: str = "asgi") -> None:
        """Bind the socket; call :meth:`start` to serve."""
        # proto must say TCP: asyncio sets TCP_NODELAY on accepted sockets only then, and without it every
        # response with a body waits ~40 ms for a delayed ACK (Nagle).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            interface="asgi3",  # a bound ``async def app(scope, receive, send)`` is not auto-detected as ASGI 3
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name=f"{name}:{self.port}", daemon=True
        )

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}"

    def start(self, timeout: float = STARTUP_DEADLINE) -> None:
        """Start serving; return once uvicorn accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                self._socket.close()
                raise RuntimeError(f"uvicorn thread for {self.url} exited during start-up")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"uvicorn on {self.url} did not start within {timeout} s")
            time.sleep(0.005)

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for the thread (forcing the exit if it lingers)."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(5)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(5)
        self._socket.close()


# --------------------------------------------------------------------------- httpx auth for tests


_CHALLENGE_PARAM_RE = re.compile(r'(\w+)="([^"]*)"')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``(scheme in lower case, parameters)`` of one ``WWW-Authenticate`` challenge."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE_PARAM_RE.findall(rest))


class BearerChallengeAuth(httpx.Auth):
    """Test-side Docker token auth for httpx: on a Bearer 401, fetch a token for the challenged scope.

    Deliberately simple (no caching: one token request per 401) -- it is how the server tests talk to
    the token registry, not a model for the project's client.
    """

    requires_request_body = True
    requires_response_body = True

    def __init__(self, username: str | None, password: str | None) -> None:
        """Credentials to send to the token server (None: ask anonymously)."""
        self.username = username
        self.password = password

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send; on a Bearer challenge get a token from its realm and send again."""
        response = yield request
        if response.status_code != 401:
            return
        scheme, params = parse_challenge(response.headers.get("www-authenticate", ""))
        if scheme != "bearer" or "realm" not in params:
            return
        query: dict[str, str] = {k: params[k] for k in ("service", "scope") if k in params}
        headers = {}
        if self.username is not None and self.password is not None:
            headers["Authorization"] = basic_header(self.username, self.password)
        token_response = yield httpx.Request("GET", params["realm"], params=query, headers=headers)
        if token_response.status_code != 200:
            return
        body = token_response.json()
        request.headers["Authorization"] = f"Bearer {body.get('token') or body['access_token']}"
        yield request


def _http_client(base_url: str, auth: httpx.Auth | None, **kwargs: Any) -> httpx.Client:
    kwargs.setdefault("timeout", 10.0)
    return httpx.Client(base_url=base_url, auth=auth, trust_env=False, **kwargs)


# --------------------------------------------------------------------------- distribution 2.8.2


def free_port() -> int:
    """A port free on ``127.0.0.1`` right now (for servers that must bind it themselves)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningRegistry:
    """A distribution 2.8.2 subprocess (and its token server when ``auth == "token"``)."""

    host: str
    auth: AuthMode
    directory: Path
    config_path: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    username: str | None = None
    password: str | None = None
    token_server: TokenServer | None = None
    token_thread: ServerThread | None = None
    #: CA certificate (PEM) that issued the registry's TLS certificate; None for plain HTTP.
    tls_ca: Path | None = None
    #: Seconds from spawning the process to the first answer on ``/v2/``.
    startup_seconds: float = 0.0
    #: Sent back by this registry (only) in the :data:`INSTANCE_HEADER` of every answer.
    instance_id: str = field(default_factory=lambda: secrets.token_hex(8))
    _stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` when started with TLS)."""
        return f"{'https' if self.tls_ca else 'http'}://{self.host}"

    @property
    def token_requests(self) -> int:
        """Requests the token server received (0 without token auth)."""
        return self.token_server.token_requests if self.token_server else 0

    @property
    def token_url(self) -> str | None:
        """The token realm (None without token auth)."""
        return f"{self.token_thread.url}/token" if self.token_thread else None

    def log(self) -> str:
        """The registry's log so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, *, authenticated: bool = True, **kwargs: Any) -> httpx.Client:
        """An httpx client on :attr:`url` that authenticates as the registry requires.

        ``authenticated=False`` sends no credentials (Basic) or asks for anonymous tokens (token).
        """
        auth: httpx.Auth | None = None
        user, password = (self.username, self.password) if authenticated else (None, None)
        if self.auth == "basic" and user is not None and password is not None:
            auth = httpx.BasicAuth(user, password)
        elif self.auth == "token":
            auth = BearerChallengeAuth(user, password)
        if self.tls_ca is not None:
            kwargs.setdefault("verify", ssl.create_default_context(cafile=str(self.tls_ca)))
        return _http_client(self.url, auth, **kwargs)

    def stop(self) -> None:
        """Terminate the registry (kill after 5 s), reap it, and stop the token server."""
        if self._stopped:
            return
        self._stopped = True
        _terminate(self.process)
        if self.token_thread is not None:
            self.token_thread.stop()

    def __enter__(self) -> Self:
        """Use as a context manager that stops the registry on exit."""
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop the registry."""
        self.stop()


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    else:
        process.wait()


def _distribution_config(
    directory: Path,
    port: int,
    auth: AuthMode,
    htpasswd: Path,
    token_realm: str | None,
    bundle: Path,
    tls: tuple[Path, Path] | None = None,
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "version": "0.1",
        "log": {"level": "warn", "formatter": "text"},
        "storage": {
            "filesystem": {"rootdirectory": str(directory / "data")},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        # A fixed secret silences the "No HTTP secret provided" warning (it signs upload state).
        "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
    }
    if tls is not None:
        config["http"]["tls"] = {"certificate": str(tls[0]), "key": str(tls[1])}
    if auth == "basic":
        config["auth"] = {"htpasswd": {"realm": "basic-realm", "path": str(htpasswd)}}
    elif auth == "token":
        config["auth"] = {
            "token": {"realm": token_realm, "service": SERVICE, "issuer": ISSUER, "rootcertbundle": str(bundle)}
        }
    return config


def start_distribution(
    directory: Path,
    auth: AuthMode = "none",
    *,
    username: str = DEFAULT_USER,
    password: str | None = None,
    token_lifetime: int = 300,
    grant: GrantPolicy = grant_all_to_users,
    deadline: float = STARTUP_DEADLINE,
    tls: bool = False,
) -> RunningRegistry:
    """Start ``docker-registry serve`` with storage, config and log under ``directory``.

    Returns once ``GET /v2/`` answers (200, or 401 with auth). With ``auth="basic"`` the registry checks
    an htpasswd file (bcrypt) holding ``username``/``password``; with ``auth="token"`` a
    :class:`TokenServer` for the same user (tokens valid ``token_lifetime`` s, access decided by
    ``grant``) runs in a thread and signs the tokens the registry trusts. The password is random unless
    given. With ``tls=True`` the registry serves HTTPS with a certificate for 127.0.0.1 issued by a
    CA made here (``.tls_ca``). On start-up failure the registry's log is in the exception message.
    """
    if shutil.which(DOCKER_REGISTRY) is None:
        pytest.fail(
            f"{DOCKER_REGISTRY} is not installed: scripts/test.sh installs it (apt-get install docker-registry)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    password = password if password is not None else secrets.token_urlsafe(12)
    htpasswd = directory / "htpasswd"
    bundle = directory / "token-signer.pem"
    token_server: TokenServer | None = None
    token_thread: ServerThread | None = None
    if auth == "basic":
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
        htpasswd.write_text(f"{username}:{hashed}\n")
    elif auth == "token":
        token_server = TokenServer(
            users={username: password}, service=SERVICE, issuer=ISSUER, lifetime=token_lifetime, grant=grant
        )
        bundle.write_bytes(token_server.identity.certificate_pem)
        token_thread = ServerThread(token_server.app, "token-server")
        token_thread.start()
    tls_files = _tls_files(directory) if tls else None
    try:
        for attempt in range(3):
            port = free_port()
            config_path = directory / "config.yml"
            log_path = directory / "registry.log"
            realm = f"{token_thread.url}/token" if token_thread else None
            config = _distribution_config(
                directory, port, auth, htpasswd, realm, bundle, tls_files[1:] if tls_files else None
            )
            instance_id = secrets.token_hex(8)
            config["http"]["headers"] = {INSTANCE_HEADER: [instance_id]}
            # YAML is a superset of JSON: no quoting surprises in paths.
            config_path.write_text(json.dumps(config, indent=2))
            log_path.unlink(missing_ok=True)  # a failed attempt's "address already in use" is not this one's
            registry = RunningRegistry(
                host=f"127.0.0.1:{port}",
                auth=auth,
                directory=directory,
                config_path=config_path,
                log_path=log_path,
                process=_spawn(config_path, log_path),
                username=username if auth != "none" else None,
                password=password if auth != "none" else None,
                token_server=token_server,
                token_thread=token_thread,
                tls_ca=tls_files[0] if tls_files else None,
                instance_id=instance_id,
            )
            try:
                registry.startup_seconds = _wait_ready(registry, deadline)
            except _PortTakenError:
                registry.process.wait()
                if attempt == 2:
                    raise RuntimeError(f"docker-registry could not bind a port:\n{registry.log()}") from None
                continue
            except BaseException:
                _terminate(registry.process)
                raise
            return registry
    except BaseException:
        if token_thread is not None:
            token_thread.stop()
        raise
    raise AssertionError("unreachable")


def _tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key) PEM files for a 127.0.0.1 server."""
    import ipaddress
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "notation-py test registry CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "tls-ca.pem", directory / "tls-cert.pem", directory / "tls-key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def _spawn(config_path: Path, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [DOCKER_REGISTRY, "serve", str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=config_path.parent,
        )


class _PortTakenError(Exception):
    """docker-registry exited because its port was taken between probing and binding."""


def _wait_ready(registry: RunningRegistry, deadline: float) -> float:
    started = time.monotonic()
    expected = 200 if registry.auth == "none" else 401
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(registry.tls_ca)) if registry.tls_ca else True
    with httpx.Client(trust_env=False, timeout=1.0, verify=verify) as client:
        while True:
            if registry.process.poll() is not None:
                log = registry.log()
                if "address already in use" in log:
                    raise _PortTakenError
                raise RuntimeError(
                    f"docker-registry exited with {registry.process.returncode} during start-up; log:\n{log}"
                )
            try:
                response: httpx.Response | None = client.get(f"{registry.url}/v2/")
            except httpx.TransportError:
                response = None
            if response is not None and response.headers.get(INSTANCE_HEADER) != registry.instance_id:
                _terminate(registry.process)  # someone else answers on the port our registry wanted
                raise _PortTakenError
            if response is not None:
                status = response.status_code
                if status != expected:
                    raise RuntimeError(f"GET /v2/ answered {status}, expected {expected}; log:\n{registry.log()}")
                return time.monotonic() - started
            if time.monotonic() - started > deadline:
                raise RuntimeError(f"docker-registry did not answer within {deadline} s; log:\n{registry.log()}")
            time.sleep(0.01)


# --------------------------------------------------------------------------- the in-process OCI registry


@dataclass
class RunningOCIRegistry:
    """An :class:`OCIRegistry` served on ``127.0.0.1``."""

    registry: OCIRegistry
    server: ServerThread

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return self.server.host

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.server.url

    @property
    def options(self) -> OCIRegistryOptions:
        """The live options (changes apply to the next request)."""
        return self.registry.options

    @property
    def requests(self) -> list[RecordedRequest]:
        """The registry requests received so far (oldest first)."""
        return self.registry.requests

    @property
    def credentials(self) -> tuple[str, str]:
        """The first of :attr:`OCIRegistryOptions.users` (what :meth:`client` authenticates with)."""
        return next(iter(self.options.users.items()))

    def client(self, *, authenticated: bool = True, **kwargs: Any) -> httpx.Client:
        """An httpx client on :attr:`url` that authenticates as the registry's ``auth`` option requires.

        ``authenticated=False`` sends no credentials (Basic) or asks for anonymous tokens (Bearer).
        """
        auth: httpx.Auth | None = None
        if self.options.auth == "basic" and authenticated:
            auth = httpx.BasicAuth(*self.credentials)
        elif self.options.auth == "bearer":
            auth = BearerChallengeAuth(*self.credentials) if authenticated else BearerChallengeAuth(None, None)
        return _http_client(self.url, auth, **kwargs)

    def stop(self) -> None:
        """Stop serving."""
        self.server.stop()

    def __enter__(self) -> Self:
        """Use as a context manager that stops the server on exit."""
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop the server."""
        self.stop()


def start_oci_registry(options: OCIRegistryOptions | None = None, **changes: Any) -> RunningOCIRegistry:
    """Serve a new :class:`OCIRegistry` (``options`` with ``changes`` applied) on a free port."""
    return serve_oci_registry(OCIRegistry(options, **changes))


def serve_oci_registry(registry: OCIRegistry, app: ASGIApp | None = None) -> RunningOCIRegistry:
    """Serve ``registry`` (or ``app``, middleware around its :attr:`~OCIRegistry.app`) on a free port."""
    server = ServerThread(app or registry.app, "oci-registry")
    registry.base_url = server.url
    server.start()
    return RunningOCIRegistry(registry, server)


# --------------------------------------------------------------------------- content for tests


@dataclass(frozen=True)
class Blob:
    """A blob and its media type."""

    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        """sha256 digest of :attr:`data`."""
        return compute_digest(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        """OCI descriptor (``mediaType``, ``digest``, ``size`` and ``extra`` fields)."""
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data), **extra}


@dataclass(frozen=True)
class ManifestContent:
    """A manifest's exact bytes, its media type, and the blobs it references."""

    manifest: bytes
    media_type: str
    blobs: tuple[Blob, ...] = ()

    @property
    def digest(self) -> str:
        """sha256 digest of :attr:`manifest`."""
        return compute_digest(self.manifest)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        """The manifest's OCI descriptor."""
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.manifest), **extra}

    @property
    def document(self) -> dict[str, Any]:
        """The parsed manifest."""
        parsed: dict[str, Any] = json.loads(self.manifest)
        return parsed


EMPTY_CONFIG = Blob(MEDIA_TYPE_EMPTY, b"{}")


def _encode(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def _tar(files: Mapping[str, bytes]) -> bytes:
    """A deterministic uncompressed tar."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def tiny_image(text: str = "hello\n", annotations: Mapping[str, str] | None = None) -> ManifestContent:
    """A real, deterministic one-layer OCI image (skopeo can inspect it): ``/hello.txt`` holding ``text``."""
    layer = Blob(MEDIA_TYPE_OCI_LAYER_TAR, _tar({"hello.txt": text.encode()}))
    config = Blob(
        MEDIA_TYPE_OCI_CONFIG,
        _encode(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": [layer.digest]},
            }
        ),
    )
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.descriptor()],
    }
    if annotations:
        document["annotations"] = dict(annotations)
    return ManifestContent(_encode(document), MEDIA_TYPE_OCI_MANIFEST, (config, layer))


def artifact(
    subject: ManifestContent | Mapping[str, Any] | None,
    artifact_type: str,
    *,
    layers: Sequence[Blob] = (),
    annotations: Mapping[str, str] | None = None,
    config: Blob = EMPTY_CONFIG,
) -> ManifestContent:
    """An OCI 1.1 artifact manifest (image manifest with ``artifactType``) referring to ``subject``.

    ``subject`` is a :class:`ManifestContent` or a descriptor. The empty config ``{}`` is included in the
    blobs because distribution 2.8 insists on it being uploaded.
    """
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": config.descriptor(),
        "layers": [layer.descriptor() for layer in layers] or [EMPTY_CONFIG.descriptor()],
    }
    if subject is not None:
        document["subject"] = subject.descriptor() if isinstance(subject, ManifestContent) else dict(subject)
    if annotations:
        document["annotations"] = dict(annotations)
    blobs = tuple({b.digest: b for b in (config, *layers, EMPTY_CONFIG)}.values())
    return ManifestContent(_encode(document), MEDIA_TYPE_OCI_MANIFEST, blobs)


def upload_url(client: httpx.Client, location: str, digest: str) -> httpx.URL:
    """The upload ``Location`` (absolute or relative) with ``digest=`` appended to its own query."""
    return client.base_url.join(location).copy_merge_params({"digest": digest})


def push_blob(client: httpx.Client, repository: str, data: bytes) -> str:
    """Upload ``data`` with ``POST`` then ``PUT ?digest=`` (distribution 2.8 ignores single-POST uploads)."""
    digest = compute_digest(data)
    started = client.post(f"/v2/{repository}/blobs/uploads/")
    if started.status_code != 202:
        raise AssertionError(f"POST upload: {started.status_code} {started.text}")
    put = client.put(
        upload_url(client, started.headers["location"], digest),
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    if put.status_code != 201:
        raise AssertionError(f"PUT upload: {put.status_code} {put.text}")
    return digest


def push_manifest(
    client: httpx.Client, repository: str, reference: str, manifest: bytes, media_type: str
) -> httpx.Response:
    """``PUT /v2/<repository>/manifests/<reference>`` with the exact bytes; returns the response as is."""
    return client.put(f"/v2/{repository}/manifests/{reference}", content=manifest, headers={"Content-Type": media_type})


def push_content(
    client: httpx.Client, repository: str, content: ManifestContent, reference: str | None = None
) -> httpx.Response:
    """Upload the blobs of ``content`` then its manifest (to ``reference``, default its digest); 201 expected."""
    for blob in content.blobs:
        push_blob(client, repository, blob.data)
    response = push_manifest(client, repository, reference or content.digest, content.manifest, content.media_type)
    if response.status_code != 201:
        raise AssertionError(f"PUT manifest: {response.status_code} {response.text}")
    return response


def error_codes(response: httpx.Response) -> list[str]:
    """The distribution-spec error codes of a response, asserting the body ``{"errors": [{"code", "message", "detail"}]}``."""
    body = response.json()
    assert set(body) == {"errors"}
    for entry in body["errors"]:
        assert {"code", "message", "detail"} <= set(entry)
    return [entry["code"] for entry in body["errors"]]


def assert_served_exactly(client: httpx.Client, repository: str, content: ManifestContent, reference: str) -> None:
    """GET and HEAD of a manifest by ``reference`` return its exact bytes, digest and media type."""
    got = client.get(f"/v2/{repository}/manifests/{reference}", headers={"Accept": content.media_type})
    assert got.status_code == 200
    assert got.content == content.manifest
    assert got.headers["docker-content-digest"] == content.digest
    assert got.headers["content-type"] == content.media_type
    head = client.head(f"/v2/{repository}/manifests/{reference}", headers={"Accept": content.media_type})
    assert head.status_code == 200
    assert head.headers["docker-content-digest"] == content.digest
    assert int(head.headers["content-length"]) == len(content.manifest)


# --------------------------------------------------------------------------- skopeo


def run_skopeo(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[bytes]:
    """Run ``skopeo`` (failing the test when it is not installed); the caller checks the result."""
    if shutil.which("skopeo") is None:
        pytest.fail("skopeo is not installed: scripts/test.sh installs it (apt-get install skopeo)")
    return subprocess.run(["skopeo", *args], capture_output=True, timeout=timeout, check=False)


def basic_header(user: str, password: str) -> str:
    """An ``Authorization`` header value for HTTP Basic."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


# --------------------------------------------------------------------------- pytest fixtures


class DistributionFactory(Protocol):
    """``distribution(auth="none", **kwargs)``: start a distribution 2.8.2 (see :func:`start_distribution`)."""

    def __call__(self, auth: AuthMode = "none", **kwargs: Any) -> RunningRegistry:
        """Start one more registry; it is stopped at teardown."""
        ...


class OCIRegistryFactory(Protocol):
    """``oci_registry(options=None, **changes)``: serve an :class:`OCIRegistry` (see ``OCIRegistryOptions``)."""

    def __call__(self, options: OCIRegistryOptions | None = None, /, **changes: Any) -> RunningOCIRegistry:
        """Start one more in-process registry; it is stopped at teardown."""
        ...


@pytest.fixture
def distribution(tmp_path: Path) -> Iterator[DistributionFactory]:
    """Factory starting distribution 2.8.2 registries under ``tmp_path``; all stopped at teardown."""
    started: list[RunningRegistry] = []

    def factory(auth: AuthMode = "none", **kwargs: Any) -> RunningRegistry:
        registry = start_distribution(tmp_path / f"registry-{len(started)}-{auth}", auth, **kwargs)
        started.append(registry)
        return registry

    yield factory
    for registry in reversed(started):
        registry.stop()


@pytest.fixture
def registry_noauth(distribution: DistributionFactory) -> RunningRegistry:
    """A fresh distribution 2.8.2 without authentication."""
    return distribution("none")


@pytest.fixture
def registry_basic(distribution: DistributionFactory) -> RunningRegistry:
    """A fresh distribution 2.8.2 with htpasswd Basic auth (``.username`` / ``.password``)."""
    return distribution("basic")


@pytest.fixture
def registry_token(distribution: DistributionFactory) -> RunningRegistry:
    """A fresh distribution 2.8.2 with token auth; ``.token_server`` counts token requests."""
    return distribution("token")


@pytest.fixture
def oci_registry() -> Iterator[OCIRegistryFactory]:
    """Factory serving in-process OCI 1.1 registries; all stopped at teardown."""
    started: list[RunningOCIRegistry] = []

    def factory(options: OCIRegistryOptions | None = None, /, **changes: Any) -> RunningOCIRegistry:
        running = start_oci_registry(options, **changes)
        started.append(running)
        return running

    yield factory
    for running in reversed(started):
        running.stop()
