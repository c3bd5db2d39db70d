"""Malformed envelopes: every one is a clear EnvelopeError, never a crash and never verified."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import cbor2
import pytest

from notation_py.envelope import MAX_ENVELOPE_SIZE, MEDIA_TYPE_COSE, MEDIA_TYPE_JWS, verify_envelope
from notation_py.envelope.algorithms import sign_with_key
from notation_py.envelope.encoding import b64url_decode, b64url_encode
from notation_py.errors import EnvelopeError, SignatureIntegrityError, UnsupportedEnvelopeError
from tests.envelope.helpers import sign
from tests.pki import chain_signer, self_signed, self_signed_signer


def _jws() -> dict[str, Any]:
    return dict(json.loads(sign(MEDIA_TYPE_JWS, self_signed_signer("rsa-2048"))))


def _resign_jws(header: dict[str, Any], key_type: str = "rsa-2048") -> bytes:
    """A JWS with an arbitrary protected header, correctly signed by the self-signed test key."""
    issued = self_signed(key_type)
    env = _jws()
    protected = b64url_encode(json.dumps(header, separators=(",", ":")).encode())
    from notation_py.envelope.algorithms import Algorithm

    alg = Algorithm.for_key(issued.key)
    signature = sign_with_key(issued.key, alg, f"{protected}.{env['payload']}".encode())
    env["protected"] = protected
    env["signature"] = b64url_encode(signature)
    return json.dumps(env).encode()


def _protected() -> dict[str, Any]:
    return dict(json.loads(b64url_decode(_jws()["protected"])))


def _mutated(change: Callable[[dict[str, Any]], None]) -> bytes:
    header = _protected()
    change(header)
    return _resign_jws(header)


JWS_CASES: list[tuple[str, Callable[[], bytes], str]] = [
    ("not json", lambda: b"{not json", "invalid JWS envelope"),
    ("json array", lambda: b"[]", "not a JSON object"),
    ("empty object", lambda: b"{}", '"payload" must be a non-empty string'),
    ("extra member", lambda: json.dumps({**_jws(), "unprotected": {}}).encode(), "unexpected member"),
    ("duplicate member", lambda: b'{"payload":"a","payload":"b"}', 'duplicate key "payload"'),
    ("payload padding", lambda: json.dumps({**_jws(), "payload": _jws()["payload"] + "="}).encode(), "illegal base64"),
    (
        "bad base64 signature",
        lambda: json.dumps({**_jws(), "signature": "@@@"}).encode(),
        "illegal base64 data at input byte 0",
    ),
    ("no x5c", lambda: json.dumps({**_jws(), "header": {}}).encode(), "certificate chain is not present"),
    (
        "x5c garbage",
        lambda: json.dumps({**_jws(), "header": {"x5c": ["AAAA"]}}).encode(),
        "not a valid DER certificate",
    ),
    ("x5c not base64", lambda: json.dumps({**_jws(), "header": {"x5c": ["***"]}}).encode(), "illegal base64"),
    ("alg none", lambda: _mutated(lambda h: h.update(alg="none")), 'signature algorithm "none" is not supported'),
    ("alg HS256", lambda: _mutated(lambda h: h.update(alg="HS256")), 'signature algorithm "HS256" is not supported'),
    ("alg RS256", lambda: _mutated(lambda h: h.update(alg="RS256")), 'signature algorithm "RS256" is not supported'),
    (
        "alg for another key",
        lambda: _mutated(lambda h: h.update(alg="PS384")),
        "does not match the signing certificate",
    ),
    ("missing crit", lambda: _mutated(lambda h: h.pop("crit")), '"crit" header must be a non-empty list'),
    (
        "crit without scheme",
        lambda: _mutated(lambda h: h.update(crit=["io.cncf.notary.expiry"])),
        "must be marked critical",
    ),
    (
        "crit names absent header",
        lambda: _mutated(lambda h: h["crit"].append("io.example.absent")),
        'header "io.example.absent" is marked critical but not present',
    ),
    (
        "crit lists registered header",
        lambda: _mutated(lambda h: h["crit"].append("alg")),
        "must not list the registered header",
    ),
    (
        "expiry not critical",
        lambda: _mutated(lambda h: h.update(crit=["io.cncf.notary.signingScheme"])),
        "must be marked critical",
    ),
    (
        "unknown scheme",
        lambda: _mutated(lambda h: h.update({"io.cncf.notary.signingScheme": "notary.other"})),
        "signing scheme",
    ),
    ("no signing time", lambda: _mutated(lambda h: h.pop("io.cncf.notary.signingTime")), "missing required header"),
    (
        "time not RFC 3339",
        lambda: _mutated(lambda h: h.update({"io.cncf.notary.signingTime": "yesterday"})),
        "RFC 3339",
    ),
    (
        "time without zone",
        lambda: _mutated(lambda h: h.update({"io.cncf.notary.signingTime": "2026-01-01T00:00:00"})),
        "RFC 3339",
    ),
    (
        "expiry before signing",
        lambda: _mutated(lambda h: h.update({"io.cncf.notary.expiry": "2000-01-01T00:00:00Z"})),
        "expiry time must be after",
    ),
    (
        "wrong cty",
        lambda: _mutated(lambda h: h.update(cty="application/json")),
        'payload content type "application/json" not supported',
    ),
    ("kid header", lambda: _mutated(lambda h: h.update(kid="x")), 'header "kid" is not allowed'),
    ("b64 false", lambda: _mutated(lambda h: h.update(b64=False)), 'header "b64" is not allowed'),
    (
        "authentic time under x509",
        lambda: _mutated(lambda h: h.update({"io.cncf.notary.authenticSigningTime": "2026-01-01T00:00:00Z"})),
        "is not allowed for signing scheme",
    ),
]


@pytest.mark.parametrize(("name", "make", "message"), JWS_CASES, ids=[c[0] for c in JWS_CASES])
def test_malformed_jws_is_rejected_clearly(name: str, make: Callable[[], bytes], message: str) -> None:
    with pytest.raises(EnvelopeError) as info:
        verify_envelope(MEDIA_TYPE_JWS, make())
    assert message in info.value.message


def test_misordered_chain_is_rejected() -> None:
    signer = chain_signer("ec-256")
    env = json.loads(sign(MEDIA_TYPE_JWS, signer))
    env["header"]["x5c"] = [env["header"]["x5c"][0], env["header"]["x5c"][2], env["header"]["x5c"][1]]
    with pytest.raises(SignatureIntegrityError):
        verify_envelope(MEDIA_TYPE_JWS, json.dumps(env).encode())


def test_chain_with_unrelated_certificate_is_rejected() -> None:
    env = json.loads(sign(MEDIA_TYPE_JWS, self_signed_signer("rsa-2048")))
    other = json.loads(sign(MEDIA_TYPE_JWS, chain_signer("ec-256")))
    env["header"]["x5c"] = env["header"]["x5c"] + [other["header"]["x5c"][-1]]
    with pytest.raises(SignatureIntegrityError):
        verify_envelope(MEDIA_TYPE_JWS, json.dumps(env).encode())


def test_leaf_swapped_for_another_key_is_rejected() -> None:
    env = json.loads(sign(MEDIA_TYPE_JWS, self_signed_signer("rsa-2048")))
    other = json.loads(sign(MEDIA_TYPE_JWS, self_signed_signer("rsa-3072")))
    env["header"]["x5c"] = other["header"]["x5c"]
    with pytest.raises(SignatureIntegrityError):
        verify_envelope(MEDIA_TYPE_JWS, json.dumps(env).encode())


def test_oversized_envelope_is_rejected_before_parsing() -> None:
    with pytest.raises(EnvelopeError, match="larger than"):
        verify_envelope(MEDIA_TYPE_JWS, b" " * (MAX_ENVELOPE_SIZE + 1))


def test_unknown_media_type_is_unsupported() -> None:
    with pytest.raises(UnsupportedEnvelopeError, match="is not supported"):
        verify_envelope("application/unsupported+json", b"{}")


def test_deeply_nested_json_is_rejected() -> None:
    with pytest.raises(EnvelopeError):
        verify_envelope(MEDIA_TYPE_JWS, b"[" * 100_000 + b"]" * 100_000)


def _cose_parts() -> list[Any]:
    return list(cbor2.loads(sign(MEDIA_TYPE_COSE, self_signed_signer("rsa-2048"))).value)


def _cose_with_protected(change: Callable[[dict[Any, Any]], None]) -> bytes:
    issued = self_signed("rsa-2048")
    parts = _cose_parts()
    # Keep tag-1 times as tags (cbor2 would turn them into datetimes and re-encode them as tag 0).
    header = dict(cbor2.loads(parts[0], semantic_decoders={1: lambda value, _immutable: cbor2.CBORTag(1, value)}))
    header[2] = list(header[2])
    change(header)
    protected = cbor2.dumps(header, canonical=True)
    from notation_py.envelope.algorithms import Algorithm
    from notation_py.envelope.cose import sig_structure

    parts[0] = protected
    parts[3] = sign_with_key(issued.key, Algorithm.PS256, sig_structure(protected, parts[2]))
    return cbor2.dumps(cbor2.CBORTag(18, parts))


COSE_CASES: list[tuple[str, Callable[[], bytes], str]] = [
    ("not cbor", lambda: b"\xff\xff", "invalid CBOR"),
    ("untagged", lambda: cbor2.dumps(_cose_parts()), "CBOR tag 18"),
    ("wrong tag", lambda: cbor2.dumps(cbor2.CBORTag(98, _cose_parts())), "CBOR tag 18"),
    ("three elements", lambda: cbor2.dumps(cbor2.CBORTag(18, _cose_parts()[:3])), "array of 4"),
    (
        "detached payload",
        lambda: cbor2.dumps(cbor2.CBORTag(18, [*_cose_parts()[:2], None, _cose_parts()[3]])),
        "embedded byte string",
    ),
    ("trailing bytes", lambda: sign(MEDIA_TYPE_COSE, self_signed_signer("rsa-2048")) + b"\x00", "trailing bytes"),
    (
        "no x5chain",
        lambda: cbor2.dumps(cbor2.CBORTag(18, [_cose_parts()[0], {}, *_cose_parts()[2:]])),
        "certificate chain is not present",
    ),
    (
        "x5chain bare bstr",
        lambda: cbor2.dumps(cbor2.CBORTag(18, [_cose_parts()[0], {33: b"\x30\x00"}, *_cose_parts()[2:]])),
        "certificate chain is not present",
    ),
    (
        "signing time tag 0",
        lambda: _cose_with_protected(
            lambda h: h.update({"io.cncf.notary.signingTime": cbor2.CBORTag(0, "2026-01-01T00:00:00Z")})
        ),
        "only Tag `1` Datetime",
    ),
    (
        "signing time untagged",
        lambda: _cose_with_protected(lambda h: h.update({"io.cncf.notary.signingTime": 1700000000})),
        "only Tag `1` Datetime",
    ),
    ("alg as text", lambda: _cose_with_protected(lambda h: h.update({1: "PS256"})), "is not supported"),
    (
        "alg for another key",
        lambda: _cose_with_protected(lambda h: h.update({1: -38})),
        "does not match the signing certificate",
    ),
    (
        "crit with label 1",
        lambda: _cose_with_protected(lambda h: h[2].append(1)),
        "must not list the registered header",
    ),
    ("missing crit", lambda: _cose_with_protected(lambda h: h.pop(2)), "crit header (label 2)"),
    ("content type as int", lambda: _cose_with_protected(lambda h: h.update({3: 50})), "content type"),
]


@pytest.mark.parametrize(("name", "make", "message"), COSE_CASES, ids=[c[0] for c in COSE_CASES])
def test_malformed_cose_is_rejected_clearly(name: str, make: Callable[[], bytes], message: str) -> None:
    with pytest.raises(EnvelopeError) as info:
        verify_envelope(MEDIA_TYPE_COSE, make())
    assert message in info.value.message


def test_cose_pss_salt_must_equal_hash_length() -> None:
    """go-cose verifies PSS with salt = hash length; a max-salt signature is refused."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from notation_py.envelope.cose import sig_structure

    issued = self_signed("rsa-2048")
    assert isinstance(issued.key, rsa.RSAPrivateKey)
    parts = _cose_parts()
    parts[3] = issued.key.sign(
        sig_structure(parts[0], parts[2]),
        padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.MAX_LENGTH),
        hashes.SHA256(),
    )
    with pytest.raises(SignatureIntegrityError):
        verify_envelope(MEDIA_TYPE_COSE, cbor2.dumps(cbor2.CBORTag(18, parts)))
