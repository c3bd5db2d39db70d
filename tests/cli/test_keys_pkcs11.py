"""PKCS#11 keys from the CLI: certify a SoftHSM2 key, sign OCI layouts with it, verify; bad input signs nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from notation_py.config.files import KeySuite, Pkcs11KeyConfig, SigningKeys
from tests.cli.conftest import Cli, Layout, oci_statement
from tests.keys.cli_helpers import secret_file, signature_count, signing_keys, verify
from tests.keys.softhsm import TOKEN_LABEL, USER_PIN, SoftHsm, validity_window
from tests.pki import ca_chain

pytestmark = [pytest.mark.real_server, pytest.mark.xdist_group("softhsm")]


@pytest.fixture
def team_ca(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The test intermediate CA as files (key, chain) with its root trusted in ``ca:hsm-root`` and a policy."""
    monkeypatch.delenv("NOTATION_PKCS11_PIN", raising=False)
    monkeypatch.delenv("NOTATION_PKCS11_MODULE", raising=False)
    root, inter, _ = ca_chain()
    key = tmp_path / "team.key"
    key.write_bytes(
        inter.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    chain = tmp_path / "team.crt"
    chain.write_bytes(
        b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (inter.certificate, root.certificate))
    )
    root_file = tmp_path / "root.crt"
    root_file.write_bytes(root.certificate.public_bytes(serialization.Encoding.PEM))
    cli.ok("cert", "add", "--type", "ca", "--store", "hsm-root", root_file)
    cli.write_oci_policy(oci_statement(stores=("ca:hsm-root",)))
    return key, chain


@pytest.mark.parametrize(
    ("label", "fmt", "algorithm"), [("ec-256", "jws", "ECDSA-SHA-256"), ("rsa-3072", "cose", "RSASSA-PSS-SHA-384")]
)
def test_certify_token_key_then_sign_and_verify(
    cli: Cli,
    layout: Layout,
    tmp_path: Path,
    softhsm: SoftHsm,
    team_ca: tuple[Path, Path],
    label: str,
    fmt: str,
    algorithm: str,
) -> None:
    ca_key, ca_cert = team_ca
    pin = secret_file(tmp_path, "pin", USER_PIN)
    uri = softhsm.uri(label)
    cli.ok(
        "certificate", "issue", "hsm", "--leaf", "--ca-cert", ca_cert, "--ca-key", ca_key,
        "--public-key", uri, "--pin-file", pin, "--add-key", "--default",
        "--subject", "CN=hsm-signer,O=Notary,ST=WA,C=US",
    )  # fmt: skip
    assert not (cli.config / "localkeys" / "hsm.key").exists()  # the private key stays in the token
    chain_file = cli.config / "localkeys" / "hsm.crt"
    assert signing_keys(cli)["keys"][-1] == {
        "name": "hsm",
        "pkcs11": {"uri": uri, "certPath": str(chain_file.resolve()), "pinFile": str(pin.resolve())},
    }
    assert uri in cli.ok("key", "ls").out

    cli.ok("sign", "--oci-layout", "--signature-format", fmt, layout.by_digest)
    assert verify(cli, layout) == 0
    inspected = cli.ok("inspect", "--oci-layout", layout.by_digest).out
    assert f"signature algorithm: {algorithm}" in inspected
    assert "issued to: CN=hsm-signer,O=Notary,ST=WA,C=US" in inspected

    result = cli.ok("key", "delete", "hsm")
    assert "the key stays in the PKCS#11 token" in result.out


