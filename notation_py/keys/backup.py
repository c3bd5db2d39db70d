"""Encrypted backups of a signing key and its certificate chain: password-protected PKCS#12.

The bundle holds the private key, the leaf certificate and the rest of the chain. Key and
certificates are encrypted with PBES2 (PBKDF2-HMAC-SHA256, :data:`KDF_ROUNDS` iterations,
AES-256-CBC) and the file is authenticated with an HMAC-SHA256 MAC (whose key derivation uses
``cryptography``'s fixed 2,048 iterations; it protects integrity, not secrecy), so ``openssl pkcs12``
(3.x), Java's ``keytool`` and Windows read it as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from notation_py.envelope.algorithms import PrivateKey
from notation_py.errors import SigningKeyError
from notation_py.keys.generate import order_chain

#: PBKDF2 iterations of the encrypted key and certificate bags.
KDF_ROUNDS = 600_000


@dataclass(frozen=True)
class Backup:
    """What a backup holds: the key and its chain, leaf first."""

    key: PrivateKey
    chain: tuple[x509.Certificate, ...]
    name: str | None = None


def export_backup(name: str, key: PrivateKey, chain: Sequence[x509.Certificate], passphrase: bytes) -> bytes:
    """A PKCS#12 file (DER) with ``key``, ``chain[0]`` as its certificate and the rest of ``chain``.

    Raises:
        SigningKeyError: the chain is empty.
    """
    if not chain:
        raise SigningKeyError(f'signing key "{name}" has no certificate to back up')
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(KDF_ROUNDS)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(passphrase)
    )
    return pkcs12.serialize_key_and_certificates(name.encode(), key, chain[0], list(chain[1:]) or None, encryption)


def import_backup(data: bytes, passphrase: bytes, source: str) -> Backup:
    """Open a PKCS#12 backup.

    The certificate chain is returned in issuing order starting with the key's certificate,
    whatever the order inside the file.

    Raises:
        SigningKeyError: wrong passphrase or not a PKCS#12 file, no key or certificate in it, a key
            that is not RSA or EC, or a certificate that does not belong to the key.
    """
    try:
        bundle = pkcs12.load_pkcs12(data, passphrase)
    except ValueError:
        raise SigningKeyError(f"cannot open backup {source}: wrong passphrase, or not a PKCS#12 file") from None
    key = bundle.key
    if key is None:
        raise SigningKeyError(f"backup {source} holds no private key")
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise SigningKeyError(f"backup {source} holds a {type(key).__name__}; only RSA and EC keys are supported")
    others = [c.certificate for c in bundle.additional_certs]
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    candidates = ([bundle.cert.certificate] if bundle.cert is not None else []) + others

    def _spki(cert: x509.Certificate) -> bytes:
        return cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    leaf = next((c for c in candidates if _spki(c) == spki), None)
    if leaf is None:
        raise SigningKeyError(f"backup {source} holds no certificate for its private key")
    name = bundle.cert.friendly_name.decode(errors="replace") if bundle.cert and bundle.cert.friendly_name else None
    return Backup(key=key, chain=tuple(order_chain(candidates, leaf)), name=name)
