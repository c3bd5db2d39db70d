"""Passphrase-encrypted PKCS#8 key files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from cryptography.hazmat.primitives import serialization

from notation_py.errors import SigningKeyError
from notation_py.keys.encrypted import (
    PBKDF2_ITERATIONS,
    encrypt_private_key,
    is_encrypted_key,
    private_key_pem,
    write_private_key,
)
from notation_py.keys.local import LocalSigner, load_private_key
from tests.pki import ca_chain, self_signed

PASSPHRASE = b"correct horse battery staple"  # test fixture only


@pytest.mark.parametrize("key_type", ["rsa-2048", "ec-256", "ec-521"])
@pytest.mark.usefixtures("fast_kdf")
def test_round_trip(key_type: str) -> None:
    key = self_signed(key_type).key
    pem = encrypt_private_key(key, PASSPHRASE)
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert is_encrypted_key(pem)
    loaded = load_private_key(pem, PASSPHRASE, "k.pem")
    assert loaded.private_numbers() == key.private_numbers()


def test_pbes2_with_strong_kdf() -> None:
    pem = encrypt_private_key(self_signed("ec-256").key, PASSPHRASE)
    _, _, der = asn1_pem.unarmor(pem)
    algorithm = asn1_keys.EncryptedPrivateKeyInfo.load(der)["encryption_algorithm"].native
    assert algorithm["algorithm"] == "pbes2"
    kdf = algorithm["parameters"]["key_derivation_func"]
    assert kdf["algorithm"] == "pbkdf2"
    assert kdf["parameters"]["iteration_count"] == PBKDF2_ITERATIONS >= 600_000
    assert kdf["parameters"]["prf"]["algorithm"] == "sha256"
    assert algorithm["parameters"]["encryption_scheme"]["algorithm"] == "aes256_cbc"


@pytest.mark.usefixtures("fast_kdf")
def test_wrong_or_missing_passphrase() -> None:
    pem = encrypt_private_key(self_signed("ec-256").key, PASSPHRASE)
    with pytest.raises(SigningKeyError, match=r"cannot decrypt signing key k.pem: wrong passphrase"):
        load_private_key(pem, b"wrong passphrase", "k.pem")
    with pytest.raises(SigningKeyError, match=r"signing key k.pem is encrypted; a passphrase is required"):
        load_private_key(pem, None, "k.pem")


def test_plain_keys_ignore_a_passphrase() -> None:
    key = self_signed("ec-256").key
    plain = private_key_pem(key, None)
    assert not is_encrypted_key(plain)
    assert load_private_key(plain, PASSPHRASE, "k.pem").public_key() == key.public_key()
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert not is_encrypted_key(der)
    enc_der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(PASSPHRASE)
    )
    assert is_encrypted_key(enc_der)
    assert load_private_key(enc_der, PASSPHRASE, "k.der").public_key() == key.public_key()


@pytest.mark.usefixtures("fast_kdf")
def test_written_0600_and_loaded_by_local_signer(tmp_path: Path) -> None:
    root, inter, leaf = ca_chain("ec-256")
    key_path, cert_path = tmp_path / "k.pem", tmp_path / "c.pem"
    write_private_key(key_path, leaf.key, PASSPHRASE)
    assert key_path.stat().st_mode & 0o777 == 0o600
    cert_path.write_bytes(
        b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in (leaf.certificate, inter.certificate, root.certificate)
        )
    )
    calls: list[int] = []

    def ask() -> bytes:
        calls.append(1)
        return PASSPHRASE

    signer = LocalSigner.from_files(key_path, cert_path, get_password=ask)
    assert calls == [1]
    assert signer.certificate_chain[0] == leaf.certificate
    # A plain key never asks.
    write_private_key(key_path, leaf.key, None)
    LocalSigner.from_files(key_path, cert_path, get_password=ask)
    assert calls == [1]


@pytest.mark.real_server
def test_openssl_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    write_private_key(path, self_signed("ec-256").key, PASSPHRASE)
    result = subprocess.run(
        ["openssl", "pkey", "-in", str(path), "-passin", "stdin", "-noout"],
        input=PASSPHRASE + b"\n",
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
