"""Notary Project certificate-chain rules (signature-specification.md, "Certificate Requirements").

The checks, their order and their error messages follow notation-core-go's ``x509`` package
(``ValidateCodeSigningCertChain``, ``ValidateTimestampingCertChain``), because users and scripts
match on those messages. Signature checks reproduce Go's ``Certificate.CheckSignatureFrom``,
including its error texts (``crypto/rsa: verification error``, ``x509: invalid signature: parent
certificate cannot sign this kind of certificate``, ...). Where this module deliberately differs
from Go, the docstring of the function says so.

Nothing here consults a trust store or the current time: callers pass the chain exactly as it
appears in the envelope (leaf first) and, when known, the signing time.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import algos as asn1_algos
from asn1crypto import core as asn1_core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from notation_py.errors import CertificateError
from notation_py.x509.certs import (
    EKU_CLIENT_AUTH,
    EKU_EMAIL_PROTECTION,
    EKU_OCSP_SIGNING,
    EKU_SERVER_AUTH,
    EKU_TIME_STAMPING,
    GO_KNOWN_EKUS,
    KU_CERT_SIGN,
    KU_CRL_SIGN,
    KU_DATA_ENCIPHERMENT,
    KU_DECIPHER_ONLY,
    KU_DIGITAL_SIGNATURE,
    KU_ENCIPHER_ONLY,
    KU_KEY_AGREEMENT,
    KU_KEY_ENCIPHERMENT,
    OID_EXT_KEY_USAGE,
    OID_KEY_USAGE,
    CertificateFields,
    certificate_fields,
)
from notation_py.x509.names import format_name, go_quote

__all__ = [
    "check_signature_from",
    "format_go_time",
    "has_valid_self_signature",
    "is_ca",
    "is_issued_by",
    "is_self_signed",
    "validate_code_signing_ca",
    "validate_code_signing_chain",
    "validate_code_signing_leaf",
    "validate_timestamping_ca",
    "validate_timestamping_chain",
    "validate_timestamping_leaf",
]

# Go error texts (crypto/x509, crypto/rsa) reproduced in messages.
_ERR_UNSUPPORTED = "x509: cannot verify signature: algorithm unimplemented"
_ERR_CONSTRAINT = "x509: invalid signature: parent certificate cannot sign this kind of certificate"
_ERR_RSA = "crypto/rsa: verification error"
_ERR_ECDSA = "x509: ECDSA verification failure"
_ERR_ED25519 = "x509: Ed25519 verification failure"


# ------------------------------------------------------------------------------------------------
# Signature checks with Go's semantics
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SigAlg:
    go_name: str  # Go SignatureAlgorithm.String()
    hash: hashes.HashAlgorithm | None  # None: not hashed (Ed25519) or never verified (MD2, MD5, unknown)
    key_algorithm: str  # Go PublicKeyAlgorithm.String()
    pss: bool = False
    # MD5 and SHA-1: Go's CheckSignatureFrom refuses both. (Go's self-signature check
    # CheckSignature still allows SHA-1; the specification forbids it, so it is refused here too.)
    insecure: bool = False


# Go's signatureAlgorithmDetails (RSASSA-PSS is resolved from its parameters, see _pss_algorithm).
_SIG_ALGS: dict[str, _SigAlg] = {
    "1.2.840.113549.1.1.2": _SigAlg("MD2-RSA", None, "RSA"),
    "1.2.840.113549.1.1.4": _SigAlg("MD5-RSA", None, "RSA", insecure=True),
    "1.2.840.113549.1.1.5": _SigAlg("SHA1-RSA", hashes.SHA1(), "RSA", insecure=True),  # noqa: S303
    "1.3.14.3.2.29": _SigAlg("SHA1-RSA", hashes.SHA1(), "RSA", insecure=True),  # noqa: S303
    "1.2.840.113549.1.1.11": _SigAlg("SHA256-RSA", hashes.SHA256(), "RSA"),
    "1.2.840.113549.1.1.12": _SigAlg("SHA384-RSA", hashes.SHA384(), "RSA"),
    "1.2.840.113549.1.1.13": _SigAlg("SHA512-RSA", hashes.SHA512(), "RSA"),
    "1.2.840.10040.4.3": _SigAlg("DSA-SHA1", hashes.SHA1(), "DSA", insecure=True),  # noqa: S303
    "2.16.840.1.101.3.4.3.2": _SigAlg("DSA-SHA256", hashes.SHA256(), "DSA"),
    "1.2.840.10045.4.1": _SigAlg("ECDSA-SHA1", hashes.SHA1(), "ECDSA", insecure=True),  # noqa: S303
    "1.2.840.10045.4.3.2": _SigAlg("ECDSA-SHA256", hashes.SHA256(), "ECDSA"),
    "1.2.840.10045.4.3.3": _SigAlg("ECDSA-SHA384", hashes.SHA384(), "ECDSA"),
    "1.2.840.10045.4.3.4": _SigAlg("ECDSA-SHA512", hashes.SHA512(), "ECDSA"),
    "1.3.101.112": _SigAlg("Ed25519", None, "Ed25519"),
}
_OID_RSASSA_PSS = "1.2.840.113549.1.1.10"
_OID_MGF1 = "1.2.840.113549.1.1.8"
_PSS_HASHES: dict[str, tuple[hashes.HashAlgorithm, str]] = {
    "2.16.840.1.101.3.4.2.1": (hashes.SHA256(), "SHA256-RSAPSS"),
    "2.16.840.1.101.3.4.2.2": (hashes.SHA384(), "SHA384-RSAPSS"),
    "2.16.840.1.101.3.4.2.3": (hashes.SHA512(), "SHA512-RSAPSS"),
}
_UNKNOWN_ALG = _SigAlg("0", None, "0")


def _signature_algorithm(cert: x509.Certificate) -> _SigAlg:
    oid = cert.signature_algorithm_oid.dotted_string
    if oid == _OID_RSASSA_PSS:
        return _pss_algorithm(cert)
    return _SIG_ALGS.get(oid, _UNKNOWN_ALG)


def _pss_algorithm(cert: x509.Certificate) -> _SigAlg:
    """Go accepts RSASSA-PSS only as SHA-256/384/512 with MGF1 of the same hash, salt = hash size.

    The parameters are read with ``asn1crypto``. Go's ``pssParameters`` requires the hash and MGF
    fields where asn1crypto substitutes the DEFAULTs of RFC 4055 (SHA-1, MGF1-SHA-1, salt 20);
    no DEFAULT is acceptable here, so an absent field is refused either way.
    """
    try:
        certificate = asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))
        params = certificate["signature_algorithm"]["parameters"]
        if not isinstance(params, asn1_algos.RSASSAPSSParams):
            return _UNKNOWN_ALG
        hash_alg = params["hash_algorithm"]
        mgf = params["mask_gen_algorithm"]
        if mgf["algorithm"].dotted != _OID_MGF1:
            return _UNKNOWN_ALG
        mgf_hash = mgf["parameters"]
        if not isinstance(mgf_hash, asn1_algos.DigestAlgorithm):
            return _UNKNOWN_ALG
        hash_oid: str = hash_alg["algorithm"].dotted
        mgf_hash_oid: str = mgf_hash["algorithm"].dotted
        salt = int(params["salt_length"])
        trailer = int(params["trailer_field"])
        params_ok = _absent_or_null(hash_alg["parameters"]) and _absent_or_null(mgf_hash["parameters"])
    except (ValueError, TypeError, IndexError):
        return _UNKNOWN_ALG
    entry = _PSS_HASHES.get(hash_oid)
    if entry is None or mgf_hash_oid != hash_oid or not params_ok or trailer != 1 or salt != entry[0].digest_size:
        return _UNKNOWN_ALG
    return _SigAlg(entry[1], entry[0], "RSA", pss=True)


def _absent_or_null(value: asn1_core.Asn1Value) -> bool:
    """True for an absent (asn1crypto ``Void``) or NULL AlgorithmIdentifier parameter."""
    encoded: bytes = value.dump()
    return encoded in (b"", b"\x05\x00")


def _go_key_type(key: object) -> str:
    """Go's ``%T`` of the parsed public key."""
    if isinstance(key, rsa.RSAPublicKey):
        return "*rsa.PublicKey"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "*ecdsa.PublicKey"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519.PublicKey"
    if isinstance(key, dsa.DSAPublicKey):
        return "*dsa.PublicKey"
    return type(key).__name__


