"""Signature verification: the Notary Project verification algorithm, independent of where signatures live.

The core, :func:`verify_signature`, takes one envelope's bytes, the trust policy statement that
applies, a trust store, and a *target matcher* that checks the signed payload against the artifact
(an OCI descriptor, or a blob's bytes). It runs the checks in notation-go's order:

1. integrity (always enforced): envelope parses, signature verifies, chain meets the cert rules;
2. verification plugin / unknown critical attributes (always enforced);
3. authenticity: chain anchored in the scheme's trust stores, then trusted identities;
4. expiry;  5. authentic timestamp;  6. revocation;
6b. transparency (notation-py's): proof that the signature was recorded in a transparency log, when
    the statement asks for it (``transparencyLog``; :mod:`notation_py.transparency`);
7. the payload matches the artifact and the user-required metadata (always enforced).

Each check's failure is enforced or logged per the statement's verification level. The result of a
passing signature is returned; a failing one raises :class:`SignatureVerificationError` carrying
the same outcome. :func:`verify_artifact` drives the core over an
:class:`~notation_py.oci.store.ArtifactStore`; blobs are verified with a :func:`blob_matcher`. Most
callers want the front door instead, :class:`notation_py.Verifier` (``verify_artifact``,
``verify_blob``), which loads the configuration and owns the clients.

Both entry points take an overall :class:`~notation_py.deadline.Deadline` that every registry read,
revocation lookup and transparency-log lookup made during verification keeps to. When it passes,
:class:`~notation_py.errors.DeadlineExceededError` ends verification: it is not a signature's failure,
so no other signature is tried and nothing is reported as verified.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from notation_py.deadline import Deadline, deadline_scope
from notation_py.envelope import verify_envelope
from notation_py.envelope.algorithms import Algorithm
from notation_py.envelope.encoding import format_rfc1123z
from notation_py.envelope.model import EnvelopeContent, SigningScheme
from notation_py.envelope.payload import TargetArtifact, parse_payload
from notation_py.errors import (
    ArtifactError,
    DigestError,
    EnvelopeError,
    NotationError,
    PayloadError,
    PluginError,
    RevocationError,
    SignatureIntegrityError,
    TimestampError,
    TrustPolicyError,
    TrustStoreError,
    UnsupportedEnvelopeError,
    VerificationError,
)
from notation_py.fsutil import hash_file
from notation_py.oci.descriptor import Descriptor
from notation_py.oci.signatures import (
    FetchedSignature,
    fetch_signature,
    list_signature_manifests,
)
from notation_py.oci.store import ArtifactStore
from notation_py.policy.levels import Action, Check, VerificationLevel

if TYPE_CHECKING:
    from notation_py.plugins.verification import VerificationPluginCheck
    from notation_py.transparency import Inclusion


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one verification check."""

    check: Check
    action: Action
    error: str | None = None

    @property
    def passed(self) -> bool:
        """True when the check succeeded (or was skipped)."""
        return self.error is None


@dataclass(frozen=True)
class SignatureOutcome:
    """Everything verification learned about one signature."""

    envelope_media_type: str
    level: VerificationLevel
    content: EnvelopeContent | None = None
    target: TargetArtifact | None = None
    results: tuple[CheckResult, ...] = ()
    #: The enforced failure that rejected the signature; None when it verified.
    error: str | None = None
    #: Digest of the signature manifest (OCI) or path of the signature file (blob).
    source: str | None = None
    #: Where the signature was proven to be logged (None: no transparency check ran or it logged a failure).
    transparency: Inclusion | None = None

    @property
    def verified(self) -> bool:
        """True if no enforced check failed."""
        return self.error is None

    @property
    def warnings(self) -> list[CheckResult]:
        """Checks that failed with action ``log``."""
        return [r for r in self.results if r.error is not None and r.action is Action.LOG]


class SignatureVerificationError(VerificationError):
    """One signature failed verification; ``outcome`` says which check and why."""

    def __init__(self, outcome: SignatureOutcome) -> None:
        super().__init__(outcome.error or "signature verification failed")
        self.outcome = outcome


