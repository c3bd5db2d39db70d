"""COSE envelope (signature-envelope-cose.md): ``COSE_Sign1_Tagged``, media type ``application/cose``.

The protected header is encoded deterministically (length-first key order, ``cbor2`` canonical mode),
which reproduces go-cose byte for byte; times are CBOR tag 1 with integer seconds. Parsing keeps the
raw protected bytes for the ``Sig_structure`` (RFC 9052 §4.4).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import cbor2
from cryptography.hazmat.primitives.serialization import Encoding

from notation_py.envelope.algorithms import Algorithm
from notation_py.envelope.attributes import build_signed_attributes, critical_order
from notation_py.envelope.chain import load_chain_certificate
from notation_py.envelope.model import (
    ATTR_AUTHENTIC_SIGNING_TIME,
    ATTR_EXPIRY,
    ATTR_SIGNING_AGENT,
    ATTR_SIGNING_SCHEME,
    ATTR_SIGNING_TIME,
    ATTR_TIMESTAMP_SIGNATURE,
    ATTR_VERIFICATION_PLUGIN,
    ATTR_VERIFICATION_PLUGIN_MIN_VERSION,
    MEDIA_TYPE_COSE,
    EnvelopeContent,
    SignedAttributes,
    SigningScheme,
    SignRequest,
    UnsignedAttributes,
)
from notation_py.errors import EnvelopeError

COSE_SIGN1_TAG = 18
LABEL_ALG, LABEL_CRIT, LABEL_CONTENT_TYPE, LABEL_X5CHAIN = 1, 2, 3, 33
# COSE's own integer labels 0-8 may not appear in crit and are not Notary attributes.
_REGISTERED: frozenset[str | int] = frozenset(range(9)) | {LABEL_X5CHAIN}
_TIME_HEADERS = (ATTR_SIGNING_TIME, ATTR_AUTHENTIC_SIGNING_TIME, ATTR_EXPIRY)
_MAX_DEPTH = 16


# cbor2 turns tags 0 and 1 into datetimes; keep them as tags so tag 0 and untagged times can be refused.
_SEMANTIC = {
    0: lambda value, immutable: cbor2.CBORTag(0, value),
    1: lambda value, immutable: cbor2.CBORTag(1, value),
}


def _decode(data: bytes, what: str) -> Any:
    stream = io.BytesIO(data)
    try:
        decoder = cbor2.CBORDecoder(
            stream,
            semantic_decoders=_SEMANTIC,
            allow_duplicate_keys=False,
            allow_indefinite=False,
            max_depth=_MAX_DEPTH,
        )
        value = decoder.decode()
    except (cbor2.CBORError, ValueError, TypeError, OverflowError) as exc:
        raise EnvelopeError(f"invalid CBOR in {what}: {exc}") from None
    if stream.tell() != len(data):
        raise EnvelopeError(f"invalid CBOR in {what}: {len(data) - stream.tell()} trailing bytes")
    return value


def parse_outer(data: bytes) -> tuple[bytes, dict[Any, Any], bytes, bytes]:
    """Parse ``COSE_Sign1_Tagged`` into (protected bytes, unprotected map, payload, signature).

    Raises:
        EnvelopeError: not CBOR, wrong tag, or wrong structure.
    """
    value = _decode(data, "COSE envelope")
    if not isinstance(value, cbor2.CBORTag) or value.tag != COSE_SIGN1_TAG:
        raise EnvelopeError("invalid COSE envelope: not a COSE_Sign1_Tagged message (CBOR tag 18)")
    msg = value.value
    if not isinstance(msg, list | tuple) or len(msg) != 4:
        raise EnvelopeError("invalid COSE envelope: COSE_Sign1 must be an array of 4 elements")
    protected, unprotected, payload, signature = msg
    if not isinstance(protected, bytes) or not protected:
        raise EnvelopeError("invalid COSE envelope: protected header must be a non-empty byte string")
    if not isinstance(unprotected, Mapping):
        raise EnvelopeError("invalid COSE envelope: unprotected header must be a map")
    if not isinstance(payload, bytes):
        raise EnvelopeError("invalid COSE envelope: payload must be an embedded byte string")
    if not isinstance(signature, bytes) or not signature:
        raise EnvelopeError("invalid COSE envelope: signature must be a non-empty byte string")
    return protected, dict(unprotected), payload, signature


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """``Sig_structure`` for COSE_Sign1 with empty external AAD."""
    return bytes(cbor2.dumps(["Signature1", protected, b"", payload]))


def decode_parts(protected: bytes, unprotected: dict[Any, Any], payload: bytes, signature: bytes) -> EnvelopeContent:
    """Decode the headers and chain into :class:`EnvelopeContent`.

    Raises:
        EnvelopeError: any malformed header or violated envelope rule.
    """
    header = _decode(protected, "protected header")
    if not isinstance(header, Mapping):
        raise EnvelopeError("protected header is not a CBOR map")
    algorithm = Algorithm.from_cose(header.get(LABEL_ALG))
    content_type = header.get(LABEL_CONTENT_TYPE)
    if not isinstance(content_type, str):
        raise EnvelopeError("missing required content type header (label 3) as text")
    crit = header.get(LABEL_CRIT)
    if not isinstance(crit, list | tuple) or not crit or not all(isinstance(c, str | int) for c in crit):
        raise EnvelopeError("crit header (label 2) must be a non-empty array of labels")
    headers: dict[str | int, Any] = {}
    for key, value in header.items():
        if isinstance(key, int) and key in (LABEL_ALG, LABEL_CRIT, LABEL_CONTENT_TYPE):
            continue
        if isinstance(key, int) and key in _REGISTERED:
            raise EnvelopeError(f"header label {key} is not allowed in a Notary Project COSE envelope")
        if not isinstance(key, str | int):
            raise EnvelopeError("protected header labels must be integers or text")
        headers[key] = _time(key, value) if key in _TIME_HEADERS else value
    signed = build_signed_attributes(headers, list(crit), content_type, _REGISTERED)
    return EnvelopeContent(
        media_type=MEDIA_TYPE_COSE,
        payload=payload,
        signed=signed,
        unsigned=_decode_unprotected(unprotected),
        signature=signature,
        algorithm=algorithm,
        signed_bytes=sig_structure(protected, payload),
    )


def _time(name: str | int, value: Any) -> Any:
    from datetime import UTC, datetime

    if not isinstance(value, cbor2.CBORTag) or value.tag != 1:
        raise EnvelopeError(f'header "{name}": only Tag `1` Datetime CBOR object is supported')
    seconds = value.value
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise EnvelopeError(f'header "{name}": tag 1 time must carry integer seconds')
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise EnvelopeError(f'header "{name}": time out of range') from None


def _decode_unprotected(header: dict[Any, Any]) -> UnsignedAttributes:
    chain_value = header.get(LABEL_X5CHAIN)
    if not isinstance(chain_value, list | tuple) or not chain_value:
        raise EnvelopeError("certificate chain is not present in the x5chain header (label 33)")
    chain = []
    for i, der in enumerate(chain_value):
        if not isinstance(der, bytes):
            raise EnvelopeError(f"x5chain[{i}] is not a byte string")
        chain.append(load_chain_certificate(der, f"x5chain[{i}]"))
    tst = header.get(ATTR_TIMESTAMP_SIGNATURE)
    if tst is not None and (not isinstance(tst, bytes) or not tst):
        raise EnvelopeError(f'"{ATTR_TIMESTAMP_SIGNATURE}" must be a byte string')
    agent = header.get(ATTR_SIGNING_AGENT)
    return UnsignedAttributes(
        certificate_chain=tuple(chain),
        timestamp_signature=tst,
        signing_agent=agent if isinstance(agent, str) else None,
    )


def protected_header_bytes(request: SignRequest, signed: SignedAttributes) -> bytes:
    """Deterministically encoded protected header for ``request``."""
    header: dict[Any, Any] = {
        LABEL_ALG: request.signer.algorithm.cose_id,
        LABEL_CRIT: critical_order(signed, extended_first=False),
        LABEL_CONTENT_TYPE: request.payload_content_type,
        ATTR_SIGNING_SCHEME: request.signing_scheme.value,
    }
    time_name = (
        ATTR_AUTHENTIC_SIGNING_TIME
        if request.signing_scheme is SigningScheme.X509_SIGNING_AUTHORITY
        else ATTR_SIGNING_TIME
    )
    header[time_name] = cbor2.CBORTag(1, int(request.signing_time.timestamp()))
    if request.expiry is not None:
        header[ATTR_EXPIRY] = cbor2.CBORTag(1, int(request.expiry.timestamp()))
    if signed.verification_plugin is not None:
        header[ATTR_VERIFICATION_PLUGIN] = signed.verification_plugin
    if signed.verification_plugin_min_version is not None:
        header[ATTR_VERIFICATION_PLUGIN_MIN_VERSION] = signed.verification_plugin_min_version
    for attr in request.extended:
        if attr.key in header:
            raise EnvelopeError(f'extended attribute "{attr.key}" clashes with a reserved header')
        header[attr.key] = attr.value
    return bytes(cbor2.dumps(header, canonical=True))


def sign(request: SignRequest, signed: SignedAttributes) -> bytes:
    """Produce a COSE_Sign1_Tagged envelope for ``request``."""
    protected = protected_header_bytes(request, signed)
    signature = request.signer.sign(sig_structure(protected, request.payload))
    unprotected: dict[Any, Any] = {
        LABEL_X5CHAIN: [c.public_bytes(Encoding.DER) for c in request.signer.certificate_chain],
    }
    if request.timestamper is not None:
        unprotected[ATTR_TIMESTAMP_SIGNATURE] = request.timestamper(signature, request.signer.algorithm)
    if request.signing_agent:
        unprotected[ATTR_SIGNING_AGENT] = request.signing_agent
    message = cbor2.CBORTag(COSE_SIGN1_TAG, [protected, unprotected, request.payload, signature])
    return bytes(cbor2.dumps(message, canonical=True))