def _public_key(cert: x509.Certificate) -> object | None:
    try:
        return cert.public_key()
    except (UnsupportedAlgorithm, ValueError):
        return None


def _check_signature(cert: x509.Certificate, public_key: object) -> str | None:
    """Go ``checkSignature``: verify ``cert``'s signature with ``public_key``; None or Go's error."""
    alg = _signature_algorithm(cert)
    if alg.insecure:
        return f"x509: cannot verify signature: insecure algorithm {alg.go_name}"
    if alg.hash is None and alg.key_algorithm != "Ed25519":
        return _ERR_UNSUPPORTED

    data, signature = cert.tbs_certificate_bytes, cert.signature
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            if alg.key_algorithm != "RSA" or alg.hash is None:
                return _mismatch(alg, public_key)
            pad: padding.AsymmetricPadding = (
                padding.PSS(mgf=padding.MGF1(alg.hash), salt_length=alg.hash.digest_size)
                if alg.pss
                else padding.PKCS1v15()
            )
            try:
                public_key.verify(signature, data, pad, alg.hash)
            except InvalidSignature:
                return _ERR_RSA
            return None
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            if alg.key_algorithm != "ECDSA" or alg.hash is None:
                return _mismatch(alg, public_key)
            try:
                public_key.verify(signature, data, ec.ECDSA(alg.hash))
            except InvalidSignature:
                return _ERR_ECDSA
            return None
        if isinstance(public_key, ed25519.Ed25519PublicKey):
            if alg.key_algorithm != "Ed25519":
                return _mismatch(alg, public_key)
            try:
                public_key.verify(signature, data)
            except InvalidSignature:
                return _ERR_ED25519
            return None
    except (UnsupportedAlgorithm, ValueError):
        return _ERR_UNSUPPORTED
    # Go cannot verify DSA (or any other key type) signatures.
    return _ERR_UNSUPPORTED


