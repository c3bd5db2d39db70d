"""``cert``, ``key``, ``policy`` and ``blob policy``: files written, messages, exit codes."""

from __future__ import annotations

import json
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from notation_py.keys.generate import create_root_ca, issue_signing_certificate, notary_test_subject
from tests.cli.conftest import Cli, Layout, blob_statement, make_layout, oci_statement


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _keys(cli: Cli) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((cli.config / "signingkeys.json").read_text())
    return data


# --- cert generate-test -------------------------------------------------------------------------


def test_generate_test_default_rsa_2048(empty_cli: Cli) -> None:
    result = empty_cli.ok("cert", "generate-test", "--default", "alpha")
    assert "generating RSA-2048 key with alpha" in result.out
    assert "generated certificate expiring on " in result.out
    assert "added certificate to trust store ca:alpha" in result.out
    local = empty_cli.config / "localkeys"
    key_file, cert_file = local / "alpha.key", local / "alpha.crt"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    cert = _cert(cert_file)
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == 2048
    assert cert.subject.rfc4514_string() == "CN=alpha,O=Notary,L=Seattle,ST=WA,C=US"
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(hours=24)
    assert (empty_cli.config / "truststore/x509/ca/alpha/alpha.crt").read_bytes() == cert_file.read_bytes()
    keys = _keys(empty_cli)
    assert keys["default"] == "alpha"
    assert keys["keys"] == [{"name": "alpha", "keyPath": str(key_file), "certPath": str(cert_file)}]
    assert stat.S_IMODE((empty_cli.config / "signingkeys.json").stat().st_mode) == 0o600


def test_generate_test_ec_and_validity(empty_cli: Cli) -> None:
    result = empty_cli.ok("cert", "generate-test", "--key-type", "ec-256", "--validity", "720h", "beta")
    assert "generating EC-256 key with beta" in result.out
    assert "marked as default" not in result.out
    cert = _cert(empty_cli.config / "localkeys/beta.crt")
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert public.curve.name == "secp256r1"
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(hours=720)
    assert "default" not in _keys(empty_cli)


def test_generate_test_bits_3072(empty_cli: Cli) -> None:
    empty_cli.ok("cert", "generate-test", "--bits", "3072", "gamma")
    public = _cert(empty_cli.config / "localkeys/gamma.crt").public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == 3072


def test_generate_test_refusals(cli: Cli) -> None:
    exists = cli("cert", "generate-test", "--key-type", "ec-256", "test")
    assert exists.code == 2
    assert 'signing key "test" already exists' in exists.err
    both = cli("cert", "generate-test", "--bits", "2048", "--key-type", "ec-256", "x")
    assert both.code == 2
    assert "mutually exclusive" in both.err
    bad_name = cli("cert", "generate-test", "a/b")
    assert bad_name.code == 2
    assert "is not a valid name" in bad_name.err
    bad_type = cli("cert", "generate-test", "--key-type", "dsa-1024", "y")
    assert bad_type.code == 2
    assert 'unsupported key type "dsa-1024"' in bad_type.err
    assert not (cli.config / "localkeys/y.key").exists()
    short = cli("cert", "generate-test", "--validity", "30s", "z")
    assert short.code == 2
    assert "--validity" in short.err


# --- cert list/show/delete/add/cleanup-test -----------------------------------------------------


def test_cert_list_show(cli: Cli) -> None:
    listed = cli.ok("cert", "list")
    lines = listed.out.splitlines()
    assert lines[0].split() == ["STORE", "TYPE", "STORE", "NAME", "CERTIFICATE"]
    rows = sorted(line.split() for line in lines[1:])
    assert rows == [["ca", "old", "old.crt"], ["ca", "other", "other.crt"], ["ca", "test", "test.crt"]]
    filtered = cli.ok("cert", "ls", "--type", "ca", "--store", "other")
    assert [line.split() for line in filtered.out.splitlines()[1:]] == [["ca", "other", "other.crt"]]
    none = cli.ok("cert", "list", "--store", "nosuch")
    assert none.out.strip() == "No certificates found"
    bad_store = cli("cert", "list", "--store", "../x")
    assert bad_store.code == 2
    assert "named store name needs to follow [a-zA-Z0-9_.-]+ format" in bad_store.err
    bad_type = cli("cert", "list", "--type", "bogus")
    assert bad_type.code == 2
    assert 'unsupported trust store type "bogus"' in bad_type.err

    shown = cli.ok("cert", "show", "--type", "ca", "--store", "test", "test.crt")
    assert "Issuer: CN=test,O=Notary,L=Seattle,ST=WA,C=US" in shown.out
    assert "Subject: CN=test,O=Notary,L=Seattle,ST=WA,C=US" in shown.out
    assert "SHA256 fingerprint: " in shown.out
    missing = cli("cert", "show", "--type", "ca", "--store", "test", "nope.crt")
    assert missing.code == 2
    assert "nope.crt" in missing.err


