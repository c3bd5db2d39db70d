"""Envelope certificate chains: parsing is memoised, and the memos never change an outcome."""

from __future__ import annotations

import json
from typing import Any

import cbor2
import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from notation_py.envelope import MEDIA_TYPE_COSE, MEDIA_TYPE_JWS, verify_envelope
from notation_py.envelope.chain import load_chain_certificate
from notation_py.envelope.encoding import b64std_encode, b64url_decode, b64url_encode
from notation_py.errors import EnvelopeError, SignatureIntegrityError
from notation_py.keys.generate import create_root_ca, notary_test_subject
from tests.envelope.helpers import sign
from tests.pki import ca_chain, chain_signer, root_of_chain

ROOT = "CN=Test Root CA,O=Notary,L=Seattle,ST=WA,C=US"
TEAM_CA = "CN=Test Team CA,O=Notary,L=Seattle,ST=WA,C=US"


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _error(der: bytes, where: str) -> str:
    """The message of the EnvelopeError that loading ``der`` raises."""
    with pytest.raises(EnvelopeError) as info:
        load_chain_certificate(der, where)
    return info.value.message


# ------------------------------------------------------------------------------------------------
# load_chain_certificate
# ------------------------------------------------------------------------------------------------


def test_same_der_is_parsed_once() -> None:
    der = _der(root_of_chain())
    first = load_chain_certificate(der, "x5c[0]")
    assert load_chain_certificate(bytes(bytearray(der)), "x5c[2]") is first  # equal bytes, other object
    assert first == x509.load_der_x509_certificate(der)
    assert _der(first) == der


class _Impostor(bytes):
    """Bytes of one certificate that hash and compare like another certificate's DER."""

    pretend: bytes

    def __new__(cls, value: bytes, pretend: bytes) -> _Impostor:
        self = super().__new__(cls, value)
        self.pretend = pretend
        return self

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return hash(self.pretend)


def test_bytes_subclass_is_parsed_but_not_used_as_a_key() -> None:
    root_der = _der(root_of_chain())
    leaf = ca_chain("ec-256")[2].certificate
    load_chain_certificate(root_der, "x5c[0]")
    parsed = load_chain_certificate(_Impostor(_der(leaf), pretend=root_der), "x5c[0]")
    assert parsed == leaf


def test_invalid_certificate_fails_every_time_naming_its_position() -> None:
    truncated = _der(root_of_chain())[:-1]
    messages = [_error(truncated, where) for where in ("x5c[0]", "x5c[1]")]
    assert messages[0].startswith("x5c[0] is not a valid DER certificate: ")
    assert messages[1] == "x5c[1]" + messages[0].removeprefix("x5c[0]")
    assert _error(truncated, "x5c[0]") == messages[0]


@pytest.mark.parametrize("serial", [0, -5])
def test_non_positive_serial_fails_every_time(serial: int) -> None:
    parsed = asn1_x509.Certificate.load(_der(root_of_chain()))
    parsed["tbs_certificate"]["serial_number"] = serial
    der = parsed.dump(force=True)
    for where in ("x5chain[0]", "x5chain[1]", "x5chain[0]"):
        assert _error(der, where) == f"{where} has a serial number that is not positive (RFC 5280 §4.1.2.2)"


# ------------------------------------------------------------------------------------------------
# verify_envelope with a chain it has already verified
# ------------------------------------------------------------------------------------------------


def _tamper_signature(media_type: str, envelope: bytes) -> bytes:
    if media_type == MEDIA_TYPE_JWS:
        doc = json.loads(envelope)
        signature = bytearray(b64url_decode(doc["signature"]))
        signature[5] ^= 0x01
        doc["signature"] = b64url_encode(bytes(signature))
        return json.dumps(doc).encode()
    tagged = cbor2.loads(envelope)
    items = list(tagged.value)
    items[3] = items[3][:5] + bytes([items[3][5] ^ 0x01]) + items[3][6:]
    return bytes(cbor2.dumps(cbor2.CBORTag(18, items), canonical=True))


def _replace_chain(media_type: str, envelope: bytes, chain: list[x509.Certificate]) -> bytes:
    if media_type == MEDIA_TYPE_JWS:
        doc: dict[str, Any] = json.loads(envelope)
        doc["header"]["x5c"] = [b64std_encode(_der(c)) for c in chain]
        return json.dumps(doc).encode()
    tagged = cbor2.loads(envelope)
    items = list(tagged.value)
    items[1] = {**items[1], 33: [_der(c) for c in chain]}
    return bytes(cbor2.dumps(cbor2.CBORTag(18, items), canonical=True))


@pytest.mark.parametrize("media_type", [MEDIA_TYPE_JWS, MEDIA_TYPE_COSE])
def test_tampered_envelope_with_a_verified_chain_fails(media_type: str) -> None:
    envelope = sign(media_type, chain_signer("ec-256"))
    verify_envelope(media_type, envelope)  # the chain is now parsed and validated
    tampered = _tamper_signature(media_type, envelope)
    for _ in range(2):
        with pytest.raises(SignatureIntegrityError) as info:
            verify_envelope(media_type, tampered)
        assert info.value.message == "ecdsa: verification error"
    verify_envelope(media_type, envelope)


@pytest.mark.parametrize("media_type", [MEDIA_TYPE_JWS, MEDIA_TYPE_COSE])
def test_verified_chain_with_an_impostor_root_fails(media_type: str) -> None:
    root, inter, leaf = ca_chain("ec-256")
    envelope = sign(media_type, chain_signer("ec-256"))
    verify_envelope(media_type, envelope)
    # Same subject as the real root, different key: the intermediate's signature cannot verify.
    impostor = create_root_ca(notary_test_subject("Test Root CA"), key_type="ec-384").certificate
    forged = _replace_chain(media_type, envelope, [leaf.certificate, inter.certificate, impostor])
    expected = (
        f'invalid certificates or certificate with subject "{TEAM_CA}" is not issued by "{ROOT}". '
        "Error: x509: ECDSA verification failure"
    )
    for _ in range(2):
        with pytest.raises(SignatureIntegrityError) as info:
            verify_envelope(media_type, forged)
        assert info.value.message == expected
    # The genuine chain, already verified, is still accepted; and the forgery still is not.
    assert verify_envelope(media_type, envelope).leaf == leaf.certificate
    assert root.certificate != impostor
    with pytest.raises(SignatureIntegrityError):
        verify_envelope(media_type, forged)


@pytest.mark.parametrize("media_type", [MEDIA_TYPE_JWS, MEDIA_TYPE_COSE])
def test_verified_chain_missing_its_intermediate_fails_every_time(media_type: str) -> None:
    root, _, leaf = ca_chain("ec-256")
    envelope = sign(media_type, chain_signer("ec-256"))
    verify_envelope(media_type, envelope)
    broken = _replace_chain(media_type, envelope, [leaf.certificate, root.certificate])
    messages = set()
    for _ in range(3):
        with pytest.raises(SignatureIntegrityError) as info:
            verify_envelope(media_type, broken)
        messages.add(info.value.message)
    assert messages == {
        'invalid certificates or certificate with subject "CN=team-signer,O=Notary,L=Seattle,ST=WA,C=US" is '
        f'not issued by "{ROOT}". Error: x509: ECDSA verification failure'
    }