def _mismatch(alg: _SigAlg, key: object) -> str:
    return (
        f"x509: signature algorithm specifies an {alg.key_algorithm} public key, "
        f"but have public key of type {_go_key_type(key)}"
    )


def check_signature_from(cert: x509.Certificate, parent: x509.Certificate) -> str | None:
    """Go ``cert.CheckSignatureFrom(parent)``: may ``parent`` have signed ``cert``?

    ``parent`` must be allowed to sign certificates (a v3 certificate needs basicConstraints with
    cA=true; keyUsage, when non-empty, needs keyCertSign), and ``cert``'s signature must verify
    under ``parent``'s key with an algorithm Go accepts (no MD5, no SHA-1). Names are not compared.

    Returns:
        None when the signature is valid, else Go's error text (e.g. ``crypto/rsa: verification
        error``).

    Raises:
        CertificateError: ``parent``'s extensions are malformed.
    """
    fields = certificate_fields(parent)
    if (fields.version == 3 and not fields.basic_constraints_present) or (
        fields.basic_constraints_present and not fields.is_ca
    ):
        return _ERR_CONSTRAINT
    if fields.key_usage != 0 and not fields.key_usage & KU_CERT_SIGN:
        return _ERR_CONSTRAINT
    key = _public_key(parent)
    if key is None:
        return _ERR_UNSUPPORTED
    return _check_signature(cert, key)


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> tuple[bool, str | None]:
    """Go ``isIssuedBy``: (signature valid and raw issuer name == raw subject name, error)."""
    error = check_signature_from(cert, issuer)
    if error is not None:
        return False, error
    return certificate_fields(issuer).raw_subject == certificate_fields(cert).raw_issuer, None


