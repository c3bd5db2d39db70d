"""Bad input: references, flags and configuration files. Usage and configuration errors exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from notation_py.oci.signatures import list_signature_manifests
from tests.cli.conftest import SCOPE, Cli, Layout, oci_statement


def _signatures(layout: Layout) -> int:
    return len(list(list_signature_manifests(layout.store, layout.descriptor, 100)))


@pytest.mark.parametrize("verb", ["sign", "list", "inspect"])
def test_nonexistent_layout(cli: Cli, tmp_path: Path, verb: str) -> None:
    result = cli(verb, "--oci-layout", f"{tmp_path / 'missing'}:v1")
    assert result.code == 1
    assert "not an OCI image layout: no such directory" in result.err
    assert not (tmp_path / "missing").exists()


def test_nonexistent_layout_verify(cli: Cli, tmp_path: Path) -> None:
    cli.write_oci_policy(oci_statement())
    result = cli("verify", "--oci-layout", "--scope", SCOPE, f"{tmp_path / 'missing'}:v1")
    assert result.code == 1
    assert "not an OCI image layout" in result.err


def test_unknown_tag_and_digest(cli: Cli, layout: Layout) -> None:
    tag = cli("sign", "--oci-layout", f"{layout.path}:v9")
    assert tag.code == 1
    assert "v9: not found in OCI layout" in tag.err
    digest = "sha256:" + "a" * 64
    missing = cli("inspect", "--oci-layout", f"{layout.path}@{digest}")
    assert missing.code == 1
    assert f"{digest}: not found" in missing.err


@pytest.mark.parametrize(
    ("suffix", "message"),
    [
        ("", "reference is missing either digest or tag"),
        (":bad!tag", "invalid tag 'bad!tag'"),
        ("@sha256:abc", "sha256 hash must be 64 hex characters"),
        ("@md5:" + "a" * 32, "invalid reference"),
    ],
)
def test_malformed_layout_reference(cli: Cli, layout: Layout, suffix: str, message: str) -> None:
    for verb in ("sign", "list", "inspect"):
        result = cli(verb, "--oci-layout", f"{layout.path}{suffix}")
        assert result.code == 2, (verb, result)
        assert message in result.err
    assert _signatures(layout) == 0


def test_empty_layout_path(cli: Cli) -> None:
    result = cli("list", "--oci-layout", ":v1")
    assert result.code == 2
    assert "found empty file path" in result.err


@pytest.mark.parametrize("verb", ["sign", "list", "inspect", "verify"])
def test_registry_reference_needs_a_tag_or_digest(cli: Cli, verb: str) -> None:
    cli.write_oci_policy(oci_statement(scopes=("localhost:5000/net-monitor",)))
    result = cli(verb, "localhost:5000/net-monitor")
    assert result.code == 2
    assert "a tag or a digest is required" in result.err


@pytest.mark.parametrize("verb", ["list", "inspect"])
def test_unreachable_registry_is_a_clear_failure(cli: Cli, verb: str) -> None:
    import socket

    # A port bound but not listening: connections are refused, and while the socket is held no other
    # process (another pytest worker's server, say) can take the port and answer instead.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        result = cli(verb, "--insecure-registry", f"127.0.0.1:{port}/app:v1")
    assert result.code == 1
    assert f"127.0.0.1:{port}" in result.err


@pytest.mark.parametrize("verb", ["sign", "list", "inspect"])
def test_layout_path_without_oci_layout_flag(cli: Cli, layout: Layout, verb: str) -> None:
    for reference in (layout.by_tag, layout.by_digest):
        result = cli(verb, reference)
        assert result.code == 2
        assert "--oci-layout" in result.err
    assert _signatures(layout) == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("10x", 'invalid --expiry "10x"'),
        ("-1h", 'invalid --expiry "-1h"'),
        ("0s", "at least 1 second"),
        ("1500ms", "minimum granularity of seconds"),
        ("", "empty duration"),
    ],
)
def test_bad_expiry(cli: Cli, layout: Layout, value: str, message: str) -> None:
    result = cli("sign", "--oci-layout", layout.by_tag, "--expiry", value)
    assert result.code == 2
    assert message in result.err
    assert result.out == ""  # refused before the tag is resolved
    assert _signatures(layout) == 0
    blob = Path("file.bin")
    blob.write_bytes(b"x")
    assert cli("blob", "sign", "--expiry", value, blob).code == 2
    assert not Path("file.bin.jws.sig").exists()


@pytest.mark.parametrize("pair", ["novalue", "=value", " =x"])
def test_bad_user_metadata(cli: Cli, layout: Layout, pair: str) -> None:
    result = cli("sign", "--oci-layout", layout.by_digest, "-m", pair)
    assert result.code == 2
    assert "could not parse --user-metadata" in result.err
    cli.write_oci_policy(oci_statement())
    verify = cli("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest, "-m", pair)
    assert verify.code == 2
    assert _signatures(layout) == 0


def test_duplicate_and_reserved_user_metadata(cli: Cli, layout: Layout) -> None:
    duplicate = cli("sign", "--oci-layout", layout.by_digest, "-m", "k=1", "-m", "k=2")
    assert duplicate.code == 2
    assert 'duplicate --user-metadata key "k"' in duplicate.err
    reserved = cli("sign", "--oci-layout", layout.by_digest, "-m", "io.cncf.notary.x=y")
    assert reserved.code == 2
    assert "reserved" in reserved.err
    assert _signatures(layout) == 0


def test_unknown_signature_format(cli: Cli, layout: Layout) -> None:
    result = cli("sign", "--oci-layout", layout.by_digest, "--signature-format", "xml")
    assert result.code == 2
    assert 'signature format "xml" not supported' in result.err
    assert _signatures(layout) == 0
    blob = Path("file.bin")
    blob.write_bytes(b"x")
    blob_result = cli("blob", "sign", "--signature-format", "xml", blob)
    assert blob_result.code == 2
    assert 'signature format "xml" not supported' in blob_result.err


def test_bad_output_format_and_max_signatures(cli: Cli, layout: Layout) -> None:
    output = cli("inspect", "--oci-layout", layout.by_digest, "-o", "yaml")
    assert output.code == 2
    assert 'unrecognized output format "yaml"' in output.err
    assert cli("list", "--oci-layout", layout.by_digest, "--max-signatures", "0").code == 2
    cli.write_oci_policy(oci_statement())
    assert cli("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest, "--max-signatures", "0").code == 2
    not_a_number = cli("list", "--oci-layout", layout.by_digest, "--max-signatures", "many")
    assert not_a_number.code == 2


def test_invalid_scope(cli: Cli, layout: Layout) -> None:
    cli.write_oci_policy(oci_statement())
    result = cli("verify", "--oci-layout", "--scope", "bad scope", layout.by_digest)
    assert result.code == 2
    assert 'registry scope "bad scope" is not valid' in result.err


def test_malformed_signingkeys_json(cli: Cli, layout: Layout) -> None:
    keys = cli.config / "signingkeys.json"
    keys.write_text("{not json")
    for args in (("sign", "--oci-layout", layout.by_digest), ("key", "list")):
        result = cli(*args)
        assert result.code == 2
        assert "malformed signingkeys.json" in result.err
    keys.write_text('{"default": "ghost", "keys": []}')
    ghost = cli("sign", "--oci-layout", layout.by_digest)
    assert ghost.code == 2
    assert "default key 'ghost' not found" in ghost.err
    assert _signatures(layout) == 0


def test_signing_key_file_missing(cli: Cli, layout: Layout) -> None:
    (cli.config / "localkeys" / "test.key").unlink()
    result = cli("sign", "--oci-layout", layout.by_digest)
    assert result.code == 2
    assert "cannot read signing key" in result.err
    assert _signatures(layout) == 0


def test_malformed_config_json(cli: Cli, layout: Layout) -> None:
    (cli.config / "config.json").write_text('{"signatureFormat": "xml"}')
    result = cli("sign", "--oci-layout", layout.by_digest)
    assert result.code == 2
    assert "malformed config file" in result.err


def test_malformed_trust_policy_file(cli: Cli, layout: Layout) -> None:
    (cli.config / "trustpolicy.oci.json").write_text("[]")
    result = cli("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest)
    assert result.code == 2
    assert result.err.startswith("Error: ")


def test_cli_usage_errors(cli: Cli) -> None:
    unknown = cli("sign", "--bogus", "x")
    assert unknown.code == 2
    assert "No such option: --bogus" in unknown.err
    missing = cli("sign")
    assert missing.code == 2
    assert "Missing argument" in missing.err
    command = cli("frobnicate")
    assert command.code == 2
    assert cli("--help").code == 0
    assert "Usage:" in cli("sign", "-h").out


def test_interrupt_exits_130(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import notation_py.cli.commands_cert as commands_cert

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(commands_cert, "trust_store", interrupted)
    result = cli("cert", "list")
    assert result.code == 130
    assert result.out == ""


@pytest.mark.parametrize("command", ["list", "inspect"])
def test_max_signatures_message_is_the_same_everywhere(cli: Cli, layout: Layout, command: str) -> None:
    result = cli(command, "--oci-layout", "--max-signatures", "0", layout.by_digest)
    assert result.code == 2
    assert "--max-signatures must be at least 1" in result.err
