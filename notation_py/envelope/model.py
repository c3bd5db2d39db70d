"""Typed content of a Notary Project signature envelope, independent of JWS or COSE.

``e = {m, v, u, s}``: payload, signed attributes, unsigned attributes and the primitive signature
(signature-specification.md, "Signature Envelope").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from cryptography import x509

from notation_py.envelope.algorithms import Algorithm

#: Envelope media types (layer media type in a signature manifest).
MEDIA_TYPE_JWS = "application/jose+json"
MEDIA_TYPE_COSE = "application/cose"
ENVELOPE_MEDIA_TYPES = (MEDIA_TYPE_JWS, MEDIA_TYPE_COSE)
#: Payload content type (``cty``).
PAYLOAD_CONTENT_TYPE = "application/vnd.cncf.notary.payload.v1+json"

# Attribute names shared by both envelope formats.
ATTR_SIGNING_SCHEME = "io.cncf.notary.signingScheme"
ATTR_SIGNING_TIME = "io.cncf.notary.signingTime"
ATTR_AUTHENTIC_SIGNING_TIME = "io.cncf.notary.authenticSigningTime"
ATTR_EXPIRY = "io.cncf.notary.expiry"
ATTR_VERIFICATION_PLUGIN = "io.cncf.notary.verificationPlugin"
ATTR_VERIFICATION_PLUGIN_MIN_VERSION = "io.cncf.notary.verificationPluginMinVersion"
ATTR_TIMESTAMP_SIGNATURE = "io.cncf.notary.timestampSignature"
ATTR_SIGNING_AGENT = "io.cncf.notary.signingAgent"

#: Protected attribute names with a fixed meaning (never extended attributes).
RESERVED_SIGNED_NAMES = frozenset(
    {
        ATTR_SIGNING_SCHEME,
        ATTR_SIGNING_TIME,
        ATTR_AUTHENTIC_SIGNING_TIME,
        ATTR_EXPIRY,
        ATTR_VERIFICATION_PLUGIN,
        ATTR_VERIFICATION_PLUGIN_MIN_VERSION,
    }
)


class SigningScheme(StrEnum):
    """The two signing schemes of signing-scheme.md."""

    X509 = "notary.x509"
    X509_SIGNING_AUTHORITY = "notary.x509.signingAuthority"


@dataclass(frozen=True)
class ExtendedAttribute:
    """A signed attribute outside the spec's own set; kept and re-emitted as given."""

    key: str
    value: Any
    critical: bool = False


@dataclass(frozen=True)
class SignedAttributes:
    """The protected attributes every Notary Project envelope carries."""

    signing_scheme: SigningScheme
    signing_time: datetime | None = None
    authentic_signing_time: datetime | None = None
    expiry: datetime | None = None
    content_type: str = PAYLOAD_CONTENT_TYPE
    verification_plugin: str | None = None
    verification_plugin_min_version: str | None = None
    extended: tuple[ExtendedAttribute, ...] = ()

    @property
    def time(self) -> datetime | None:
        """Signing time for ``notary.x509``, authentic signing time for ``signingAuthority``."""
        if self.signing_scheme is SigningScheme.X509_SIGNING_AUTHORITY:
            return self.authentic_signing_time
        return self.signing_time


@dataclass(frozen=True)
class UnsignedAttributes:
    """Unprotected attributes: the certificate chain, an optional RFC 3161 token, the signing agent."""

    certificate_chain: tuple[x509.Certificate, ...]
    timestamp_signature: bytes | None = None
    signing_agent: str | None = None


@dataclass(frozen=True)
class EnvelopeContent:
    """A parsed envelope: exact signed payload bytes, attributes and the raw primitive signature."""

    media_type: str
    payload: bytes
    signed: SignedAttributes
    unsigned: UnsignedAttributes
    signature: bytes
    algorithm: Algorithm
    #: The exact bytes the primitive signature covers (JWS signing input or COSE Sig_structure).
    signed_bytes: bytes = field(repr=False)

    @property
    def leaf(self) -> x509.Certificate:
        """The signing certificate (first of the chain)."""
        return self.unsigned.certificate_chain[0]


class PrimitiveSigner(Protocol):
    """Produces raw primitive signatures for one key: a local key today, an HSM or a plugin later."""

    @property
    def algorithm(self) -> Algorithm:
        """The algorithm the key requires."""
        ...

    @property
    def certificate_chain(self) -> tuple[x509.Certificate, ...]:
        """Leaf-first certificate chain ending with the root."""
        ...

    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` and return the raw signature (ECDSA as ``r||s``)."""
        ...


#: Called with the raw primitive signature; returns a DER RFC 3161 TimeStampToken over it.
Timestamper = Callable[[bytes, Algorithm], bytes]


@dataclass(frozen=True)
class SignRequest:
    """Everything needed to produce one envelope."""

    payload: bytes
    signer: PrimitiveSigner
    signing_time: datetime
    signing_scheme: SigningScheme = SigningScheme.X509
    expiry: datetime | None = None
    payload_content_type: str = PAYLOAD_CONTENT_TYPE
    extended: tuple[ExtendedAttribute, ...] = ()
    signing_agent: str | None = None
    timestamper: Timestamper | None = None
