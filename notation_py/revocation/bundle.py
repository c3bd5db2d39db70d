"""The unit of CRL retrieval: a base CRL plus its optional delta CRL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509

from notation_py.errors import RevocationError


@dataclass(frozen=True)
class CRLBundle:
    """A base CRL and, when one is published, its delta CRL.

    Build with :meth:`from_der`. ``from_cache`` records whether the bundle was served by a cache
    (the checker then retries with a fresh download if the cached copy fails validation).
    """

    base_der: bytes
    delta_der: bytes | None
    base: x509.CertificateRevocationList = field(repr=False, compare=False)
    delta: x509.CertificateRevocationList | None = field(repr=False, compare=False)
    from_cache: bool = field(default=False, compare=False)

    @classmethod
    def from_der(cls, base_der: bytes, delta_der: bytes | None = None) -> CRLBundle:
        """Parse a bundle from DER.

        Raises:
            RevocationError: Either CRL does not parse.
        """
        base = parse_crl(base_der)
        delta = parse_crl(delta_der) if delta_der is not None else None
        return cls(base_der, delta_der, base, delta)

    def is_effective(self, now: datetime) -> bool:
        """True when every CRL of the bundle has a ``nextUpdate`` that ``now`` has not passed."""
        return not crl_expired(self.base, now) and (self.delta is None or not crl_expired(self.delta, now))


def parse_crl(der: bytes) -> x509.CertificateRevocationList:
    """Parse a DER CRL.

    Raises:
        RevocationError: ``der`` is not a CRL.
    """
    try:
        return x509.load_der_x509_crl(der)
    except ValueError as exc:
        raise RevocationError(f"failed to parse CRL: {exc}") from exc


def crl_expired(crl: x509.CertificateRevocationList, now: datetime) -> bool:
    """True when ``crl`` has no ``nextUpdate`` or ``now`` is after it."""
    next_update = crl.next_update_utc
    return next_update is None or now > next_update