def test_cert_add_and_delete(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "extra.pem"
    source.write_bytes((cli.config / "localkeys/other.crt").read_bytes())
    added = cli.ok("cert", "add", "--type", "ca", "--store", "extra", str(source))
    assert "Successfully added extra.pem to named store extra of type ca" in added.out
    assert (cli.config / "truststore/x509/ca/extra/extra.pem").is_file()
    again = cli("cert", "add", "-t", "ca", "-s", "extra", str(source))
    assert again.code == 2
    assert "already exists" in again.err

    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    refused = cli("cert", "add", "--type", "ca", "--store", "fresh", str(source), str(garbage))
    assert refused.code == 2
    assert not (cli.config / "truststore/x509/ca/fresh").exists()  # nothing added on error

    cancelled = cli("cert", "delete", "--type", "ca", "--store", "extra", "extra.pem", input_text="n\n")
    assert cancelled.code == 0
    assert (cli.config / "truststore/x509/ca/extra/extra.pem").is_file()
    deleted = cli.ok("cert", "delete", "--type", "ca", "--store", "extra", "-y", "extra.pem")
    assert "Successfully deleted extra.pem" in deleted.out
    assert not (cli.config / "truststore/x509/ca/extra/extra.pem").exists()
    neither = cli("cert", "delete", "--type", "ca", "--store", "other", "-y")
    assert neither.code == 2
    deleted_all = cli.ok("cert", "delete", "--type", "ca", "--store", "other", "--all", "-y")
    assert "Successfully deleted all certificates in store other of type ca" in deleted_all.out
    assert not (cli.config / "truststore/x509/ca/other").exists()


def test_cert_cleanup_test(cli: Cli) -> None:
    result = cli.ok("cert", "cleanup-test", "-y", "other")
    assert "Successfully removed other from the key list" in result.out
    assert "Successfully deleted other.crt from trust store ca:other" in result.out
    assert not (cli.config / "localkeys/other.key").exists()
    assert not (cli.config / "localkeys/other.crt").exists()
    assert not (cli.config / "truststore/x509/ca/other").exists()
    assert [k["name"] for k in _keys(cli)["keys"]] == ["test", "old"]
    # The default key survives the cleanup of another key.
    assert _keys(cli)["default"] == "test"


def test_cert_cleanup_test_keeps_other_certificates_of_the_store(cli: Cli, tmp_path: Path) -> None:
    """notation deletes only <name>.crt from ca:<name>; certificates the user added there stay."""
    extra = tmp_path / "extra.crt"
    extra.write_bytes((cli.config / "localkeys/test.crt").read_bytes())
    cli.ok("cert", "add", "--type", "ca", "--store", "other", extra)
    cancelled = cli("cert", "cleanup-test", "other", input_text="n\n")
    assert cancelled.code == 0
    assert (cli.config / "localkeys/other.key").exists()
    cli.ok("cert", "cleanup-test", "--yes", "other")
    store = cli.config / "truststore/x509/ca/other"
    assert sorted(p.name for p in store.iterdir()) == ["extra.crt"]


def test_cert_cleanup_test_refuses_path_names(cli: Cli, tmp_path: Path) -> None:
    """The name becomes file names under localkeys/: it must not reach outside it."""
    victim = tmp_path / "victim.key"
    victim.write_text("precious")
    relative = Path("..") / ".." / "victim"
    assert (cli.config / "localkeys" / f"{relative}.key").resolve() == victim.resolve()
    result = cli("cert", "cleanup-test", "-y", str(relative))
    assert result.code == 2
    assert "is not a valid name" in result.err
    assert victim.read_text() == "precious"


def test_generate_test_refuses_existing_store_file_before_writing(cli: Cli) -> None:
    """A leftover ca:<name>/<name>.crt is refused before any key file is written."""
    cli.ok("key", "delete", "other")
    (cli.config / "localkeys/other.key").unlink()
    (cli.config / "localkeys/other.crt").unlink()
    result = cli("cert", "generate-test", "--key-type", "ec-256", "other")
    assert result.code == 2
    assert 'certificate "other.crt" already exists in trust store "other"' in result.err
    assert not (cli.config / "localkeys/other.key").exists()
    assert all(k["name"] != "other" for k in _keys(cli)["keys"])


# --- key ---------------------------------------------------------------------------------------


def test_key_list_update_delete(cli: Cli, layout: Layout) -> None:
    listed = cli.ok("key", "list")
    names = [line.split()[0:2] for line in listed.out.splitlines()[1:]]
    assert names == [["*", "test"], ["other", str(cli.config / "localkeys/other.key")], ["old", names[2][1]]]
    updated = cli.ok("key", "update", "--default", "other")
    assert "Updated other as the default signing key" in updated.out
    assert _keys(cli)["default"] == "other"
    unknown = cli("key", "update", "--default", "nosuch")
    assert unknown.code == 2
    assert 'signing key "nosuch" not found' in unknown.err
    deleted = cli.ok("key", "delete", "other")
    assert "Removed other from the signing key list" in deleted.out
    assert "default" not in _keys(cli)
    assert (cli.config / "localkeys/other.key").is_file()  # files are kept
    no_default = cli("sign", "--oci-layout", layout.by_digest)
    assert no_default.code == 2
    assert "default signing key not set" in no_default.err


def test_key_add_local(cli: Cli) -> None:
    local = cli.config / "localkeys"
    added = cli.ok(
        "key", "add", "again", "--key-path", str(local / "other.key"), "--cert-path", str(local / "other.crt")
    )
    assert added.out.strip() == "again"
    entry = _keys(cli)["keys"][-1]
    assert entry == {"name": "again", "keyPath": str(local / "other.key"), "certPath": str(local / "other.crt")}

    mismatched = cli(
        "key", "add", "mixed", "--key-path", str(local / "other.key"), "--cert-path", str(local / "test.crt")
    )
    assert mismatched.code == 2
    assert "does not match" in mismatched.err
    assert all(k["name"] != "mixed" for k in _keys(cli)["keys"])

    duplicate = cli(
        "key", "add", "again", "--key-path", str(local / "other.key"), "--cert-path", str(local / "other.crt")
    )
    assert duplicate.code == 2
    assert 'signing key "again" already exists' in duplicate.err
    missing = cli("key", "add", "nofiles")
    assert missing.code == 2
    assert "--key-path" in missing.err


# --- policy -----------------------------------------------------------------------------------


def test_policy_init_show_force(cli: Cli) -> None:
    policy_file = cli.config / "trustpolicy.oci.json"
    absent = cli("policy", "show")
    assert absent.code == 2
    assert "does not exist" in absent.err

    init = cli.ok(
        "policy", "init", "--name", "p1", "--scope", "local/app", "--trust-store", "ca:test", "--trusted-identity", "*"
    )
    assert "Trust policy configuration imported successfully" in init.out
    doc = json.loads(policy_file.read_text())
    assert doc["trustPolicies"][0]["name"] == "p1"
    assert doc["trustPolicies"][0]["registryScopes"] == ["local/app"]
    assert doc["trustPolicies"][0]["trustStores"] == ["ca:test"]
    shown = cli.ok("policy", "show")
    assert json.loads(shown.out) == doc

    again = cli("policy", "init", "--name", "p2", "--scope", "*", "--trust-store", "ca:x", "--trusted-identity", "*")
    assert again.code == 2
    assert "--force" in again.err
    assert json.loads(policy_file.read_text()) == doc
    forced = cli.ok(
        "policy", "init", "--name", "p2", "--scope", "*", "--trust-store", "ca:x", "--trusted-identity", "*", "--force"
    )
    assert "overwriting" in forced.err
    assert json.loads(policy_file.read_text())["trustPolicies"][0]["name"] == "p2"


def test_policy_import(cli: Cli, tmp_path: Path) -> None:
    policy_file = cli.config / "trustpolicy.oci.json"
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"version": "1.0", "trustPolicies": [oci_statement()]}))
    cli.ok("policy", "import", str(good))
    assert json.loads(policy_file.read_text())["trustPolicies"][0]["name"] == "app"

    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"version": "1.0", "trustPolicies": [oci_statement("a"), oci_statement("b", scopes=("local/app",))]})
    )
    before = policy_file.read_bytes()
    refused = cli("policy", "import", "--force", str(bad))
    assert refused.code == 2
    assert "invalid trust policy" in refused.err
    assert 'registry scope "local/app" is present in multiple oci trust policy statements' in refused.err
    assert policy_file.read_bytes() == before

    zero_scopes = tmp_path / "zero.json"
    zero_scopes.write_text(json.dumps({"version": "1.0", "trustPolicies": [oci_statement("e2e", scopes=())]}))
    fresh = cli.config / "trustpolicy.oci.json"
    fresh.unlink()
    refused = cli("policy", "import", str(zero_scopes))
    assert refused.code == 2
    assert 'trust policy statement "e2e" has zero registry scopes' in refused.err
    assert not fresh.exists()

    not_json = tmp_path / "nojson.json"
    not_json.write_text("{")
    assert cli("policy", "import", str(not_json)).code == 2
    assert not fresh.exists()
    missing = cli("policy", "import", str(tmp_path / "missing.json"))
    assert missing.code == 2
    assert "cannot read trust policy file" in missing.err


