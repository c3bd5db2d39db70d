"""What a verifier holds about a signature, and the log entry it recomputes from it.

A ``tlog`` entry is a pure function of the subject (repository, digest, media type, size), the
envelope media type, the envelope bytes and the signature manifest digest
(:func:`tlog.entry.entry_bytes_for`). A verifier holds all of these except the repository the
signer named when logging: :class:`LoggedSignature` carries them, and :meth:`LoggedSignature.leaf`
rebuilds the exact entry bytes for a given repository. Entry bytes shipped next to a proof are never
used: a proof is checked against the leaf recomputed here.

* OCI artifacts (registry or layout): the subject is the manifest being verified and
  ``signature_manifest_digest`` the digest of the signature manifest holding the envelope.
* Blobs: the subject is the blob descriptor the payload names; there is no signature manifest
  (``None``) and no repository.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from notation_py.envelope.payload import TargetArtifact
from notation_py.errors import TransparencyError
from notation_py.oci.descriptor import Descriptor
from tlog.entry import Subject, Submission, entry_bytes_for
from tlog.errors import InvalidEntryError


@dataclass(frozen=True)
class LoggedSignature:
    """The inputs of a log entry that a verifier holds itself.

    Attributes:
        envelope: The exact envelope bytes.
        envelope_media_type: ``application/jose+json`` or ``application/cose``.
        subject_digest: Digest of the artifact being verified (the payload must name it).
        subject_media_type: Media type of the artifact being verified.
        subject_size: Size in bytes of the artifact being verified.
        signature_manifest_digest: Digest of the signature manifest carrying the envelope, ``None``
            for blob signatures.
    """

    envelope: bytes = field(repr=False)
    envelope_media_type: str
    subject_digest: str
    subject_media_type: str
    subject_size: int
    signature_manifest_digest: str | None = None

    @classmethod
    def for_artifact(
        cls, envelope: bytes, envelope_media_type: str, subject: Descriptor, signature_manifest: Descriptor
    ) -> LoggedSignature:
        """An OCI signature: ``envelope`` in ``signature_manifest``, a referrer of the manifest ``subject``."""
        return cls(
            envelope,
            envelope_media_type,
            str(subject.digest),
            subject.media_type,
            subject.size,
            str(signature_manifest.digest),
        )

    @classmethod
    def for_blob(cls, envelope: bytes, envelope_media_type: str, target: TargetArtifact) -> LoggedSignature:
        """A blob signature: the subject is the payload's ``target`` (no signature manifest)."""
        return cls(envelope, envelope_media_type, target.digest, target.media_type, target.size, None)

    def subject(self, repository: str | None) -> Subject:
        """The entry subject with ``repository`` (``None`` for layouts and blobs)."""
        return Subject(repository, self.subject_digest, self.subject_media_type, self.subject_size)

    def leaf(self, repository: str | None) -> bytes:
        """The canonical entry bytes the log holds for this signature if it was logged with ``repository``.

        Raises:
            TransparencyError: the envelope cannot be decoded or does not sign this subject (digest,
                media type and size must be the payload's ``targetArtifact``).
        """
        try:
            return entry_bytes_for(
                self.subject(repository), self.envelope_media_type, self.envelope, self.signature_manifest_digest
            )
        except InvalidEntryError as exc:
            raise TransparencyError(
                f"cannot recompute the transparency log entry of this signature: {exc.message}"
            ) from None

    def submission(self, repository: str | None) -> Submission:
        """The body to ``POST`` to the log to record this signature under ``repository``."""
        return Submission(
            self.subject(repository), self.envelope_media_type, self.envelope, self.signature_manifest_digest
        )


__all__ = ["LoggedSignature"]
