"""Regression tests for defects found while documenting the CLI."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from notation_py.keys.generate import create_root_ca, issue_signing_certificate, notary_test_subject
from tests.cli.conftest import Cli, Layout, make_layout, oci_statement


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


def test_empty_default_means_no_default(cli: Cli, layout: Layout) -> None:
    path = cli.config / "signingkeys.json"
    doc = json.loads(path.read_text())
    doc["default"] = ""
    path.write_text(json.dumps(doc))
    result = cli("sign", "--oci-layout", layout.by_digest)
    assert result.code == 2
    assert "default signing key not set" in result.err
    cli.ok("sign", "--oci-layout", "-k", "test", layout.by_digest)


@pytest.mark.parametrize("command", ["list", "inspect"])
def test_max_signatures_message_is_the_same_everywhere(cli: Cli, layout: Layout, command: str) -> None:
    result = cli(command, "--oci-layout", "--max-signatures", "0", layout.by_digest)
    assert result.code == 2
    assert "--max-signatures must be at least 1" in result.err


def test_debug_turns_on_our_logging_only(cli: Cli, layout: Layout) -> None:
    ours = logging.getLogger("notation_py")
    saved_level, saved_handlers = ours.level, list(ours.handlers)
    try:
        ours.handlers.clear()
        ours.setLevel(logging.NOTSET)
        cli.write_oci_policy(oci_statement())
        cli.ok("sign", "--oci-layout", layout.by_digest)
        assert ours.level != logging.DEBUG
        result = cli.ok("verify", "--oci-layout", "--scope", "local/app", "-d", layout.by_digest)
        assert "Successfully verified" in result.out
        assert ours.level == logging.DEBUG
        # httpx/httpcore would print every request header at DEBUG: they stay quiet.
        assert logging.getLogger("httpx").getEffectiveLevel() > logging.DEBUG
    finally:
        ours.handlers[:] = saved_handlers
        ours.setLevel(saved_level)