def test_policy_show_invalid_warns(cli: Cli) -> None:
    (cli.config / "trustpolicy.oci.json").write_text('{"version": "1.0", "trustPolicies": []}')
    shown = cli.ok("policy", "show")
    assert "existing trust policy configuration is invalid" in shown.err
    assert '"trustPolicies": []' in shown.out


def test_blob_policy_init_import_show(cli: Cli, tmp_path: Path) -> None:
    policy_file = cli.config / "trustpolicy.blob.json"
    init = cli.ok(
        "blob", "policy", "init", "--name", "b", "--trust-store", "ca:test", "--trusted-identity", "*", "--global"
    )
    assert "Trust policy configuration imported successfully" in init.out
    doc = json.loads(policy_file.read_text())
    assert doc["trustPolicies"][0]["globalPolicy"] is True
    assert json.loads(cli.ok("blob", "policy", "show").out) == doc

    again = cli("blob", "policy", "init", "--name", "c", "--trust-store", "ca:test", "--trusted-identity", "*")
    assert again.code == 2
    assert json.loads(policy_file.read_text()) == doc

    invalid = tmp_path / "two-globals.json"
    invalid.write_text(json.dumps({"version": "1.0", "trustPolicies": [blob_statement("a"), blob_statement("b")]}))
    refused = cli("blob", "policy", "import", "--force", str(invalid))
    assert refused.code == 2
    assert "invalid trust policy" in refused.err
    assert json.loads(policy_file.read_text()) == doc

    valid = tmp_path / "named.json"
    valid.write_text(json.dumps({"version": "1.0", "trustPolicies": [blob_statement("named", global_policy=False)]}))
    cli.ok("blob", "policy", "import", "--force", str(valid))
    assert json.loads(policy_file.read_text())["trustPolicies"][0]["name"] == "named"


