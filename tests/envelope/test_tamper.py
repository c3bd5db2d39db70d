"""Property tests: any single-byte change of payload, protected header or signature is rejected."""

from __future__ import annotations

import json
from functools import cache

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notation_py.envelope import MEDIA_TYPE_COSE, MEDIA_TYPE_JWS, verify_envelope
from notation_py.envelope.encoding import b64url_decode, b64url_encode
from notation_py.errors import EnvelopeError
from tests.envelope.helpers import sign
from tests.pki import self_signed_signer

PARTS = ["payload", "protected", "signature"]


@cache
def _envelope(media_type: str, key_type: str) -> bytes:
    return sign(media_type, self_signed_signer(key_type))


def _flip(data: bytes, index: int, delta: int) -> bytes:
    i = index % len(data)
    return data[:i] + bytes([(data[i] + delta) % 256]) + data[i + 1 :]


def _tamper_jws(envelope: bytes, part: str, index: int, delta: int) -> bytes:
    doc = json.loads(envelope)
    doc[part] = b64url_encode(_flip(b64url_decode(doc[part]), index, delta))
    return json.dumps(doc).encode()


def _tamper_cose(envelope: bytes, part: str, index: int, delta: int) -> bytes:
    tagged = cbor2.loads(envelope)
    items = list(tagged.value)
    position = {"protected": 0, "payload": 2, "signature": 3}[part]
    items[position] = _flip(items[position], index, delta)
    return cbor2.dumps(cbor2.CBORTag(18, items), canonical=True)


@pytest.mark.parametrize("key_type", ["rsa-2048", "ec-256"])
@pytest.mark.parametrize("part", PARTS)
@settings(max_examples=60, deadline=None)
@given(index=st.integers(min_value=0, max_value=10_000), delta=st.integers(min_value=1, max_value=255))
def test_jws_single_byte_change_is_rejected(key_type: str, part: str, index: int, delta: int) -> None:
    tampered = _tamper_jws(_envelope(MEDIA_TYPE_JWS, key_type), part, index, delta)
    with pytest.raises(EnvelopeError):
        verify_envelope(MEDIA_TYPE_JWS, tampered)


@pytest.mark.parametrize("key_type", ["rsa-2048", "ec-256"])
@pytest.mark.parametrize("part", PARTS)
@settings(max_examples=60, deadline=None)
@given(index=st.integers(min_value=0, max_value=10_000), delta=st.integers(min_value=1, max_value=255))
def test_cose_single_byte_change_is_rejected(key_type: str, part: str, index: int, delta: int) -> None:
    tampered = _tamper_cose(_envelope(MEDIA_TYPE_COSE, key_type), part, index, delta)
    with pytest.raises(EnvelopeError):
        verify_envelope(MEDIA_TYPE_COSE, tampered)


@settings(max_examples=200, deadline=None)
@given(index=st.integers(min_value=0, max_value=100_000), delta=st.integers(min_value=1, max_value=255))
def test_any_byte_of_the_serialized_envelope_changes_the_outcome_or_is_harmless(index: int, delta: int) -> None:
    """Flipping any byte of the raw envelope either fails cleanly or leaves the signed content intact.

    (The unprotected header is not signed, so e.g. the signing agent may change; what is signed may not.)
    """
    for media_type in (MEDIA_TYPE_JWS, MEDIA_TYPE_COSE):
        original = _envelope(media_type, "ec-256")
        reference = verify_envelope(media_type, original)
        tampered = _flip(original, index, delta)
        try:
            content = verify_envelope(media_type, tampered)
        except EnvelopeError:
            continue
        assert content.payload == reference.payload
        assert content.signed == reference.signed
        assert content.signature == reference.signature
