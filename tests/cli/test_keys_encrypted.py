"""Passphrase-encrypted signing keys: generate, add and sign; wrong or missing passphrase signs nothing."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, Layout, oci_statement
from tests.keys.cli_helpers import secret_file, signature_count, signing_keys, use_fast_kdf, verify

PASSPHRASE = "encrypted key passphrase"  # test fixture only


@pytest.fixture(autouse=True)
def _fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_kdf(monkeypatch)
    monkeypatch.delenv("NOTATION_KEY_PASSPHRASE", raising=False)


def test_generate_encrypted_and_sign_with_the_environment(
    cli: Cli, layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTATION_KEY_PASSPHRASE", PASSPHRASE)
    cli.ok("cert", "generate-test", "--encrypt", "--key-type", "ec-256", "enc")
    key = cli.config / "localkeys" / "enc.key"
    assert key.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "passphraseFile" not in signing_keys(cli)["keys"][-1]
    cli.write_oci_policy(oci_statement(stores=("ca:enc",)))

    # No passphrase anywhere (and no terminal): exit 2, nothing signed.
    monkeypatch.delenv("NOTATION_KEY_PASSPHRASE")
    result = cli("sign", "--oci-layout", "--key", "enc", layout.by_digest)
    assert result.code == 2
    assert 'the passphrase of signing key "enc" is needed' in result.err
    assert "NOTATION_KEY_PASSPHRASE" in result.err
    # Wrong passphrase: exit 2, nothing signed.
    monkeypatch.setenv("NOTATION_KEY_PASSPHRASE", "not the passphrase")
    result = cli("sign", "--oci-layout", "--key", "enc", layout.by_digest)
    assert result.code == 2
    assert result.err.strip() == f"Error: cannot decrypt signing key {key.resolve()}: wrong passphrase"
    assert signature_count(layout) == 0

    monkeypatch.setenv("NOTATION_KEY_PASSPHRASE", PASSPHRASE)
    cli.ok("sign", "--oci-layout", "--key", "enc", layout.by_digest)
    assert verify(cli, layout) == 0


def test_passphrase_file_recorded_in_the_key_list(cli: Cli, layout: Layout, tmp_path: Path) -> None:
    passphrase = secret_file(tmp_path, "enc.pass", PASSPHRASE)
    cli.ok("cert", "generate-test", "--passphrase-file", passphrase, "--key-type", "ec-256", "--default", "enc")
    assert signing_keys(cli)["keys"][-1]["passphraseFile"] == str(passphrase.resolve())
    cli.write_oci_policy(oci_statement(stores=("ca:enc",)))
    cli.ok("sign", "--oci-layout", layout.by_digest)  # the default key, passphrase from its file
    assert verify(cli, layout) == 0
    passphrase.write_text("changed behind our back\n")
    result = cli("sign", "--oci-layout", layout.by_digest)
    assert result.code == 2 and "wrong passphrase" in result.err
    assert signature_count(layout) == 1


def test_key_add_encrypted_key(cli: Cli, tmp_path: Path) -> None:
    passphrase = secret_file(tmp_path, "enc.pass", PASSPHRASE)
    cli.ok("cert", "generate-test", "--passphrase-file", passphrase, "--key-type", "ec-256", "made")
    local = cli.config / "localkeys"
    paths = ("--key-path", local / "made.key", "--cert-path", local / "made.crt")
    result = cli("key", "add", "again", *paths)
    assert result.code == 2 and 'the passphrase of signing key "again" is needed' in result.err
    assert "again" not in {k["name"] for k in signing_keys(cli)["keys"]}
    wrong = secret_file(tmp_path, "wrong.pass", "wrong passphrase")
    result = cli("key", "add", "again", *paths, "--passphrase-file", wrong)
    assert result.code == 2 and "wrong passphrase" in result.err
    cli.ok("key", "add", "again", *paths, "--passphrase-file", passphrase)
    assert signing_keys(cli)["keys"][-1] == {
        "name": "again",
        "keyPath": str((local / "made.key").resolve()),
        "certPath": str((local / "made.crt").resolve()),
        "passphraseFile": str(passphrase.resolve()),
    }


def test_new_passphrases_are_checked(cli: Cli, tmp_path: Path) -> None:
    short = secret_file(tmp_path, "short.pass", "short")
    result = cli("cert", "generate-test", "--passphrase-file", short, "weak")
    assert result.code == 2 and "at least 8 characters" in result.err
    result = cli("cert", "generate-test", "--encrypt", "nopass")
    assert result.code == 2 and "is needed" in result.err
    assert not (cli.config / "localkeys" / "nopass.key").exists()
    # There is no flag that takes a passphrase itself.
    result = cli("cert", "generate-test", "--passphrase", PASSPHRASE, "x")
    assert result.code == 2 and "No such option" in result.err