def test_key_add_with_the_chain_from_the_token(
    cli: Cli,
    layout: Layout,
    tmp_path: Path,
    softhsm: SoftHsm,
    team_ca: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    softhsm.store_certificates("ec-521", softhsm.leaf_chain("ec-521", common_name="token-chain-cli"))
    uri = softhsm.uri("ec-521")
    # No PIN source at all: refused, nothing recorded.
    result = cli("key", "add", "token", "--pkcs11-uri", uri)
    assert result.code == 2 and 'the PIN of PKCS#11 key "token" is needed' in result.err
    assert "token" not in {k["name"] for k in signing_keys(cli)["keys"]}
    # The PIN from the environment (not recorded): works for add and sign.
    monkeypatch.setenv("NOTATION_PKCS11_PIN", USER_PIN)
    result = cli.ok("key", "add", "token", "--pkcs11-uri", uri)
    assert "ECDSA-SHA-512 key in the PKCS#11 token" in result.out
    assert signing_keys(cli)["keys"][-1] == {"name": "token", "pkcs11": {"uri": uri}}
    assert "(from the token)" in cli.ok("key", "ls").out
    cli.ok("sign", "--oci-layout", "--key", "token", "--signature-format", "cose", layout.by_digest)
    assert verify(cli, layout) == 0
    monkeypatch.delenv("NOTATION_PKCS11_PIN")
    result = cli("sign", "--oci-layout", "--key", "token", layout.by_digest)
    assert result.code == 2 and "NOTATION_PKCS11_PIN" in result.err
    assert signature_count(layout) == 1


def test_pin_on_the_command_line_is_refused(cli: Cli, softhsm: SoftHsm, team_ca: tuple[Path, Path]) -> None:
    uri = softhsm.uri("ec-256", query={"pin-value": USER_PIN})
    result = cli("key", "add", "x", "--pkcs11-uri", uri)
    assert result.code == 2 and "do not put the PIN on the command line" in result.err
    assert USER_PIN not in result.text
    assert "x" not in {k["name"] for k in signing_keys(cli)["keys"]}


BAD_INPUT = {
    "wrong PIN": (
        "ec-256",
        {},
        "0000-not-the-pin",
        "good",
        'cannot log in to PKCS#11 token "notation-test": wrong PIN',
    ),
    "missing module path": ("ec-256", {"no-module": "1"}, USER_PIN, "good", "no PKCS#11 module for"),
    "missing token": ("ec-256", {"token": "absent"}, USER_PIN, "good", "no PKCS#11 token matches token=absent"),
    "unknown key id": ("ec-256", {"id": "%ee"}, USER_PIN, "good", "no private key with id=ee"),
    "expired certificate": ("ec-256", {}, USER_PIN, "expired", "was invalid at signing time"),
    "wrong-usage certificate": (
        "ec-256",
        {},
        USER_PIN,
        "wrong-usage",
        'The key usage must be "Digital Signature" only',
    ),
    "certificate of another key": ("ec-256", {}, USER_PIN, "other", "does not match the public key of the leaf"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_token_input_names_the_cause_and_signs_nothing(
    cli: Cli, layout: Layout, tmp_path: Path, softhsm: SoftHsm, team_ca: tuple[Path, Path], case: str
) -> None:
    label, change, pin, cert_kind, message = BAD_INPUT[case]
    if "no-module" in change:
        uri = f"pkcs11:token={TOKEN_LABEL};object={label}"
    elif "token" in change:
        uri = softhsm.uri(label).replace(f"token={TOKEN_LABEL}", f"token={change['token']}")
    elif "id" in change:
        uri = softhsm.uri(None).replace(f"token={TOKEN_LABEL}", f"token={TOKEN_LABEL};id={change['id']}")
    else:
        uri = softhsm.uri(label)
    not_before, validity = validity_window(20, 10)
    chains = {
        "good": lambda: softhsm.leaf_chain(label),
        "expired": lambda: softhsm.leaf_chain(label, not_before=not_before, validity=validity),
        "wrong-usage": lambda: softhsm.wrong_usage_chain(label),
        "other": lambda: softhsm.leaf_chain("ec-384"),
    }
    chain_file = softhsm.write_chain(tmp_path / "chain.pem", chains[cert_kind]())
    pin_file = secret_file(tmp_path, "pin", pin)
    SigningKeys.load(cli.config / "signingkeys.json").add(
        KeySuite(name="hsm", pkcs11=Pkcs11KeyConfig(uri=uri, cert_path=str(chain_file), pin_file=str(pin_file)))
    ).save(cli.config / "signingkeys.json")

    result = cli("sign", "--oci-layout", "--key", "hsm", layout.by_digest)
    assert result.code == 2, result.text
    assert message in result.err
    assert result.err.startswith('Error: PKCS#11 key "hsm"')
    assert signature_count(layout) == 0
