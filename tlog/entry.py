"""Log entries: one Notary Project signing event as RFC 8785 canonical JSON.

A client submits a signature envelope together with the artifact it signs (the POST body parsed by
:meth:`Submission.from_json`). :func:`build_entry` verifies the envelope before anything is logged
and derives an :class:`Entry`, whose canonical bytes (:attr:`Entry.data`) are the log leaf: they are
what gets RFC 6962 leaf-hashed and served in entry bundles, so they are capped at 65,535 bytes.

The entry is a pure function of ``(subject, envelope media type, envelope, signature manifest
digest)``: everything else (signer identity, certificate thumbprints, signing time, the subject's
media type and size) is read from the envelope. :func:`entry_bytes_for` recomputes the bytes from
those four inputs alone, so a verifier holding an envelope can rebuild the leaf and check its
inclusion. The schema is documented in ``docs/tlog-entries.md``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import rfc8785

from notation_py.envelope import ENVELOPE_MEDIA_TYPES, EnvelopeContent, parse_envelope, verify_envelope
from notation_py.envelope.algorithms import Algorithm
from notation_py.envelope.payload import TargetArtifact, parse_payload
from notation_py.errors import NotationError, UsageError
from notation_py.jsonutil import JSONFormatError, strict_loads
from notation_py.oci.descriptor import is_media_type
from notation_py.oci.digest import Digest
from notation_py.oci.reference import RegistryReference
from notation_py.x509.certs import thumbprint_sha256
from notation_py.x509.names import format_name
from tlog.errors import InvalidEntryError
from tlog.storage.base import NewEntry

__all__ = [
    "ENTRY_KIND",
    "MAX_ENTRY_SIZE",
    "MAX_SUBMISSION_SIZE",
    "SUPPORTED_ALGORITHMS",
    "Entry",
    "SignerIdentity",
    "Subject",
    "Submission",
    "build_entry",
    "dedup_key",
    "entry_bytes_for",
]

#: The ``kind`` of every entry this module produces.
ENTRY_KIND: Final = "notary-signature/v1"
#: Largest entry: entry bundles length-prefix entries with a uint16 (C2SP tlog-tiles).
MAX_ENTRY_SIZE: Final = 65_535
#: Largest accepted POST body. The base64 envelope alone must fit in an entry, so anything much
#: larger than an entry can never be logged and is refused before it is parsed.
MAX_SUBMISSION_SIZE: Final = 72 * 1024
#: Largest integer ``size`` RFC 8785 can represent exactly (IEEE-754 double safe integers).
MAX_SAFE_INTEGER: Final = 2**53 - 1
#: Signature algorithms accepted in logged envelopes: the six of the Notary Project specification.
SUPPORTED_ALGORITHMS: Final = frozenset(Algorithm)
#: Longest media type string accepted in a subject.
_MAX_MEDIA_TYPE_LENGTH: Final = 255

_SUBMISSION_FIELDS: Final = frozenset({"subject", "envelopeMediaType", "envelope", "signatureManifestDigest"})
_SUBMISSION_REQUIRED: Final = frozenset({"subject", "envelopeMediaType", "envelope"})
_SUBJECT_FIELDS: Final = frozenset({"repository", "digest", "mediaType", "size"})
_SUBJECT_REQUIRED: Final = frozenset({"digest"})
_ENTRY_FIELDS: Final = frozenset(
    {"kind", "subject", "envelopeMediaType", "envelope", "signer", "signingTime", "signatureManifestDigest"}
)


# --- field validation ----------------------------------------------------------------------------


def _check_fields(obj: Mapping[str, Any], allowed: frozenset[str], required: frozenset[str], where: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise InvalidEntryError(f"{where}: unknown field(s) {', '.join(repr(k) for k in unknown)}")
    missing = sorted(required - set(obj))
    if missing:
        raise InvalidEntryError(f"{where}: missing required field(s) {', '.join(repr(k) for k in missing)}")


def _check_digest(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidEntryError(f"{where} must be a digest string such as 'sha256:<64 hex>'")
    try:
        return str(Digest.parse(value))
    except NotationError as exc:
        raise InvalidEntryError(f"{where}: {exc.message}") from None


def _check_repository(value: object) -> str:
    """``registry/repository`` without tag or digest, as trust policy ``registryScopes`` name it."""
    if not isinstance(value, str) or not value:
        raise InvalidEntryError("subject.repository must be a non-empty string such as 'registry.example.com/app'")
    try:
        ref = RegistryReference.parse(value)
    except UsageError as exc:
        raise InvalidEntryError(f"subject.repository: {exc.message}") from None
    if ref.tag is not None or ref.digest is not None or ref.repository_path != value:
        raise InvalidEntryError(
            f"subject.repository {value!r} must be 'registry/repository' without a tag or digest "
            "(the digest goes in subject.digest)"
        )
    return value


def _check_media_type(value: object, where: str) -> str:
    if not isinstance(value, str) or len(value) > _MAX_MEDIA_TYPE_LENGTH or not is_media_type(value):
        raise InvalidEntryError(f"{where} must be a media type such as 'application/vnd.oci.image.manifest.v1+json'")
    return value


def _check_size(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SAFE_INTEGER:
        raise InvalidEntryError(f"{where} must be an integer between 0 and {MAX_SAFE_INTEGER}")
    return value


def _decode_base64(value: object, where: str) -> bytes:
    """Strict standard base64 with padding: no whitespace, no URL alphabet, canonical final bits."""
    if not isinstance(value, str) or not value:
        raise InvalidEntryError(f"{where} must be a non-empty standard base64 string")
    if len(value) > MAX_ENTRY_SIZE:
        raise InvalidEntryError(
            f"{where} is {len(value)} base64 characters; an entry holds at most {MAX_ENTRY_SIZE} bytes"
        )
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise InvalidEntryError(f"{where} is not valid standard base64 (RFC 4648 §4, with padding)") from None
    if base64.b64encode(raw).decode("ascii") != value:
        raise InvalidEntryError(f"{where} is not canonical base64 (non-zero padding bits)")
    return raw


# --- value types ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """The signed artifact: where it lives and what it is.

    Attributes:
        repository: ``registry/repository`` the signature was pushed to (not covered by the signature),
            or ``None`` for an artifact outside a registry (an OCI layout, a blob).
        digest: The artifact (manifest) digest the envelope's payload names.
        media_type: The artifact media type, or ``None`` in a submission that leaves it out.
        size: The artifact size in bytes, or ``None`` in a submission that leaves it out.
    """

    repository: str | None
    digest: str
    media_type: str | None = None
    size: int | None = None

    @classmethod
    def from_dict(cls, obj: object, where: str = "subject") -> Subject:
        """Parse and validate a ``subject`` object; unknown fields are refused.

        Raises:
            InvalidEntryError: a field is missing, unknown or malformed.
        """
        if not isinstance(obj, dict):
            raise InvalidEntryError(f"{where} must be a JSON object")
        _check_fields(obj, _SUBJECT_FIELDS, _SUBJECT_REQUIRED, where)
        return cls(
            repository=_check_repository(obj["repository"]) if "repository" in obj else None,
            digest=_check_digest(obj["digest"], f"{where}.digest"),
            media_type=_check_media_type(obj["mediaType"], f"{where}.mediaType") if "mediaType" in obj else None,
            size=_check_size(obj["size"], f"{where}.size") if "size" in obj else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object; absent optional fields are omitted."""
        out: dict[str, Any] = {"digest": self.digest}
        if self.repository is not None:
            out["repository"] = self.repository
        if self.media_type is not None:
            out["mediaType"] = self.media_type
        if self.size is not None:
            out["size"] = self.size
        return out


