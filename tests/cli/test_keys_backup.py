"""``key export`` / ``key import``: encrypted backups that restore a working signing key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from notation_py.config.files import KeySuite, Pkcs11KeyConfig, SigningKeys
from tests.cli.conftest import Cli, Layout, oci_statement
from tests.keys.cli_helpers import secret_file, signature_count, signing_keys, use_fast_kdf, verify


@pytest.fixture(autouse=True)
def _fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_kdf(monkeypatch)
    for name in ("NOTATION_KEY_PASSPHRASE", "NOTATION_BACKUP_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)


def test_export_delete_import_sign_verify(cli: Cli, layout: Layout, tmp_path: Path) -> None:
    backup_pass = secret_file(tmp_path, "backup.pass", "backup passphrase of test")
    key_pass = secret_file(tmp_path, "key.pass", "restored key passphrase")
    backup = tmp_path / "test.p12"
    result = cli.ok("key", "export", "test", "--output", backup, "--backup-passphrase-file", backup_pass)
    assert f"Exported test (key and 1 certificate(s)) to {backup}" in result.out
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert cli("key", "export", "test", "-o", backup, "--backup-passphrase-file", backup_pass).code == 2  # exists

    # Lose the key, then restore it under a new name.
    cli.ok("key", "delete", "test")
    for suffix in (".key", ".crt"):
        (cli.config / "localkeys" / f"test{suffix}").unlink()
    wrong = secret_file(tmp_path, "wrong.pass", "not the backup passphrase")
    result = cli("key", "import", backup, "--name", "restored", "--backup-passphrase-file", wrong)
    assert result.code == 2 and "wrong passphrase, or not a PKCS#12 file" in result.err
    assert not (cli.config / "localkeys" / "restored.key").exists()
    cli.ok(
        "key", "import", backup, "--name", "restored", "--backup-passphrase-file", backup_pass,
        "--passphrase-file", key_pass, "--default",
    )  # fmt: skip
    restored_key = cli.config / "localkeys" / "restored.key"
    assert restored_key.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert stat.S_IMODE(restored_key.stat().st_mode) == 0o600
    entry = signing_keys(cli)["keys"][-1]
    assert entry["name"] == "restored" and entry["passphraseFile"] == str(key_pass.resolve())

    cli.write_oci_policy(oci_statement())  # trusts ca:test, the restored key's certificate
    cli.ok("sign", "--oci-layout", layout.by_digest)
    assert verify(cli, layout) == 0
    assert cli("key", "import", backup, "--name", "restored", "--backup-passphrase-file", backup_pass).code == 2


def test_export_of_an_encrypted_key_needs_its_passphrase(cli: Cli, tmp_path: Path) -> None:
    key_pass = secret_file(tmp_path, "key.pass", "passphrase of enc key")
    backup_pass = secret_file(tmp_path, "backup.pass", "passphrase of backup")
    cli.ok("cert", "generate-test", "--key-type", "ec-256", "--encrypt", "--passphrase-file", key_pass, "enc")
    SigningKeys.load(cli.config / "signingkeys.json").remove("enc").add(
        KeySuite(
            name="enc", key_path=str(cli.config / "localkeys/enc.key"), cert_path=str(cli.config / "localkeys/enc.crt")
        )
    ).save(cli.config / "signingkeys.json")
    out = tmp_path / "enc.p12"
    result = cli("key", "export", "enc", "-o", out, "--backup-passphrase-file", backup_pass)
    assert result.code == 2 and 'the passphrase of signing key "enc" is needed' in result.err
    assert not out.exists()
    cli.ok("key", "export", "enc", "-o", out, "--backup-passphrase-file", backup_pass, "--passphrase-file", key_pass)
    result = cli("key", "export", "enc", "-o", tmp_path / "x.p12", "--passphrase-file", key_pass)
    assert result.code == 2 and "passphrase of the backup" in result.err


def test_keys_outside_files_cannot_be_exported(cli: Cli, tmp_path: Path) -> None:
    SigningKeys.load(cli.config / "signingkeys.json").add(
        KeySuite(name="hsm", pkcs11=Pkcs11KeyConfig(uri="pkcs11:token=t;object=k"))
    ).save(cli.config / "signingkeys.json")
    result = cli("key", "export", "hsm", "-o", tmp_path / "hsm.p12")
    assert result.code == 2 and 'signing key "hsm" is held by a PKCS#11 token and cannot be exported' in result.err
    assert not (tmp_path / "hsm.p12").exists()


def test_import_garbage(cli: Cli, layout: Layout, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.p12"
    bogus.write_bytes(b"not pkcs12")
    backup_pass = secret_file(tmp_path, "backup.pass", "passphrase of backup")
    result = cli("key", "import", bogus, "--name", "x", "--backup-passphrase-file", backup_pass)
    assert result.code == 2 and "not a PKCS#12 file" in result.err
    result = cli("key", "import", tmp_path / "missing.p12", "--name", "x", "--backup-passphrase-file", backup_pass)
    assert result.code == 2 and "cannot read backup" in result.err
    assert signature_count(layout) == 0
