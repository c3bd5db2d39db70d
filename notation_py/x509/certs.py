"""Reading X.509 certificates, and the few certificate fields the Notary Project rules look at.

Parsing follows notation-core-go ``x509.ReadCertificateFile``: PEM (one or more ``CERTIFICATE``
blocks) or DER (one certificate, or several concatenated). Unlike Go, an input without any
certificate is an error here, and so is a PEM block of another type: a trust store or key file that
silently yields nothing (or holds a private key) is a misconfiguration worth reporting.

The extension fields (basicConstraints, keyUsage, extKeyUsage) and the raw subject/issuer bytes are
decoded from the certificate's own DER with ``asn1crypto`` rather than from ``cryptography``'s
extension objects. This keeps Go's semantics exactly (``BasicConstraintsValid``, raw ``KeyUsage``
bits, known vs. unknown EKUs, ``RawSubject``/``RawIssuer`` byte comparison) and avoids
``cryptography`` refusing some extensions Go accepts (e.g. keyUsage encipherOnly without
keyAgreement). ``asn1crypto``'s parser also splits concatenated DER certificates; ``cryptography``
still loads each certificate and verifies signatures.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from asn1crypto import algos as asn1_algos
from asn1crypto import core as asn1_core
from asn1crypto import keys as asn1_keys
from asn1crypto import parser as asn1_parser
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from notation_py.errors import CertificateError

__all__ = [
    "EKU_ANY",
    "EKU_CODE_SIGNING",
    "EKU_TIME_STAMPING",
    "KU_CERT_SIGN",
    "KU_CONTENT_COMMITMENT",
    "KU_CRL_SIGN",
    "KU_DATA_ENCIPHERMENT",
    "KU_DECIPHER_ONLY",
    "KU_DIGITAL_SIGNATURE",
    "KU_ENCIPHER_ONLY",
    "KU_KEY_AGREEMENT",
    "KU_KEY_ENCIPHERMENT",
    "CertificateFields",
    "Extension",
    "certificate_fields",
    "parse_certificates",
    "read_certificate_file",
    "thumbprint_sha256",
]

# --- keyUsage bits, numbered as Go's x509.KeyUsage (bit i of the BIT STRING -> 1 << i) --------------
KU_DIGITAL_SIGNATURE = 1 << 0
KU_CONTENT_COMMITMENT = 1 << 1
KU_KEY_ENCIPHERMENT = 1 << 2
KU_DATA_ENCIPHERMENT = 1 << 3
KU_KEY_AGREEMENT = 1 << 4
KU_CERT_SIGN = 1 << 5
KU_CRL_SIGN = 1 << 6
KU_ENCIPHER_ONLY = 1 << 7
KU_DECIPHER_ONLY = 1 << 8

# --- extended key usages Go knows by name (x509.ExtKeyUsage); others are "unknown" EKUs -----------
EKU_ANY = "2.5.29.37.0"
EKU_SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
EKU_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"
EKU_CODE_SIGNING = "1.3.6.1.5.5.7.3.3"
EKU_EMAIL_PROTECTION = "1.3.6.1.5.5.7.3.4"
EKU_TIME_STAMPING = "1.3.6.1.5.5.7.3.8"
EKU_OCSP_SIGNING = "1.3.6.1.5.5.7.3.9"

#: OID -> Go ``x509.ExtKeyUsage`` enum value, for every EKU Go parses into ``cert.ExtKeyUsage``.
GO_KNOWN_EKUS: dict[str, int] = {
    EKU_ANY: 0,
    EKU_SERVER_AUTH: 1,
    EKU_CLIENT_AUTH: 2,
    EKU_CODE_SIGNING: 3,
    EKU_EMAIL_PROTECTION: 4,
    "1.3.6.1.5.5.7.3.5": 5,  # IPSECEndSystem
    "1.3.6.1.5.5.7.3.6": 6,  # IPSECTunnel
    "1.3.6.1.5.5.7.3.7": 7,  # IPSECUser
    EKU_TIME_STAMPING: 8,
    EKU_OCSP_SIGNING: 9,
    "1.3.6.1.4.1.311.10.3.3": 10,  # MicrosoftServerGatedCrypto
    "2.16.840.1.113730.4.1": 11,  # NetscapeServerGatedCrypto
    "1.3.6.1.4.1.311.2.1.22": 12,  # MicrosoftCommercialCodeSigning
    "1.3.6.1.4.1.311.61.1.1": 13,  # MicrosoftKernelCodeSigning
}

OID_KEY_USAGE = "2.5.29.15"
OID_BASIC_CONSTRAINTS = "2.5.29.19"
OID_EXT_KEY_USAGE = "2.5.29.37"

_SEQUENCE_IDENTIFIER = 0x30  # universal, constructed, tag 16
_INDEFINITE_LENGTH = b"\x80"

#: What asn1crypto raises for malformed input while it (lazily) parses a value; an empty BIT STRING
#: surfaces as IndexError.
_ASN1_ERRORS = (ValueError, TypeError, KeyError, IndexError)  # what asn1crypto raises on malformed input

# ------------------------------------------------------------------------------------------------
# Reading files
# ------------------------------------------------------------------------------------------------

# One PEM block, as encoding/pem would find it: BEGIN line, body, END line with the same label.
_PEM_BLOCK = re.compile(
    rb"-----BEGIN (?P<label>[^\r\n-]*)-----\r?\n(?P<body>.*?)-----END (?P=label)-----",
    re.DOTALL,
)


def parse_certificates(data: bytes) -> list[x509.Certificate]:
    """Parse one or more certificates from PEM or DER bytes.

    PEM input (anything containing ``-----BEGIN``) must consist of ``CERTIFICATE`` blocks only; text
    around the blocks is ignored as by Go's ``encoding/pem``. Otherwise the input is DER: one
    certificate or several concatenated, as Go's ``x509.ParseCertificates`` accepts.

    Args:
        data: The file content.

    Returns:
        The certificates in input order (at least one).

    Raises:
        CertificateError: The input is empty, holds no certificate, holds a non-certificate PEM
            block, or a certificate is malformed.
    """
    if not data.strip():
        raise CertificateError("no certificate found: the input is empty")
    if b"-----BEGIN" in data:
        return _parse_pem(data)
    return _parse_der_sequence(data)


def read_certificate_file(path: Path) -> list[x509.Certificate]:
    """Read the certificates of a PEM or DER file (see :func:`parse_certificates`).

    Args:
        path: File to read.

    Returns:
        The certificates in file order (at least one).

    Raises:
        CertificateError: The file cannot be read, or its content is not one or more certificates;
            the message names the file.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CertificateError(f"failed to read certificate file {str(path)!r}: {reason}") from exc
    try:
        return parse_certificates(data)
    except CertificateError as exc:
        raise CertificateError(f"failed to read certificates from {str(path)!r}: {exc.message}") from exc


