"""signingkeys.json and config.json: notation's files, including notation-go's vectors."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from notation_py.config.dirs import ConfigDir, cache_dir
from notation_py.config.files import KeySuite, NotationConfig, SigningKeys
from notation_py.errors import ConfigError
from tests.conformance import vector


def test_valid_signingkeys_vector() -> None:
    keys = SigningKeys.load(vector("notation-go/config/valid/signingkeys.json"))
    assert keys.default == "wabbit-networks"
    assert [k.name for k in keys.keys] == ["wabbit-networks", "import.acme-rockets", "external-key"]
    plugin = keys.get("external-key")
    assert plugin.is_plugin and plugin.plugin_name == "pluginX" and plugin.id == "id1"
    assert dict(plugin.plugin_config) == {"key": "value"}
    assert keys.get(None).key_path == "/home/demo/.config/notation/localkeys/wabbit-networks.key"


def test_duplicate_key_names_vector_is_rejected() -> None:
    with pytest.raises(ConfigError, match="multiple keys with name 'wabbit-networks' found"):
        SigningKeys.load(vector("notation-go/config/malformed-duplicate/signingkeys.json"))


def test_default_must_exist_vector_is_rejected() -> None:
    with pytest.raises(ConfigError, match="default key 'missing-default' not found"):
        SigningKeys.load(vector("notation-go/config/malformed-invalid-default/signingkeys.json"))


def test_config_json_vector() -> None:
    cfg = NotationConfig.load(vector("notation-go/config/valid/config.json"))
    assert cfg.insecure_registries == ("registry.wabbit-networks.io",)
    assert cfg.signature_format == "jws"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (b"{", "malformed signingkeys.json"),
        (b"[]", "expected a JSON object"),
        (b'{"keys": {}}', '"keys" must be a list'),
        (b'{"keys": [{"keyPath": "a", "certPath": "b"}]}', "has no name"),
        (b'{"keys": [{"name": "a", "keyPath": "a"}]}', 'needs "keyPath" and "certPath"'),
        (b'{"keys": [{"name": "a", "pluginName": "p"}]}', 'needs "id" and "pluginName"'),
    ],
)
def test_malformed_signingkeys(doc: bytes, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SigningKeys.from_bytes(doc)


def test_save_round_trip_keeps_unknown_members_and_is_private(tmp_path: Path) -> None:
    source = json.loads(vector("notation-go/config/valid/signingkeys.json").read_text())
    source["keys"][0]["x-extra"] = "kept"
    keys = SigningKeys.from_bytes(json.dumps(source).encode())
    keys = keys.add(KeySuite(name="new", key_path="/k", cert_path="/c"), make_default=True)
    path = tmp_path / "signingkeys.json"
    keys.save(path)
    again = SigningKeys.load(path)
    assert again.default == "new"
    assert again.keys[0].extra == {"x-extra": "kept"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert again.remove("new").default is None
    with pytest.raises(ConfigError, match="already exists"):
        again.add(KeySuite(name="new", key_path="/k", cert_path="/c"))


def test_missing_files_mean_defaults(tmp_path: Path) -> None:
    assert SigningKeys.load(tmp_path / "absent.json") == SigningKeys()
    assert NotationConfig.load(tmp_path / "absent.json") == NotationConfig()
    with pytest.raises(ConfigError, match="default signing key not set"):
        SigningKeys().get(None)


def test_bad_config_json(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"signatureFormat": "pgp"}')
    with pytest.raises(ConfigError, match='"signatureFormat" must be "jws" or "cose"'):
        NotationConfig.load(path)


def test_directories_follow_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NOTATION_CONFIG", str(tmp_path / "cfg"))
    monkeypatch.setenv("NOTATION_CACHE", str(tmp_path / "cache"))
    cfg = ConfigDir.from_env()
    assert cfg.trust_policy_oci == tmp_path / "cfg" / "trustpolicy.oci.json"
    assert cfg.truststore == tmp_path / "cfg" / "truststore"
    assert cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("NOTATION_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert ConfigDir.from_env().root == tmp_path / "xdg" / "notation"


def test_config_json_timeout(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    for value, expected in ((60, 60.0), (2.5, 2.5), (None, None)):
        path.write_text(json.dumps({"timeout": value, "x-other": 1}))
        cfg = NotationConfig.load(path)
        assert cfg.timeout == expected
        assert dict(cfg.extra) == {"x-other": 1}  # timeout is interpreted, not carried as unknown
    assert NotationConfig.load(tmp_path / "absent.json").timeout is None


@pytest.mark.parametrize("value", [0, -1, "60", True, [60], {"seconds": 60}, 1e999])
def test_config_json_timeout_must_be_a_positive_number(tmp_path: Path, value: object) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"timeout": value}).replace("Infinity", "1e999"))
    with pytest.raises(ConfigError, match=r'malformed config file .*config\.json: "timeout" must be a positive number'):
        NotationConfig.load(path)
