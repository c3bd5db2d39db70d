"""Envelope test helpers: sign requests with the session PKI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from notation_py.envelope import sign_envelope
from notation_py.envelope.model import ExtendedAttribute, PrimitiveSigner, SigningScheme, SignRequest
from notation_py.envelope.payload import TargetArtifact, build_payload

PAYLOAD = build_payload(
    TargetArtifact(
        media_type="application/vnd.oci.image.manifest.v1+json",
        digest="sha256:" + "ab" * 32,
        size=1234,
        annotations={"io.example.build": "7"},
    )
)
SIGNING_TIME = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def request(
    signer: PrimitiveSigner,
    *,
    scheme: SigningScheme = SigningScheme.X509,
    expiry: timedelta | None = timedelta(days=30),
    extended: tuple[ExtendedAttribute, ...] = (),
    payload: bytes = PAYLOAD,
) -> SignRequest:
    """A request signed at a fixed time with the given signer."""
    return SignRequest(
        payload=payload,
        signer=signer,
        signing_time=SIGNING_TIME,
        signing_scheme=scheme,
        expiry=SIGNING_TIME + expiry if expiry else None,
        extended=extended,
        signing_agent="notation-py-tests/1.0",
    )


def sign(media_type: str, signer: PrimitiveSigner, **kw: object) -> bytes:
    """Envelope bytes for :func:`request`."""
    return sign_envelope(media_type, request(signer, **kw))  # type: ignore[arg-type]