def test_generate_test_with_relative_config_dir_records_absolute_paths(
    empty_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTATION_CONFIG", "relcfg")
    empty_cli.ok("cert", "generate-test", "--key-type", "ec-256", "--default", "rel")
    keys = json.loads((tmp_path / "relcfg" / "signingkeys.json").read_text())
    assert Path(keys["keys"][0]["keyPath"]).is_absolute()
    layout = make_layout(tmp_path / "img")
    empty_cli.ok("sign", "--oci-layout", layout.by_digest)


def test_blob_policy_init_skip_needs_no_stores(cli: Cli) -> None:
    cli.ok("blob", "policy", "init", "--name", "skipper", "--level", "skip", "--global")
    doc = json.loads((cli.config / "trustpolicy.blob.json").read_text())
    assert doc["trustPolicies"][0]["signatureVerification"] == {"level": "skip"}
    result = cli("blob", "policy", "init", "--name", "x", "--level", "skip", "--trust-store", "ca:test", "--force")
    assert result.code == 2
    assert "cannot be used with --level skip" in result.err


def test_key_add_refuses_a_chain_without_its_root(cli: Cli, tmp_path: Path) -> None:
    root = create_root_ca(notary_test_subject("root"), key_type="ec-256")
    leaf = issue_signing_certificate(root, notary_test_subject("leaf"), key_type="ec-256")
    key = tmp_path / "leaf.key"
    key.write_bytes(
        leaf.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    cert = tmp_path / "leaf.crt"
    cert.write_bytes(leaf.certificate.public_bytes(serialization.Encoding.PEM))
    result = cli("key", "add", "--key-path", key, "--cert-path", cert, "noroot")
    assert result.code == 2
    assert "cannot be used for signing" in result.err
    # With the root appended the same key is accepted.
    cert.write_bytes(cert.read_bytes() + root.certificate.public_bytes(serialization.Encoding.PEM))
    cli.ok("key", "add", "--key-path", key, "--cert-path", cert, "withroot")


def test_rewriting_signingkeys_keeps_unknown_top_level_members(cli: Cli) -> None:
    path = cli.config / "signingkeys.json"
    doc = json.loads(path.read_text())
    doc["x-vendor"] = {"kept": True}
    path.write_text(json.dumps(doc))
    cli.ok("key", "update", "--default", "other")
    assert json.loads(path.read_text())["x-vendor"] == {"kept": True}
