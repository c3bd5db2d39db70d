"""Log entries: verification before logging, strict submission parsing, canonical bytes."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from notation_py.envelope import MEDIA_TYPE_COSE, MEDIA_TYPE_JWS
from notation_py.envelope.algorithms import Algorithm
from notation_py.envelope.encoding import b64url_decode, b64url_encode
from notation_py.envelope.model import ExtendedAttribute, SigningScheme
from notation_py.envelope.payload import TargetArtifact, build_payload
from notation_py.x509.certs import thumbprint_sha256
from notation_py.x509.names import format_name
from tests.envelope.helpers import sign
from tests.pki import ca_chain, chain_signer, self_signed, self_signed_signer
from tlog.entry import (
    MAX_ENTRY_SIZE,
    MAX_SUBMISSION_SIZE,
    SUPPORTED_ALGORITHMS,
    Entry,
    SignerIdentity,
    Subject,
    Submission,
    build_entry,
    dedup_key,
    entry_bytes_for,
)
from tlog.errors import InvalidEntryError

DIGEST = "sha256:" + "ab" * 32  # what tests.envelope.helpers.PAYLOAD signs
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
REPOSITORY = "registry.example.com/team/app"
MANIFEST_DIGEST = "sha256:" + "cd" * 32


@cache
def jws_envelope() -> bytes:
    """A JWS envelope signed by a leaf under an intermediate and a root the log does not trust."""
    return sign(MEDIA_TYPE_JWS, chain_signer("ec-256"))


@cache
def cose_envelope() -> bytes:
    """A COSE envelope signed with a self-signed RSA certificate."""
    return sign(MEDIA_TYPE_COSE, self_signed_signer("rsa-2048"))


def body(**overrides: Any) -> dict[str, Any]:
    """A valid submission body (JWS); keyword arguments replace top-level fields (None removes one)."""
    doc: dict[str, Any] = {
        "subject": {"repository": REPOSITORY, "digest": DIGEST, "mediaType": MANIFEST_MEDIA_TYPE, "size": 1234},
        "envelopeMediaType": MEDIA_TYPE_JWS,
        "envelope": base64.b64encode(jws_envelope()).decode(),
        "signatureManifestDigest": MANIFEST_DIGEST,
    }
    for key, value in overrides.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def subject(**overrides: Any) -> dict[str, Any]:
    """A valid subject object with ``overrides`` applied (None removes a field)."""
    doc: dict[str, Any] = {"repository": REPOSITORY, "digest": DIGEST, "mediaType": MANIFEST_MEDIA_TYPE, "size": 1234}
    for key, value in overrides.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def refused(data: bytes | dict[str, Any]) -> str:
    """The InvalidEntryError message for a body (parsed, then built)."""
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    with pytest.raises(InvalidEntryError) as info:
        build_entry(Submission.from_json(raw))
    assert isinstance(info.value, ValueError)  # the HTTP layer maps ValueError-like refusals to 400
    return info.value.message


# --- valid envelopes ----------------------------------------------------------------------------


def test_jws_entry_records_the_signing_event() -> None:
    entry = build_entry(Submission.from_json(json.dumps(body()).encode()))
    root, inter, leaf = ca_chain("ec-256")
    doc = json.loads(entry.data)
    assert doc == {
        "kind": "notary-signature/v1",
        "subject": {"repository": REPOSITORY, "digest": DIGEST, "mediaType": MANIFEST_MEDIA_TYPE, "size": 1234},
        "envelopeMediaType": MEDIA_TYPE_JWS,
        "envelope": base64.b64encode(jws_envelope()).decode(),
        "signer": {
            "subject": format_name(leaf.certificate.subject),
            "issuer": format_name(inter.certificate.subject),
            "chain": [thumbprint_sha256(c.certificate) for c in (leaf, inter, root)],
        },
        "signingTime": "2026-01-02T03:04:05Z",
        "signatureManifestDigest": MANIFEST_DIGEST,
    }
    assert doc["signer"]["subject"].startswith("CN=team-signer,")
    assert entry.data == rfc8785.dumps(doc)
    assert entry.dedup_key == hashlib.sha256(jws_envelope()).digest() == dedup_key(jws_envelope())
    assert len(entry.data) <= MAX_ENTRY_SIZE


def test_cose_entry_fills_media_type_and_size_from_the_signed_payload() -> None:
    submission = Submission(Subject(REPOSITORY, DIGEST), MEDIA_TYPE_COSE, cose_envelope())
    entry = build_entry(submission)
    cert = self_signed("rsa-2048").certificate
    assert entry.subject == Subject(REPOSITORY, DIGEST, MANIFEST_MEDIA_TYPE, 1234)
    assert entry.signer == SignerIdentity(
        format_name(cert.subject), format_name(cert.issuer), (thumbprint_sha256(cert),)
    )
    assert entry.signature_manifest_digest is None
    assert "signatureManifestDigest" not in json.loads(entry.data)
    assert entry.signing_time == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_signing_authority_scheme_logs_the_authentic_signing_time() -> None:
    envelope = sign(MEDIA_TYPE_JWS, chain_signer("ec-256"), scheme=SigningScheme.X509_SIGNING_AUTHORITY)
    entry = build_entry(Submission(Subject(REPOSITORY, DIGEST), MEDIA_TYPE_JWS, envelope))
    assert json.loads(entry.data)["signingTime"] == "2026-01-02T03:04:05Z"


def test_every_spec_algorithm_is_supported() -> None:
    assert frozenset(Algorithm) == SUPPORTED_ALGORITHMS


# --- canonical bytes ------------------------------------------------------------------------------


def test_canonical_bytes_are_stable() -> None:
    """The exact bytes of a fixed entry: sorted keys, no whitespace, RFC 3339 UTC time (golden value)."""
    entry = Entry(
        subject=Subject("r.example/app", "sha256:" + "00" * 32, "application/vnd.oci.image.manifest.v1+json", 7),
        envelope_media_type=MEDIA_TYPE_COSE,
        envelope=b"\x00\x01\xfe\xff",
        signer=SignerIdentity("CN=Signer é,O=Example", "CN=CA", ("11" * 32,)),
        signing_time=datetime(2026, 3, 4, 5, 6, 7, 120000, tzinfo=UTC),
        signature_manifest_digest="sha256:" + "22" * 32,
    )
    expected = (
        '{"envelope":"AAH+/w==","envelopeMediaType":"application/cose","kind":"notary-signature/v1",'
        '"signatureManifestDigest":"sha256:' + "22" * 32 + '",'
        '"signer":{"chain":["' + "11" * 32 + '"],"issuer":"CN=CA","subject":"CN=Signer é,O=Example"},'
        '"signingTime":"2026-03-04T05:06:07.12Z",'
        '"subject":{"digest":"sha256:' + "00" * 32 + '","mediaType":"application/vnd.oci.image.manifest.v1+json",'
        '"repository":"r.example/app","size":7}}'
    ).encode()
    assert entry.data == expected


@pytest.mark.parametrize("media_type", [MEDIA_TYPE_JWS, MEDIA_TYPE_COSE])
def test_entry_bytes_can_be_recomputed_from_the_inputs_alone(media_type: str) -> None:
    envelope = jws_envelope() if media_type == MEDIA_TYPE_JWS else cose_envelope()
    full = Subject(REPOSITORY, DIGEST, MANIFEST_MEDIA_TYPE, 1234)
    entry = build_entry(Submission(full, media_type, envelope, MANIFEST_DIGEST))
    assert entry_bytes_for(full, media_type, envelope, MANIFEST_DIGEST) == entry.data
    # Leaving out the optional subject fields gives the same bytes: they come from the payload.
    assert entry_bytes_for(Subject(REPOSITORY, DIGEST), media_type, envelope, MANIFEST_DIGEST) == entry.data
    again = Entry.from_bytes(entry.data)
    assert again == entry
    assert again.data == entry.data


def test_submission_round_trips_through_json() -> None:
    submission = Submission.from_json(json.dumps(body()).encode())
    assert Submission.from_json(submission.to_json()) == submission
    assert submission.subject == Subject(REPOSITORY, DIGEST, MANIFEST_MEDIA_TYPE, 1234)
    assert submission.envelope == jws_envelope()


def test_entry_without_repository_for_layouts_and_blobs() -> None:
    """A layout or blob signature names no registry repository: the key is absent, not null or empty."""
    submission = Submission.from_json(json.dumps(body(subject=subject(repository=None))).encode())
    assert submission.subject.repository is None
    assert "repository" not in json.loads(submission.to_json())["subject"]
    entry = build_entry(submission)
    assert json.loads(entry.data)["subject"] == {"digest": DIGEST, "mediaType": MANIFEST_MEDIA_TYPE, "size": 1234}
    assert Entry.from_bytes(entry.data) == entry
    assert entry.to_record().repository is None
    assert entry.data != build_entry(Submission(Subject(REPOSITORY, DIGEST), MEDIA_TYPE_JWS, jws_envelope())).data
    with pytest.raises(InvalidEntryError, match=r"subject\.repository must be a non-empty string"):
        Submission.from_json(json.dumps(body(subject=subject(repository=""))).encode())


def test_stored_entry_must_be_canonical_and_consistent_with_its_envelope() -> None:
    entry = build_entry(Submission(Subject(REPOSITORY, DIGEST), MEDIA_TYPE_JWS, jws_envelope()))
    doc = json.loads(entry.data)
    with pytest.raises(InvalidEntryError, match="canonical"):
        Entry.from_bytes(json.dumps(doc, indent=1).encode())
    doc["signer"]["subject"] = "CN=somebody else"
    with pytest.raises(InvalidEntryError, match="canonical entry derived from its envelope"):
        Entry.from_bytes(rfc8785.dumps(doc))
    doc = json.loads(entry.data)
    doc["kind"] = "something/v2"
    with pytest.raises(InvalidEntryError, match="kind"):
        Entry.from_bytes(rfc8785.dumps(doc))


# --- refused envelopes ----------------------------------------------------------------------------


def _tamper_jws_signature(envelope: bytes) -> bytes:
    doc = json.loads(envelope)
    signature = bytearray(b64url_decode(doc["signature"]))
    signature[5] ^= 0x01
    doc["signature"] = b64url_encode(bytes(signature))
    return json.dumps(doc).encode()


def test_tampered_jws_envelope_is_refused() -> None:
    tampered = base64.b64encode(_tamper_jws_signature(jws_envelope())).decode()
    assert "signature envelope rejected" in refused(body(envelope=tampered))


def test_tampered_cose_envelope_is_refused() -> None:
    envelope = bytearray(cose_envelope())
    envelope[-3] ^= 0x01  # inside the signature, the last element of COSE_Sign1
    submission = Submission(Subject(REPOSITORY, DIGEST), MEDIA_TYPE_COSE, bytes(envelope))
    with pytest.raises(InvalidEntryError, match="signature envelope rejected"):
        build_entry(submission)


def test_envelope_of_the_wrong_format_is_refused() -> None:
    message = refused(body(envelopeMediaType=MEDIA_TYPE_COSE))
    assert "signature envelope rejected" in message


def test_wrong_subject_digest_is_refused() -> None:
    other = "sha256:" + "ef" * 32
    message = refused(body(subject=subject(digest=other)))
    assert f"the envelope signs {DIGEST}, not the subject digest {other}" in message


def test_wrong_subject_media_type_or_size_is_refused() -> None:
    assert "subject.mediaType" in refused(body(subject=subject(mediaType="application/vnd.oci.image.index.v1+json")))
    assert "subject.size 99 differs from the signed targetArtifact.size 1234" in refused(body(subject=subject(size=99)))


def test_payload_that_is_not_a_notary_payload_is_refused() -> None:
    payload = b'{"something":"else"}'
    envelope = sign(MEDIA_TYPE_JWS, chain_signer("ec-256"), payload=payload)
    with pytest.raises(InvalidEntryError, match="signature payload rejected"):
        build_entry(Submission(Subject(REPOSITORY, DIGEST), MEDIA_TYPE_JWS, envelope))


def test_payload_size_beyond_the_json_safe_range_is_refused() -> None:
    payload = build_payload(TargetArtifact(MANIFEST_MEDIA_TYPE, DIGEST, 2**60))
    envelope = sign(MEDIA_TYPE_JWS, chain_signer("ec-256"), payload=payload)
    with pytest.raises(InvalidEntryError, match="larger than 9007199254740991"):
        build_entry(Submission(Subject(REPOSITORY, DIGEST), MEDIA_TYPE_JWS, envelope))


def test_oversized_entry_is_refused() -> None:
    big = sign(MEDIA_TYPE_JWS, chain_signer("ec-256"), extended=(ExtendedAttribute("io.example.big", "x" * 40_000),))
    submission = Submission(Subject(REPOSITORY, DIGEST), MEDIA_TYPE_JWS, big)
    with pytest.raises(InvalidEntryError, match="larger than the 65535-byte entry limit"):
        build_entry(submission)
    assert "larger than the 73728-byte limit" in refused(submission.to_json())
    too_long = "QUFB" * 16_400  # 65,600 base64 characters: cannot fit in an entry, refused before decoding
    assert "65600 base64 characters; an entry holds at most 65535 bytes" in refused(body(envelope=too_long))


def test_oversized_body_is_refused_before_parsing() -> None:
    message = refused(b"{" + b" " * MAX_SUBMISSION_SIZE + b"}")
    assert f"larger than the {MAX_SUBMISSION_SIZE}-byte limit" in message


# --- malformed bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "not valid JSON"),
        (b"not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"subject": {}, "subject": {}}', 'duplicate key "subject"'),
        (b'{"envelope": NaN}', "not valid JSON"),
    ],
)
def test_malformed_json_is_refused(raw: bytes, reason: str) -> None:
    assert reason in refused(raw)


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        (body(extra=1), "submission: unknown field(s) 'extra'"),
        (body(envelope=None), "submission: missing required field(s) 'envelope'"),
        (body(subject=None, envelopeMediaType=None), "missing required field(s) 'envelopeMediaType', 'subject'"),
        (body(subject=subject(tag="v1")), "subject: unknown field(s) 'tag'"),
        (body(subject=subject(digest=None)), "subject: missing required field(s) 'digest'"),
        (body(subject=[]), "subject must be a JSON object"),
        (body(subject=subject(digest="sha256:ABAB")), "subject.digest: invalid digest"),
        (body(subject=subject(digest="md5:" + "ab" * 16)), "unsupported digest algorithm"),
        (body(subject=subject(digest=5)), "subject.digest must be a digest string"),
        (body(subject=subject(repository="registry.example.com/App")), "subject.repository"),
        (body(subject=subject(repository="registry.example.com/app:v1")), "without a tag or digest"),
        (body(subject=subject(repository="app")), "subject.repository"),
        (body(subject=subject(repository="")), "subject.repository must be a non-empty string"),
        (body(subject=subject(size=-1)), "subject.size must be an integer"),
        (body(subject=subject(size=True)), "subject.size must be an integer"),
        (body(subject=subject(size=1.5)), "subject.size must be an integer"),
        (body(subject=subject(size=2**53)), "subject.size must be an integer"),
        (body(subject=subject(mediaType="not a media type")), "subject.mediaType must be a media type"),
        (body(envelopeMediaType="application/json"), "envelopeMediaType 'application/json' is not supported"),
        (body(signatureManifestDigest="sha256:xyz"), "signatureManifestDigest: invalid digest"),
        (body(signatureManifestDigest=0), "signatureManifestDigest must be a digest string"),
        (body(envelope=""), "envelope must be a non-empty standard base64 string"),
        (body(envelope=7), "envelope must be a non-empty standard base64 string"),
        (body(envelope="QUJD RA=="), "not valid standard base64"),
        (body(envelope="QUJDRA"), "not valid standard base64"),
        (body(envelope="_-8="), "not valid standard base64"),
        (body(envelope="QUJDRB=="), "not canonical base64"),
        (body(envelope="é"), "not valid standard base64"),
        (body(envelope=base64.b64encode(b"not an envelope").decode()), "signature envelope rejected"),
    ],
)
def test_malformed_submission_is_refused(doc: dict[str, Any], reason: str) -> None:
    assert reason in refused(doc)


def test_null_manifest_digest_is_refused() -> None:
    raw = json.dumps(body()).replace(f'"{MANIFEST_DIGEST}"', "null").encode()
    assert "signatureManifestDigest must be a digest string" in refused(raw)


# Any text a certificate name, repository or media type may carry: control characters, quotes,
# backslashes, DEL, U+2028/9, non-BMP characters (but no lone surrogates: see the next test).
_TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    repository=_TEXT,
    media_type=_TEXT,
    size=st.integers(0, 2**53 - 1),
    signer_subject=_TEXT,
    signer_issuer=_TEXT,
    chain=st.lists(_TEXT, max_size=3),
    envelope=st.binary(max_size=64),
    manifest=st.none() | _TEXT,
    when=st.datetimes(timezones=st.just(UTC)),
)
def test_entry_bytes_are_exactly_rfc8785(
    repository: str,
    media_type: str,
    size: int,
    signer_subject: str,
    signer_issuer: str,
    chain: list[str],
    envelope: bytes,
    manifest: str | None,
    when: datetime,
) -> None:
    entry = Entry(
        subject=Subject(repository, DIGEST, media_type, size),
        envelope_media_type=MEDIA_TYPE_JWS,
        envelope=envelope,
        signer=SignerIdentity(signer_subject, signer_issuer, tuple(chain)),
        signing_time=when,
        signature_manifest_digest=manifest,
    )
    assert entry.data == rfc8785.dumps(entry.to_dict())


def test_lone_surrogates_are_refused_as_rfc8785_refuses_them() -> None:
    with pytest.raises(InvalidEntryError, match="cannot be canonicalised"):
        Entry(
            subject=Subject(REPOSITORY, DIGEST, "a/b", 1),
            envelope_media_type=MEDIA_TYPE_JWS,
            envelope=b"x",
            signer=SignerIdentity("CN=\ud800", "CN=CA", ()),
            signing_time=datetime(2026, 1, 1, tzinfo=UTC),
        )