class TrustAnchors(Protocol):
    """What verification needs from a trust policy statement and its trust store."""

    @property
    def name(self) -> str:
        """Statement name (used in messages)."""
        ...

    @property
    def level(self) -> VerificationLevel:
        """Verification level with overrides applied."""
        ...

    def trusted_certificates(self, scheme: SigningScheme) -> list[x509.Certificate]:
        """Certificates of the stores the statement references for ``scheme`` (``ca`` or ``signingAuthority``).

        Raises:
            TrustPolicyError, TrustStoreError: with notation-go's messages.
        """
        ...

    def check_identity(self, leaf: x509.Certificate) -> None:
        """Raise if the leaf does not match the statement's trusted identities."""
        ...

    def check_authentic_timestamp(self, content: EnvelopeContent, now: datetime) -> None:
        """Run the authentic-timestamp step; raise :class:`TimestampError` (or a policy error) on failure."""
        ...

    def check_revocation(self, content: EnvelopeContent) -> None:
        """Raise :class:`RevocationError` if a chain certificate is revoked or its status unknown."""
        ...

    def verification_plugin(self, content: EnvelopeContent) -> VerificationPluginCheck | None:
        """The verification plugin the envelope names, checked usable; None when it names none.

        Raises:
            PluginError: the plugin cannot be used (an enforced failure).
        """
        ...


#: Checks the target artifact described by the payload; raises :class:`PayloadError` on mismatch.
TargetMatcher = Callable[[TargetArtifact, Algorithm], None]

#: Proves that the (integrity-checked) envelope was recorded in a transparency log and returns where,
#: or None when the statement does not require it and there is nothing to check. Raises
#: :class:`~notation_py.errors.TransparencyError` (a :class:`VerificationError`) on failure.
TransparencyCheck = Callable[[EnvelopeContent], "Inclusion | None"]


class OciTransparency(Protocol):
    """Builds the transparency check of one signature stored in an :class:`ArtifactStore`."""

    def oci_check(
        self, store: ArtifactStore, subject: Descriptor, manifest: Descriptor, listing: Sequence[Descriptor] = ()
    ) -> Callable[[FetchedSignature], TransparencyCheck]:
        """The check for the signature manifest ``manifest`` (a referrer of ``subject`` in ``store``).

        Called before the signature is fetched (so its proofs can be looked up meanwhile), with the
        subject's unfiltered referrers ``listing`` (proofs may be announced there); the returned
        function binds the check to the fetched signature.
        """
        ...


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _authenticity(content: EnvelopeContent, anchors: TrustAnchors, *, check_identity: bool = True) -> None:
    # Trust store errors carry notation-go's "error while loading the trust store, ..." text.
    trusted = anchors.trusted_certificates(content.signed.signing_scheme)
    trusted_der = {_der(c) for c in trusted}
    # notation-go: at least one certificate of the chain must be byte-equal to a trusted one.
    if not any(_der(c) in trusted_der for c in content.unsigned.certificate_chain):
        raise VerificationError("the signature's certificate chain does not contain any trusted certificate")
    if check_identity:  # else the verification plugin checks the trusted identity
        anchors.check_identity(content.leaf)


def _expiry(content: EnvelopeContent, now: datetime) -> None:
    expiry = content.signed.expiry
    if expiry is not None and now >= expiry:
        raise VerificationError(f'digital signature has expired on "{format_rfc1123z(expiry)}"')


def _verification_plugin(
    content: EnvelopeContent, anchors: TrustAnchors
) -> tuple[VerificationPluginCheck | None, str | None]:
    """The plugin to run (or None), or why the signature must fail now."""
    try:
        plugin = anchors.verification_plugin(content)
    except PluginError as exc:
        return None, exc.message
    if plugin is None:
        unknown = [a.key for a in content.signed.extended if a.critical]
        if unknown:
            # Only a verification plugin could process them (spec: unknown critical attributes MUST fail).
            return None, f"signature has unprocessed critical attribute(s): {', '.join(unknown)}"
    return plugin, None


