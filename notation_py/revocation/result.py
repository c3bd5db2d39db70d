"""Revocation results, modelled on notation-core-go ``revocation/result``.

A check produces one :class:`CertRevocationResult` per certificate of the chain (leaf first, root
last); each holds the :class:`ServerResult` of every OCSP responder or CRL distribution point that
was consulted. :class:`ChainResult` folds them into the single verdict that notation-go reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum

from cryptography import x509

from notation_py.x509.names import go_quote


class Result(StrEnum):
    """Revocation status of one certificate (Go ``result.Result``; values are Go's ``String()``)."""

    UNKNOWN = "unknown"
    """Status could not be determined: no responder answered usefully, a CRL was invalid, ..."""
    OK = "ok"
    """The certificate is not revoked."""
    NON_REVOKABLE = "non-revokable"
    """The certificate has no OCSP or CRL information (or is the root); treated as not revoked."""
    REVOKED = "revoked"
    """The certificate is revoked."""


class RevocationMethod(StrEnum):
    """How a result was obtained (Go ``result.RevocationMethod``)."""

    UNKNOWN = "unknown"
    OCSP = "OCSP"
    CRL = "CRL"
    OCSP_FALLBACK_CRL = "OCSPFallbackCRL"


class Purpose(Enum):
    """What the certificate chain is used for; selects the wording of the final error."""

    CODE_SIGNING = "signing"
    TIMESTAMPING = "timestamping"

    @property
    def noun(self) -> str:
        """Word used in notation-go's messages: ``signing`` or ``timestamping``."""
        return self.value


@dataclass(frozen=True)
class ServerResult:
    """Outcome of asking one OCSP responder or one CRL distribution point.

    Attributes:
        result: Status reported by this source.
        server: URL of the responder or CRL ("" when no source was consulted).
        method: Revocation method used.
        error: Why the status is not definitive (or, for ``REVOKED``, a short explanation).
        revocation_time: When the certificate was revoked, if the source said so.
        reason: CRL reason name (RFC 5280 ``CRLReason``), if the source gave one.
        invalidity_date: RFC 5280 invalidity date of the revocation entry, if present.
    """

    result: Result
    server: str = ""
    method: RevocationMethod = RevocationMethod.UNKNOWN
    error: str | None = None
    revocation_time: datetime | None = None
    reason: str | None = None
    invalidity_date: datetime | None = None


@dataclass(frozen=True)
class CertRevocationResult:
    """Revocation status of one certificate of a chain (Go ``result.CertRevocationResult``).

    Attributes:
        result: Final status for the certificate.
        server_results: Per-source results, in the order the sources were consulted. When OCSP fell
            back to CRL both the OCSP and the CRL results are listed.
        method: Method that produced ``result``.
    """

    result: Result
    server_results: tuple[ServerResult, ...] = ()
    method: RevocationMethod = RevocationMethod.UNKNOWN

    @property
    def error(self) -> str | None:
        """The last error reported by any source, or ``None``."""
        for server_result in reversed(self.server_results):
            if server_result.error is not None:
                return server_result.error
        return None

    @property
    def is_good(self) -> bool:
        """True when the certificate counts as not revoked (``OK`` or ``NON_REVOKABLE``)."""
        return self.result in (Result.OK, Result.NON_REVOKABLE)


@dataclass(frozen=True)
class ChainResult:
    """Verdict for a whole chain, as notation-go's ``revocationFinalResult`` computes it.

    Attributes:
        result: ``OK`` when every certificate is ``OK`` or ``NON_REVOKABLE``; ``REVOKED`` when any
            certificate is revoked; ``UNKNOWN`` otherwise.
        cert_results: One result per certificate, leaf first.
        chain: The certificates that were checked, leaf first.
        purpose: What the chain is used for (selects the wording of :attr:`message`).
        problematic_index: Index in ``chain`` of the certificate the verdict is about (the revoked
            certificate closest to the leaf, else the unknown certificate closest to the leaf),
            ``None`` when ``result`` is ``OK``.
        problematic_subject: That certificate's subject as Go's ``pkix.Name.String()`` prints it,
            or ``None``.
    """

    result: Result
    cert_results: tuple[CertRevocationResult, ...]
    chain: tuple[x509.Certificate, ...] = field(repr=False)
    purpose: Purpose = Purpose.CODE_SIGNING
    problematic_index: int | None = None
    problematic_subject: str | None = None

    @property
    def ok(self) -> bool:
        """True when the chain passed the revocation check."""
        return self.result is Result.OK

    @property
    def message(self) -> str | None:
        """notation-go's error message for a failed check, ``None`` when the check passed.

        ``signing certificate with subject "<subject>" is revoked`` or ``... revocation status is
        unknown``; ``timestamping`` instead of ``signing`` for a timestamping chain.
        """
        if self.result is Result.OK:
            return None
        subject = go_quote(self.problematic_subject or "")
        if self.result is Result.REVOKED:
            return f"{self.purpose.noun} certificate with subject {subject} is revoked"
        return f"{self.purpose.noun} certificate with subject {subject} revocation status is unknown"