def is_issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when ``issuer`` signed ``cert`` (Go ``isIssuedBy``).

    The signature must verify as in :func:`check_signature_from`, and ``cert``'s issuer name must
    equal ``issuer``'s subject name byte for byte.

    Raises:
        CertificateError: A certificate's extensions are malformed.
    """
    return _issued_by(cert, issuer)[0]


def is_self_signed(cert: x509.Certificate) -> bool:
    """True when ``cert`` is a self-issued, self-signed certificate (a root).

    notation-core-go ``isSelfSigned`` / notation-go ``IsRootCertificate``: the certificate may sign
    certificates (see :func:`check_signature_from`), its signature verifies under its own key, and
    its subject equals its issuer byte for byte.

    Raises:
        CertificateError: The certificate's extensions are malformed.
    """
    return _issued_by(cert, cert)[0]


def has_valid_self_signature(cert: x509.Certificate) -> bool:
    """True when ``cert``'s signature verifies under its own public key.

    This is Go's ``cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate,
    cert.Signature)`` as notation-go uses it for non-CA certificates in a ``ca`` trust store: no
    basicConstraints/keyUsage requirement and no name comparison. Unlike Go, SHA-1 signatures are
    refused (the specification forbids SHA-1 everywhere).
    """
    key = _public_key(cert)
    return key is not None and _check_signature(cert, key) is None


def is_ca(cert: x509.Certificate) -> bool:
    """True when basicConstraints is present with cA=true (Go ``cert.IsCA``).

    Raises:
        CertificateError: The certificate's extensions are malformed.
    """
    return certificate_fields(cert).is_ca


# ------------------------------------------------------------------------------------------------
# Per-certificate rules
# ------------------------------------------------------------------------------------------------


def _subject(cert: x509.Certificate) -> str:
    """The subject as Go prints ``%q`` of ``cert.Subject``."""
    return go_quote(format_name(cert.subject))


def _validate_ca_basic_constraints(cert: x509.Certificate, f: CertificateFields, expected_path_len: int) -> None:
    if not f.basic_constraints_present or not f.is_ca:
        raise CertificateError(
            f"certificate with subject {_subject(cert)}: ca field in basic constraints must be present, "
            "critical, and set to true"
        )
    # Go: MaxPathLen is -1 when pathLenConstraint is absent, which never fails this check.
    if f.path_len is not None and f.path_len < expected_path_len:
        raise CertificateError(
            f"certificate with subject {_subject(cert)}: expected path length of {expected_path_len} "
            f"but certificate has path length {f.path_len} instead"
        )


def _validate_leaf_basic_constraints(cert: x509.Certificate, f: CertificateFields) -> None:
    if f.basic_constraints_present and f.is_ca:
        raise CertificateError(
            f"certificate with subject {_subject(cert)}: if the basic constraints extension is present, "
            "the ca field must be set to false"
        )


def _validate_key_usage_present(cert: x509.Certificate, f: CertificateFields, critical: bool) -> None:
    ext = f.extension(OID_KEY_USAGE)
    if ext is None:
        raise CertificateError(f"certificate with subject {_subject(cert)}: key usage extension must be present")
    if critical and not ext.critical:
        raise CertificateError(
            f"certificate with subject {_subject(cert)}: key usage extension must be marked critical"
        )


def _validate_ca_key_usage(cert: x509.Certificate, f: CertificateFields, critical: bool) -> None:
    _validate_key_usage_present(cert, f, critical)
    if not f.key_usage & KU_CERT_SIGN:
        raise CertificateError(
            f"certificate with subject {_subject(cert)}: key usage must have the bit positions for key cert sign set"
        )


# Key usages a leaf must not have, in Go's reporting order.
_FORBIDDEN_LEAF_KU = (
    (KU_KEY_ENCIPHERMENT, "KeyEncipherment"),
    (KU_DATA_ENCIPHERMENT, "DataEncipherment"),
    (KU_KEY_AGREEMENT, "KeyAgreement"),
    (KU_CERT_SIGN, "CertSign"),
    (KU_CRL_SIGN, "CRLSign"),
    (KU_ENCIPHER_ONLY, "EncipherOnly"),
    (KU_DECIPHER_ONLY, "DecipherOnly"),
)


def _validate_leaf_key_usage(cert: x509.Certificate, f: CertificateFields, critical: bool) -> None:
    _validate_key_usage_present(cert, f, critical)
    if not f.key_usage & KU_DIGITAL_SIGNATURE:
        raise CertificateError(
            f"the certificate with subject {_subject(cert)} is invalid. The key usage must have the bit "
            'positions for "Digital Signature" set'
        )
    found = [f'"{name}"' for bit, name in _FORBIDDEN_LEAF_KU if f.key_usage & bit]
    if found:
        raise CertificateError(
            f'the certificate with subject {_subject(cert)} is invalid. The key usage must be "Digital '
            f'Signature" only, but found {", ".join(found)}'
        )


# Go ekuToString.
_EKU_NAMES = {
    "2.5.29.37.0": "Any",
    EKU_SERVER_AUTH: "ServerAuth",
    EKU_CLIENT_AUTH: "ClientAuth",
    EKU_OCSP_SIGNING: "OCSPSigning",
    EKU_EMAIL_PROTECTION: "EmailProtection",
    "1.3.6.1.5.5.7.3.3": "CodeSigning",
    EKU_TIME_STAMPING: "Timestamping",
}


def _eku_name(oid: str) -> str:
    return _EKU_NAMES.get(oid, str(GO_KNOWN_EKUS.get(oid, oid)))


# Go's list; the specification also names anyExtendedKeyUsage, which Go (and so this) accepts.
_FORBIDDEN_CODE_SIGNING_EKU = (
    EKU_SERVER_AUTH,
    EKU_CLIENT_AUTH,
    EKU_EMAIL_PROTECTION,
    EKU_TIME_STAMPING,
    EKU_OCSP_SIGNING,
)


def _validate_code_signing_eku(cert: x509.Certificate, f: CertificateFields) -> None:
    for eku in f.ext_key_usages:
        if eku in _FORBIDDEN_CODE_SIGNING_EKU:
            raise CertificateError(
                f"certificate with subject {_subject(cert)}: extended key usage must not contain {_eku_name(eku)} eku"
            )


def _validate_timestamping_eku(cert: x509.Certificate, f: CertificateFields) -> None:
    # RFC 3161 2.3: exactly one EKU, id-kp-timeStamping, in a critical extension.
    if f.ext_key_usages != (EKU_TIME_STAMPING,) or f.unknown_ext_key_usages:
        raise CertificateError(
            f"timestamp signing certificate with subject {_subject(cert)} must have and only have "
            f"{_eku_name(EKU_TIME_STAMPING)} as extended key usage"
        )
    ext = f.extension(OID_EXT_KEY_USAGE)
    if ext is not None and not ext.critical:
        raise CertificateError(
            f"timestamp signing certificate with subject {_subject(cert)} must have extended key usage "
            "extension marked as critical"
        )


_SUPPORTED_CURVES = {"secp256r1", "secp384r1", "secp521r1"}


def _validate_leaf_key(cert: x509.Certificate) -> None:
    """Go ``validateSignatureAlgorithm``: RSA 2048/3072/4096 or ECDSA P-256/P-384/P-521 keys only."""
    key = _public_key(cert)
    if isinstance(key, rsa.RSAPublicKey):
        bits = (key.key_size + 7) // 8 * 8  # Go reports key.Size() << 3
        if bits not in (2048, 3072, 4096):
            raise CertificateError(
                f"certificate with subject {_subject(cert)}: rsa key size {bits} bits is not supported"
            )
        return
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name in _SUPPORTED_CURVES:
            return
        if key.curve.key_size not in (256, 384, 521):
            raise CertificateError(
                f"certificate with subject {_subject(cert)}: ecdsa key size {key.curve.key_size} bits is not supported"
            )
        # Same size as a supported curve but another curve (e.g. secp256k1): Go cannot even parse it.
        raise CertificateError(
            f"certificate with subject {_subject(cert)}: ecdsa curve {key.curve.name} is not supported"
        )
    raise CertificateError(f"certificate with subject {_subject(cert)}: unsupported public key type")


def validate_code_signing_leaf(cert: x509.Certificate) -> None:
    """Apply the code-signing leaf rules to ``cert`` (Go ``validateCodeSigningLeafCertificate``).

    basicConstraints, if present, has cA=false; keyUsage is present, critical, has digitalSignature
    and none of keyEncipherment, dataEncipherment, keyAgreement, keyCertSign, cRLSign, encipherOnly,
    decipherOnly; extKeyUsage, if present, has none of serverAuth, clientAuth, emailProtection,
    timeStamping, OCSPSigning; the key is RSA 2048/3072/4096 or ECDSA P-256/P-384/P-521.

    Raises:
        CertificateError: The first rule violated, with Go's message.
    """
    f = certificate_fields(cert)
    _validate_leaf_basic_constraints(cert, f)
    _validate_leaf_key_usage(cert, f, critical=True)
    _validate_code_signing_eku(cert, f)
    _validate_leaf_key(cert)


def validate_code_signing_ca(cert: x509.Certificate, expected_path_len: int) -> None:
    """Apply the code-signing CA rules to ``cert`` (Go ``validateCodeSigningCACertificate``).

    basicConstraints is present with cA=true and a pathLenConstraint, if any, of at least
    ``expected_path_len``; keyUsage is present, critical and has keyCertSign. (Like Go, the
    criticality of basicConstraints is not checked.)

    Args:
        cert: An intermediate or root certificate.
        expected_path_len: Number of intermediate certificates below ``cert`` in the chain.

    Raises:
        CertificateError: The first rule violated, with Go's message.
    """
    f = certificate_fields(cert)
    _validate_ca_basic_constraints(cert, f, expected_path_len)
    _validate_ca_key_usage(cert, f, critical=True)


def validate_timestamping_leaf(cert: x509.Certificate) -> None:
    """Apply the TSA leaf rules to ``cert`` (Go ``validateTimestampingLeafCertificate``).

    As :func:`validate_code_signing_leaf` except that keyUsage need not be critical and the
    extKeyUsage extension must be present, critical and hold exactly id-kp-timeStamping.

    Raises:
        CertificateError: The first rule violated, with Go's message.
    """
    f = certificate_fields(cert)
    _validate_leaf_basic_constraints(cert, f)
    _validate_leaf_key_usage(cert, f, critical=False)
    _validate_timestamping_eku(cert, f)
    _validate_leaf_key(cert)


def validate_timestamping_ca(cert: x509.Certificate, expected_path_len: int) -> None:
    """Apply the TSA CA rules to ``cert`` (Go ``validateTimestampingCACertificate``).

    As :func:`validate_code_signing_ca` except that keyUsage need not be critical.

    Raises:
        CertificateError: The first rule violated, with Go's message.
    """
    f = certificate_fields(cert)
    _validate_ca_basic_constraints(cert, f, expected_path_len)
    _validate_ca_key_usage(cert, f, critical=False)


# ------------------------------------------------------------------------------------------------
# Chains
# ------------------------------------------------------------------------------------------------


def format_go_time(moment: datetime) -> str:
    """Format ``moment`` in UTC as Go's ``time.Time.String()``: ``2021-07-07 20:48:42 +0000 UTC``.

    Fractional seconds appear only when non-zero, without trailing zeros (as Go prints them).
    Naive datetimes are taken as UTC.
    """
    utc = _as_utc(moment)
    text = f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d} {utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
    if utc.microsecond:
        text += "." + f"{utc.microsecond:06d}".rstrip("0")
    return text + " +0000 UTC"


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _validate_signing_time(cert: x509.Certificate, signing_time: datetime | None) -> None:
    if signing_time is None:
        return
    moment = _as_utc(signing_time)
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    # Both bounds are inclusive, as Go's Before/After comparison.
    if moment < not_before or moment > not_after:
        raise CertificateError(
            f"certificate with subject {_subject(cert)} was invalid at signing time of "
            f"{format_go_time(moment)}. Certificate is valid from [{format_go_time(not_before)}] to "
            f"[{format_go_time(not_after)}]"
        )


_LeafRules = Callable[[x509.Certificate], None]
_CaRules = Callable[[x509.Certificate, int], None]
_Rules = tuple[_LeafRules, _CaRules]


class _ValidatedChains:
    """Bounded, thread-safe LRU record of chains that passed the rules without a signing time.

    Why this is safe: with no signing time, :func:`_validate_chain_uncached` reads nothing but the
    certificates, and a cryptography ``Certificate`` is immutable, so the same certificate objects
    always give the same outcome under the same rules. Entries are keyed by the *identity* of the
    certificate objects (plus the rule functions) and hold strong references to them, so no other
    object can take one of those ids while the entry exists; identity is checked again on lookup
    all the same. Identity is stricter than equal DER bytes and costs nothing to compute (cryptography
    re-encodes a certificate for ``public_bytes``, ~10 µs each); it hits because
    :func:`notation_py.envelope.chain.load_chain_certificate` returns one object per distinct DER
    certificate. Only successes are recorded: a failing chain is validated, and raises the same
    error, every time.
    """

    def __init__(self, maxsize: int, max_chain_bytes: int) -> None:
        self._maxsize = maxsize
        self._max_chain_bytes = max_chain_bytes
        self._entries: OrderedDict[tuple[object, ...], tuple[x509.Certificate, ...]] = OrderedDict()
        self._lock = threading.Lock()
        # A child forked while another thread held the lock would otherwise wait on it forever.
        os.register_at_fork(after_in_child=self._reset_lock)

    def _reset_lock(self) -> None:
        self._lock = threading.Lock()

    def passed(self, chain: tuple[x509.Certificate, ...], rules: _Rules) -> bool:
        """True when these very certificate objects already passed ``rules``."""
        key = (*rules, *map(id, chain))
        with self._lock:
            held = self._entries.get(key)
            if held is None or len(held) != len(chain) or any(a is not b for a, b in zip(held, chain, strict=True)):
                return False
            self._entries.move_to_end(key)
            return True

    def add(self, chain: tuple[x509.Certificate, ...], rules: _Rules) -> None:
        """Record that ``chain`` passed ``rules`` (not done for unusually large chains, to bound memory)."""
        if sum(len(cert.public_bytes(Encoding.DER)) for cert in chain) > self._max_chain_bytes:
            return
        key = (*rules, *map(id, chain))
        with self._lock:
            self._entries[key] = chain
            self._entries.move_to_end(key)
            while len(self._entries) > self._maxsize:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every recorded chain."""
        with self._lock:
            self._entries.clear()


