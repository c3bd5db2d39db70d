"""Build test certificates and chains with cryptography (and asn1crypto for what it refuses to build)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

NOT_BEFORE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2124, 1, 1, tzinfo=dt.UTC)


@cache
def rsa_key(bits: int = 2048, index: int = 0) -> rsa.RSAPrivateKey:
    """A cached RSA key (``index`` gives distinct keys of one size)."""
    del index
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@cache
def ec_key(curve_name: str = "secp256r1", index: int = 0) -> ec.EllipticCurvePrivateKey:
    """A cached EC key on the named curve."""
    del index
    curves: dict[str, ec.EllipticCurve] = {
        "secp224r1": ec.SECP224R1(),
        "secp256r1": ec.SECP256R1(),
        "secp384r1": ec.SECP384R1(),
        "secp521r1": ec.SECP521R1(),
        "secp256k1": ec.SECP256K1(),
    }
    return ec.generate_private_key(curves[curve_name])


@cache
def ed_key(index: int = 0) -> ed25519.Ed25519PrivateKey:
    """A cached Ed25519 key."""
    del index
    return ed25519.Ed25519PrivateKey.generate()


def name(cn: str) -> x509.Name:
    """A name with just a common name."""
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def key_usage(**bits: bool) -> x509.KeyUsage:
    """A KeyUsage with the given bits set (all others false)."""
    fields = [
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    ]
    return x509.KeyUsage(**{f: bits.get(f, False) for f in fields})


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key."""

    cert: x509.Certificate
    key: PrivateKey


_DEFAULT: Any = object()


def build(
    cn: str,
    *,
    issuer: Issued | None = None,
    key: PrivateKey | None = None,
    ca: bool | None = False,
    path_len: int | None = None,
    ku: x509.KeyUsage | None = _DEFAULT,
    ku_critical: bool = True,
    eku: Sequence[x509.ObjectIdentifier] | None = None,
    eku_critical: bool = False,
    not_before: dt.datetime = NOT_BEFORE,
    not_after: dt.datetime = NOT_AFTER,
    subject: x509.Name | None = None,
    issuer_name: x509.Name | None = None,
    hash_alg: hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None = _DEFAULT,
    rsa_padding: padding.PSS | padding.PKCS1v15 | None = None,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> Issued:
    """Build a certificate; self-signed when ``issuer`` is None.

    ``ca=None`` omits basicConstraints. ``ku`` defaults to keyCertSign for a CA and
    digitalSignature otherwise; ``None`` omits it.
    """
    own_key = key if key is not None else ec_key()
    subject_name = subject if subject is not None else name(cn)
    signer_key = issuer.key if issuer else own_key
    if issuer_name is None:
        issuer_name = issuer.cert.subject if issuer else subject_name
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name)
        .issuer_name(issuer_name)
        .public_key(own_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_len), critical=True)
    if ku is _DEFAULT:
        ku = key_usage(key_cert_sign=True, crl_sign=True) if ca else key_usage(digital_signature=True)
    if ku is not None:
        builder = builder.add_extension(ku, critical=ku_critical)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=eku_critical)
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    if hash_alg is _DEFAULT:
        hash_alg = None if isinstance(signer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = builder.sign(signer_key, hash_alg, rsa_padding=rsa_padding)
    return Issued(cert, own_key)


def code_signing_chain(depth: int = 1) -> list[Issued]:
    """A valid chain leaf, ``depth`` intermediates, root (leaf first)."""
    root = build("Test Root", ca=True, key=ec_key(index=100))
    chain = [root]
    for i in range(depth):
        chain.append(build(f"Test Intermediate {i + 1}", ca=True, issuer=chain[-1], key=ec_key(index=101 + i)))
    leaf = build("Test Leaf", issuer=chain[-1], eku=[ExtendedKeyUsageOID.CODE_SIGNING], key=ec_key(index=1))
    chain.append(leaf)
    return list(reversed(chain))


def certs(chain: Sequence[Issued]) -> list[x509.Certificate]:
    """The certificates of ``chain``."""
    return [c.cert for c in chain]


def resign(
    cert: x509.Certificate,
    *,
    algorithm: str,
    sign: Callable[[bytes], bytes],
    mutate: Callable[[Any], None] | None = None,
) -> x509.Certificate:
    """Re-sign ``cert`` with a signature algorithm cryptography will not produce (e.g. SHA-1).

    ``algorithm`` is an asn1crypto SignedDigestAlgorithm name (``sha1_rsa``, ``sha1_ecdsa``);
    ``mutate`` may edit the asn1crypto TBSCertificate first.
    """
    parsed = asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))
    tbs = parsed["tbs_certificate"]
    tbs["signature"] = {"algorithm": algorithm}
    if mutate is not None:
        mutate(tbs)
    tbs_der = tbs.dump(force=True)
    rebuilt = asn1_x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": {"algorithm": algorithm},
            "signature_value": sign(tbs_der),
        }
    )
    return x509.load_der_x509_certificate(rebuilt.dump(force=True))


def sha1_rsa_signer(key: rsa.RSAPrivateKey) -> Callable[[bytes], bytes]:
    """Sign with RSA PKCS#1 v1.5 / SHA-1."""
    return lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA1())


def sha256_rsa_signer(key: rsa.RSAPrivateKey) -> Callable[[bytes], bytes]:
    """Sign with RSA PKCS#1 v1.5 / SHA-256."""
    return lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())
