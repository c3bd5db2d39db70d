"""Helpers of the CLI key tests (``tests/cli/test_keys_*.py``).

TEST FIXTURE SECRETS: the passphrases written here protect throw-away keys in temporary directories.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from notation_py.keys import backup, encrypted
from notation_py.oci.signatures import list_signature_manifests
from tests.cli.conftest import SCOPE, Cli, Layout


def use_fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap PBKDF2 for key files and backups written by the CLI tests (the default strength is tested in
    ``tests/keys/test_encrypted.py`` and ``test_backup.py``): each CLI step would otherwise spend 0.1 s per key."""
    monkeypatch.setattr(encrypted, "PBKDF2_ITERATIONS", 1000)
    monkeypatch.setattr(backup, "KDF_ROUNDS", 1000)


def secret_file(directory: Path, name: str, secret: str) -> Path:
    """Write ``secret`` (and a newline, as ``echo`` would) to ``directory/name`` with mode 0600."""
    path = directory / name
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return path


def signature_count(layout: Layout) -> int:
    """How many signatures the layout holds for its image."""
    return len(list(list_signature_manifests(layout.store, layout.descriptor, 100)))


def verify(cli: Cli, layout: Layout) -> int:
    """``verify --oci-layout --scope local/app`` exit code (success message checked on 0)."""
    result = cli("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest)
    if result.code == 0:
        assert f"Successfully verified signature for {layout.path}@{layout.digest}" in result.out
    else:
        assert "Successfully verified" not in result.out, result.text
    print(result.err)  # shown when a test fails
    return result.code


def signing_keys(cli: Cli) -> dict[str, Any]:
    """``signingkeys.json`` as JSON."""
    doc: dict[str, Any] = json.loads((cli.config / "signingkeys.json").read_text())
    return doc


@dataclass(frozen=True)
class Pki:
    """Files of a root CA and the team CAs made with ``certificate create-ca`` / ``issue --intermediate``."""

    directory: Path
    root_pass: Path

    def cert(self, name: str) -> Path:
        """``NAME.crt``."""
        return self.directory / f"{name}.crt"

    def key(self, name: str) -> Path:
        """``NAME.key``."""
        return self.directory / f"{name}.key"

    def passphrase(self, name: str) -> Path:
        """The passphrase file of ``NAME.key``."""
        return self.directory / f"{name}.pass"


def make_pki(cli: Cli, directory: Path, *teams: str, root: str = "acme-root", store: str = "acme") -> Pki:
    """A root CA (trusted in ``ca:<store>``) and one intermediate CA per team, all keys encrypted."""
    directory.mkdir(parents=True, exist_ok=True)
    pki = Pki(directory, secret_file(directory, f"{root}.pass", f"{root} passphrase"))
    cli.ok(
        "certificate", "create-ca", root,
        "--subject", f"CN={root},O=Acme",
        "--key-type", "ec-384",
        "--passphrase-file", pki.root_pass,
        "--trust-store", store,
        "--output-dir", directory,
    )  # fmt: skip
    for team in teams:
        secret_file(directory, f"{team}.pass", f"{team} CA passphrase")
        cli.ok(
            "certificate", "issue", team, "--intermediate",
            "--ca-cert", pki.cert(root), "--ca-key", pki.key(root), "--ca-passphrase-file", pki.root_pass,
            "--subject", f"CN={team} CA,O=Acme",
            "--key-type", "ec-256",
            "--passphrase-file", pki.passphrase(team),
            "--output-dir", directory,
        )  # fmt: skip
    return pki


def issue_leaf(cli: Cli, pki: Pki, team: str, name: str, *extra: str | Path, key_type: str = "ec-256") -> Path:
    """Issue a code-signing certificate from ``team``'s CA, added to the key list as ``name``; its passphrase file."""
    passphrase = secret_file(pki.directory, f"{name}.pass", f"{name} key passphrase")
    cli.ok(
        "certificate", "issue", name, "--leaf",
        "--ca-cert", pki.cert(team), "--ca-key", pki.key(team), "--ca-passphrase-file", pki.passphrase(team),
        "--subject", f"CN={name},OU={team},O=Acme,ST=WA,C=US",
        "--key-type", key_type,
        "--passphrase-file", passphrase,
        "--add-key",
        *extra,
    )  # fmt: skip
    return passphrase
