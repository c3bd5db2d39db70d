"""Passphrase-encrypted private key files: PKCS#8 ``ENCRYPTED PRIVATE KEY`` PEM.

The key is wrapped as PKCS#8 ``EncryptedPrivateKeyInfo`` with PBES2: PBKDF2-HMAC-SHA256 with a
random 16-byte salt and :data:`PBKDF2_ITERATIONS` iterations, and AES-256-CBC with a random IV
(RFC 8018). ``cryptography``'s ``BestAvailableEncryption`` would use OpenSSL's default of 2,048
iterations, too few for a file that may be copied off the machine, so the structure is built with
``asn1crypto`` here. ``openssl pkey``, ``cryptography`` and Go's ``x509`` PKCS#8 readers that
support PBES2 read these files.
"""

from __future__ import annotations

import os
from pathlib import Path

from asn1crypto import algos as asn1_algos
from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from notation_py.envelope.algorithms import PrivateKey
from notation_py.fsutil import atomic_write

#: PBKDF2-HMAC-SHA256 iterations (OWASP's 2023 recommendation); about 0.1 s per load.
PBKDF2_ITERATIONS = 600_000

_PEM_ENCRYPTED = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"
_PEM_LEGACY_ENCRYPTED = b"Proc-Type: 4,ENCRYPTED"


def encrypt_private_key(key: PrivateKey, passphrase: bytes, *, iterations: int | None = None) -> bytes:
    """``key`` as a PBES2-encrypted PKCS#8 PEM document (``iterations`` defaults to :data:`PBKDF2_ITERATIONS`)."""
    iterations = iterations or PBKDF2_ITERATIONS
    plain = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    salt, iv = os.urandom(16), os.urandom(16)
    kek = PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(passphrase)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(kek), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    kdf = asn1_algos.KdfAlgorithm(
        {
            "algorithm": "pbkdf2",
            "parameters": asn1_algos.Pbkdf2Params(
                {
                    "salt": asn1_algos.Pbkdf2Salt(name="specified", value=salt),
                    "iteration_count": iterations,
                    "prf": asn1_algos.HmacAlgorithm({"algorithm": "sha256", "parameters": None}),
                }
            ),
        }
    )
    scheme = asn1_algos.EncryptionAlgorithm({"algorithm": "aes256_cbc", "parameters": iv})
    info = asn1_keys.EncryptedPrivateKeyInfo(
        {
            "encryption_algorithm": asn1_algos.EncryptionAlgorithm(
                {
                    "algorithm": "pbes2",
                    "parameters": asn1_algos.Pbes2Params({"key_derivation_func": kdf, "encryption_scheme": scheme}),
                }
            ),
            "encrypted_data": ciphertext,
        }
    )
    pem: bytes = asn1_pem.armor("ENCRYPTED PRIVATE KEY", info.dump())
    return pem


def private_key_pem(key: PrivateKey, passphrase: bytes | None) -> bytes:
    """PKCS#8 PEM: encrypted with ``passphrase``, or plain when it is ``None``."""
    if passphrase is not None:
        return encrypt_private_key(key, passphrase)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def write_private_key(path: Path, key: PrivateKey, passphrase: bytes | None) -> None:
    """Write ``key`` to ``path`` atomically with mode ``0600`` (encrypted unless ``passphrase`` is ``None``)."""
    atomic_write(path, private_key_pem(key, passphrase), mode=0o600)


def is_encrypted_key(data: bytes) -> bool:
    """Whether a PEM or DER private key file needs a passphrase."""
    if b"-----BEGIN" in data:
        return _PEM_ENCRYPTED in data or _PEM_LEGACY_ENCRYPTED in data
    try:
        serialization.load_der_private_key(data, password=None)
    except TypeError:
        return True
    except ValueError:
        return False
    return False
