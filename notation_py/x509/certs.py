"""Reading X.509 certificates, and the few certificate fields the Notary Project rules look at.

Parsing follows notation-core-go ``x509.ReadCertificateFile``: PEM (one or more ``CERTIFICATE``
blocks) or DER (one certificate, or several concatenated). Unlike Go, an input without any
certificate is an error here, and so is a PEM block of another type: a trust store or key file that
silently yields nothing (or holds a private key) is a misconfiguration worth reporting.

The extension fields (basicConstraints, keyUsage, extKeyUsage) and the raw subject/issuer bytes are
read from the certificate's own DER with a small DER reader instead of ``cryptography``'s extension
objects. This keeps Go's semantics exactly (``BasicConstraintsValid``, raw ``KeyUsage`` bits,
known vs. unknown EKUs, ``RawSubject``/``RawIssuer`` byte comparison) and avoids
``cryptography`` refusing some extensions Go accepts (e.g. keyUsage encipherOnly without
keyAgreement).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

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

_TAG_BOOLEAN = 0x01
_TAG_INTEGER = 0x02
_TAG_BIT_STRING = 0x03
_TAG_OCTET_STRING = 0x04
_TAG_OID = 0x06
_TAG_SEQUENCE = 0x30


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


def thumbprint_sha256(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER encoding, as lowercase hex (the Notary Project thumbprint)."""
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
            if data[pos] != _TAG_SEQUENCE:
                raise DerError(f"expected a SEQUENCE, found tag 0x{data[pos]:02x}")
            tlv = read_tlv(data, pos)
        except DerError as exc:
            if pos == 0:
                raise CertificateError(f"data is neither PEM nor a DER certificate: {exc}") from exc
            raise CertificateError(f"malformed DER certificate data at offset {pos}: {exc}") from exc
        certs.append(_load_der(data[pos : tlv.end], f"DER certificate at offset {pos}"))
        pos = tlv.end
    return certs


def _load_der(der: bytes, where: str) -> x509.Certificate:
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise CertificateError(f"{where} is not a valid X.509 certificate: {exc}") from exc
    # Fail here, not deep inside chain validation, when the fields the rules read are malformed.
    try:
        certificate_fields(cert)
    except CertificateError as exc:
        raise CertificateError(f"{where}: {exc.message}") from exc
    return cert


# ------------------------------------------------------------------------------------------------
# A minimal DER reader (definite lengths, low tag numbers: all a certificate needs)
# ------------------------------------------------------------------------------------------------


class DerError(ValueError):
    """Malformed DER (internal to the x509 package; surfaced as :class:`CertificateError`)."""


class Tlv(NamedTuple):
    """One DER element of a buffer: ``data[start:end]`` is the whole TLV, ``data[body:end]`` its value."""

    tag: int
    start: int
    body: int
    end: int


def read_tlv(data: bytes, pos: int, limit: int | None = None) -> Tlv:
    """Read the DER element at ``pos`` that must end by ``limit`` (default: end of ``data``).

    Raises:
        DerError: The element is truncated, uses an indefinite length or a high tag number.
    """
    stop = len(data) if limit is None else limit
    if pos + 2 > stop:
        raise DerError("truncated data")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DerError("high tag numbers are not supported")
    first = data[pos + 1]
    body = pos + 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise DerError("indefinite length is not allowed in DER")
    else:
        count = first & 0x7F
        if count > 4 or body + count > stop:
            raise DerError("invalid length")
        length = int.from_bytes(data[body : body + count], "big")
        body += count
    end = body + length
    if end > stop:
        raise DerError("truncated data")
    return Tlv(tag, pos, body, end)


def children(data: bytes, parent: Tlv) -> list[Tlv]:
    """The elements directly inside the constructed element ``parent``."""
    out = []
    pos = parent.body
    while pos < parent.end:
        tlv = read_tlv(data, pos, parent.end)
        out.append(tlv)
        pos = tlv.end
    return out


def read_single(data: bytes, tag: int, what: str) -> Tlv:
    """Read ``data`` as exactly one element with ``tag``."""
    tlv = read_tlv(data, 0)
    if tlv.tag != tag or tlv.end != len(data):
        raise DerError(f"{what} is not a single element with tag 0x{tag:02x}")
    return tlv


