"""Plugin discovery, the protocol helpers, and how misbehaving plugins fail (quickly and clearly)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from notation_py.config.dirs import ConfigDir
from notation_py.errors import PluginError
from notation_py.plugins import (
    Capability,
    PluginMetadata,
    PluginRequestError,
    list_plugins,
    load_plugin,
    plugin_directory,
)
from notation_py.plugins.protocol import compare_semver, is_semver
from tests.plugins.fake_plugin import RAW, VERIFIER, install_plugin

FAST = 5.0  # seconds; generous for a loaded CI machine, far below the default


def test_plugin_directory_follows_notation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTATION_LIBEXEC", raising=False)
    monkeypatch.setenv("NOTATION_CONFIG", str(tmp_path / "cfg"))
    assert plugin_directory() == tmp_path / "cfg" / "plugins"
    assert plugin_directory(ConfigDir(tmp_path / "other")) == tmp_path / "other" / "plugins"
    monkeypatch.setenv("NOTATION_LIBEXEC", str(tmp_path / "libexec"))
    assert plugin_directory() == tmp_path / "libexec" / "plugins"


def test_list_plugins_reports_metadata_and_errors(plugin_dir: Path) -> None:
    install_plugin(plugin_dir, "com.example.signer", capabilities=RAW, settings={"version": "1.2.3"})
    install_plugin(plugin_dir, "com.example.verifier", capabilities=VERIFIER)
    broken = install_plugin(plugin_dir, "com.example.broken", capabilities=RAW)
    broken.configure(mode="bad-json")
    (plugin_dir / "empty").mkdir()
    (plugin_dir / "README").write_text("not a plugin")
    listings = {listing.name: listing for listing in list_plugins(plugin_dir, timeout=FAST)}
    assert sorted(listings) == ["com.example.broken", "com.example.signer", "com.example.verifier", "empty"]
    signer = listings["com.example.signer"]
    assert signer.error is None and signer.metadata is not None
    assert (signer.metadata.version, signer.metadata.capabilities) == ("1.2.3", ("SIGNATURE_GENERATOR.RAW",))
    assert signer.metadata.description == "notation-py test plugin"
    verifier = listings["com.example.verifier"].metadata
    assert verifier is not None
    assert verifier.verifier_capabilities == (Capability.TRUSTED_IDENTITY, Capability.REVOCATION_CHECK)
    assert listings["com.example.broken"].metadata is None
    assert "response is not valid JSON" in (listings["com.example.broken"].error or "")
    assert "either not found or inaccessible" in (listings["empty"].error or "")
    assert list_plugins(plugin_dir / "absent") == []


def test_executable_must_be_a_regular_executable_file(plugin_dir: Path) -> None:
    plugin = install_plugin(plugin_dir, "p", capabilities=RAW)
    plugin.executable.chmod(0o644)
    with pytest.raises(PluginError, match=r"not found or inaccessible: .*not executable"):
        load_plugin("p", plugin_dir)
    plugin.executable.chmod(0o755)
    real = plugin_dir / "real"
    plugin.executable.rename(real)
    os.symlink(real, plugin.executable)
    with pytest.raises(PluginError, match="symbolic link"):
        load_plugin("p", plugin_dir)
    with pytest.raises(PluginError, match="not found or inaccessible"):
        load_plugin("absent", plugin_dir)
    with pytest.raises(PluginError, match="invalid plugin name"):
        load_plugin("../p", plugin_dir)


def test_metadata_name_must_match_the_directory(plugin_dir: Path) -> None:
    install_plugin(plugin_dir, "p", capabilities=RAW, settings={"name": "q"})
    with pytest.raises(PluginError, match='executable name must be "notation-q" instead of "notation-p"'):
        load_plugin("p", plugin_dir, timeout=FAST).get_metadata()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"capabilities": []}, "invalid metadata: empty capabilities"),
        ({"contract_versions": ["2.0"]}, 'contract version "1.0" is not in the list'),
        ({"version": ""}, "invalid metadata: empty version"),
    ],
)
def test_invalid_metadata(plugin_dir: Path, change: dict[str, object], message: str) -> None:
    install_plugin(plugin_dir, "p", capabilities=RAW, settings=change)
    with pytest.raises(PluginError, match=message):
        load_plugin("p", plugin_dir, timeout=FAST).get_metadata()


def test_error_response_on_stderr(plugin_dir: Path) -> None:
    install_plugin(plugin_dir, "p", capabilities=RAW, settings={"mode": "error"})
    with pytest.raises(PluginRequestError) as caught:
        load_plugin("p", plugin_dir, timeout=FAST).get_metadata()
    error = caught.value
    assert error.message == (
        'plugin "p" get-plugin-metadata failed with error ACCESS_DENIED: the key vault refused the request'
    )
    assert (error.code, error.command, error.plugin) == ("ACCESS_DENIED", "get-plugin-metadata", "p")
    assert error.error_metadata == {"hint": "test"}


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("exit2", r'plugin "p" get-plugin-metadata failed with exit code 2: segmentation fault \(not really\)'),
        ("bad-json", 'plugin "p" get-plugin-metadata response is not valid JSON'),
        ("not-object", 'plugin "p" get-plugin-metadata response must be a JSON object'),
    ],
)
def test_misbehaving_plugin_fails_clearly(plugin_dir: Path, mode: str, message: str) -> None:
    install_plugin(plugin_dir, "p", capabilities=RAW, settings={"mode": mode})
    with pytest.raises(PluginError, match=message):
        load_plugin("p", plugin_dir, timeout=FAST).get_metadata()


def test_huge_output_is_cut_off(plugin_dir: Path) -> None:
    install_plugin(plugin_dir, "p", capabilities=RAW, settings={"mode": "huge", "huge_chunks": 64})
    plugin = load_plugin("p", plugin_dir, timeout=FAST, max_output=256 * 1024)
    with pytest.raises(PluginError, match=r'plugin "p" wrote more than 262144 bytes to stdout; it was stopped'):
        plugin.get_metadata()


def test_hanging_plugin_times_out(plugin_dir: Path) -> None:
    install_plugin(plugin_dir, "p", capabilities=RAW, settings={"mode": "hang"})
    plugin = load_plugin("p", plugin_dir, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(PluginError, match=r'plugin "p" did not finish within 0\.5 seconds; it was stopped'):
        plugin.get_metadata()
    assert time.monotonic() - started < 3


def test_plugin_config_reaches_the_plugin(plugin_dir: Path) -> None:
    plugin = install_plugin(plugin_dir, "p", capabilities=RAW)
    load_plugin("p", plugin_dir, timeout=FAST).get_metadata({"region": "eu", "mode": "ok"})
    assert plugin.requests("get-plugin-metadata") == [{"pluginConfig": {"region": "eu", "mode": "ok"}}]


def test_metadata_from_response_is_strict() -> None:
    good = {
        "name": "p",
        "description": "d",
        "version": "1.0.0",
        "url": "https://x",
        "supportedContractVersions": ["1.0"],
        "capabilities": ["SIGNATURE_GENERATOR.RAW", "SOMETHING.NEW"],
    }
    meta = PluginMetadata.from_response(good, "p")
    assert meta.has(Capability.SIGNATURE_GENERATOR_RAW) and meta.has("SOMETHING.NEW")
    assert meta.verifier_capabilities == ()
    with pytest.raises(PluginError, match="must be a JSON object"):
        PluginMetadata.from_response([], "p")
    with pytest.raises(PluginError, match='"capabilities" must be a list of strings'):
        PluginMetadata.from_response({**good, "capabilities": "SIGNATURE_GENERATOR.RAW"}, "p")
    with pytest.raises(PluginError, match="empty url"):
        PluginMetadata.from_response({**good, "url": ""}, "p")


def test_semver() -> None:
    assert is_semver("1.0.0") and is_semver("1.0.0-alpha.1+build.5") and not is_semver("v1.0.0")
    assert not is_semver("1.0") and not is_semver("01.0.0")
    assert compare_semver("1.0.0", "1.0.0-alpha") == 1  # notation-go: 1.0.0 satisfies 1.0.0-alpha
    assert compare_semver("1.0.0", "1.1.0-alpha") == -1
    assert compare_semver("1.0.0-alpha", "1.0.0-alpha.1") == -1
    assert compare_semver("1.0.0-alpha.beta", "1.0.0-beta") == -1
    assert compare_semver("1.0.0-beta.2", "1.0.0-beta.11") == -1
    assert compare_semver("1.0.0-rc.1", "1.0.0-beta.11") == 1
    assert compare_semver("2.0.0+a", "2.0.0+b") == 0
    assert compare_semver("1.10.0", "1.9.9") == 1
    with pytest.raises(ValueError, match="not a semantic version"):
        compare_semver("1", "1.0.0")
