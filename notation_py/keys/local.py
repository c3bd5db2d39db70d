"""A :class:`~notation_py.envelope.model.PrimitiveSigner` backed by a private key held in memory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from notation_py.envelope.algorithms import Algorithm, PrivateKey, sign_with_key
from notation_py.errors import CertificateError, SigningKeyError, UnsupportedEnvelopeError
from notation_py.keys.encrypted import is_encrypted_key


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

    @property
    def private_key(self) -> PrivateKey:
        """The private key (for ``key export``)."""
        return self._key

    def sign(self, data: bytes) -> bytes:
        """Raw primitive signature over ``data``."""
        return sign_with_key(self._key, self._algorithm, data)

    @classmethod
    def from_files(
        cls,
        key_path: Path,
        cert_path: Path,
        password: bytes | None = None,
        *,
        get_password: Callable[[], bytes] | None = None,
    ) -> LocalSigner:
        """Load a PEM (PKCS#8, PKCS#1 or SEC1) or DER key and a PEM/DER certificate chain file.

        Args:
            key_path: The private key, plain or passphrase-encrypted.
            cert_path: The certificate chain, leaf first, root last.
            password: The passphrase of an encrypted key.
            get_password: Called for the passphrase only when the key is encrypted and
                ``password`` is ``None`` (so a terminal prompt happens only when needed).

        Raises:
            SigningKeyError: unreadable, encrypted without a passphrase, wrong passphrase, wrong
                type, not matching the leaf, or a chain that breaks the certificate rules.
        """
        from notation_py.x509.certs import read_certificate_file
        from notation_py.x509.chain import validate_code_signing_chain

        try:
            data = key_path.read_bytes()
        except OSError as exc:
            raise SigningKeyError(f"cannot read signing key {key_path}: {exc.strerror}") from None
        if password is None and get_password is not None and is_encrypted_key(data):
            password = get_password()
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
    """Parse a PEM or DER private key; only RSA and EC keys are usable for Notary signatures.

    ``password`` is the passphrase of an encrypted key; it is ignored for a key that is not encrypted.

    Raises:
        SigningKeyError: encrypted without a passphrase, wrong passphrase, unparsable, or not RSA/EC.
    """
    encrypted = is_encrypted_key(data)
    if not encrypted:
        password = None
    elif password is None:
        raise SigningKeyError(f"signing key {source} is encrypted; a passphrase is required")
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password=password)
        else:
            key = serialization.load_der_private_key(data, password=password)
    except TypeError:
        raise SigningKeyError(f"signing key {source} is encrypted; a passphrase is required") from None
    except ValueError as exc:
        if encrypted:
            raise SigningKeyError(f"cannot decrypt signing key {source}: wrong passphrase") from None
        raise SigningKeyError(f"cannot parse signing key {source}: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise SigningKeyError(f"signing key {source} is a {type(key).__name__}; only RSA and EC keys are supported")
    return key