def decode_oid(content: bytes) -> str:
    """Dotted form of the content octets of an OBJECT IDENTIFIER."""
    if not content or content[-1] & 0x80:
        raise DerError("invalid OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


def decode_int(content: bytes) -> int:
    """Value of the content octets of an INTEGER."""
    if not content:
        raise DerError("empty INTEGER")
    return int.from_bytes(content, "big", signed=True)


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
    try:
        return _certificate_fields(cert.tbs_certificate_bytes)
    except DerError as exc:
        raise CertificateError(f"malformed certificate: {exc}") from exc


def _certificate_fields(tbs: bytes) -> CertificateFields:
    items = children(tbs, read_single(tbs, _TAG_SEQUENCE, "TBSCertificate"))
    version = 1
    if items and items[0].tag == 0xA0:  # [0] EXPLICIT Version DEFAULT v1
        inner = children(tbs, items[0])
        if len(inner) != 1 or inner[0].tag != _TAG_INTEGER:
            raise DerError("invalid version")
        version = decode_int(tbs[inner[0].body : inner[0].end]) + 1
        items = items[1:]
    # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, then optional fields
    if len(items) < 6:
        raise DerError("TBSCertificate has too few fields")
    issuer, subject = items[2], items[4]

    extensions: list[Extension] = []
    for item in items[6:]:
        if item.tag != 0xA3:  # [3] EXPLICIT Extensions; [1]/[2] unique IDs are irrelevant here
            continue
        seq = children(tbs, item)
        if len(seq) != 1 or seq[0].tag != _TAG_SEQUENCE:
            raise DerError("invalid extensions")
        extensions.extend(_decode_extension(tbs, ext) for ext in children(tbs, seq[0]))
    oids = [e.oid for e in extensions]
    if len(set(oids)) != len(oids):
        raise DerError("certificate contains duplicate extensions")

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
        raw_subject=tbs[subject.start : subject.end],
        raw_issuer=tbs[issuer.start : issuer.end],
        extensions=tuple(extensions),
        basic_constraints_present=bc_present,
        is_ca=is_ca,
        path_len=path_len,
        key_usage=key_usage,
        ext_key_usages=tuple(known),
        unknown_ext_key_usages=tuple(unknown),
    )


def _decode_extension(data: bytes, tlv: Tlv) -> Extension:
    if tlv.tag != _TAG_SEQUENCE:
        raise DerError("invalid extension")
    parts = children(data, tlv)
    if len(parts) not in (2, 3) or parts[0].tag != _TAG_OID or parts[-1].tag != _TAG_OCTET_STRING:
        raise DerError("invalid extension")
    critical = False
    if len(parts) == 3:
        if parts[1].tag != _TAG_BOOLEAN or parts[1].end - parts[1].body != 1:
            raise DerError("invalid extension critical flag")
        critical = data[parts[1].body] != 0
    return Extension(
        oid=decode_oid(data[parts[0].body : parts[0].end]),
        critical=critical,
        value=data[parts[-1].body : parts[-1].end],
    )


def _decode_basic_constraints(value: bytes) -> tuple[bool, int | None]:
    """Mirror Go's parseBasicConstraintsExtension: optional BOOLEAN cA, optional INTEGER pathLen."""
    try:
        parts = children(value, read_single(value, _TAG_SEQUENCE, "basicConstraints"))
        is_ca = False
        path_len: int | None = None
        if parts and parts[0].tag == _TAG_BOOLEAN:
            if parts[0].end - parts[0].body != 1:
                raise DerError("invalid BOOLEAN")
            is_ca = value[parts[0].body] != 0
            parts = parts[1:]
        if parts and parts[0].tag == _TAG_INTEGER:
            path_len = decode_int(value[parts[0].body : parts[0].end])
            if path_len < 0:
                raise DerError("negative path length")
    except DerError as exc:
        raise DerError(f"invalid basic constraints: {exc}") from exc
    return is_ca, path_len


def _decode_key_usage(value: bytes) -> int:
    """Mirror Go's parseKeyUsageExtension: bit i of the BIT STRING sets ``1 << i`` (first 9 bits)."""
    try:
        tlv = read_single(value, _TAG_BIT_STRING, "keyUsage")
        if tlv.end == tlv.body:
            raise DerError("empty BIT STRING")
        unused = value[tlv.body]
        bits = value[tlv.body + 1 : tlv.end]
        if unused > 7 or (not bits and unused) or (bits and bits[-1] & ((1 << unused) - 1)):
            raise DerError("invalid BIT STRING padding")
    except DerError as exc:
        raise DerError(f"invalid key usage: {exc}") from exc
    usage = 0
    for i in range(9):
        if i // 8 < len(bits) and bits[i // 8] & (0x80 >> (i % 8)):
            usage |= 1 << i
    return usage


def _decode_ext_key_usage(value: bytes) -> list[str]:
    try:
        out = []
        for child in children(value, read_single(value, _TAG_SEQUENCE, "extKeyUsage")):
            if child.tag != _TAG_OID:
                raise DerError("not an OBJECT IDENTIFIER")
            out.append(decode_oid(value[child.body : child.end]))
    except DerError as exc:
        raise DerError(f"invalid extended key usages: {exc}") from exc
    return out
