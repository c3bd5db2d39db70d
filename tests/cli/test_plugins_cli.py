"""``notation-py`` with signing plugins (notation's plugin protocol), end to end: a plugin written for
the tests installed under ``{NOTATION_CONFIG}/plugins``, ``sign --plugin/--id``, plugin keys in
``signingkeys.json``, ``plugin list``, and misbehaving plugins refused with nothing stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from notation_py.oci.layout import OCILayout
from notation_py.oci.signatures import list_signature_manifests
from tests.cli.conftest import SCOPE, Cli, Layout, oci_statement
from tests.pki import ca_chain
from tests.plugins.fake_plugin import InstalledPlugin, install_plugin

RAW = "SIGNATURE_GENERATOR.RAW"
ENVELOPE = "SIGNATURE_GENERATOR.ENVELOPE"


def install(cli: Cli, tmp_path: Path, name: str, capability: str, **settings: object) -> InstalledPlugin:
    """Install a plugin whose key chains to a root the trust store ``ca:plugin`` holds."""
    root, inter, leaf = ca_chain("ec-256")
    plugin = install_plugin(
        cli.config / "plugins",
        name,
        capabilities=[capability],
        key=leaf.key,
        chain=[leaf.certificate, inter.certificate, root.certificate],
        settings=settings,
    )
    root_file = tmp_path / f"{name}-root.pem"
    root_file.write_bytes(root.certificate.public_bytes(Encoding.PEM))
    cli.ok("certificate", "add", "--type", "ca", "--store", "plugin", root_file)
    cli.write_oci_policy(oci_statement(stores=("ca:plugin",)))
    return plugin


def signatures(layout: Layout) -> int:
    store = OCILayout(layout.path)
    return len(list(list_signature_manifests(store, store.resolve(layout.digest), 100)))


@pytest.mark.parametrize("capability", [RAW, ENVELOPE])
def test_sign_with_a_plugin_and_verify(cli: Cli, layout: Layout, tmp_path: Path, capability: str) -> None:
    install(cli, tmp_path, "acme", capability)
    cli.ok("sign", "--oci-layout", "--plugin", "acme", "--id", "test-key", layout.by_digest)
    cli.ok("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest)
    listed = cli.ok("plugin", "list").out
    assert "acme" in listed
    assert capability in listed

    cli.ok("key", "add", "hsm-key", "--plugin", "acme", "--id", "test-key")
    cli.ok("sign", "--oci-layout", "-k", "hsm-key", layout.by_digest)
    assert signatures(layout) == 2


@pytest.mark.parametrize("mode", ["bad-json", "error", "huge", "tamper"])
def test_misbehaving_plugin_signs_nothing(cli: Cli, layout: Layout, tmp_path: Path, mode: str) -> None:
    install(cli, tmp_path, "broken", RAW)
    result = cli(
        "sign",
        "--oci-layout",
        "--plugin",
        "broken",
        "--id",
        "test-key",
        "--plugin-config",
        f"mode={mode}",
        layout.by_digest,
    )
    assert result.code == 1
    assert result.err.startswith("Error: ")
    assert signatures(layout) == 0


def test_missing_plugin_is_named(cli: Cli, layout: Layout) -> None:
    result = cli("sign", "--oci-layout", "--plugin", "nowhere", "--id", "k", layout.by_digest)
    assert result.code == 1
    assert "nowhere" in result.err
