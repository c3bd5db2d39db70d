"""JWS envelope (signature-envelope-jws.md): flattened JSON serialization, ``application/jose+json``.

Signing input is ``BASE64URL(protected) '.' BASE64URL(payload)``; the protected header is compact
JSON with sorted keys, byte-identical to notation-go's output. Parsing keeps the exact encoded
members so verification never depends on a re-serialisation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from notation_py.envelope.algorithms import Algorithm
from notation_py.envelope.attributes import build_signed_attributes, critical_order
from notation_py.envelope.chain import load_chain_certificate
from notation_py.envelope.encoding import (
    b64std_decode,
    b64std_encode,
    b64url_decode,
    b64url_encode,
    format_rfc3339,
    parse_rfc3339,
)
from notation_py.envelope.model import (
    ATTR_AUTHENTIC_SIGNING_TIME,
    ATTR_EXPIRY,
    ATTR_SIGNING_AGENT,
    ATTR_SIGNING_SCHEME,
    ATTR_SIGNING_TIME,
    ATTR_TIMESTAMP_SIGNATURE,
    ATTR_VERIFICATION_PLUGIN,
    ATTR_VERIFICATION_PLUGIN_MIN_VERSION,
    MEDIA_TYPE_JWS,
    EnvelopeContent,
    SignedAttributes,
    SigningScheme,
    SignRequest,
    UnsignedAttributes,
)
from notation_py.envelope.payload import canonical_json
from notation_py.errors import EnvelopeError
from notation_py.jsonutil import JSONFormatError, strict_loads

_TOP_LEVEL = frozenset({"payload", "protected", "header", "signature"})
# Headers JOSE defines itself; everything else in the protected header is a Notary attribute.
_REGISTERED: frozenset[str | int] = frozenset(
    {"alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit", "b64", "zip", "enc"}
)
_TIME_HEADERS = (ATTR_SIGNING_TIME, ATTR_AUTHENTIC_SIGNING_TIME, ATTR_EXPIRY)


@dataclass(frozen=True)
class RawJWS:
    """The four members of a flattened JWS, exactly as encoded."""

    payload: str
    protected: str
    header: Mapping[str, Any]
    signature: str


def _loads(data: bytes | str, what: str) -> Any:
    try:
        return strict_loads(data)
    except JSONFormatError as exc:
        raise EnvelopeError(f"{what}: {exc.message}") from None


def parse_outer(data: bytes) -> RawJWS:
    """Parse the JSON shape of a flattened JWS (no base64 or header decoding yet).

    Raises:
        EnvelopeError: not JSON, not an object, unknown or missing members, wrong member types.
    """
    doc = _loads(data, "invalid JWS envelope")
    if not isinstance(doc, dict):
        raise EnvelopeError("invalid JWS envelope: not a JSON object")
    unknown = sorted(set(doc) - _TOP_LEVEL)
    if unknown:
        raise EnvelopeError(f"invalid JWS envelope: unexpected member(s) {', '.join(unknown)}")
    for name in ("payload", "protected", "signature"):
        if not isinstance(doc.get(name), str) or not doc[name]:
            raise EnvelopeError(f'invalid JWS envelope: "{name}" must be a non-empty string')
    header = doc.get("header")
    if not isinstance(header, dict):
        raise EnvelopeError('invalid JWS envelope: "header" must be an object holding "x5c"')
    return RawJWS(doc["payload"], doc["protected"], header, doc["signature"])


def decode_parts(raw: RawJWS) -> EnvelopeContent:
    """Decode members, protected header and certificate chain into :class:`EnvelopeContent`.

    Raises:
        EnvelopeError: any malformed member or violated envelope rule.
    """
    payload = b64url_decode(raw.payload)
    protected_bytes = b64url_decode(raw.protected)
    signature = b64url_decode(raw.signature)
    protected = _loads(protected_bytes, "protected header is not valid JSON")
    if not isinstance(protected, dict):
        raise EnvelopeError("protected header is not a JSON object")
    algorithm = Algorithm.from_jws(protected.get("alg"))
    cty = protected.get("cty")
    if not isinstance(cty, str):
        raise EnvelopeError('missing required header "cty"')
    crit = protected.get("crit")
    if not isinstance(crit, list) or not crit or not all(isinstance(c, str) for c in crit):
        raise EnvelopeError('"crit" header must be a non-empty list of header names')
    headers: dict[str | int, Any] = {}
    for key, value in protected.items():
        if key in _REGISTERED:
            if key not in ("alg", "cty", "crit"):
                raise EnvelopeError(f'header "{key}" is not allowed in a Notary Project JWS envelope')
            continue
        headers[key] = parse_rfc3339(value, key) if key in _TIME_HEADERS else value
    signed = build_signed_attributes(headers, crit, cty, _REGISTERED)
    unsigned = _decode_unprotected(raw.header)
    signed_bytes = f"{raw.protected}.{raw.payload}".encode("ascii")
    return EnvelopeContent(
        media_type=MEDIA_TYPE_JWS,
        payload=payload,
        signed=signed,
        unsigned=unsigned,
        signature=signature,
        algorithm=algorithm,
        signed_bytes=signed_bytes,
    )


def _decode_unprotected(header: Mapping[str, Any]) -> UnsignedAttributes:
    x5c = header.get("x5c")
    if not isinstance(x5c, list) or not x5c:
        raise EnvelopeError("certificate chain is not present in the x5c header")
    chain = []
    for i, item in enumerate(x5c):
        if not isinstance(item, str):
            raise EnvelopeError(f"x5c[{i}] is not a string")
        chain.append(load_chain_certificate(b64std_decode(item), f"x5c[{i}]"))
    tst = header.get(ATTR_TIMESTAMP_SIGNATURE)
    if tst is not None and (not isinstance(tst, str) or not tst):
        raise EnvelopeError(f'"{ATTR_TIMESTAMP_SIGNATURE}" must be a base64 string')
    agent = header.get(ATTR_SIGNING_AGENT)
    return UnsignedAttributes(
        certificate_chain=tuple(chain),
        timestamp_signature=b64std_decode(tst) if tst else None,
        # Informational only (spec: MUST NOT be validated); ignore a non-string value.
        signing_agent=agent if isinstance(agent, str) else None,
    )


def _protected_header(request: SignRequest, algorithm: Algorithm, signed: SignedAttributes) -> dict[str, Any]:
    header: dict[str, Any] = {
        "alg": algorithm.jws_name,
        "cty": request.payload_content_type,
        "crit": critical_order(signed, extended_first=True),
        ATTR_SIGNING_SCHEME: request.signing_scheme.value,
    }
    time_name = (
        ATTR_AUTHENTIC_SIGNING_TIME
        if request.signing_scheme is SigningScheme.X509_SIGNING_AUTHORITY
        else ATTR_SIGNING_TIME
    )
    header[time_name] = format_rfc3339(request.signing_time)
    if request.expiry is not None:
        header[ATTR_EXPIRY] = format_rfc3339(request.expiry)
    if signed.verification_plugin is not None:
        header[ATTR_VERIFICATION_PLUGIN] = signed.verification_plugin
    if signed.verification_plugin_min_version is not None:
        header[ATTR_VERIFICATION_PLUGIN_MIN_VERSION] = signed.verification_plugin_min_version
    for attr in request.extended:
        if attr.key in header or attr.key in _REGISTERED:
            raise EnvelopeError(f'extended attribute "{attr.key}" clashes with a reserved header')
        header[attr.key] = attr.value
    return header


def sign(request: SignRequest, signed: SignedAttributes) -> bytes:
    """Produce a JWS envelope for ``request`` (``signed`` carries the validated attributes)."""
    algorithm = request.signer.algorithm
    protected = b64url_encode(canonical_json(_protected_header(request, algorithm, signed)))
    payload = b64url_encode(request.payload)
    signing_input = f"{protected}.{payload}".encode("ascii")
    signature = request.signer.sign(signing_input)
    header: dict[str, Any] = {
        "x5c": [b64std_encode(_der(c)) for c in request.signer.certificate_chain],
    }
    if request.timestamper is not None:
        header[ATTR_TIMESTAMP_SIGNATURE] = b64std_encode(request.timestamper(signature, algorithm))
    if request.signing_agent:
        header[ATTR_SIGNING_AGENT] = request.signing_agent
    envelope = {
        "payload": payload,
        "protected": protected,
        "header": header,
        "signature": b64url_encode(signature),
    }
    return json.dumps(envelope, separators=(",", ":")).encode("ascii")


def _der(cert: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return cert.public_bytes(Encoding.DER)
