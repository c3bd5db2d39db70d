"""The library's front door for verification: one object that owns everything a verification needs.

::

    from notation_py import Verifier

    with Verifier.from_config() as verifier:               # $NOTATION_CONFIG, as notation reads it
        result = verifier.verify_artifact("registry.example.com/app@sha256:...")
        print(result.verified.source, result.statement)

A :class:`Verifier` loads the trust policies, the trust store and ``config.json`` once, and holds
the HTTP clients (one per registry), the revocation checker with its CRL cache, and the plugin
directory for as long as it lives. It is safe to share between threads and to reuse for any number
of verifications: every call builds its own per-call state, and the shared parts are either
immutable after loading or safe for concurrent use. Each call runs under its own overall deadline
(:attr:`VerifierConfig.timeout`).

Failure always raises (:class:`~notation_py.errors.VerificationError` when no signature verifies,
:class:`~notation_py.errors.DeadlineExceededError`, configuration and registry errors); a returned
:class:`~notation_py.verify.VerificationResult` is a success. The one success that verified
nothing is a trust policy statement of level ``skip``: the result says so (``skipped``), as
notation reports it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from notation_py.config.dirs import ConfigDir, cache_dir, plugin_directory
from notation_py.config.files import NotationConfig
from notation_py.deadline import DEFAULT_TIMEOUT, Deadline, deadline_scope, valid_timeout
from notation_py.errors import ConfigError, UsageError
from notation_py.oci.descriptor import Descriptor
from notation_py.oci.store import ArtifactStore
from notation_py.policy.document import BlobTrustPolicy, OCITrustPolicy, TrustPolicyStatement
from notation_py.policy.truststore import X509TrustStore
from notation_py.verify import VerificationResult, blob_matcher, verify_artifact, verify_signature

if TYPE_CHECKING:
    from notation_py.oci.registry import RegistryClient
    from notation_py.revocation import RevocationChecker
    from notation_py.transparency import TransparencyVerifier
    from notation_py.trust import PolicyTrustAnchors

__all__ = [
    "TRUST_POLICY_MISSING",
    "ResolvedArtifact",
    "Verifier",
    "VerifierConfig",
    "read_signature_file",
    "signature_file_media_type",
]

#: notation's message when no trust policy exists.
TRUST_POLICY_MISSING = (
    "trust policy is not present. To create a trust policy, see: "
    "https://notaryproject.dev/docs/quickstart/#create-a-trust-policy"
)
#: Largest detached blob signature read (notation's envelope limit).
_MAX_SIGNATURE_FILE = 32 * 1024 * 1024


@dataclass(frozen=True)
class VerifierConfig:
    """Settings of a :class:`Verifier` beyond what the configuration directory holds.

    Attributes:
        timeout: Overall deadline of each verification, in seconds; ``None`` takes ``config.json``'s
            ``timeout``, else 60.
        max_signatures: Most signatures evaluated per artifact.
        insecure_registries: Registries reached over plain HTTP, beside ``config.json``'s.
        username: Registry user name (with ``password``); otherwise the credential sources of the
            configuration directory (``login``, docker's config, credential helpers).
        password: Registry password.
        tlog_online: Also check transparency proofs against the log's latest checkpoint, and search
            the log for signatures that have no stored proof.
        tlog_url: The log's URL for online checks (default: the statement's ``transparencyLog.url``).
        plugin_config: ``key=value`` settings passed to verification plugins.
        cache_directory: Where the CRL cache lives (default ``$NOTATION_CACHE``).
        now: The verification time (default: the clock at each call); for tests and re-verification.
    """

    timeout: float | None = None
    max_signatures: int = 100
    insecure_registries: frozenset[str] = frozenset()
    username: str | None = None
    password: str | None = None
    tlog_online: bool = False
    tlog_url: str | None = None
    plugin_config: Mapping[str, str] = field(default_factory=dict)
    cache_directory: Path | None = None
    now: datetime | None = None

    def __post_init__(self) -> None:
        if self.timeout is not None and valid_timeout(self.timeout) is None:
            raise UsageError(f"invalid timeout {self.timeout!r}: expected a positive number of seconds")
        if self.max_signatures < 1:
            raise UsageError("max_signatures must be at least 1")
        if self.tlog_url is not None and not self.tlog_url.startswith(("https://", "http://")):
            raise UsageError(f'the transparency log URL must be http(s), got "{self.tlog_url}"')


@dataclass(frozen=True)
class ResolvedArtifact:
    """An artifact reference resolved to its manifest descriptor in its store.

    Attributes:
        reference: The reference as given.
        subject: The manifest descriptor (what is verified).
        tag: The tag the reference named, if any (``None`` for a digest reference).
        display: ``<repository or layout>@<digest>``, as notation prints it.
        scope: The artifact path trust policy statements are selected by.
    """

    reference: str
    subject: Descriptor
    tag: str | None
    display: str
    scope: str
    store: ArtifactStore = field(repr=False, compare=False)


class Verifier:
    """Verifies OCI artifacts and blobs under one configuration directory (see the module docstring)."""

    def __init__(
        self,
        config_dir: ConfigDir,
        config: VerifierConfig,
        *,
        oci_policy: OCITrustPolicy | None,
        blob_policy: BlobTrustPolicy | None,
        settings: NotationConfig,
    ) -> None:
        """Use :meth:`from_config`; this constructor takes already loaded parts."""
        from notation_py.revocation import FileCRLCache, RevocationChecker

        self._dir = config_dir
        self._config = config
        self._oci_policy = oci_policy
        self._blob_policy = blob_policy
        self._trust_store = X509TrustStore(config_dir.truststore)
        self._insecure = frozenset(settings.insecure_registries) | config.insecure_registries
        seconds = config.timeout if config.timeout is not None else settings.timeout
        self._timeout = seconds if seconds is not None else DEFAULT_TIMEOUT
        self._timeout_source = (
            "timeout"
            if config.timeout is not None or settings.timeout is None
            else f'"timeout" in {config_dir.config_json}'
        )
        cache = config.cache_directory if config.cache_directory is not None else cache_dir()
        self._revocation: RevocationChecker = RevocationChecker(crl_cache=FileCRLCache.in_cache_dir(cache))
        self._plugins = plugin_directory(config_dir)
        self._clients: dict[str, RegistryClient] = {}
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def from_config(cls, config_dir: str | Path | None = None, *, config: VerifierConfig | None = None) -> Verifier:
        """A verifier over a notation configuration directory (default ``$NOTATION_CONFIG``).

        The trust policies present (``trustpolicy.oci.json`` or the legacy ``trustpolicy.json``, and
        ``trustpolicy.blob.json``) are loaded and validated now, so a bad policy fails here rather
        than at the first verification.

        Raises:
            TrustPolicyError: a trust policy is invalid.
            ConfigError: ``config.json`` is malformed, or there is no trust policy at all.
        """
        directory = ConfigDir(Path(config_dir)) if config_dir is not None else ConfigDir.from_env()
        oci = None
        if directory.trust_policy_oci.exists() or directory.trust_policy_legacy.exists():
            oci = OCITrustPolicy.load(directory.root)
        blob = BlobTrustPolicy.load(directory.root) if directory.trust_policy_blob.exists() else None
        if oci is None and blob is None:
            raise ConfigError(TRUST_POLICY_MISSING)
        settings = NotationConfig.load(directory.config_json)
        return cls(directory, config or VerifierConfig(), oci_policy=oci, blob_policy=blob, settings=settings)

    # --- lifecycle --------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP clients and the revocation checker. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()
        self._revocation.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- resolution -------------------------------------------------------------------------------

    def resolve(
        self, reference: str, *, oci_layout: str | Path | None = None, scope: str | None = None
    ) -> ResolvedArtifact:
        """Resolve ``reference`` to its manifest (a registry ``host/repo:tag|@digest``, or a tag or
        digest inside the OCI layout directory ``oci_layout``, whose trust policy scope is ``scope``).

        Raises:
            UsageError: a malformed reference, or a layout without ``scope``.
            NotFoundError: the artifact does not exist.
            RegistryError: the registry failed.
        """
        from notation_py.oci.reference import RegistryReference

        if oci_layout is not None:
            from notation_py.oci.layout import OCILayout

            if not scope:
                raise UsageError("an OCI layout needs a trust policy scope (scope=, --scope), e.g. local/app")
            ref = reference[1:] if reference.startswith("@") else reference
            store: ArtifactStore = OCILayout(Path(oci_layout))
            subject = store.resolve(ref)
            tag = None if ref.startswith("sha256:") or ref.startswith("sha512:") else ref
            return ResolvedArtifact(reference, subject, tag, f"{oci_layout}@{subject.digest}", scope, store)
        if scope is not None:
            raise UsageError("scope is only used with an OCI layout; a registry reference is its own scope")
        try:
            parsed = RegistryReference.parse(reference)
        except UsageError as exc:
            raise UsageError(f"{exc.message}; for an OCI image layout directory, use --oci-layout") from None
        if parsed.reference is None:
            raise UsageError(f'invalid reference "{reference}": a tag or a digest is required')
        store = self._client(parsed.registry).repository(parsed)
        subject = store.resolve(str(parsed.reference))
        tag = parsed.tag if parsed.digest is None else None
        path = parsed.repository_path
        return ResolvedArtifact(reference, subject, tag, f"{path}@{subject.digest}", path, store)

    def _client(self, host: str) -> RegistryClient:
        from notation_py.oci.registry import Credential, DefaultCredentials, RegistryClient, RegistryOptions

        with self._lock:
            if self._closed:
                raise UsageError("the verifier is closed")
            client = self._clients.get(host)
            if client is None:
                explicit = Credential(username=self._config.username or "", password=self._config.password or "")
                client = RegistryClient(
                    RegistryOptions(insecure_registries=self._insecure),
                    DefaultCredentials(self._dir, explicit=explicit),
                )
                self._clients[host] = client
            return client

    # --- verification -----------------------------------------------------------------------------

    def verify_artifact(
        self,
        reference: str | ResolvedArtifact,
        *,
        scope: str | None = None,
        user_metadata: Mapping[str, str] | None = None,
        oci_layout: str | Path | None = None,
    ) -> VerificationResult:
        """Verify an OCI artifact under ``trustpolicy.oci.json`` (notation's algorithm: any one signature).

        ``reference`` is a registry reference, a tag or digest inside ``oci_layout`` (with the
        layout's trust policy ``scope``), or an artifact :meth:`resolve` returned.

        Raises:
            VerificationError: no signature, or none verified (``failures`` says why each failed).
            DeadlineExceededError: the deadline passed first.
            ConfigError: there is no OCI trust policy.
            UsageError, NotFoundError, RegistryError: the artifact could not be found or read.
        """
        started = time.monotonic()
        display = reference.display if isinstance(reference, ResolvedArtifact) else reference
        deadline = self._deadline(f"verification of {display}")
        with deadline_scope(deadline):
            artifact = (
                reference
                if isinstance(reference, ResolvedArtifact)
                else self.resolve(reference, oci_layout=oci_layout, scope=scope)
            )
            resolved = time.monotonic()
            if self._oci_policy is None:
                raise ConfigError(TRUST_POLICY_MISSING)
            statement = self._oci_policy.statement_for(artifact.scope)
            if statement.is_skip:
                return VerificationResult.skip(artifact.display, statement.name, subject=artifact.subject)
            transparency = self._transparency(statement)
            try:
                result = verify_artifact(
                    artifact.store,
                    artifact.subject,
                    self._anchors(statement),
                    display=artifact.display,
                    user_metadata=user_metadata,
                    max_signatures=self._config.max_signatures,
                    now=self._config.now,
                    transparency=transparency,
                    deadline=deadline,
                )
            finally:
                if transparency is not None:
                    transparency.close()
        done = time.monotonic()
        return result.with_context(
            statement=statement.name,
            subject=artifact.subject,
            timings={"resolve": resolved - started, "verify": done - resolved, "total": done - started},
        )

    def verify_blob(
        self,
        path: str | Path,
        signature_path: str | Path,
        *,
        policy_name: str | None = None,
        user_metadata: Mapping[str, str] | None = None,
        media_type: str | None = None,
    ) -> VerificationResult:
        """Verify a file against its detached signature (``<file>.jws.sig``/``.cose.sig``) under ``trustpolicy.blob.json``.

        ``policy_name`` selects the statement (default: the global one); ``media_type`` is the
        media type the signature must name, when given.

        Raises:
            VerificationError: the signature does not verify.
            DeadlineExceededError: the deadline passed first (revocation and log lookups).
            ConfigError: there is no blob trust policy.
            UsageError: the file or the signature cannot be read, or its extension names no format.
        """
        started = time.monotonic()
        blob, signature = Path(path), Path(signature_path)
        envelope_type = signature_file_media_type(signature)
        if not blob.is_file():
            raise UsageError(f"blob {blob} does not exist or is not a regular file")
        envelope = read_signature_file(signature)
        if self._blob_policy is None:
            raise ConfigError(TRUST_POLICY_MISSING)
        statement = self._blob_policy.statement_for(policy_name)
        if statement.is_skip:
            return VerificationResult.skip(str(blob), statement.name)
        deadline = self._deadline(f"verification of {signature}")
        transparency = self._transparency(statement)
        try:
            outcome = verify_signature(
                envelope,
                envelope_type,
                self._anchors(statement),
                blob_matcher(blob, media_type),
                user_metadata=user_metadata,
                now=self._config.now,
                source=str(signature),
                transparency=(
                    transparency.blob_check(signature, envelope, envelope_type) if transparency is not None else None
                ),
                deadline=deadline,
            )
        finally:
            if transparency is not None:
                transparency.close()
        done = time.monotonic()
        return VerificationResult(str(signature), outcome).with_context(
            statement=statement.name, timings={"verify": done - started, "total": done - started}
        )

    # --- parts ------------------------------------------------------------------------------------

    def _deadline(self, operation: str) -> Deadline:
        return Deadline(self._timeout, operation, setting=self._timeout_source)

    def _anchors(self, statement: TrustPolicyStatement) -> PolicyTrustAnchors:
        from notation_py.trust import PolicyTrustAnchors

        return PolicyTrustAnchors(
            statement,
            self._trust_store,
            revocation=self._revocation,
            plugin_directory=self._plugins,
            plugin_config=self._config.plugin_config,
        )

    def _transparency(self, statement: TrustPolicyStatement) -> TransparencyVerifier | None:
        policy = statement.transparency_log
        if policy is None:
            if self._config.tlog_online or self._config.tlog_url:
                raise UsageError(
                    f'online transparency checking: trust policy statement "{statement.name}" has no transparencyLog '
                    "member naming the log's keys, so there is nothing to check the log against"
                )
            return None
        from notation_py.transparency import TransparencyVerifier

        return TransparencyVerifier(policy, online=self._config.tlog_online, url=self._config.tlog_url)


def signature_file_media_type(path: Path) -> str:
    """The envelope media type a detached signature file's name gives (``<name>.<jws|cose>.sig``).

    Raises:
        UsageError: the name has no ``.sig`` extension or names no supported format (notation's messages).
    """
    from notation_py.envelope import MEDIA_TYPE_COSE, MEDIA_TYPE_JWS

    name = path.name
    if not name.lower().endswith(".sig"):  # notation-go: strings.ToLower(filepath.Ext(name))
        raise UsageError(f"invalid signature filename {name}. The file extension must be .sig")
    parts = name.split(".")
    if len(parts) < 3:
        raise UsageError(
            f"invalid signature filename {name}. A valid signature file name must contain signature format "
            "and .sig file extension"
        )
    fmt = parts[-2].lower()
    if fmt == "jws":
        return MEDIA_TYPE_JWS
    if fmt == "cose":
        return MEDIA_TYPE_COSE
    raise UsageError(
        f'signature format "{parts[-2]}" not supported. Supported signature envelope formats are "jws" and "cose"'
    )


def read_signature_file(path: Path) -> bytes:
    """The bytes of a detached signature file (at most 32 MiB, notation's envelope limit).

    Raises:
        UsageError: it cannot be read or is too large.
    """
    try:
        size = path.stat().st_size
        if size > _MAX_SIGNATURE_FILE:
            raise UsageError(f"signature file {path} is {size} bytes, larger than the 32 MiB limit")
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read signature file {path}: {exc.strerror}") from None
