"""Key and certificate generation that satisfies the Notary Project certificate requirements.

Used by ``cert generate-test`` and by the test-suite; every certificate made here passes
:func:`notation_py.x509.chain.validate_code_signing_chain`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from notation_py.envelope.algorithms import PrivateKey, PublicKey
from notation_py.errors import UsageError
from notation_py.keys import key_types

#: ``--key-type`` values and the keys they make (defined in :mod:`notation_py.keys.key_types`, which the
#: CLI's help text imports without loading cryptography).
KEY_TYPES = key_types.KEY_TYPES
_CURVES: dict[str, ec.EllipticCurve] = {"ec-256": ec.SECP256R1(), "ec-384": ec.SECP384R1(), "ec-521": ec.SECP521R1()}


def generate_key(key_type: str) -> PrivateKey:
    """Generate a private key of ``key_type`` (one of :data:`KEY_TYPES`)."""
    kt = key_type.lower()
    if kt.startswith("rsa-") and kt in KEY_TYPES:
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kt[4:]))
    if kt in _CURVES:
        return ec.generate_private_key(_CURVES[kt])
    raise UsageError(f'unsupported key type "{key_type}"; supported: {", ".join(KEY_TYPES)}')


def _hash_for(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | hashes.SHA512:
    size = key.key_size if isinstance(key, rsa.RSAPrivateKey) else key.curve.key_size
    if size >= 4096 or size == 521:
        return hashes.SHA512()
    if size >= 3072 or size == 384:
        return hashes.SHA384()
    return hashes.SHA256()


def notary_test_subject(common_name: str) -> x509.Name:
    """``CN=<name>,O=Notary,L=Seattle,ST=WA,C=US``, the subject ``notation cert generate-test`` uses."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "WA"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Seattle"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Notary"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@dataclass(frozen=True)
class Issued:
    """A key with its certificate."""

    key: PrivateKey
    certificate: x509.Certificate


class CertRole(StrEnum):
    """What a certificate made by :func:`build_certificate` is for."""

    ROOT = "root"
    INTERMEDIATE = "intermediate"
    LEAF = "leaf"


def parse_subject(text: str) -> x509.Name:
    """An RFC 4514 distinguished name (``CN=team-a,O=Acme,C=US``) with at least a common name.

    Raises:
        UsageError: the text is not a distinguished name or has no ``CN``.
    """
    try:
        name = x509.Name.from_rfc4514_string(text)
    except ValueError as exc:
        raise UsageError(f'invalid subject "{text}": {exc}; use a distinguished name like "CN=team-a,O=Acme"') from None
    if not name.get_attributes_for_oid(NameOID.COMMON_NAME):
        raise UsageError(f'invalid subject "{text}": a common name (CN=...) is required')
    return name


def _window(validity: timedelta, not_before: datetime | None) -> tuple[datetime, datetime]:
    if validity <= timedelta(0):
        raise UsageError("certificate validity must be positive")
    start = (not_before or datetime.now(UTC)).replace(microsecond=0)
    return start, start + validity


def _leaf_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def build_certificate(
    *,
    role: CertRole,
    subject: x509.Name,
    public_key: PublicKey,
    issuer_key: PrivateKey,
    issuer_cert: x509.Certificate | None,
    validity: timedelta,
    not_before: datetime | None = None,
    path_length: int | None = None,
    extra_extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> x509.Certificate:
    """Make a certificate that meets the Notary Project code-signing certificate requirements.

    * CA (``ROOT``, ``INTERMEDIATE``): basicConstraints cA=true (critical, optional pathLenConstraint),
      keyUsage keyCertSign + cRLSign (critical), subject key identifier.
    * ``LEAF``: basicConstraints cA=false (critical), keyUsage digitalSignature only (critical),
      extendedKeyUsage codeSigning.
    * Certificates with an issuer carry its authority key identifier and are signed with its key;
      a root (or a leaf with ``issuer_cert=None``) is self-signed with ``issuer_key``.

    The signature hash follows the issuer key's size (SHA-256/384/512).

    Raises:
        UsageError: non-positive validity, or a certificate that would outlive its issuer.
    """
    start, end = _window(validity, not_before)
    if issuer_cert is not None and end > issuer_cert.not_valid_after_utc:
        raise UsageError(
            f"the certificate would be valid until {end.isoformat()}, after its issuer "
            f"{issuer_cert.subject.rfc4514_string()} expires ({issuer_cert.not_valid_after_utc.isoformat()}): "
            "use a shorter validity"
        )
    issuer_name = issuer_cert.subject if issuer_cert is not None else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
    )
    if role is CertRole.LEAF:
        builder = (
            builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_leaf_key_usage(), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        )
    else:
        builder = (
            builder.add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )
    if issuer_cert is not None:
        if role is CertRole.LEAF:
            builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    for ext, critical in extra_extensions:
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(issuer_key, _hash_for(issuer_key))


