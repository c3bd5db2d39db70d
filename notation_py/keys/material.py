"""Reading and writing key material for the PKI commands: CA keys and chains, public keys, chain files."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from notation_py.envelope.algorithms import PrivateKey, PublicKey
from notation_py.errors import CertificateError, SigningKeyError, UsageError
from notation_py.fsutil import atomic_write
from notation_py.keys.encrypted import is_encrypted_key
from notation_py.keys.generate import validate_ca_chain
from notation_py.keys.local import load_private_key


@dataclass(frozen=True)
class Authority:
    """An issuing CA: its private key and its chain (the CA first, the root last)."""

    key: PrivateKey
    chain: tuple[x509.Certificate, ...]

    @property
    def certificate(self) -> x509.Certificate:
        """The issuing CA's own certificate."""
        return self.chain[0]


def public_key_der(key: object) -> bytes:
    """SubjectPublicKeyInfo DER of an RSA or EC public key (for comparing keys)."""
    if isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    raise SigningKeyError(f"{type(key).__name__} keys are not supported; only RSA and EC")


def chain_pem(chain: Sequence[x509.Certificate]) -> bytes:
    """The certificates as concatenated PEM blocks, in the given order."""
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)


def write_chain(path: Path, chain: Sequence[x509.Certificate]) -> None:
    """Write a chain file (PEM, mode ``0644``) atomically."""
    atomic_write(path, chain_pem(chain), mode=0o644)


def ensure_absent(*paths: Path) -> None:
    """Refuse to overwrite key material.

    Raises:
        UsageError: one of ``paths`` exists.
    """
    for path in paths:
        if path.exists() or path.is_symlink():
            raise UsageError(f"{path} already exists; choose another name or --output-dir")


def read_chain(path: Path, flag: str) -> list[x509.Certificate]:
    """Certificates of a PEM or DER file given by ``flag``.

    Raises:
        UsageError: unreadable or no certificates.
    """
    from notation_py.x509.certs import read_certificate_file

    try:
        return read_certificate_file(path)
    except CertificateError as exc:
        raise UsageError(f"{flag}: {exc.message}") from None


def load_authority(ca_cert: Path, ca_key: Path, get_password: Callable[[], bytes]) -> Authority:
    """Load and check an issuing CA: its chain must meet the Notary CA rules now, and the key must match it.

    ``get_password`` is called only when the key file is encrypted.

    Raises:
        UsageError: unreadable files, a chain that breaks the CA rules, or a key that is not the CA's.
        SigningKeyError: wrong passphrase or unparsable key.
    """
    chain = read_chain(ca_cert, "--ca-cert")
    try:
        validate_ca_chain(chain)
    except CertificateError as exc:
        raise UsageError(f"--ca-cert {ca_cert} cannot issue certificates: {exc.message}") from None
    try:
        data = ca_key.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read --ca-key {ca_key}: {exc.strerror}") from None
    password = get_password() if is_encrypted_key(data) else None
    try:
        key = load_private_key(data, password, source=str(ca_key))
    except SigningKeyError as exc:
        raise SigningKeyError(exc.message.replace("signing key", "CA key", 1)) from None
    if public_key_der(key.public_key()) != public_key_der(chain[0].public_key()):
        raise UsageError(f"--ca-key {ca_key} is not the key of the first certificate in --ca-cert {ca_cert}")
    return Authority(key=key, chain=tuple(chain))


def read_public_key_file(path: Path) -> PublicKey:
    """An RSA or EC public key from a PEM or DER ``SubjectPublicKeyInfo`` file.

    Raises:
        UsageError: unreadable, not a public key, or not RSA/EC.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read --public-key {path}: {exc.strerror}") from None
    try:
        key = (
            serialization.load_pem_public_key(data)
            if b"-----BEGIN" in data
            else serialization.load_der_public_key(data)
        )
    except ValueError as exc:
        raise UsageError(f"--public-key {path} is not a public key: {exc}") from None
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise UsageError(f"--public-key {path} is a {type(key).__name__}; only RSA and EC keys are supported")
    return key