@dataclass(frozen=True)
class SignerIdentity:
    """Who signed, as read from the envelope's certificate chain.

    Attributes:
        subject: The leaf certificate subject rendered like Go's ``pkix.Name.String()``.
        issuer: The leaf certificate issuer, same rendering.
        chain: SHA-256 thumbprints (lowercase hex) of the whole chain, leaf first.
    """

    subject: str
    issuer: str
    chain: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object."""
        return {"subject": self.subject, "issuer": self.issuer, "chain": list(self.chain)}


@dataclass(frozen=True)
class Submission:
    """A request to log a signature: the body of ``POST`` to the log's add-entry endpoint.

    Attributes:
        subject: The artifact the envelope signs; ``media_type``/``size`` are optional.
        envelope_media_type: ``application/jose+json`` or ``application/cose``.
        envelope: The exact envelope bytes.
        signature_manifest_digest: Digest of the OCI signature manifest carrying the envelope, if known.
    """

    subject: Subject
    envelope_media_type: str
    envelope: bytes = field(repr=False)
    signature_manifest_digest: str | None = None

    @classmethod
    def from_json(cls, data: bytes) -> Submission:
        """Parse and strictly validate a JSON submission body.

        The body is ``{"subject": {"repository", "digest", ["mediaType"], ["size"]},
        "envelopeMediaType", "envelope": <standard base64>, ["signatureManifestDigest"]}``;
        unknown fields, duplicate keys, ``null`` values and non-canonical base64 are refused.

        Raises:
            InvalidEntryError: the body is too large, not JSON, or not of that shape; the message says why.
        """
        if len(data) > MAX_SUBMISSION_SIZE:
            raise InvalidEntryError(
                f"submission is {len(data)} bytes, larger than the {MAX_SUBMISSION_SIZE}-byte limit"
            )
        try:
            doc = strict_loads(data)
        except JSONFormatError as exc:
            raise InvalidEntryError(f"submission is not valid JSON: {exc.message}") from None
        if not isinstance(doc, dict):
            raise InvalidEntryError("submission must be a JSON object")
        _check_fields(doc, _SUBMISSION_FIELDS, _SUBMISSION_REQUIRED, "submission")
        media_type = doc["envelopeMediaType"]
        if media_type not in ENVELOPE_MEDIA_TYPES:
            raise InvalidEntryError(
                f"envelopeMediaType {media_type!r} is not supported (supported: {', '.join(ENVELOPE_MEDIA_TYPES)})"
            )
        manifest_digest = doc.get("signatureManifestDigest")
        return cls(
            subject=Subject.from_dict(doc["subject"]),
            envelope_media_type=media_type,
            envelope=_decode_base64(doc["envelope"], "envelope"),
            signature_manifest_digest=(
                _check_digest(manifest_digest, "signatureManifestDigest") if "signatureManifestDigest" in doc else None
            ),
        )

    def to_json(self) -> bytes:
        """The submission body (canonical JSON), as a client would send it."""
        doc: dict[str, Any] = {
            "subject": self.subject.to_dict(),
            "envelopeMediaType": self.envelope_media_type,
            "envelope": base64.b64encode(self.envelope).decode("ascii"),
        }
        if self.signature_manifest_digest is not None:
            doc["signatureManifestDigest"] = self.signature_manifest_digest
        return rfc8785.dumps(doc)


@dataclass(frozen=True)
class Entry:
    """A verified signing event, ready to be logged.

    Construct it with :func:`build_entry` (verifies) or :meth:`from_bytes` (re-derives a stored entry);
    ``data`` is computed from the other fields.

    Attributes:
        subject: The artifact, with ``media_type`` and ``size`` always set (from the signed payload).
        envelope_media_type: The envelope format.
        envelope: The exact envelope bytes.
        signer: The signer identity read from the certificate chain.
        signing_time: The (authentic) signing time from the signed attributes, in UTC.
        signature_manifest_digest: Digest of the signature manifest, if submitted.
        data: The canonical JSON bytes: the log leaf.
    """

    subject: Subject
    envelope_media_type: str
    envelope: bytes = field(repr=False)
    signer: SignerIdentity
    signing_time: datetime
    signature_manifest_digest: str | None = None
    data: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", _canonical(self))

    @functools.cached_property
    def dedup_key(self) -> bytes:
        """SHA-256 of the envelope bytes: resubmitting an envelope returns its existing index."""
        return dedup_key(self.envelope)

    def to_record(self) -> NewEntry:
        """What the log stores and indexes for this entry (small and picklable, unlike the entry)."""
        return NewEntry(
            data=self.data,
            dedup_key=self.dedup_key,
            subject_digest=self.subject.digest,
            signer_subject=self.signer.subject,
            repository=self.subject.repository,
        )

    def to_dict(self) -> dict[str, Any]:
        """The entry as a JSON-ready dictionary (see ``docs/tlog-entries.md``)."""
        doc: dict[str, Any] = {
            "kind": ENTRY_KIND,
            "subject": self.subject.to_dict(),
            "envelopeMediaType": self.envelope_media_type,
            "envelope": base64.b64encode(self.envelope).decode("ascii"),
            "signer": self.signer.to_dict(),
            "signingTime": _format_time(self.signing_time),
        }
        if self.signature_manifest_digest is not None:
            doc["signatureManifestDigest"] = self.signature_manifest_digest
        return doc

    @classmethod
    def from_bytes(cls, data: bytes) -> Entry:
        """Parse logged entry bytes and check they are exactly what :func:`entry_bytes_for` derives.

        The envelope is decoded (not verified): the derived fields must match it and the bytes must
        be canonical, so an entry that parses is one this log could have written.

        Raises:
            InvalidEntryError: malformed, not canonical, or inconsistent with its envelope.
        """
        try:
            doc = strict_loads(data)
        except JSONFormatError as exc:
            raise InvalidEntryError(f"entry is not valid JSON: {exc.message}") from None
        if not isinstance(doc, dict):
            raise InvalidEntryError("entry must be a JSON object")
        _check_fields(doc, _ENTRY_FIELDS, _ENTRY_FIELDS - {"signatureManifestDigest"}, "entry")
        if doc["kind"] != ENTRY_KIND:
            raise InvalidEntryError(f"entry kind {doc['kind']!r} is not {ENTRY_KIND!r}")
        media_type = doc["envelopeMediaType"]
        if media_type not in ENVELOPE_MEDIA_TYPES:
            raise InvalidEntryError(f"entry envelopeMediaType {media_type!r} is not supported")
        envelope = _decode_base64(doc["envelope"], "entry envelope")
        manifest_digest = doc.get("signatureManifestDigest")
        if manifest_digest is not None:
            manifest_digest = _check_digest(manifest_digest, "entry signatureManifestDigest")
        subject = Subject.from_dict(doc["subject"], "entry subject")
        entry = _derive(subject, media_type, envelope, manifest_digest, verify=False)
        if entry.data != bytes(data):
            raise InvalidEntryError("entry bytes are not the canonical entry derived from its envelope")
        return entry


# --- building entries ----------------------------------------------------------------------------


def dedup_key(envelope: bytes) -> bytes:
    """The deduplication key of an envelope: its SHA-256 (32 bytes)."""
    return hashlib.sha256(envelope).digest()


def build_entry(submission: Submission) -> Entry:
    """Verify a submission and return the entry to log.

    Checks, in order: the envelope verifies (integrity, algorithm/key match, payload content type and
    the Notary Project certificate-chain rules — the signer's CA is *not* required to be trusted by
    the log), its algorithm is supported, the payload's ``targetArtifact`` names the subject digest
    (and its media type and size when the submission gives them), and the entry fits in 65,535 bytes.

    Raises:
        InvalidEntryError: any check fails; the message says which and why.
    """
    return _derive(
        submission.subject,
        submission.envelope_media_type,
        submission.envelope,
        submission.signature_manifest_digest,
        verify=True,
    )


def entry_bytes_for(
    subject: Subject,
    envelope_media_type: str,
    envelope: bytes,
    signature_manifest_digest: str | None = None,
) -> bytes:
    """The canonical entry bytes for these inputs, without verifying the signature.

    Deterministic: the same inputs always give the same bytes, and they equal
    ``build_entry(Submission(...)).data`` whenever the submission is accepted. Verifiers use this to
    recompute the leaf of an envelope they hold.

    Raises:
        InvalidEntryError: the envelope cannot be decoded or does not match the subject.
    """
    return _derive(subject, envelope_media_type, envelope, signature_manifest_digest, verify=False).data


def _derive(
    subject: Subject,
    envelope_media_type: str,
    envelope: bytes,
    signature_manifest_digest: str | None,
    *,
    verify: bool,
) -> Entry:
    if envelope_media_type not in ENVELOPE_MEDIA_TYPES:
        raise InvalidEntryError(f"envelope media type {envelope_media_type!r} is not supported")
    try:
        content = (verify_envelope if verify else parse_envelope)(envelope_media_type, envelope)
    except NotationError as exc:
        raise InvalidEntryError(f"signature envelope rejected: {exc.message}") from None
    if content.algorithm not in SUPPORTED_ALGORITHMS:
        raise InvalidEntryError(f"signature algorithm {content.algorithm.name} is not supported")
    target = _target(content)
    if target.digest != subject.digest:
        raise InvalidEntryError(
            f"the envelope signs {target.digest}, not the subject digest {subject.digest} "
            "(payload targetArtifact.digest differs)"
        )
    if subject.media_type is not None and subject.media_type != target.media_type:
        raise InvalidEntryError(
            f"subject.mediaType {subject.media_type!r} differs from the signed targetArtifact.mediaType "
            f"{target.media_type!r}"
        )
    if subject.size is not None and subject.size != target.size:
        raise InvalidEntryError(
            f"subject.size {subject.size} differs from the signed targetArtifact.size {target.size}"
        )
    if target.size > MAX_SAFE_INTEGER:
        raise InvalidEntryError(f"targetArtifact.size {target.size} is larger than {MAX_SAFE_INTEGER}")
    signing_time = content.signed.time
    if signing_time is None:
        raise InvalidEntryError("the envelope has no signing time")
    leaf = content.leaf
    entry = Entry(
        subject=Subject(subject.repository, subject.digest, target.media_type, target.size),
        envelope_media_type=envelope_media_type,
        envelope=bytes(envelope),
        signer=SignerIdentity(
            subject=format_name(leaf.subject),
            issuer=format_name(leaf.issuer),
            chain=tuple(thumbprint_sha256(cert) for cert in content.unsigned.certificate_chain),
        ),
        signing_time=signing_time.astimezone(UTC),
        signature_manifest_digest=signature_manifest_digest,
    )
    if len(entry.data) > MAX_ENTRY_SIZE:
        raise InvalidEntryError(
            f"entry is {len(entry.data)} bytes, larger than the {MAX_ENTRY_SIZE}-byte entry limit "
            "(the envelope is too large to log)"
        )
    return entry


def _target(content: EnvelopeContent) -> TargetArtifact:
    try:
        return parse_payload(content.payload)
    except NotationError as exc:
        raise InvalidEntryError(f"signature payload rejected: {exc.message}") from None


def _format_time(value: datetime) -> str:
    """RFC 3339 in UTC with ``Z``; fractional seconds only when present, without trailing zeros."""
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def _canonical(entry: Entry) -> bytes:
    """RFC 8785 bytes of the entry.

    For the entry's shape (objects with ASCII keys, strings, integers below 2^53, lists of strings)
    the standard library's sorted, compact, non-ASCII-preserving encoding is byte-for-byte RFC 8785:
    the same escapes (the short forms and lowercase ``\\u00xx`` for other control characters, nothing
    else), keys in the same order, the same integer digits. It is several times faster than the
    ``rfc8785`` package, which stays the reference (a property test compares the two) and handles
    what the shortcut cannot encode (lone surrogates: it refuses them).
    """
    doc = entry.to_dict()
    try:
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        pass
    try:
        return rfc8785.dumps(doc)
    except rfc8785.CanonicalizationError as exc:
        raise InvalidEntryError(f"entry cannot be canonicalised: {exc}") from None
