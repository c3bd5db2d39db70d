"""Signature envelopes: build, parse and verify JWS and COSE Notary Project envelopes.

Three entry points, all taking and returning exact bytes:

* :func:`sign_envelope` builds an envelope and checks it verifies before returning it;
* :func:`parse_envelope` decodes an envelope without checking its signature (for ``inspect``);
* :func:`verify_envelope` is the integrity step: it decodes, checks the signature with the leaf
  certificate's key, the algorithm/key match, the content type and the certificate-chain rules.
"""

from __future__ import annotations

from dataclasses import replace

from notation_py.envelope import cose, jws
from notation_py.envelope.algorithms import Algorithm, verify_with_key
from notation_py.envelope.model import (
    ENVELOPE_MEDIA_TYPES,
    MEDIA_TYPE_COSE,
    MEDIA_TYPE_JWS,
    PAYLOAD_CONTENT_TYPE,
    EnvelopeContent,
    SignedAttributes,
    SigningScheme,
    SignRequest,
)
from notation_py.errors import (
    CertificateError,
    EnvelopeError,
    SignatureIntegrityError,
    SigningError,
    UnsupportedEnvelopeError,
)

#: notation-go refuses envelopes larger than this (bytes).
MAX_ENVELOPE_SIZE = 32 * 1024 * 1024

__all__ = [
    "ENVELOPE_MEDIA_TYPES",
    "MAX_ENVELOPE_SIZE",
    "MEDIA_TYPE_COSE",
    "MEDIA_TYPE_JWS",
    "PAYLOAD_CONTENT_TYPE",
    "Algorithm",
    "EnvelopeContent",
    "SignRequest",
    "SigningScheme",
    "format_from_name",
    "parse_envelope",
    "sign_envelope",
    "verify_envelope",
]

_FORMAT_NAMES = {"jws": MEDIA_TYPE_JWS, "cose": MEDIA_TYPE_COSE}


def format_from_name(name: str) -> str:
    """Map a user-facing format name (``jws``/``cose``) to its media type."""
    try:
        return _FORMAT_NAMES[name.lower()]
    except KeyError:
        raise UnsupportedEnvelopeError(
            f'signature format "{name}" not supported. Supported signature envelope formats are "jws" and "cose"'
        ) from None


def _check_media_type(media_type: str) -> None:
    if media_type not in ENVELOPE_MEDIA_TYPES:
        raise UnsupportedEnvelopeError(f'signature envelope format with media type "{media_type}" is not supported')


def _decode(media_type: str, data: bytes) -> EnvelopeContent:
    """Outer parse errors raise :class:`EnvelopeError`; later ones :class:`SignatureIntegrityError`."""
    _check_media_type(media_type)
    if len(data) > MAX_ENVELOPE_SIZE:
        raise EnvelopeError(f"signature envelope is {len(data)} bytes, larger than the {MAX_ENVELOPE_SIZE} byte limit")
    try:
        if media_type == MEDIA_TYPE_JWS:
            raw = jws.parse_outer(data)
        else:
            parts = cose.parse_outer(data)
    except RecursionError:
        raise EnvelopeError("signature envelope is nested too deeply") from None
    try:
        return jws.decode_parts(raw) if media_type == MEDIA_TYPE_JWS else cose.decode_parts(*parts)
    except SignatureIntegrityError:
        raise
    except EnvelopeError as exc:
        raise SignatureIntegrityError(exc.message) from None
    except RecursionError:
        raise SignatureIntegrityError("signature envelope is nested too deeply") from None


def parse_envelope(media_type: str, data: bytes) -> EnvelopeContent:
    """Decode an envelope without verifying its signature (for display only).

    Raises:
        UnsupportedEnvelopeError: unknown media type.
        EnvelopeError: malformed envelope (including :class:`SignatureIntegrityError` for bad members).
    """
    return _decode(media_type, data)


def verify_envelope(media_type: str, data: bytes) -> EnvelopeContent:
    """The integrity step: decode and verify the envelope; return its content.

    Checks the primitive signature against the leaf certificate's public key, that ``alg`` is the
    algorithm the key requires, that the payload content type is the Notary payload, and that the
    certificate chain meets the Notary Project certificate requirements.

    Raises:
        UnsupportedEnvelopeError: unknown media type.
        EnvelopeError: the envelope cannot be parsed at all.
        SignatureIntegrityError: the envelope is malformed inside, or its signature does not verify.
    """
    content = _decode(media_type, data)
    leaf = content.leaf
    key = leaf.public_key()
    try:
        verify_with_key(
            key,  # type: ignore[arg-type]  # for_key() inside rejects unsupported key types
            content.algorithm,
            content.signed_bytes,
            content.signature,
            pss_any_salt=media_type == MEDIA_TYPE_JWS,
        )
    except UnsupportedEnvelopeError as exc:
        raise SignatureIntegrityError(exc.message) from None
    if content.signed.content_type != PAYLOAD_CONTENT_TYPE:
        raise SignatureIntegrityError(f'payload content type "{content.signed.content_type}" not supported')
    from notation_py.x509.chain import validate_code_signing_chain

    try:
        validate_code_signing_chain(list(content.unsigned.certificate_chain), None)
    except CertificateError as exc:
        raise SignatureIntegrityError(exc.message) from None
    return content


def _signed_attributes(request: SignRequest) -> SignedAttributes:
    return SignedAttributes(
        signing_scheme=request.signing_scheme,
        signing_time=request.signing_time if request.signing_scheme is SigningScheme.X509 else None,
        authentic_signing_time=(
            request.signing_time if request.signing_scheme is SigningScheme.X509_SIGNING_AUTHORITY else None
        ),
        expiry=request.expiry,
        content_type=request.payload_content_type,
        extended=request.extended,
    )


def sign_envelope(media_type: str, request: SignRequest) -> bytes:
    """Build and sign an envelope, then verify it as a verifier would before returning the bytes.

    Signing time and expiry are truncated to whole seconds, as notation does.

    Raises:
        UnsupportedEnvelopeError: unknown media type or key.
        SigningError: the request is invalid or the produced envelope does not verify.
    """
    _check_media_type(media_type)
    request = replace(
        request,
        signing_time=request.signing_time.replace(microsecond=0),
        expiry=request.expiry.replace(microsecond=0) if request.expiry else None,
    )
    if request.signing_scheme is SigningScheme.X509_SIGNING_AUTHORITY and request.timestamper is not None:
        raise SigningError("timestamping is only defined for the notary.x509 signing scheme")
    signed = _signed_attributes(request)
    if signed.expiry is not None and signed.expiry <= request.signing_time:
        raise SigningError("expiry must be after the signing time")
    try:
        data = jws.sign(request, signed) if media_type == MEDIA_TYPE_JWS else cose.sign(request, signed)
        # Verify what we produced, as a verifier would, so we never emit what we would reject.
        verify_envelope(media_type, data)
    except SignatureIntegrityError as exc:
        raise SigningError(f"the produced signature does not verify: {exc.message}") from None
    except EnvelopeError as exc:
        raise SigningError(exc.message) from None
    return data
