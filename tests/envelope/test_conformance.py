"""Byte-level conformance with notation-core-go (cases core-jws-conformance, core-cose-conformance)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import cbor2
from cryptography import x509

from notation_py.envelope import cose, jws
from notation_py.envelope.algorithms import Algorithm
from notation_py.envelope.model import ExtendedAttribute, SignedAttributes, SigningScheme, SignRequest
from tests.conformance import case, vector


@dataclass
class _FixedSigner:
    """Returns a fixed signature: the vectors' signatures come from ephemeral keys."""

    algorithm: Algorithm
    signature: bytes = b""
    certificate_chain: tuple[x509.Certificate, ...] = ()

    def sign(self, data: bytes) -> bytes:
        return self.signature


def _request(inputs: dict[str, object], alg: Algorithm, payload: bytes, signature: bytes = b"") -> SignRequest:
    def when(value: object) -> datetime:
        if isinstance(value, int):
            return datetime.fromtimestamp(value, UTC)
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))

    extended = tuple(
        ExtendedAttribute(key=k, value=v, critical=c)
        for k, v, c in inputs["extendedSignedAttributes"]  # type: ignore[attr-defined]
    )
    return SignRequest(
        payload=payload,
        signer=_FixedSigner(alg, signature),
        signing_time=when(inputs["signingTime"]),
        expiry=when(inputs["expiry"]),
        extended=extended,
        signing_agent=str(inputs["signingAgent"]),
    )


def _signed(request: SignRequest) -> SignedAttributes:
    return SignedAttributes(
        signing_scheme=SigningScheme.X509,
        signing_time=request.signing_time,
        expiry=request.expiry,
        extended=request.extended,
    )


def test_jws_protected_header_and_payload_match_notation_core_go_bytes() -> None:
    c = case("core-jws-conformance")
    expected = json.loads(vector(c["file"]).read_text())
    request = _request(c["inputs"], Algorithm.ES256, c["inputs"]["payload"].encode())
    produced = json.loads(jws.sign(request, _signed(request)))
    assert produced["protected"] == expected["protected"]
    assert produced["payload"] == expected["payload"]
    assert produced["header"]["io.cncf.notary.signingAgent"] == expected["header"]["io.cncf.notary.signingAgent"]


def test_cose_protected_header_and_message_match_notation_core_go_bytes() -> None:
    c = case("core-cose-conformance")
    expected = json.loads(vector(c["file"]).read_text())
    payload = bytes.fromhex(expected["payload"])
    message = cbor2.loads(bytes.fromhex(expected["expectedOutput"]["cborHex"]))
    fixed_signature = message.value[3]
    request = _request(c["inputs"], Algorithm.PS384, payload, fixed_signature)
    protected = cose.protected_header_bytes(request, _signed(request))
    assert protected.hex().upper() == expected["protectedHeaders"]["cborHex"]
    # The whole message, with the vector's signature and without a chain, is byte-identical too.
    unprotected = {"io.cncf.notary.signingAgent": request.signing_agent}
    whole = cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, payload, fixed_signature]), canonical=True)
    assert whole.hex().upper() == expected["expectedOutput"]["cborHex"]