def verify_signature(
    envelope: bytes,
    media_type: str,
    anchors: TrustAnchors,
    match_target: TargetMatcher,
    *,
    user_metadata: Mapping[str, str] | None = None,
    now: datetime | None = None,
    source: str | None = None,
    transparency: TransparencyCheck | None = None,
    deadline: Deadline | None = None,
) -> SignatureOutcome:
    """Verify one signature envelope under one trust policy statement.

    ``transparency``, when given, runs as the ``transparency`` check (after revocation), governed by
    the level like the others. ``deadline`` bounds the network lookups of the checks (revocation,
    transparency log), as does an enclosing :func:`~notation_py.deadline.deadline_scope`.

    Returns:
        The outcome (``verified`` is True), including checks that failed with action ``log``.

    Raises:
        SignatureVerificationError: an enforced check failed; ``.outcome`` explains.
        DeadlineExceededError: the deadline passed.
    """
    with deadline_scope(deadline):
        return _verify_signature(
            envelope,
            media_type,
            anchors,
            match_target,
            user_metadata=user_metadata,
            now=now,
            source=source,
            transparency=transparency,
        )


def _verify_signature(
    envelope: bytes,
    media_type: str,
    anchors: TrustAnchors,
    match_target: TargetMatcher,
    *,
    user_metadata: Mapping[str, str] | None,
    now: datetime | None,
    source: str | None,
    transparency: TransparencyCheck | None,
) -> SignatureOutcome:
    now = now or datetime.now(UTC)
    level = anchors.level
    results: list[CheckResult] = []

    def fail(error: str, content: EnvelopeContent | None = None, target: TargetArtifact | None = None) -> NoReturn:
        raise SignatureVerificationError(
            SignatureOutcome(media_type, level, content, target, tuple(results), error, source)
        )

    if level.is_skip:
        return SignatureOutcome(media_type, level, source=source)

    # 1. Integrity, always enforced.
    try:
        content = verify_envelope(media_type, envelope)
    except SignatureIntegrityError as exc:
        msg = f"signature is invalid. Error: {exc.message}"
        results.append(CheckResult(Check.INTEGRITY, Action.ENFORCE, msg))
        fail(msg)
    except (UnsupportedEnvelopeError, EnvelopeError) as exc:
        msg = f"unable to parse the digital signature, error : {exc.message}"
        results.append(CheckResult(Check.INTEGRITY, Action.ENFORCE, msg))
        fail(msg)
    results.append(CheckResult(Check.INTEGRITY, Action.ENFORCE))
    try:
        target = parse_payload(content.payload)
    except PayloadError as exc:
        results[-1] = CheckResult(Check.INTEGRITY, Action.ENFORCE, exc.message)
        fail(exc.message, content)

    # 2. Verification plugin and unknown critical attributes, always enforced.
    plugin, critical_error = _verification_plugin(content, anchors)
    if critical_error is not None:
        fail(critical_error, content, target)

    # 3-6. Level-governed checks.
    inclusion: Inclusion | None = None

    def prove_logged() -> None:
        nonlocal inclusion
        assert transparency is not None
        inclusion = transparency(content)

    identity_by_plugin = plugin is not None and plugin.handles_trusted_identity
    steps: list[tuple[Check, Callable[[], None]]] = [
        (Check.AUTHENTICITY, lambda: _authenticity(content, anchors, check_identity=not identity_by_plugin)),
        (Check.EXPIRY, lambda: _expiry(content, now)),
        (Check.AUTHENTIC_TIMESTAMP, lambda: anchors.check_authentic_timestamp(content, now)),
    ]
    if plugin is None or not plugin.handles_revocation:
        steps.append((Check.REVOCATION, lambda: anchors.check_revocation(content)))
    if transparency is not None:
        steps.append((Check.TRANSPARENCY, prove_logged))
    for check, run in steps:
        action = level.action(check)
        if action is Action.SKIP:
            results.append(CheckResult(check, action))
            continue
        try:
            run()
        except (VerificationError, TrustPolicyError, TrustStoreError, TimestampError, RevocationError) as exc:
            results.append(CheckResult(check, action, exc.message))
            if action is Action.ENFORCE:
                fail(exc.message, content, target)
            continue
        results.append(CheckResult(check, action))

    # 6c. The verification plugin's checks (trusted identity and/or revocation), after the others.
    if plugin is not None:
        revocation_action = level.action(Check.REVOCATION)
        try:
            verdict = plugin.verify(content, revocation_skipped=revocation_action is Action.SKIP)
        except PluginError as exc:
            fail(exc.message, content, target)
        plugin_results: list[tuple[Check, Action, str | None]] = []
        if plugin.handles_revocation:
            plugin_results.append((Check.REVOCATION, revocation_action, verdict.revocation_error))
        if verdict.trusted_identity_error is not None:
            plugin_results.append(
                (Check.AUTHENTICITY, level.action(Check.AUTHENTICITY), verdict.trusted_identity_error)
            )
        for check, action, error in plugin_results:
            results.append(CheckResult(check, action, error))
            if error is not None and action is Action.ENFORCE:
                fail(error, content, target)

    # 7. The payload describes this artifact, with the metadata the user requires.
    try:
        match_target(target, content.algorithm)
    except PayloadError as exc:
        fail(exc.message, content, target)
    for key, value in (user_metadata or {}).items():
        if target.annotations.get(key) != value:
            fail(
                f'unable to find specified metadata "{key}={value}" in the signature payload annotations',
                content,
                target,
            )
    return SignatureOutcome(media_type, level, content, target, tuple(results), None, source, inclusion)


