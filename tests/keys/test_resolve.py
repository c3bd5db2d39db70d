"""signingkeys.json entries for encrypted and PKCS#11 keys, and the signers built from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from notation_py.config.files import KeySuite, Pkcs11KeyConfig, SigningKeys
from notation_py.errors import ConfigError, PluginError, SigningKeyError
from notation_py.keys.encrypted import write_private_key
from notation_py.keys.local import LocalSigner
from notation_py.keys.pkcs11 import Pkcs11Signer
from notation_py.keys.resolve import config_relative, signer_for_key
from tests.keys.softhsm import USER_PIN, SoftHsm
from tests.pki import ca_chain

PASSPHRASE = "resolve test passphrase"  # test fixture only

DOC = {
    "default": "hsm",
    "keys": [
        {"name": "enc", "keyPath": "k.pem", "certPath": "c.pem", "passphraseFile": "secrets/pass"},
        {
            "name": "hsm",
            "pkcs11": {"uri": "pkcs11:token=t;object=k?module-path=/m.so", "certPath": "c.pem", "pinFile": "pin"},
            "comment": "kept",
        },
        {"name": "hsm-token-chain", "pkcs11": {"uri": "pkcs11:token=t;id=%01"}},
    ],
}


def test_entries_parse_and_round_trip() -> None:
    keys = SigningKeys.from_bytes(json.dumps(DOC).encode())
    enc = keys.get("enc")
    assert enc.passphrase_file == "secrets/pass" and not enc.is_pkcs11 and not enc.is_plugin
    hsm = keys.get(None)
    assert hsm.is_pkcs11 and hsm.pkcs11 == Pkcs11KeyConfig(
        uri="pkcs11:token=t;object=k?module-path=/m.so", cert_path="c.pem", pin_file="pin"
    )
    assert keys.get("hsm-token-chain").pkcs11 == Pkcs11KeyConfig(uri="pkcs11:token=t;id=%01")
    assert json.loads(keys.to_bytes()) == DOC


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "a", "pkcs11": "pkcs11:"}, '"pkcs11" of key "a" must be an object'),
        ({"name": "a", "pkcs11": {}}, 'needs "uri"'),
        ({"name": "a", "pkcs11": {"uri": "file:/k"}}, 'must start with "pkcs11:"'),
        ({"name": "a", "pkcs11": {"uri": "pkcs11:tokn=x"}}, 'unknown path attribute "tokn"'),
        ({"name": "a", "pkcs11": {"uri": "pkcs11:", "pin": "1"}}, "unknown member\\(s\\) pin"),
        ({"name": "a", "pkcs11": {"uri": "pkcs11:", "certPath": 1}}, '"certPath" must be a non-empty string'),
        ({"name": "a", "keyPath": "k", "certPath": "c", "pkcs11": {"uri": "pkcs11:"}}, 'both "pkcs11" and "keyPath"'),
        ({"name": "a", "keyPath": "k", "certPath": "c", "passphraseFile": ""}, '"passphraseFile" of key "a"'),
    ],
)
def test_malformed_entries(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SigningKeys.from_bytes(json.dumps({"keys": [entry]}).encode())


def _local_material(root: Path) -> None:
    chain_root, inter, leaf = ca_chain("ec-256")
    write_private_key(root / "k.pem", leaf.key, PASSPHRASE.encode())
    (root / "c.pem").write_bytes(
        b"".join(
            c.public_bytes(serialization.Encoding.PEM)
            for c in (leaf.certificate, inter.certificate, chain_root.certificate)
        )
    )


@pytest.mark.usefixtures("fast_kdf")
def test_encrypted_local_key_with_relative_passphrase_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTATION_KEY_PASSPHRASE", raising=False)
    _local_material(tmp_path)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "pass").write_text(PASSPHRASE + "\n")
    suite = KeySuite(name="enc", key_path="k.pem", cert_path="c.pem", passphrase_file="secrets/pass")
    assert isinstance(signer_for_key(suite, tmp_path), LocalSigner)
    # A flag-given file wins over the configured one.
    (tmp_path / "wrong").write_text("wrong passphrase")
    with pytest.raises(SigningKeyError, match=r"wrong passphrase"):
        signer_for_key(suite, tmp_path, passphrase_file=tmp_path / "wrong")
    # Without a file: the environment, then a prompt, then a clear error.
    bare = KeySuite(name="enc", key_path="k.pem", cert_path="c.pem")
    monkeypatch.setenv("NOTATION_KEY_PASSPHRASE", PASSPHRASE)
    signer_for_key(bare, tmp_path)
    monkeypatch.delenv("NOTATION_KEY_PASSPHRASE")
    signer_for_key(bare, tmp_path, prompt=lambda _: PASSPHRASE)
    with pytest.raises(
        SigningKeyError, match=r'passphrase of signing key "enc" is needed: give passphraseFile in signingkeys.json'
    ):
        signer_for_key(bare, tmp_path)


def test_plugin_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match=r"plugin key"):
        signer_for_key(KeySuite(name="p", id="1", plugin_name="x"), tmp_path)


@pytest.mark.real_server
@pytest.mark.xdist_group("softhsm")
def test_pkcs11_entry_builds_a_token_signer(softhsm: SoftHsm, tmp_path: Path) -> None:
    softhsm.write_chain(tmp_path / "chain.pem", softhsm.leaf_chain("ec-256"))
    (tmp_path / "pin").write_text(USER_PIN)
    suite = KeySuite(
        name="hsm", pkcs11=Pkcs11KeyConfig(uri=softhsm.uri("ec-256"), cert_path="chain.pem", pin_file="pin")
    )
    signer = signer_for_key(suite, tmp_path)
    assert isinstance(signer, Pkcs11Signer)
    assert signer.certificate_chain[0].public_key() == softhsm.public_keys["ec-256"]


def test_config_relative(tmp_path: Path) -> None:
    assert config_relative(tmp_path, "a/b") == tmp_path / "a/b"
    assert config_relative(tmp_path, "/abs") == Path("/abs")
    assert config_relative(tmp_path, "~/x") == Path.home() / "x"