def create_root_ca(
    subject: x509.Name,
    *,
    key_type: str = "rsa-3072",
    validity: timedelta = timedelta(days=3650),
    not_before: datetime | None = None,
    path_length: int | None = None,
) -> Issued:
    """A self-signed root CA: basicConstraints CA (critical), keyUsage keyCertSign+cRLSign (critical)."""
    key = generate_key(key_type)
    cert = build_certificate(
        role=CertRole.ROOT,
        subject=subject,
        public_key=key.public_key(),
        issuer_key=key,
        issuer_cert=None,
        validity=validity,
        not_before=not_before,
        path_length=path_length,
    )
    return Issued(key, cert)


def issue_intermediate_ca(
    issuer: Issued,
    subject: x509.Name,
    *,
    key_type: str = "rsa-3072",
    validity: timedelta = timedelta(days=1825),
    not_before: datetime | None = None,
    path_length: int | None = 0,
) -> Issued:
    """An intermediate CA signed by ``issuer``."""
    key = generate_key(key_type)
    cert = build_certificate(
        role=CertRole.INTERMEDIATE,
        subject=subject,
        public_key=key.public_key(),
        issuer_key=issuer.key,
        issuer_cert=issuer.certificate,
        validity=validity,
        not_before=not_before,
        path_length=path_length,
    )
    return Issued(key, cert)


def issue_signing_certificate(
    issuer: Issued | None,
    subject: x509.Name,
    *,
    key_type: str = "rsa-2048",
    validity: timedelta = timedelta(days=365),
    not_before: datetime | None = None,
    extra_extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> Issued:
    """A code-signing leaf: keyUsage digitalSignature (critical), EKU codeSigning, not a CA.

    With ``issuer=None`` the certificate is self-signed, like ``notation cert generate-test``.
    """
    key = generate_key(key_type)
    cert = build_certificate(
        role=CertRole.LEAF,
        subject=subject,
        public_key=key.public_key(),
        issuer_key=issuer.key if issuer else key,
        issuer_cert=issuer.certificate if issuer else None,
        validity=validity,
        not_before=not_before,
        extra_extensions=extra_extensions,
    )
    return Issued(key, cert)


def validate_ca_chain(chain: Sequence[x509.Certificate], now: datetime | None = None) -> None:
    """Check a CA chain (issuing CA first, root last) with the Notary Project CA rules.

    Each certificate is issued by the next, the last is a self-signed root, none but the last is
    self-signed, each meets :func:`~notation_py.x509.chain.validate_code_signing_ca` for the number of
    CAs below it (a leaf signed by ``chain[0]`` comes directly below), and all are valid at ``now``.

    Raises:
        CertificateError: the first rule violated.
    """
    from notation_py.errors import CertificateError
    from notation_py.x509.chain import is_issued_by, is_self_signed, validate_code_signing_ca

    if not chain:
        raise CertificateError("the CA certificate chain is empty")
    moment = now or datetime.now(UTC)
    last = len(chain) - 1
    for i, cert in enumerate(chain):
        subject = cert.subject.rfc4514_string()
        if not cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc:
            raise CertificateError(
                f"certificate with subject {subject} is not valid now: valid from "
                f"{cert.not_valid_before_utc.isoformat()} to {cert.not_valid_after_utc.isoformat()}"
            )
        validate_code_signing_ca(cert, i)
        if i == last:
            if not is_self_signed(cert):
                raise CertificateError(
                    f"certificate with subject {subject} is not self-signed: the chain must end with its root"
                )
        elif is_self_signed(cert) or not is_issued_by(cert, chain[i + 1]):
            raise CertificateError(
                f"certificate with subject {subject} is not issued by {chain[i + 1].subject.rfc4514_string()}"
            )


def order_chain(certs: Sequence[x509.Certificate], leaf: x509.Certificate) -> list[x509.Certificate]:
    """``leaf`` followed by its issuers found among ``certs``, in issuing order (for unordered bundles).

    Certificates that are not on the leaf's issuer path are dropped.
    """
    from notation_py.x509.chain import is_issued_by, is_self_signed

    chain = [leaf]
    while not is_self_signed(chain[-1]):
        issuer = next((c for c in certs if c not in chain and is_issued_by(chain[-1], c)), None)
        if issuer is None:
            break
        chain.append(issuer)
    return chain


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