# --- target matchers --------------------------------------------------------------------------


def descriptor_matcher(media_type: str, digest: str, size: int) -> TargetMatcher:
    """Matcher for an OCI artifact: payload mediaType, digest and size must equal the descriptor's."""

    def match(target: TargetArtifact, _alg: Algorithm) -> None:
        if (target.media_type, target.digest, target.size) != (media_type, digest, size):
            raise PayloadError(
                "content descriptor mismatch: the signature was made for "
                f"{target.digest} ({target.media_type}, {target.size} bytes), not for "
                f"{digest} ({media_type}, {size} bytes)"
            )

    return match


def blob_matcher(blob: Callable[[], bytes] | Path, media_type: str | None = None) -> TargetMatcher:
    """Matcher for a blob: size, digest (hash chosen by the signing key) and, if given, media type."""

    def match(target: TargetArtifact, alg: Algorithm) -> None:
        mismatch = PayloadError("integrity check failed. signature does not match the given blob")
        if media_type is not None and target.media_type != media_type:
            raise mismatch
        algorithm, _, _ = target.digest.partition(":")
        if algorithm != alg.digest_algorithm:
            raise mismatch
        if isinstance(blob, Path):
            hex_digest, size = hash_file(blob, alg.digest_algorithm)
        else:
            data = blob()
            hex_digest, size = hashlib.new(alg.digest_algorithm, data).hexdigest(), len(data)
        if size != target.size or f"{algorithm}:{hex_digest}" != target.digest:
            raise mismatch

    return match


# --- aggregate results ------------------------------------------------------------------------


@dataclass(frozen=True)
class VerificationResult:
    """The result of a successful verification: the signature that verified, and the ones that did not.

    Attributes:
        reference: What was verified, as displayed (``repo@digest``, the signature file).
        verified: The signature that verified; ``None`` only when ``skipped``.
        rejected: The signatures tried before it, each with the reason it failed.
        skipped: The trust policy statement has level ``skip``: nothing was verified, by policy
            (notation reports this as success; a caller that needs a signature must check it).
        statement: The name of the trust policy statement applied.
        subject: The artifact's manifest descriptor (OCI artifacts).
        timings: Seconds spent per phase (``resolve``, ``verify``, ``total``).
    """

    reference: str
    verified: SignatureOutcome | None
    rejected: tuple[SignatureOutcome, ...] = field(default=())
    skipped: bool = False
    statement: str | None = None
    subject: Descriptor | None = None
    timings: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def skip(cls, reference: str, statement: str, *, subject: Descriptor | None = None) -> VerificationResult:
        """The result under a statement of level ``skip``."""
        return cls(reference, None, skipped=True, statement=statement, subject=subject)

    def with_context(
        self, *, statement: str, timings: Mapping[str, float], subject: Descriptor | None = None
    ) -> VerificationResult:
        """This result with the applied statement, the subject and the timings filled in."""
        return replace(self, statement=statement, subject=subject or self.subject, timings=dict(timings))

    @property
    def outcomes(self) -> tuple[SignatureOutcome, ...]:
        """Every signature evaluated, in order: the rejected ones, then the one that verified."""
        return self.rejected + ((self.verified,) if self.verified is not None else ())

    @property
    def inclusion(self) -> Inclusion | None:
        """Where the verified signature was proven to be logged (transparency), if a proof was checked."""
        return self.verified.transparency if self.verified is not None else None


