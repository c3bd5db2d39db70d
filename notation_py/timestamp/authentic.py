"""The "authentic timestamp" validation step of signature verification.

This is notation-go's ``verifyAuthenticTimestamp`` (``verifier/verifier.go``) step by step, with the
same decisions, order and error texts (trust-store-trust-policy.md, "Signature Verification
details", step *authentic timestamp*):

``notary.x509.signingAuthority``
    every certificate of the envelope chain must contain the signed ``authenticSigningTime``.

``notary.x509``
    an RFC 3161 countersignature is verified iff the statement references a ``tsa:`` trust store
    **and** (``verifyTimestamp`` is ``always``/unset **or** some chain certificate has expired at
    ``now``). Without it every chain certificate must be valid at ``now``. With it: the token must
    be present, parse, match the primitive signature, be signed by a TSA chaining to a ``tsa:``
    root at ``genTime`` that meets the timestamping certificate rules, and the range
    ``genTime ± accuracy`` must lie inside the validity period of every chain certificate. Last,
    the TSA chain's revocation status is checked through the ``revocation_check`` hook.

Failures raise :class:`~notation_py.errors.TimestampError` with notation-go's message; whether the
failure is enforced or only logged is decided by the caller from the verification level.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography import x509

from notation_py.envelope.model import EnvelopeContent, SigningScheme
from notation_py.errors import DeadlineExceededError, NotationError, TimestampError
from notation_py.policy.truststore import StoreType, TrustStore, load_policy_certificates, policy_uses_tsa
from notation_py.timestamp.token import TimestampInfo, parse_timestamp_token, validate_tsa_chain
from notation_py.x509.names import format_name, go_quote

__all__ = [
    "AFTER_CERT_EXPIRY",
    "AuthenticTimestampResult",
    "RevocationCheck",
    "TimestampPolicyStatement",
    "TrustStoreRefLike",
    "verify_authentic_timestamp",
]

#: ``verifyTimestamp`` value that limits timestamp verification to expired signing chains.
AFTER_CERT_EXPIRY = "afterCertExpiry"

#: Hook that checks the revocation status of a verified TSA chain (TSA certificate first, root
#: last) at the given time and raises when a certificate is revoked or its status is unknown.
#: It should raise a :class:`~notation_py.errors.NotationError` (e.g. ``RevocationError``) whose
#: message is notation-go's final text, ``timestamping certificate with subject "<subject>" is
#: revoked`` / ``… revocation status is unknown``; the step re-raises it as a ``TimestampError``
#: with the same message.
RevocationCheck = Callable[[Sequence[x509.Certificate], datetime], None]


class TrustStoreRefLike(Protocol):
    """A parsed ``"{type}:{name}"`` trust store reference."""

    @property
    def type(self) -> Any:
        """Store type: ``ca``, ``signingAuthority`` or ``tsa`` (a ``str`` or a ``StrEnum``)."""
        ...

    @property
    def name(self) -> str:
        """Named store."""
        ...


class TimestampPolicyStatement(Protocol):
    """What this step reads from a trust policy statement.

    ``trust_stores`` should be the ``"{type}:{name}"`` strings *as written* in the policy document:
    notation-go validates them at this step (a value without ``:`` before the first ``tsa`` entry
    fails with ``failed to check tsa trust store configuration in turst policy with error: invalid
    trust policy statement: … is missing separator …``). Parsed references are accepted too and are
    turned back into ``type:name`` strings.
    """

    @property
    def name(self) -> str:
        """Statement name (used in error messages)."""
        ...

    @property
    def trust_stores(self) -> Sequence[str | TrustStoreRefLike]:
        """Referenced trust stores, in document order."""
        ...

    @property
    def verify_timestamp(self) -> Any:
        """``always`` (or ``None``: the default) or ``afterCertExpiry`` (a ``str`` or a ``StrEnum``)."""
        ...


@dataclass(frozen=True)
class AuthenticTimestampResult:
    """Outcome of a successful authentic-timestamp step.

    ``timestamp`` is the verified countersignature (with its TSA chain) when one was verified,
    ``None`` when the step passed without it (signing-authority scheme, no ``tsa`` store, or
    ``afterCertExpiry`` with an unexpired chain). ``detail`` says which path was taken (for logs).
    """

    timestamp: TimestampInfo | None
    detail: str

    @property
    def timestamp_verified(self) -> bool:
        """True when an RFC 3161 countersignature was verified."""
        return self.timestamp is not None


def verify_authentic_timestamp(
    content: EnvelopeContent,
    statement: TimestampPolicyStatement,
    trust_store: TrustStore,
    now: datetime,
    *,
    revocation_check: RevocationCheck | None = None,
) -> AuthenticTimestampResult:
    """Run the authentic-timestamp check of one envelope (notation-go ``verifyAuthenticTimestamp``).

    Args:
        content: The parsed envelope (integrity is the caller's earlier step).
        statement: The applicable trust policy statement.
        trust_store: Where ``tsa:`` stores are loaded from (e.g.
            :class:`~notation_py.policy.truststore.X509TrustStore`); only touched when a
            countersignature is verified.
        now: The verification time (Go uses ``time.Now()``); naive values are taken as UTC.
        revocation_check: Checks the revocation status of the verified TSA chain; called with
            ``(tsa_chain, now)`` as the very last check, after the timestamp range check, as in
            notation-go. ``None`` skips it. notation-go always performs it (online OCSP/CRL), so
            callers wanting parity must supply one (e.g. backed by :mod:`notation_py.revocation`).

    Returns:
        How the step passed.

    Raises:
        TimestampError: The step failed; the message is notation-go's.
    """
    now = _aware(now)
    chain = content.unsigned.certificate_chain

    if content.signed.signing_scheme is SigningScheme.X509_SIGNING_AUTHORITY:
        # Go compares its zero time.Time when the attribute is missing; so does this.
        signing_time = _aware(content.signed.authentic_signing_time or datetime(1, 1, 1, tzinfo=UTC))
        for cert in chain:
            if signing_time < cert.not_valid_before_utc or signing_time > cert.not_valid_after_utc:
                raise TimestampError(
                    f"certificate {_subject(cert)} was not valid when the digital signature was "
                    f"produced at {go_quote(_rfc1123z(signing_time))}"
                )
        return AuthenticTimestampResult(
            timestamp=None,
            detail="notary.x509.signingAuthority: the authentic signing time is within the validity "
            "period of every certificate",
        )

    store_values = _store_values(statement)
    try:
        perform = policy_uses_tsa(statement.name, store_values)
    except NotationError as exc:
        raise TimestampError(
            f"failed to check tsa trust store configuration in turst policy with error: {exc.message}"
        ) from exc
    reason = "no tsa trust store is configured in trust policy"
    after_expiry_only = _option(statement.verify_timestamp) == AFTER_CERT_EXPIRY
    if perform and after_expiry_only and not any(now > cert.not_valid_after_utc for cert in chain):
        perform = False
        reason = f'verifyTimestamp is set to "{AFTER_CERT_EXPIRY}" and signing cert chain unexpired'

    if not perform:
        # Without a verified timestamp the signing chain must be valid now.
        for cert in chain:
            if now < cert.not_valid_before_utc:
                raise TimestampError(
                    f"verification time is before certificate {_subject(cert)} validity period, "
                    f"it will be valid from {go_quote(_rfc1123z(cert.not_valid_before_utc))}"
                )
            if now > cert.not_valid_after_utc:
                raise TimestampError(
                    f"verification time is after certificate {_subject(cert)} validity period, "
                    f"it was expired at {go_quote(_rfc1123z(cert.not_valid_after_utc))}"
                )
        return AuthenticTimestampResult(
            timestamp=None,
            detail=f"timestamp verification disabled: {reason}; the certificate chain is valid now",
        )

    # 1. The timestamp countersignature must be present.
    if not content.unsigned.timestamp_signature:
        raise TimestampError("no timestamp countersignature was found in the signature envelope")

    # 2. Verify the countersignature.
    try:
        token = parse_timestamp_token(content.unsigned.timestamp_signature)
    except TimestampError as exc:
        raise TimestampError(f"failed to parse timestamp countersignature with error: {exc.message}") from exc
    try:
        token.tst_info()
    except TimestampError as exc:
        raise TimestampError(f"failed to get the timestamp TSTInfo with error: {exc.message}") from exc
    try:
        # As notation-go: hash with the imprint's own algorithm (SHA-256/384/512), not
        # necessarily the signing key's hash.
        info = token.validate_message(content.signature)
    except TimestampError as exc:
        raise TimestampError(
            f"failed to get timestamp from timestamp countersignature with error: {exc.message}"
        ) from exc
    try:
        roots = load_policy_certificates(trust_store, StoreType.TSA, statement.name, store_values)
    except NotationError as exc:
        raise TimestampError(f"failed to load tsa trust store with error: {exc.message}") from exc
    if not roots:
        raise TimestampError("no trusted TSA certificate found in trust store")
    try:
        tsa_chain = token.verify_signed_token(roots)
    except TimestampError as exc:
        raise TimestampError(f"failed to verify the timestamp countersignature with error: {exc.message}") from exc

    # 3. The TSA chain must meet the timestamping certificate requirements.
    try:
        validate_tsa_chain(tsa_chain)
    except TimestampError as exc:
        raise TimestampError(
            f"failed to validate the timestamping certificate chain with error: {exc.message}"
        ) from exc
    info = replace(info, tsa_chain=tsa_chain)

    # 4. The timestamp range must lie inside every signing certificate's validity period.
    for cert in chain:
        if not info.bounded_after(cert.not_valid_before_utc):
            raise TimestampError(
                f"timestamp can be before certificate {_subject(cert)} validity period, "
                f"it will be valid from {go_quote(_rfc1123z(cert.not_valid_before_utc))}"
            )
        if not info.bounded_before(cert.not_valid_after_utc):
            raise TimestampError(
                f"timestamp can be after certificate {_subject(cert)} validity period, "
                f"it was expired at {go_quote(_rfc1123z(cert.not_valid_after_utc))}"
            )

    # 5. Revocation of the TSA chain (delegated to the caller's hook).
    if revocation_check is not None:
        try:
            revocation_check(tsa_chain, now)
        except (TimestampError, DeadlineExceededError):
            raise  # a passed deadline ends the operation: it says nothing about the timestamp
        except NotationError as exc:
            raise TimestampError(exc.message) from exc
    checked = "" if revocation_check is not None else "; TSA chain revocation not checked"
    return AuthenticTimestampResult(
        timestamp=info,
        detail=f"timestamp countersignature verified, TSA {format_name(tsa_chain[0].subject)}, {info}{checked}",
    )


# -- helpers -----------------------------------------------------------------------------------------

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _rfc1123z(moment: datetime) -> str:
    """Go's ``time.RFC1123Z`` layout (``Mon, 02 Jan 2006 15:04:05 -0700``), locale-independent.

    Aware values keep their UTC offset, as a Go ``time.Time`` keeps its zone (an
    ``authenticSigningTime`` written as ``…+08:00`` prints ``+0800``); certificate times are UTC.
    """
    moment = _aware(moment)
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return (
        f"{_WEEKDAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} {moment.year:04d} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} {sign}{hours:02d}{mins:02d}"
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _option(value: Any) -> str:
    """String value of a ``str``/``Enum`` policy option (``None`` → ``""``)."""
    if value is None:
        return ""
    return str(getattr(value, "value", value))


def _subject(cert: x509.Certificate) -> str:
    """The subject as Go's ``%q`` of ``pkix.Name`` prints it, e.g. ``"CN=a,O=b,C=US"``."""
    return go_quote(format_name(cert.subject))


def _store_values(statement: TimestampPolicyStatement) -> list[str]:
    """The statement's ``trustStores`` as ``type:name`` strings (raw strings are kept as written)."""
    return [
        entry if isinstance(entry, str) else f"{_option(entry.type)}:{entry.name}" for entry in statement.trust_stores
    ]