# A log or verifier sees the same few chains (one per signer) over and over. At most 512 chains of
# at most 64 KiB of DER each are kept.
_VALIDATED_CHAINS = _ValidatedChains(maxsize=512, max_chain_bytes=64 * 1024)


def _validate_chain(
    chain: Sequence[x509.Certificate],
    signing_time: datetime | None,
    validate_leaf: _LeafRules,
    validate_ca: _CaRules,
) -> None:
    if signing_time is not None:
        # Validity at the signing time is checked certificate by certificate, interleaved with the
        # other rules (which decides the error reported first): never served from the cache.
        _validate_chain_uncached(chain, signing_time, validate_leaf, validate_ca)
        return
    certs, rules = tuple(chain), (validate_leaf, validate_ca)
    if _VALIDATED_CHAINS.passed(certs, rules):
        return
    _validate_chain_uncached(certs, None, validate_leaf, validate_ca)
    _VALIDATED_CHAINS.add(certs, rules)


def _validate_chain_uncached(
    chain: Sequence[x509.Certificate],
    signing_time: datetime | None,
    validate_leaf: _LeafRules,
    validate_ca: _CaRules,
) -> None:
    if not chain:
        raise CertificateError("certificate chain must contain at least one certificate")

    if len(chain) == 1:
        # A lone certificate must be a self-signed signing certificate (not a CA).
        cert = chain[0]
        key = _public_key(cert)
        error = _ERR_UNSUPPORTED if key is None else _check_signature(cert, key)
        if error is not None:
            raise CertificateError(f"invalid self-signed certificate. subject: {_subject(cert)}. Error: {error}")
        fields = certificate_fields(cert)
        if fields.raw_subject != fields.raw_issuer:
            raise CertificateError(
                f"invalid self-signed certificate. subject: {_subject(cert)}. Error: "
                f"issuer({format_name(cert.issuer)}) and subject({format_name(cert.subject)}) are not the same"
            )
        _validate_signing_time(cert, signing_time)
        try:
            validate_leaf(cert)
        except CertificateError as exc:
            raise CertificateError(f"invalid self-signed certificate. Error: {exc.message}") from exc
        return

    last = len(chain) - 1
    for i, cert in enumerate(chain):
        _validate_signing_time(cert, signing_time)
        if i == last:
            self_signed, error = _issued_by(cert, cert)
            if error is not None:
                raise CertificateError(
                    f"root certificate with subject {_subject(cert)} is invalid or not self-signed. "
                    f"Certificate chain must end with a valid self-signed root certificate. Error: {error}"
                )
            if not self_signed:
                raise CertificateError(
                    f"root certificate with subject {_subject(cert)} is not self-signed. Certificate chain "
                    "must end with a valid self-signed root certificate"
                )
        else:
            # A self-signed certificate before the end means an extra root or an unrelated cert.
            if is_self_signed(cert):
                role = "leaf" if i == 0 else "intermediate"
                raise CertificateError(
                    f"{role} certificate with subject {_subject(cert)} is self-signed. Certificate chain "
                    f"must not contain self-signed {role} certificate"
                )
            parent = chain[i + 1]
            issued, error = _issued_by(cert, parent)
            if error is not None:
                raise CertificateError(
                    f"invalid certificates or certificate with subject {_subject(cert)} is not issued by "
                    f"{_subject(parent)}. Error: {error}"
                )
            if not issued:
                raise CertificateError(f"certificate with subject {_subject(cert)} is not issued by {_subject(parent)}")
        if i == 0:
            validate_leaf(cert)
        else:
            validate_ca(cert, i - 1)


