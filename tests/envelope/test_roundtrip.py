"""Sign → verify round trips for every algorithm and both formats, checked by independent libraries."""

from __future__ import annotations

import json
from datetime import timedelta

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwcrypto import jwk
from jwcrypto import jws as jwcrypto_jws
from jwcrypto.common import JWSEHeaderParameter

from notation_py.envelope import (
    MEDIA_TYPE_COSE,
    MEDIA_TYPE_JWS,
    Algorithm,
    SigningScheme,
    parse_envelope,
    verify_envelope,
)
from notation_py.envelope.model import ExtendedAttribute
from tests.envelope.helpers import PAYLOAD, SIGNING_TIME, request, sign
from tests.pki import chain_signer, self_signed_signer

KEY_TYPES = [
    ("rsa-2048", Algorithm.PS256),
    ("rsa-3072", Algorithm.PS384),
    ("rsa-4096", Algorithm.PS512),
    ("ec-256", Algorithm.ES256),
    ("ec-384", Algorithm.ES384),
    ("ec-521", Algorithm.ES512),
]
FORMATS = [MEDIA_TYPE_JWS, MEDIA_TYPE_COSE]


@pytest.mark.parametrize("media_type", FORMATS)
@pytest.mark.parametrize(("key_type", "alg"), KEY_TYPES)
def test_round_trip_every_algorithm(media_type: str, key_type: str, alg: Algorithm) -> None:
    signer = self_signed_signer(key_type)
    envelope = sign(media_type, signer)
    content = verify_envelope(media_type, envelope)
    assert content.algorithm is alg
    assert content.payload == PAYLOAD
    assert content.signed.signing_scheme is SigningScheme.X509
    assert content.signed.signing_time == SIGNING_TIME
    assert content.signed.expiry == SIGNING_TIME + timedelta(days=30)
    assert content.unsigned.signing_agent == "notation-py-tests/1.0"
    assert content.unsigned.certificate_chain == signer.certificate_chain


@pytest.mark.parametrize("media_type", FORMATS)
def test_signing_authority_scheme_and_extended_attributes_round_trip(media_type: str) -> None:
    signer = chain_signer("ec-256")
    extended = (
        ExtendedAttribute("io.example.team", "payments", critical=False),
        ExtendedAttribute("io.example.crit", "yes", critical=True),
    )
    envelope = sign(media_type, signer, scheme=SigningScheme.X509_SIGNING_AUTHORITY, extended=extended)
    content = verify_envelope(media_type, envelope)
    assert content.signed.signing_scheme is SigningScheme.X509_SIGNING_AUTHORITY
    assert content.signed.authentic_signing_time == SIGNING_TIME
    assert content.signed.signing_time is None
    assert {(a.key, a.value, a.critical) for a in content.signed.extended} == {
        ("io.example.team", "payments", False),
        ("io.example.crit", "yes", True),
    }
    assert len(content.unsigned.certificate_chain) == 3


def test_jws_verifies_with_jwcrypto() -> None:
    """An independent JOSE implementation accepts our JWS (Notary headers registered as understood)."""
    signer = chain_signer("ec-384")
    envelope = sign(MEDIA_TYPE_JWS, signer)
    leaf_pem = signer.certificate_chain[0].public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    notary = ["io.cncf.notary.signingScheme", "io.cncf.notary.expiry"]
    token = jwcrypto_jws.JWS(header_registry={n: JWSEHeaderParameter(n, False, True, None) for n in notary})
    token.deserialize(envelope.decode())
    token.verify(jwk.JWK.from_pem(leaf_pem))
    assert token.payload == PAYLOAD
    assert json.loads(token.objects["protected"])["alg"] == "ES384"


@pytest.mark.parametrize("key_type", ["rsa-3072", "ec-256"])
def test_cose_verifies_with_cbor2_and_cryptography(key_type: str) -> None:
    """Rebuild RFC 9052's Sig_structure from the raw message and verify it without our code."""
    signer = self_signed_signer(key_type)
    envelope = sign(MEDIA_TYPE_COSE, signer)
    tagged = cbor2.loads(envelope)
    assert tagged.tag == 18
    protected, unprotected, payload, signature = tagged.value
    assert payload == PAYLOAD
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])
    key = signer.certificate_chain[0].public_key()
    header = cbor2.loads(protected)
    if isinstance(key, rsa.RSAPublicKey):
        alg = Algorithm.from_cose(header[1])
        h = alg.new_hash()
        key.verify(signature, to_be_signed, padding.PSS(padding.MGF1(h), h.digest_size), h)
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey)
        n = len(signature) // 2
        der = encode_dss_signature(int.from_bytes(signature[:n], "big"), int.from_bytes(signature[n:], "big"))
        key.verify(der, to_be_signed, ec.ECDSA(Algorithm.from_cose(header[1]).new_hash()))
    assert [c for c in unprotected[33]] == [c.public_bytes(Encoding.DER) for c in signer.certificate_chain]


def test_parse_without_verification_reads_bad_signatures() -> None:
    """inspect must be able to show an envelope whose signature does not verify."""
    envelope = json.loads(sign(MEDIA_TYPE_JWS, self_signed_signer()))
    envelope["signature"] = envelope["signature"][:-4] + ("AAAA" if envelope["signature"][-4:] != "AAAA" else "BBBB")
    data = json.dumps(envelope).encode()
    assert parse_envelope(MEDIA_TYPE_JWS, data).payload == PAYLOAD
    with pytest.raises(Exception, match="verification error"):
        verify_envelope(MEDIA_TYPE_JWS, data)


def test_signing_refuses_expiry_not_after_signing_time() -> None:
    from notation_py.envelope import sign_envelope
    from notation_py.errors import SigningError

    req = request(self_signed_signer(), expiry=None)
    from dataclasses import replace

    with pytest.raises(SigningError, match="expiry must be after the signing time"):
        sign_envelope(MEDIA_TYPE_JWS, replace(req, expiry=req.signing_time))
