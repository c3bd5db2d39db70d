"""Signing with keys generated inside a SoftHSM2 token, verified with notation_py's envelope verifier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import Mechanism

from notation_py.envelope import MEDIA_TYPE_COSE, MEDIA_TYPE_JWS, sign_envelope, verify_envelope
from notation_py.envelope.algorithms import Algorithm
from notation_py.envelope.model import SignRequest
from notation_py.errors import SigningError, SigningKeyError, UsageError
from notation_py.keys.generate import CertRole, build_certificate, notary_test_subject
from notation_py.keys.pkcs11 import (
    ENV_PKCS11_MODULE,
    Pkcs11KeySpec,
    Pkcs11Signer,
    raw_ecdsa_signature,
    read_token_public_key,
    resolve_module_path,
)
from notation_py.keys.pkcs11_uri import Pkcs11Uri
from tests.envelope.helpers import PAYLOAD
from tests.keys.softhsm import USER_PIN, SoftHsm
from tests.pki import ca_chain

pytestmark = [pytest.mark.real_server, pytest.mark.xdist_group("softhsm")]

ALGORITHMS = {
    "rsa-2048": Algorithm.PS256,
    "rsa-3072": Algorithm.PS384,
    "rsa-4096": Algorithm.PS512,
    "ec-256": Algorithm.ES256,
    "ec-384": Algorithm.ES384,
    "ec-521": Algorithm.ES512,
}


@pytest.fixture(autouse=True)
def _no_pin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTATION_PKCS11_PIN", raising=False)
    monkeypatch.delenv(ENV_PKCS11_MODULE, raising=False)


def _pin_file(tmp_path: Path, pin: str = USER_PIN) -> Path:
    path = tmp_path / "pin"
    path.write_text(pin + "\n")
    return path


def _signer(
    softhsm: SoftHsm, tmp_path: Path, label: str, *, chain: list[x509.Certificate] | None = None, pin: str = USER_PIN
) -> Pkcs11Signer:
    cert_path = softhsm.write_chain(tmp_path / f"{label}.crt", chain or softhsm.leaf_chain(label))
    spec = Pkcs11KeySpec(Pkcs11Uri.parse(softhsm.uri(label)), cert_path=cert_path, pin_file=_pin_file(tmp_path, pin))
    return Pkcs11Signer(spec)


@pytest.mark.parametrize("label", list(ALGORITHMS))
@pytest.mark.parametrize("media_type", [MEDIA_TYPE_JWS, MEDIA_TYPE_COSE])
def test_token_key_signs_envelopes_that_verify(softhsm: SoftHsm, tmp_path: Path, label: str, media_type: str) -> None:
    signer = _signer(softhsm, tmp_path, label)
    assert signer.algorithm is ALGORITHMS[label]
    envelope = sign_envelope(
        media_type, SignRequest(payload=PAYLOAD, signer=signer, signing_time=datetime.now(UTC).replace(microsecond=0))
    )
    content = verify_envelope(media_type, envelope)
    assert content.algorithm is ALGORITHMS[label]
    assert content.payload == PAYLOAD
    assert content.unsigned.certificate_chain == signer.certificate_chain


def test_rsa_pss_salt_is_the_hash_length_and_ecdsa_is_raw_r_s(softhsm: SoftHsm, tmp_path: Path) -> None:
    rsa_signer = _signer(softhsm, tmp_path, "rsa-3072")
    assert rsa_signer.mechanism is Mechanism.SHA384_RSA_PKCS_PSS  # SoftHSM hashes and signs
    data = b"data to sign"
    signature = rsa_signer.sign(data)
    public = rsa_signer.certificate_chain[0].public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    # Strict salt length: fails unless the salt is exactly 48 bytes (SHA-384).
    public.verify(signature, data, padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48), hashes.SHA384())

    ec_signer = _signer(softhsm, tmp_path, "ec-521")
    assert ec_signer.mechanism is Mechanism.ECDSA  # SoftHSM has no CKM_ECDSA_SHA512: hashed here
    raw = ec_signer.sign(data)
    assert len(raw) == 2 * 66
    ec_public = ec_signer.certificate_chain[0].public_key()
    assert isinstance(ec_public, ec.EllipticCurvePublicKey)
    r, s = int.from_bytes(raw[:66], "big"), int.from_bytes(raw[66:], "big")
    ec_public.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA512()))


def test_chain_read_from_the_token(softhsm: SoftHsm, tmp_path: Path) -> None:
    chain = softhsm.leaf_chain("ec-384", common_name="token-chain")
    softhsm.store_certificates("ec-384", chain)
    spec = Pkcs11KeySpec(Pkcs11Uri.parse(softhsm.uri("ec-384")), pin_file=_pin_file(tmp_path))
    signer = Pkcs11Signer(spec)
    assert list(signer.certificate_chain) == chain
    envelope = sign_envelope(
        MEDIA_TYPE_JWS,
        SignRequest(payload=PAYLOAD, signer=signer, signing_time=datetime.now(UTC).replace(microsecond=0)),
    )
    verify_envelope(MEDIA_TYPE_JWS, envelope)


def test_key_selected_by_id_and_public_key_object_missing(softhsm: SoftHsm, tmp_path: Path) -> None:
    chain = softhsm.leaf_chain("ec-256-nopub")
    cert_path = softhsm.write_chain(tmp_path / "c.pem", chain)
    uri = Pkcs11Uri.parse(softhsm.uri(key_id=b"\x14"))
    signer = Pkcs11Signer(Pkcs11KeySpec(uri, cert_path=cert_path, pin_file=_pin_file(tmp_path)))
    assert signer.algorithm is Algorithm.ES256
    # Without a public key object, the pairing is proven by a signature; a foreign certificate fails.
    foreign = softhsm.write_chain(tmp_path / "foreign.pem", softhsm.leaf_chain("ec-256"))
    with pytest.raises(SigningKeyError, match=r"does not verify with the leaf certificate"):
        Pkcs11Signer(Pkcs11KeySpec(uri, cert_path=foreign, pin_file=_pin_file(tmp_path)))


def test_pin_sources(softhsm: SoftHsm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert_path = softhsm.write_chain(tmp_path / "c.pem", softhsm.leaf_chain("ec-256"))
    pin_file = _pin_file(tmp_path)
    # pin-source in the URI (file: URI), as RFC 7512 defines it
    by_source = Pkcs11Uri.parse(softhsm.uri("ec-256", query={"pin-source": f"file:{pin_file}"}))
    Pkcs11Signer(Pkcs11KeySpec(by_source, cert_path=cert_path))
    # pin-value (from a configuration file; the CLI refuses it on the command line)
    by_value = Pkcs11Uri.parse(softhsm.uri("ec-256", query={"pin-value": USER_PIN}))
    Pkcs11Signer(Pkcs11KeySpec(by_value, cert_path=cert_path))
    # the environment
    plain = Pkcs11Uri.parse(softhsm.uri("ec-256"))
    monkeypatch.setenv("NOTATION_PKCS11_PIN", USER_PIN)
    Pkcs11Signer(Pkcs11KeySpec(plain, cert_path=cert_path))
    monkeypatch.delenv("NOTATION_PKCS11_PIN")
    # a terminal prompt
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return USER_PIN

    Pkcs11Signer(Pkcs11KeySpec(plain, cert_path=cert_path, name="hsm"), prompt=prompt)
    assert asked == ['Enter the PIN of PKCS#11 key "hsm": ']
    # nothing: a clear error (standard input is not a terminal under pytest)
    with pytest.raises(SigningKeyError, match=r"the PIN of PKCS#11 key \"hsm\" is needed: .*NOTATION_PKCS11_PIN"):
        Pkcs11Signer(Pkcs11KeySpec(plain, cert_path=cert_path, name="hsm"))


def test_wrong_pin_then_right_pin(softhsm: SoftHsm, tmp_path: Path) -> None:
    with pytest.raises(SigningKeyError, match=r'cannot log in to PKCS#11 token "notation-test": wrong PIN'):
        _signer(softhsm, tmp_path, "ec-256", pin="0000-wrong")
    _signer(softhsm, tmp_path, "ec-256")  # a failed login leaves nothing behind


def test_module_resolution(softhsm: SoftHsm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    no_module = Pkcs11Uri.parse("pkcs11:token=notation-test;object=ec-256")
    with pytest.raises(SigningKeyError, match=r"no PKCS#11 module for .*module-path=.*NOTATION_PKCS11_MODULE"):
        resolve_module_path(no_module)
    monkeypatch.setenv(ENV_PKCS11_MODULE, softhsm.module)
    assert resolve_module_path(no_module) == Path(softhsm.module)
    monkeypatch.setenv(ENV_PKCS11_MODULE, str(tmp_path / "missing.so"))
    with pytest.raises(SigningKeyError, match=r"missing.so \(from NOTATION_PKCS11_MODULE\) does not exist"):
        resolve_module_path(no_module)
    with pytest.raises(SigningKeyError, match=r"libnothing.so .* does not exist"):
        resolve_module_path(Pkcs11Uri.parse(f"pkcs11:?module-path={tmp_path}/libnothing.so"))
    assert resolve_module_path(Pkcs11Uri.parse("pkcs11:?module-name=softhsm2")).name == "libsofthsm2.so"
    with pytest.raises(SigningKeyError, match=r'module-name "no-such-module" was not found'):
        resolve_module_path(Pkcs11Uri.parse("pkcs11:?module-name=no-such-module"))


def test_a_file_that_is_not_a_module(tmp_path: Path) -> None:
    fake = tmp_path / "fake.so"
    fake.write_bytes(b"not a shared library")
    spec = Pkcs11KeySpec(Pkcs11Uri.parse(f"pkcs11:token=t?module-path={fake}"), pin_file=_pin_file(tmp_path))
    with pytest.raises(SigningKeyError, match=f"cannot load PKCS#11 module {fake}"):
        Pkcs11Signer(spec)


@pytest.mark.parametrize(
    ("path_attrs", "message"),
    [
        (
            "token=no-such-token;object=ec-256",
            r'no PKCS#11 token matches token=no-such-token .*tokens present: "notation-test"',
        ),
        ("token=notation-test;serial=0000;object=ec-256", "no PKCS#11 token matches token=notation-test, serial=0000"),
        ("token=notation-test;id=%99", 'no private key with id=99 on PKCS#11 token "notation-test"'),
        ("token=notation-test;object=nope", "no private key with object=nope"),
        ("token=notation-test;object=twin", "2 private keys match object=twin .*add object= or id="),
        ("token=notation-test;object=ec-256;type=cert", r"must name a private key \(type=private\), not type=cert"),
    ],
)
def test_token_and_object_selection_errors(softhsm: SoftHsm, tmp_path: Path, path_attrs: str, message: str) -> None:
    cert_path = softhsm.write_chain(tmp_path / "c.pem", softhsm.leaf_chain("ec-256"))
    uri = Pkcs11Uri.parse(f"pkcs11:{path_attrs}?module-path={softhsm.module}")
    with pytest.raises(SigningKeyError, match=message):
        Pkcs11Signer(Pkcs11KeySpec(uri, cert_path=cert_path, pin_file=_pin_file(tmp_path)))


def test_certificate_problems_name_the_cause(softhsm: SoftHsm, tmp_path: Path) -> None:
    expired = softhsm.leaf_chain(
        "ec-256", not_before=datetime.now(UTC) - timedelta(days=20), validity=timedelta(days=10)
    )
    with pytest.raises(SigningKeyError, match=r"cannot be used for signing: certificate with subject .* was invalid"):
        _signer(softhsm, tmp_path, "ec-256", chain=expired)
    with pytest.raises(SigningKeyError, match=r'The key usage must be "Digital Signature" only'):
        _signer(softhsm, tmp_path, "ec-256", chain=softhsm.wrong_usage_chain("ec-256"))
    with pytest.raises(SigningKeyError, match=r"does not match the public key of the leaf certificate"):
        _signer(softhsm, tmp_path, "ec-256", chain=softhsm.leaf_chain("ec-384"))
    with pytest.raises(SigningKeyError, match=r"the token key is RSA but the leaf certificate has an EC key"):
        _signer(softhsm, tmp_path, "rsa-2048", chain=softhsm.leaf_chain("ec-256"))
    only_leaf = softhsm.leaf_chain("ec-256")[:1]
    with pytest.raises(SigningKeyError, match=r"cannot be used for signing"):
        _signer(softhsm, tmp_path, "ec-256", chain=only_leaf)


def test_no_certificate_on_the_token(softhsm: SoftHsm, tmp_path: Path) -> None:
    spec = Pkcs11KeySpec(Pkcs11Uri.parse(softhsm.uri("rsa-2048")), pin_file=_pin_file(tmp_path))
    with pytest.raises(SigningKeyError, match=r"the token holds no certificate for the key"):
        Pkcs11Signer(spec)


def test_read_token_public_key(softhsm: SoftHsm, tmp_path: Path) -> None:
    spec = Pkcs11KeySpec(Pkcs11Uri.parse(softhsm.uri("rsa-2048")), pin_file=_pin_file(tmp_path))
    assert read_token_public_key(spec) == softhsm.public_keys["rsa-2048"]
    nopub = Pkcs11KeySpec(Pkcs11Uri.parse(softhsm.uri("ec-256-nopub")), pin_file=_pin_file(tmp_path))
    with pytest.raises(SigningKeyError, match=r"does not reveal the public key"):
        read_token_public_key(nopub)


def test_issue_certificate_for_token_key_with_cli_helpers(softhsm: SoftHsm) -> None:
    _root, inter, _ = ca_chain()
    leaf = build_certificate(
        role=CertRole.LEAF,
        subject=notary_test_subject("hsm"),
        public_key=softhsm.public_keys["ec-521"],
        issuer_key=inter.key,
        issuer_cert=inter.certificate,
        validity=timedelta(days=1),
    )
    assert leaf.public_key() == softhsm.public_keys["ec-521"]


def test_raw_ecdsa_signature_forms() -> None:
    r, s = 0x1234, 0xABCDEF
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert raw_ecdsa_signature(raw, 256) == raw
    assert raw_ecdsa_signature(encode_dss_signature(r, s), 256) == raw  # DER from a non-conforming token
    assert raw_ecdsa_signature(r.to_bytes(30, "big") + s.to_bytes(30, "big"), 256) == raw  # short halves
    with pytest.raises(SigningError, match=r"unexpected length"):
        raw_ecdsa_signature(b"\x01" * 65, 256)


def test_uri_errors_are_usage_errors() -> None:
    with pytest.raises(UsageError, match=r"must start with"):
        Pkcs11Uri.parse("file:/x")


def test_rsa_falls_back_to_hashing_here_when_the_token_lacks_the_combined_mechanism(
    softhsm: SoftHsm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from notation_py.keys import pkcs11 as module

    # Pretend SHA-256-with-PSS is a mechanism the token does not have (SoftHSM lacks the SHA-3 ones).
    table = dict(module._PSS_MECHANISMS)
    table["SHA-256"] = (Mechanism.SHA3_256_RSA_PKCS_PSS, *table["SHA-256"][1:])
    monkeypatch.setattr(module, "_PSS_MECHANISMS", table)
    signer = _signer(softhsm, tmp_path, "rsa-2048")
    assert signer.mechanism is Mechanism.RSA_PKCS_PSS
    envelope = sign_envelope(
        MEDIA_TYPE_COSE,
        SignRequest(payload=PAYLOAD, signer=signer, signing_time=datetime.now(UTC).replace(microsecond=0)),
    )
    assert verify_envelope(MEDIA_TYPE_COSE, envelope).algorithm is Algorithm.PS256