@functools.lru_cache(maxsize=1024)
def thumbprint_sha256(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER encoding, as lowercase hex (the Notary Project thumbprint).

    Cached: a certificate is immutable and hashes and compares by its DER bytes, which is cheaper
    than re-encoding it (a log computes the thumbprints of the same signer chain for every entry).
    """
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def _parse_pem(data: bytes) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    for index, match in enumerate(_PEM_BLOCK.finditer(data), start=1):
        label = match.group("label").decode("ascii", "replace")
        if label != "CERTIFICATE":
            raise CertificateError(f"PEM block {index} is of type {label!r}; only CERTIFICATE blocks are allowed")
        body = b"".join(match.group("body").split())
        try:
            der = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CertificateError(f"PEM block {index} is not valid base64: {exc}") from exc
        certs.append(_load_der(der, f"PEM block {index}"))
    if not certs:
        raise CertificateError("no certificate found: malformed PEM data")
    return certs


def _parse_der_sequence(data: bytes) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    pos = 0
    while pos < len(data):
        try:
            size = _der_element_size(data[pos:])
        except ValueError as exc:
            if pos == 0:
                raise CertificateError(f"data is neither PEM nor a DER certificate: {exc}") from exc
            raise CertificateError(f"malformed DER certificate data at offset {pos}: {exc}") from exc
        certs.append(_load_der(data[pos : pos + size], f"DER certificate at offset {pos}"))
        pos += size
    return certs


def _der_element_size(data: bytes) -> int:
    """Size of the SEQUENCE at the start of ``data``, located with ``asn1crypto``'s parser.

    Raises:
        ValueError: ``data`` does not start with a complete, definite-length SEQUENCE.
    """
    if data[0] != _SEQUENCE_IDENTIFIER:
        raise ValueError(f"expected a SEQUENCE, found tag 0x{data[0]:02x}")
    # asn1crypto also reads BER's indefinite lengths; DER (and so a certificate) forbids them.
    if data[1:2] == _INDEFINITE_LENGTH:
        raise ValueError("indefinite length is not allowed in DER")
    try:
        size: int = asn1_parser.peek(data)
    except ValueError as exc:  # asn1crypto: "Insufficient data - N bytes requested but only M available"
        raise ValueError("truncated data") from exc
    return size


def _load_der(der: bytes, where: str) -> x509.Certificate:
    try:
        cert = x509.load_der_x509_certificate(der)
    except (ValueError, x509.InvalidVersion) as exc:
        raise CertificateError(f"{where} is not a valid X.509 certificate: {exc}") from exc
    # Fail here, not deep inside chain validation, when the fields the rules read are malformed.
    try:
        certificate_fields(cert)
    except CertificateError as exc:
        raise CertificateError(f"{where}: {exc.message}") from exc
    return cert


# ------------------------------------------------------------------------------------------------
# Certificate fields used by the Notary Project rules
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Extension:
    """One extension as encoded: OID (dotted), critical flag, and the extnValue octets."""

    oid: str
    critical: bool
    value: bytes


@dataclass(frozen=True)
class CertificateFields:
    """The certificate fields the Notary Project rules depend on, with Go's semantics.

    Attributes:
        version: X.509 version (1, 2 or 3).
        raw_subject: DER of the subject Name, byte for byte as in the certificate.
        raw_issuer: DER of the issuer Name, byte for byte as in the certificate.
        extensions: All extensions in certificate order.
        basic_constraints_present: Go ``BasicConstraintsValid``.
        is_ca: Go ``IsCA`` (``cA`` of basicConstraints; False when the extension is absent).
        path_len: ``pathLenConstraint``, or None when absent.
        key_usage: Go ``KeyUsage`` bits (``KU_*``); 0 when the extension is absent.
        ext_key_usages: EKU OIDs Go knows by name (Go ``ExtKeyUsage``), in certificate order.
        unknown_ext_key_usages: Other EKU OIDs (Go ``UnknownExtKeyUsage``).
    """

    version: int
    raw_subject: bytes
    raw_issuer: bytes
    extensions: tuple[Extension, ...]
    basic_constraints_present: bool
    is_ca: bool
    path_len: int | None
    key_usage: int
    ext_key_usages: tuple[str, ...]
    unknown_ext_key_usages: tuple[str, ...]

    def extension(self, oid: str) -> Extension | None:
        """The extension with ``oid``, if present."""
        for ext in self.extensions:
            if ext.oid == oid:
                return ext
        return None


def certificate_fields(cert: x509.Certificate) -> CertificateFields:
    """Decode the fields of ``cert`` that the chain rules use (see :class:`CertificateFields`).

    Raises:
        CertificateError: The TBSCertificate, or its basicConstraints, keyUsage or extKeyUsage
            extension, is malformed, or an extension appears twice.
    """
    return _cached_fields(cert.tbs_certificate_bytes)


# Chains are validated repeatedly (every signature, every trust store load): decode each TBS once.
@functools.lru_cache(maxsize=512)
def _cached_fields(tbs: bytes) -> CertificateFields:
    try:
        return _certificate_fields(tbs)
    except _ASN1_ERRORS as exc:
        raise CertificateError(f"malformed certificate: {_reason(exc)}") from exc


class _OpaqueExtension(asn1_core.Sequence):  # type: ignore[misc]  # asn1crypto has no type stubs
    """RFC 5280 ``Extension`` whose extnValue stays undecoded.

    asn1crypto's own ``x509.Extension`` decodes the value of every extension it knows as soon as
    one field is read, so a single malformed value would make the whole list unreadable; here only
    the three extensions the rules use are decoded, each with its own error message.
    """

    _fields: ClassVar[list[tuple[str, type, dict[str, object]] | tuple[str, type]]] = [
        ("extn_id", asn1_x509.ExtensionId),
        ("critical", asn1_core.Boolean, {"default": False}),
        ("extn_value", asn1_core.OctetString),
    ]


class _OpaqueExtensions(asn1_core.SequenceOf):  # type: ignore[misc]
    _child_spec = _OpaqueExtension


class _TbsCertificate(asn1_core.Sequence):  # type: ignore[misc]
    """RFC 5280 ``TBSCertificate`` (as ``asn1crypto.x509.TbsCertificate``) with opaque extensions."""

    _fields: ClassVar[list[tuple[str, type, dict[str, object]] | tuple[str, type]]] = [
        ("version", asn1_x509.Version, {"explicit": 0, "default": "v1"}),
        ("serial_number", asn1_core.Integer),
        ("signature", asn1_algos.SignedDigestAlgorithm),
        ("issuer", asn1_x509.Name),
        ("validity", asn1_x509.Validity),
        ("subject", asn1_x509.Name),
        ("subject_public_key_info", asn1_keys.PublicKeyInfo),
        ("issuer_unique_id", asn1_core.OctetBitString, {"implicit": 1, "optional": True}),
        ("subject_unique_id", asn1_core.OctetBitString, {"implicit": 2, "optional": True}),
        ("extensions", _OpaqueExtensions, {"explicit": 3, "optional": True}),
    ]


def _certificate_fields(tbs_der: bytes) -> CertificateFields:
    tbs = _TbsCertificate.load(tbs_der, strict=True)
    version = int(tbs["version"]) + 1  # [0] EXPLICIT Version DEFAULT v1 (0)
    raw_issuer: bytes = tbs["issuer"].dump()
    raw_subject: bytes = tbs["subject"].dump()

    extensions: list[Extension] = []
    encoded = tbs["extensions"]  # asn1crypto Void when the [3] field is absent
    if isinstance(encoded, _OpaqueExtensions):
        for ext in encoded:
            extensions.append(
                Extension(
                    oid=str(ext["extn_id"].dotted),
                    critical=bool(ext["critical"].native),
                    value=bytes(ext["extn_value"].contents),
                )
            )
    oids = [e.oid for e in extensions]
    if len(set(oids)) != len(oids):
        raise ValueError("certificate contains duplicate extensions")

    bc_present, is_ca, path_len = False, False, None
    key_usage = 0
    known: list[str] = []
    unknown: list[str] = []
    for ext in extensions:
        if ext.oid == OID_BASIC_CONSTRAINTS:
            bc_present = True
            is_ca, path_len = _decode_basic_constraints(ext.value)
        elif ext.oid == OID_KEY_USAGE:
            key_usage = _decode_key_usage(ext.value)
        elif ext.oid == OID_EXT_KEY_USAGE:
            for eku in _decode_ext_key_usage(ext.value):
                (known if eku in GO_KNOWN_EKUS else unknown).append(eku)
    return CertificateFields(
        version=version,
        raw_subject=raw_subject,
        raw_issuer=raw_issuer,
        extensions=tuple(extensions),
        basic_constraints_present=bc_present,
        is_ca=is_ca,
        path_len=path_len,
        key_usage=key_usage,
        ext_key_usages=tuple(known),
        unknown_ext_key_usages=tuple(unknown),
    )


def _decode_basic_constraints(value: bytes) -> tuple[bool, int | None]:
    """As Go's parseBasicConstraintsExtension: optional BOOLEAN cA, optional INTEGER pathLen."""
    try:
        constraints = asn1_x509.BasicConstraints.load(value, strict=True)
        is_ca = bool(constraints["ca"].native)
        path_len: int | None = constraints["path_len_constraint"].native
        if path_len is not None and path_len < 0:
            raise ValueError("negative path length")
    except _ASN1_ERRORS as exc:
        raise ValueError(f"invalid basic constraints: {_reason(exc)}") from exc
    return is_ca, path_len


def _decode_key_usage(value: bytes) -> int:
    """As Go's parseKeyUsageExtension: bit i of the BIT STRING sets ``1 << i`` (first 9 bits)."""
    try:
        bits = asn1_x509.KeyUsage.load(value, strict=True)
        usage = sum(1 << i for i in range(9) if bits[i])
        # Go (cryptobyte ReadASN1BitString) refuses set padding bits; asn1crypto keeps them aside.
        if any(bits.unused_bits):
            raise ValueError("invalid BIT STRING padding")
    except IndexError as exc:  # asn1crypto reads the unused-bits octet of an empty BIT STRING
        raise ValueError("invalid key usage: empty BIT STRING") from exc
    except _ASN1_ERRORS as exc:
        raise ValueError(f"invalid key usage: {_reason(exc)}") from exc
    return usage


def _decode_ext_key_usage(value: bytes) -> list[str]:
    try:
        return [str(purpose.dotted) for purpose in asn1_x509.ExtKeyUsageSyntax.load(value, strict=True)]
    except _ASN1_ERRORS as exc:
        raise ValueError(f"invalid extended key usages: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    """First line of an exception message (asn1crypto appends multi-line parse context)."""
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__