def validate_code_signing_chain(chain: Sequence[x509.Certificate], signing_time: datetime | None = None) -> None:
    """Validate a code-signing certificate chain (Go ``ValidateCodeSigningCertChain``).

    The chain is ordered leaf first. A single certificate must be self-signed (signature verifies
    under its own key, subject equals issuer) and meet the leaf rules. A longer chain must be
    strictly ordered: each certificate is signed by the next, none but the last is self-signed,
    and the last is a self-signed root. The leaf must meet :func:`validate_code_signing_leaf`, every
    other certificate :func:`validate_code_signing_ca` with its depth as expected path length.
    SHA-1 (and MD5) signatures are refused. Checks run certificate by certificate from the leaf,
    so the first violation is reported, with notation-core-go's message.

    Unlike Go, a single certificate with a SHA-1 signature is refused too (Go's self-signature
    check allows SHA-1 there; the specification forbids it).

    Args:
        chain: Certificates, leaf first, root last.
        signing_time: When given, every certificate must be valid at this instant (bounds
            inclusive; naive datetimes are taken as UTC).

    Raises:
        CertificateError: The chain violates a rule.
    """
    _validate_chain(chain, signing_time, validate_code_signing_leaf, validate_code_signing_ca)


def validate_timestamping_chain(chain: Sequence[x509.Certificate], signing_time: datetime | None = None) -> None:
    """Validate a TSA (RFC 3161) certificate chain (Go ``ValidateTimestampingCertChain``).

    The structure rules are those of :func:`validate_code_signing_chain`; the leaf must meet
    :func:`validate_timestamping_leaf` and the others :func:`validate_timestamping_ca`.

    Go's function takes no signing time and does not check that a lone certificate is
    self-issued; here ``signing_time`` (when given) is checked as for code signing, and a lone
    certificate must be self-issued as for code signing.

    Args:
        chain: Certificates, leaf first, root last.
        signing_time: When given, every certificate must be valid at this instant.

    Raises:
        CertificateError: The chain violates a rule.
    """
    _validate_chain(chain, signing_time, validate_timestamping_leaf, validate_timestamping_ca)
