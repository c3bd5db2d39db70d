"""Tiny certificate factory for the policy tests (EC keys: fast to generate)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

NOTARY = (("C", "US"), ("ST", "WA"), ("L", "Seattle"), ("O", "Notary"))

_OIDS = {
    "C": NameOID.COUNTRY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "L": NameOID.LOCALITY_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "CN": NameOID.COMMON_NAME,
    "EMAIL": NameOID.EMAIL_ADDRESS,
}


@cache
def _key(label: str) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def name(*attributes: tuple[str, str]) -> x509.Name:
    """A name with one RDN per attribute, in the given order (most general first)."""
    return x509.Name([x509.RelativeDistinguishedName([x509.NameAttribute(_OIDS[t], v)]) for t, v in attributes])


def make_cert(
    subject: x509.Name,
    *,
    issuer: x509.Name | None = None,
    ca: bool | None = False,
    key_usage_cert_sign: bool | None = None,
    signer_label: str | None = None,
    label: str = "leaf",
) -> x509.Certificate:
    """A certificate for ``subject``; self-signed unless ``signer_label`` names another key.

    Args:
        subject: Subject name.
        issuer: Issuer name (default: the subject).
        ca: basicConstraints cA value; None leaves the extension out.
        key_usage_cert_sign: keyUsage with (True) or without (False) keyCertSign; None: no keyUsage.
        signer_label: Key that signs (default: the certificate's own key).
        label: Key of the certificate.
    """
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(_key(label).public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    if key_usage_cert_sign is not None:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=not key_usage_cert_sign,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=key_usage_cert_sign,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    return builder.sign(_key(signer_label or label), hashes.SHA256())


def leaf_with(*attributes: tuple[str, str]) -> x509.Certificate:
    """A self-signed non-CA certificate with the given subject attributes."""
    return make_cert(name(*attributes))


def pem(certs: Sequence[x509.Certificate]) -> bytes:
    """PEM encoding of ``certs``."""
    return b"".join(c.public_bytes(Encoding.PEM) for c in certs)
