"""Encrypted PKCS#12 backups of a key and its chain."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from notation_py.errors import SigningKeyError
from notation_py.keys.backup import KDF_ROUNDS, export_backup, import_backup
from tests.pki import ca_chain, self_signed

PASSPHRASE = b"backup passphrase for tests"  # test fixture only


@pytest.mark.usefixtures("fast_kdf")
def test_round_trip_keeps_key_and_chain_order() -> None:
    root, inter, leaf = ca_chain("ec-256")
    data = export_backup("release", leaf.key, [leaf.certificate, inter.certificate, root.certificate], PASSPHRASE)
    restored = import_backup(data, PASSPHRASE, "b.p12")
    assert restored.name == "release"
    assert restored.key.public_key() == leaf.key.public_key()
    assert restored.chain == (leaf.certificate, inter.certificate, root.certificate)


def test_unordered_bundle_is_put_in_issuing_order() -> None:
    root, inter, leaf = ca_chain("ec-256")
    encryption = serialization.BestAvailableEncryption(PASSPHRASE)
    data = pkcs12.serialize_key_and_certificates(
        None, leaf.key, None, [root.certificate, inter.certificate, leaf.certificate], encryption
    )
    restored = import_backup(data, PASSPHRASE, "b.p12")
    assert restored.chain == (leaf.certificate, inter.certificate, root.certificate)
    assert restored.name is None


@pytest.mark.usefixtures("fast_kdf")
def test_wrong_passphrase_and_garbage() -> None:
    root, _inter, leaf = ca_chain("ec-256")
    data = export_backup("k", leaf.key, [leaf.certificate, root.certificate], PASSPHRASE)
    with pytest.raises(SigningKeyError, match=r"cannot open backup b.p12: wrong passphrase, or not a PKCS#12 file"):
        import_backup(data, b"not the passphrase", "b.p12")
    with pytest.raises(SigningKeyError, match=r"not a PKCS#12 file"):
        import_backup(b"garbage", PASSPHRASE, "b.p12")


def test_bundle_without_matching_certificate_or_key() -> None:
    _, _, leaf = ca_chain("ec-256")
    other = self_signed("ec-256")
    encryption = serialization.BestAvailableEncryption(PASSPHRASE)
    mismatched = pkcs12.serialize_key_and_certificates(None, leaf.key, None, [other.certificate], encryption)
    with pytest.raises(SigningKeyError, match=r"holds no certificate for its private key"):
        import_backup(mismatched, PASSPHRASE, "b.p12")
    no_key = pkcs12.serialize_key_and_certificates(None, None, other.certificate, None, encryption)
    with pytest.raises(SigningKeyError, match=r"holds no private key"):
        import_backup(no_key, PASSPHRASE, "b.p12")
    with pytest.raises(SigningKeyError, match=r"no certificate to back up"):
        export_backup("k", leaf.key, [], PASSPHRASE)


@pytest.mark.real_server
def test_openssl_reads_the_backup(tmp_path: Path) -> None:
    root, inter, leaf = ca_chain("ec-256")
    path = tmp_path / "b.p12"
    path.write_bytes(export_backup("k", leaf.key, [leaf.certificate, inter.certificate, root.certificate], PASSPHRASE))
    result = subprocess.run(
        ["openssl", "pkcs12", "-in", str(path), "-passin", "stdin", "-nodes", "-info"],
        input=PASSPHRASE + b"\n",
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(b"BEGIN CERTIFICATE") == 3
    assert f"PBES2, PBKDF2, AES-256-CBC, Iteration {KDF_ROUNDS}, PRF hmacWithSHA256".encode() in result.stderr
