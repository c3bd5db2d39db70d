"""A small PKI with the CLI: root CA, a CA per team, leaf signers; rotation; generate-test key types."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from notation_py.x509.certs import read_certificate_file
from tests.cli.conftest import Cli, make_layout, oci_statement
from tests.keys.cli_helpers import issue_leaf, make_pki, secret_file, signing_keys, use_fast_kdf, verify


@pytest.fixture(autouse=True)
def _fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_kdf(monkeypatch)


def test_root_in_the_trust_store_accepts_every_team(empty_cli: Cli, tmp_path: Path) -> None:
    pki = make_pki(empty_cli, tmp_path / "pki", "team-a", "team-b")
    issue_leaf(empty_cli, pki, "team-a", "a-signer")
    issue_leaf(empty_cli, pki, "team-b", "b-signer", "--default", key_type="rsa-2048")
    empty_cli.write_oci_policy(oci_statement(stores=("ca:acme",), identities=("x509.subject: C=US, ST=WA, O=Acme",)))

    for name, fmt in (("a-signer", "cose"), ("b-signer", "jws")):
        layout = make_layout(tmp_path / f"app-{name}", layer=name.encode())
        empty_cli.ok("sign", "--oci-layout", "--key", name, "--signature-format", fmt, layout.by_digest)
        assert verify(empty_cli, layout) == 0

    # Files: keys encrypted and private, chains complete (leaf, team CA, root).
    local = empty_cli.config / "localkeys"
    for name in ("a-signer", "b-signer"):
        key = local / f"{name}.key"
        assert key.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        chain = read_certificate_file(local / f"{name}.crt")
        assert [c.subject.rfc4514_string() for c in chain] == [
            f"CN={name},OU=team-{name[0]},O=Acme,ST=WA,C=US",
            f"CN=team-{name[0]} CA,O=Acme",
            "CN=acme-root,O=Acme",
        ]
    for name in ("acme-root", "team-a", "team-b"):
        assert stat.S_IMODE(pki.key(name).stat().st_mode) == 0o600
    keys = signing_keys(empty_cli)
    assert keys["default"] == "b-signer"
    assert keys["keys"][0]["passphraseFile"] == str(pki.passphrase("a-signer").resolve())
    assert [f for f in empty_cli.ok("cert", "ls").out.split() if f.endswith(".crt")] == ["acme-root.crt"]


def test_issued_certificates_follow_the_notary_rules(empty_cli: Cli, tmp_path: Path) -> None:
    pki = make_pki(empty_cli, tmp_path / "pki", "team-a")
    issue_leaf(empty_cli, pki, "team-a", "leaf", "--validity", "48h")
    root = read_certificate_file(pki.cert("acme-root"))[0]
    team, team_root = read_certificate_file(pki.cert("team-a"))
    leaf = read_certificate_file(empty_cli.config / "localkeys" / "leaf.crt")[0]
    assert team_root == root
    for ca, path_len in ((root, None), (team, 0)):
        bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
        assert bc.critical and bc.value.ca and bc.value.path_length == path_len
        ku = ca.extensions.get_extension_for_class(x509.KeyUsage)
        assert ku.critical and ku.value.key_cert_sign
    ku = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_cert_sign
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == timedelta(hours=48)
    assert isinstance(root.public_key(), ec.EllipticCurvePublicKey)


def test_rotation_new_leaf_verifies_and_replaced_anchor_stops_the_old(empty_cli: Cli, tmp_path: Path) -> None:
    cli = empty_cli
    pki = make_pki(cli, tmp_path / "pki", "team-a")
    cli.write_oci_policy(oci_statement(stores=("ca:acme",)))
    issue_leaf(cli, pki, "team-a", "signer-2026", "--default")
    old = make_layout(tmp_path / "old", layer=b"old")
    cli.ok("sign", "--oci-layout", old.by_digest)

    # Rotate the leaf: a new key from the same team CA signs; the policy is unchanged.
    issue_leaf(cli, pki, "team-a", "signer-2027", "--default")
    cli.ok("key", "delete", "signer-2026")
    new = make_layout(tmp_path / "new", layer=b"new")
    cli.ok("sign", "--oci-layout", new.by_digest)
    assert verify(cli, new) == 0
    assert verify(cli, old) == 0  # old signatures stay valid while their root is trusted

    # Replace the trust anchor: a new root (and team CA) in the same store; the old root is removed.
    pki2 = make_pki(cli, tmp_path / "pki2", "team-a2", root="acme-root-2", store="acme-next")
    cli.ok("cert", "delete", "--type", "ca", "--store", "acme", "acme-root.crt", "--yes")
    cli.ok("cert", "add", "--type", "ca", "--store", "acme", pki2.cert("acme-root-2"))
    assert verify(cli, old) == 1
    assert verify(cli, new) == 1
    issue_leaf(cli, pki2, "team-a2", "signer-new-root", "--default")
    newest = make_layout(tmp_path / "newest", layer=b"newest")
    cli.ok("sign", "--oci-layout", newest.by_digest)
    assert verify(cli, newest) == 0

    # Remove the anchor altogether: nothing verifies.
    cli.ok("cert", "delete", "--type", "ca", "--store", "acme", "--all", "--yes")
    assert verify(cli, newest) != 0


def test_issue_refusals_write_nothing(empty_cli: Cli, tmp_path: Path) -> None:
    cli = empty_cli
    pki = make_pki(cli, tmp_path / "pki", "team-a")
    team = ("--ca-cert", pki.cert("team-a"), "--ca-key", pki.key("team-a"))

    def refused(*args: str | Path, message: str) -> None:
        before = sorted(p.name for p in pki.directory.iterdir())
        result = cli("certificate", "issue", *args, "--output-dir", pki.directory)
        assert result.code == 2, result.text
        assert message in result.err
        assert sorted(p.name for p in pki.directory.iterdir()) == before

    wrong = secret_file(tmp_path, "wrong.pass", "not the team passphrase")
    refused("x", "--leaf", *team, "--ca-passphrase-file", wrong, message="cannot decrypt CA key")
    refused("x", "--leaf", *team, message="passphrase of CA key")  # no passphrase source (not a terminal)
    refused("x", *team, message="give exactly one of --intermediate and --leaf")
    refused("x", "--leaf", "--ca-cert", pki.cert("team-a"), "--ca-key", pki.key("acme-root"),
            "--ca-passphrase-file", pki.root_pass, message="is not the key of the first certificate")  # fmt: skip
    refused("x", "--leaf", *team, "--ca-passphrase-file", pki.passphrase("team-a"), "--validity", "3000d",
            message="after its issuer")  # fmt: skip
    refused("team-a", "--intermediate", *team, message="already exists")
    refused("x", "--leaf", "--ca-cert", empty_cli.config / "nope.crt", "--ca-key", pki.key("team-a"),
            message="--ca-cert")  # fmt: skip
    refused("x", "--leaf", *team, "--public-key", "pkcs11:token=t?pin-value=1234", message="do not put the PIN")
    # A leaf cannot issue certificates; a team CA with path length 0 cannot issue another CA.
    issue_leaf(cli, pki, "team-a", "leaf")
    leaf_files = ("--ca-cert", cli.config / "localkeys/leaf.crt", "--ca-key", cli.config / "localkeys/leaf.key")
    refused(
        "x", "--leaf", *leaf_files, "--ca-passphrase-file", pki.passphrase("leaf"), message="cannot issue certificates"
    )
    refused("sub", "--intermediate", *team, "--ca-passphrase-file", pki.passphrase("team-a"), "--validity", "30d",
            message="has path length 0")  # fmt: skip


def test_issue_for_an_existing_public_key(empty_cli: Cli, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    from notation_py.keys.generate import generate_key

    pki = make_pki(empty_cli, tmp_path / "pki", "team-a")
    key = generate_key("ec-384")
    public = tmp_path / "pub.pem"
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    empty_cli.ok(
        "certificate", "issue", "ext", "--leaf", "--ca-cert", pki.cert("team-a"), "--ca-key", pki.key("team-a"),
        "--ca-passphrase-file", pki.passphrase("team-a"), "--public-key", public, "--output-dir", tmp_path,
    )  # fmt: skip
    assert not (tmp_path / "ext.key").exists()
    [leaf, *_] = read_certificate_file(tmp_path / "ext.crt")
    assert leaf.public_key() == key.public_key()


@pytest.mark.parametrize(("key_type", "size"), [("rsa-4096", 4096), ("ec-384", 384), ("ec-521", 521)])
def test_generate_test_key_types_and_validity(empty_cli: Cli, key_type: str, size: int) -> None:
    result = empty_cli.ok("cert", "generate-test", "--key-type", key_type, "--validity", "720h", "signer")
    assert f"generating {key_type.upper()} key with signer" in result.out
    [cert] = read_certificate_file(empty_cli.config / "localkeys" / "signer.crt")
    public = cert.public_key()
    assert (public.key_size if isinstance(public, rsa.RSAPublicKey) else public.curve.key_size) == size  # type: ignore[union-attr]
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(hours=720)
    assert cert.not_valid_after_utc > datetime.now(UTC) + timedelta(days=29)
