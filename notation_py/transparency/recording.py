"""Recording a new signature in a transparency log and storing the proof beside it (``sign --tlog``).

The signature is stored first (its manifest digest is part of the logged entry), then submitted;
the log answers once the entry is durably committed under a signed checkpoint, with an inclusion
proof. The proof is checked against the leaf recomputed here before it is stored: as a referrer of
the signature manifest (registries, OCI layouts) or as ``<signature file>.tlog-proof`` (blobs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from notation_py.envelope import parse_envelope
from notation_py.envelope.payload import parse_payload
from notation_py.errors import ArtifactError, NotationError, TransparencyError
from notation_py.oci.store import ArtifactStore
from notation_py.sign import SignedArtifact
from notation_py.transparency.client import LogClient
from notation_py.transparency.files import write_proof_file
from notation_py.transparency.online import submit_and_prove
from notation_py.transparency.proof import Inclusion
from notation_py.transparency.referrer import push_proof_referrer
from notation_py.transparency.signature import LoggedSignature


@dataclass(frozen=True)
class Recorded:
    """A logged signature: where the log put it, and where its proof was stored."""

    inclusion: Inclusion
    #: Digest of the proof referrer manifest, or path of the ``.tlog-proof`` file.
    proof_location: str


def record_artifact_signature(
    client: LogClient,
    store: ArtifactStore,
    signed: SignedArtifact,
    envelope_media_type: str,
    repository: str | None,
    *,
    log_keys: Sequence[str] | None = None,
    now: datetime | None = None,
) -> Recorded:
    """Log an OCI signature and push its proof as a referrer of the signature manifest.

    Raises:
        TransparencyError: the log refused or could not be reached, its proof did not check, or the
            proof could not be stored (the message says which; the signature itself stays stored).
    """
    logged = LoggedSignature.for_artifact(
        signed.envelope, envelope_media_type, signed.subject, signed.signature_manifest
    )
    inclusion = submit_and_prove(client, logged, repository, log_keys)
    try:
        referrer = push_proof_referrer(
            store, signed.signature_manifest, inclusion, now or datetime.now(UTC), announce_for=signed.subject
        )
    except ArtifactError as exc:
        raise TransparencyError(
            f"the signature is logged at index {inclusion.index} of {inclusion.origin}, "
            f"but its proof could not be stored: {exc.message}"
        ) from None
    return Recorded(inclusion, str(referrer.digest))


def record_blob_signature(
    client: LogClient,
    signature_path: Path,
    envelope: bytes,
    envelope_media_type: str,
    *,
    log_keys: Sequence[str] | None = None,
) -> Recorded:
    """Log a blob signature and write its proof to ``<signature_path>.tlog-proof``.

    Raises:
        TransparencyError: as :func:`record_artifact_signature`.
    """
    try:
        target = parse_payload(parse_envelope(envelope_media_type, envelope).payload)
    except NotationError as exc:
        raise TransparencyError(f"cannot read the signature to log it: {exc.message}") from None
    logged = LoggedSignature.for_blob(envelope, envelope_media_type, target)
    inclusion = submit_and_prove(client, logged, None, log_keys)
    try:
        path = write_proof_file(signature_path, inclusion.proof)
    except OSError as exc:
        raise TransparencyError(
            f"the signature is logged at index {inclusion.index} of {inclusion.origin}, "
            f"but its proof could not be written: {exc.strerror}"
        ) from None
    return Recorded(inclusion, str(path))


__all__ = ["Recorded", "record_artifact_signature", "record_blob_signature"]
