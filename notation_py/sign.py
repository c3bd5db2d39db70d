"""Signing: build the payload for an artifact or blob, sign it, and store the signature.

OCI artifacts are always signed by digest: a tag is resolved first and the signature's subject is
the resolved manifest. The signature manifest is pushed after its blobs, so a store never lists a
signature whose envelope is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from notation_py import SIGNING_AGENT
from notation_py.envelope import sign_envelope
from notation_py.envelope.algorithms import Algorithm
from notation_py.envelope.model import PrimitiveSigner, SignRequest, Timestamper
from notation_py.envelope.payload import TargetArtifact, build_payload
from notation_py.errors import PayloadError, UsageError
from notation_py.fsutil import hash_file
from notation_py.oci.descriptor import Descriptor
from notation_py.oci.signatures import push_signature
from notation_py.oci.store import ArtifactStore
from notation_py.x509.certs import thumbprint_sha256

#: Default media type of a signed blob (notation's default).
DEFAULT_BLOB_MEDIA_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class SignOptions:
    """What to put in the envelope besides the payload."""

    envelope_media_type: str
    expiry: timedelta | None = None
    user_metadata: Mapping[str, str] = field(default_factory=dict)
    signing_agent: str = SIGNING_AGENT
    timestamper: Timestamper | None = None


@dataclass(frozen=True)
class SignedArtifact:
    """The result of signing an OCI artifact."""

    subject: Descriptor
    signature_manifest: Descriptor
    envelope: bytes


def _request(payload: bytes, signer: PrimitiveSigner, options: SignOptions, now: datetime) -> SignRequest:
    if options.expiry is not None and options.expiry < timedelta(seconds=1):
        raise UsageError("expiry duration must be at least 1 second")
    signing_time = now.astimezone(UTC).replace(microsecond=0)
    return SignRequest(
        payload=payload,
        signer=signer,
        signing_time=signing_time,
        expiry=signing_time + options.expiry if options.expiry is not None else None,
        signing_agent=options.signing_agent,
        timestamper=options.timestamper,
    )


def _payload(target: TargetArtifact) -> bytes:
    try:
        return build_payload(target)
    except PayloadError as exc:
        raise UsageError(exc.message) from None


def sign_artifact(
    store: ArtifactStore,
    reference: str,
    signer: PrimitiveSigner,
    options: SignOptions,
    *,
    now: datetime | None = None,
) -> SignedArtifact:
    """Sign the manifest ``reference`` (tag or digest) in ``store`` and store the signature as a referrer.

    Raises:
        NotFoundError: the artifact does not exist.
        SigningError: the envelope could not be produced.
        ArtifactError: the signature could not be stored.
    """
    now = now or datetime.now(UTC)
    subject = store.resolve(reference)
    target = TargetArtifact(
        media_type=subject.media_type,
        digest=str(subject.digest),
        size=subject.size,
        annotations=dict(options.user_metadata),
    )
    request = _request(_payload(target), signer, options, now)
    envelope = sign_envelope(options.envelope_media_type, request)
    thumbprints = [thumbprint_sha256(c) for c in signer.certificate_chain]
    manifest = push_signature(
        store,
        Descriptor(media_type=subject.media_type, digest=subject.digest, size=subject.size),
        options.envelope_media_type,
        envelope,
        thumbprints,
        request.signing_time,
    )
    return SignedArtifact(subject=subject, signature_manifest=manifest, envelope=envelope)


def sign_blob(
    blob: Path,
    signer: PrimitiveSigner,
    options: SignOptions,
    *,
    blob_media_type: str = DEFAULT_BLOB_MEDIA_TYPE,
    now: datetime | None = None,
) -> bytes:
    """Sign a file; the digest algorithm is the one the signing key's algorithm uses.

    Returns:
        The envelope bytes (the caller writes ``<blob>.<jws|cose>.sig``).

    Raises:
        UsageError: the blob cannot be read or the media type is invalid.
        SigningError: the envelope could not be produced.
    """
    target = blob_target(blob, signer.algorithm, blob_media_type, options.user_metadata)
    request = _request(_payload(target), signer, options, now or datetime.now(UTC))
    return sign_envelope(options.envelope_media_type, request)


def blob_target(
    blob: Path, algorithm: Algorithm, blob_media_type: str, user_metadata: Mapping[str, str]
) -> TargetArtifact:
    """The payload's target for a file: its digest with the hash the signing key's algorithm uses.

    Raises:
        UsageError: the blob cannot be read or the media type is invalid.
    """
    if not blob_media_type or "/" not in blob_media_type:
        raise UsageError(f'invalid media type "{blob_media_type}"')
    try:
        hex_digest, size = hash_file(blob, algorithm.digest_algorithm)
    except OSError as exc:
        raise UsageError(f"cannot read blob {blob}: {exc.strerror}") from None
    return TargetArtifact(
        media_type=blob_media_type,
        digest=f"{algorithm.digest_algorithm}:{hex_digest}",
        size=size,
        annotations=dict(user_metadata),
    )