def first_verified(
    reference: str,
    attempts: Sequence[Callable[[], SignatureOutcome]],
    *,
    no_signature_message: str,
) -> VerificationResult:
    """Try signatures in order and return as soon as one verifies (notation semantics).

    Raises:
        VerificationError: no signature, or every signature failed (``failures`` lists why).
    """
    rejected: list[SignatureOutcome] = []
    for attempt in attempts:
        try:
            outcome = attempt()
        except SignatureVerificationError as exc:
            rejected.append(exc.outcome)
            continue
        return VerificationResult(reference, outcome, tuple(rejected))
    if not rejected:
        raise VerificationError(no_signature_message)
    raise VerificationError(
        f"signature verification failed for all the signatures associated with {reference}",
        [f"{o.source or 'signature'}: {o.error}" for o in rejected],
    )


def verify_artifact(
    store: ArtifactStore,
    subject: Descriptor,
    anchors: TrustAnchors,
    *,
    display: str,
    user_metadata: Mapping[str, str] | None = None,
    max_signatures: int = 100,
    now: datetime | None = None,
    transparency: OciTransparency | None = None,
    deadline: Deadline | None = None,
) -> VerificationResult:
    """Verify the signatures stored for ``subject`` until one verifies (notation semantics).

    With ``transparency``, each signature must also pass the ``transparency`` check it builds.

    A signature that cannot even be read (missing blob, digest mismatch, malformed manifest) counts
    as a failed signature: the others are still evaluated, and the reasons are all reported.

    ``deadline`` bounds the whole verification: every read from ``store`` (when it is a registry
    repository), revocation lookup and transparency-log lookup, also those made in background
    threads. An enclosing :func:`~notation_py.deadline.deadline_scope` does the same.

    Raises:
        VerificationError: no signature, or none verified.
        DeadlineExceededError: the deadline passed before a signature verified.
    """
    with deadline_scope(deadline):
        return _verify_artifact(
            store,
            subject,
            anchors,
            display=display,
            user_metadata=user_metadata,
            max_signatures=max_signatures,
            now=now,
            transparency=transparency,
        )


def _verify_artifact(
    store: ArtifactStore,
    subject: Descriptor,
    anchors: TrustAnchors,
    *,
    display: str,
    user_metadata: Mapping[str, str] | None,
    max_signatures: int,
    now: datetime | None,
    transparency: OciTransparency | None,
) -> VerificationResult:
    matcher = descriptor_matcher(subject.media_type, str(subject.digest), subject.size)

    logged = transparency is not None and anchors.level.action(Check.TRANSPARENCY) is not Action.SKIP

    def attempt(manifest: Descriptor) -> SignatureOutcome:
        source = str(manifest.digest)
        bind = (
            transparency.oci_check(store, subject, manifest, listing or ())
            if transparency is not None and logged
            else None
        )
        try:
            sig = fetch_signature(store, manifest, subject)
        except (ArtifactError, DigestError, EnvelopeError) as exc:
            raise SignatureVerificationError(
                SignatureOutcome(
                    "", anchors.level, error=f"unable to retrieve the signature: {exc.message}", source=source
                )
            ) from None
        return verify_signature(
            sig.envelope,
            sig.envelope_media_type,
            anchors,
            matcher,
            user_metadata=user_metadata,
            now=now,
            source=source,
            transparency=bind(sig) if bind is not None else None,
        )

    # With transparency, one unfiltered listing: the signatures, and the proofs announced beside them.
    listing = list(store.referrers(subject)) if transparency is not None and logged else None
    manifests = list(list_signature_manifests(store, subject, max_signatures, listing=listing))
    return first_verified(
        display,
        [partial(attempt, m) for m in manifests],
        no_signature_message=f'no signature is associated with "{display}", make sure the artifact was signed successfully',
    )


__all__ = [
    "CheckResult",
    "NotationError",
    "OciTransparency",
    "SignatureOutcome",
    "SignatureVerificationError",
    "TargetMatcher",
    "TransparencyCheck",
    "TrustAnchors",
    "VerificationResult",
    "blob_matcher",
    "descriptor_matcher",
    "first_verified",
    "verify_artifact",
    "verify_signature",
]
