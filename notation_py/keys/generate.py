"""Key and certificate generation that satisfies the Notary Project certificate requirements.

Used by ``cert generate-test`` and by the test-suite; every certificate made here passes
:func:`notation_py.x509.chain.validate_code_signing_chain`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from notation_py.envelope.algorithms import PrivateKey
from notation_py.errors import UsageError

#: ``--key-type`` values and the keys they make.
KEY_TYPES = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-256", "ec-384", "ec-521")
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


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: object, not_before: datetime, not_after: datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )


def _window(validity: timedelta, not_before: datetime | None) -> tuple[datetime, datetime]:
    if validity <= timedelta(0):
        raise UsageError("certificate validity must be positive")
    start = (not_before or datetime.now(UTC)).replace(microsecond=0)
    return start, start + validity


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
    start, end = _window(validity, not_before)
    cert = (
        _builder(subject, subject, key.public_key(), start, end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, _hash_for(key))
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
    start, end = _window(validity, not_before)
    cert = (
        _builder(subject, issuer.certificate.subject, key.public_key(), start, end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
        .sign(issuer.key, _hash_for(issuer.key))
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
    start, end = _window(validity, not_before)
    issuer_name = issuer.certificate.subject if issuer else subject
    signing_key = issuer.key if issuer else key
    builder = (
        _builder(subject, issuer_name, key.public_key(), start, end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
    )
    for ext, critical in extra_extensions:
        builder = builder.add_extension(ext, critical=critical)
    return Issued(key, builder.sign(signing_key, _hash_for(signing_key)))


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
