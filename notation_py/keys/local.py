"""A :class:`~notation_py.envelope.model.PrimitiveSigner` backed by a private key held in memory."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from notation_py.envelope.algorithms import Algorithm, PrivateKey, sign_with_key
from notation_py.errors import CertificateError, SigningKeyError, UnsupportedEnvelopeError


class LocalSigner:
    """Signs with a private key in memory; the certificate chain is leaf first, root last."""

    def __init__(self, key: PrivateKey, chain: Sequence[x509.Certificate]) -> None:
        if not chain:
            raise SigningKeyError("the signing certificate chain is empty")
        try:
            self._algorithm = Algorithm.for_key(key)
        except UnsupportedEnvelopeError as exc:
            raise SigningKeyError(f"signing key is not supported: {exc.message}") from None
        leaf_key = chain[0].public_key()
        if leaf_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) != key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
            raise SigningKeyError("the signing key does not match the public key of the leaf certificate")
        self._key = key
        self._chain = tuple(chain)

    @property
    def algorithm(self) -> Algorithm:
        """Algorithm determined by the key."""
        return self._algorithm

    @property
    def certificate_chain(self) -> tuple[x509.Certificate, ...]:
        """Leaf-first chain."""
        return self._chain

    def sign(self, data: bytes) -> bytes:
        """Raw primitive signature over ``data``."""
        return sign_with_key(self._key, self._algorithm, data)

    @classmethod
    def from_files(cls, key_path: Path, cert_path: Path, password: bytes | None = None) -> LocalSigner:
        """Load a PEM (PKCS#8, PKCS#1 or SEC1) key and a PEM/DER certificate chain file.

        Raises:
            SigningKeyError: unreadable, encrypted without a password, wrong type, or not matching.
        """
        from notation_py.x509.certs import read_certificate_file
        from notation_py.x509.chain import validate_code_signing_chain

        try:
            data = key_path.read_bytes()
        except OSError as exc:
            raise SigningKeyError(f"cannot read signing key {key_path}: {exc.strerror}") from None
        key = load_private_key(data, password, source=str(key_path))
        try:
            chain = read_certificate_file(cert_path)
        except CertificateError as exc:
            raise SigningKeyError(f"cannot read signing certificate {cert_path}: {exc.message}") from None
        try:
            # Catch a configuration mistake (missing root, wrong order, expired) here, not as a bad signature.
            validate_code_signing_chain(chain, datetime.now(UTC))
        except CertificateError as exc:
            raise SigningKeyError(
                f"the certificate chain in {cert_path} cannot be used for signing: {exc.message}"
            ) from None
        return cls(key, chain)


def load_private_key(data: bytes, password: bytes | None, source: str) -> PrivateKey:
    """Parse a PEM or DER private key; only RSA and EC keys are usable for Notary signatures."""
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password=password)
        else:
            key = serialization.load_der_private_key(data, password=password)
    except TypeError:
        raise SigningKeyError(f"signing key {source} is encrypted; a passphrase is required") from None
    except ValueError as exc:
        raise SigningKeyError(f"cannot parse signing key {source}: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise SigningKeyError(f"signing key {source} is a {type(key).__name__}; only RSA and EC keys are supported")
    return key
