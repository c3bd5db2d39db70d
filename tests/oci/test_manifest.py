"""Manifest and index parsing; building and parsing signature manifests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notation_py.errors import ArtifactError, DigestError, UnsupportedEnvelopeError, UsageError
from notation_py.oci.descriptor import Descriptor
from notation_py.oci.digest import Digest
from notation_py.oci.manifest import (
    ANNOTATION_CREATED,
    ANNOTATION_THUMBPRINTS,
    MAX_MANIFEST_SIZE,
    MEDIA_TYPE_DOCKER_MANIFEST,
    MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_OCI_MANIFEST,
    ImageIndex,
    ImageManifest,
    SignatureManifest,
    go_json,
    parse_signature_manifest,
    referrer_descriptor,
    signature_annotations,
)
from tests.conformance import vector

ALPINE_MANIFEST = (
    "notation-go/oci-layout-alpine/layout/blobs/sha256/19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0"
)
ALPINE_DIGEST = "sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0"
EMPTY = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
JWS = b'{"payload":"x"}'
JWS_DIGEST = "sha256:9b55dedfe66889201c6ba23ae5bba7c873ccec239aa08825edcf451ec0fa4c21"
SUBJECT = Descriptor(MEDIA_TYPE_OCI_MANIFEST, Digest.parse(ALPINE_DIGEST), 481)
THUMBPRINTS = [
    "e38aea13c2c7f1f2b3ec5f7e9c3d1b1b5d4de3a3c3b6f0b2a9c3e1d0f7a843b9",
    "932e0f0a1f6b5b7c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c",
]
CREATED = datetime(2025, 1, 21, 9, 17, 46, tzinfo=UTC)


# --- image manifests and indexes --------------------------------------------------------------


def test_parses_the_alpine_manifest_vector() -> None:
    data = vector(ALPINE_MANIFEST).read_bytes()
    m = ImageManifest.from_bytes(data, MEDIA_TYPE_OCI_MANIFEST)
    assert m.raw == data
    assert m.media_type == MEDIA_TYPE_OCI_MANIFEST
    assert m.config.media_type == "application/vnd.oci.image.config.v1+json"
    assert [layer.size for layer in m.layers] == [3374446]
    assert m.subject is None and m.artifact_type is None
    assert m.referrer_artifact_type() == "application/vnd.oci.image.config.v1+json"


def _manifest(**changes: Any) -> bytes:
    obj: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": EMPTY, "size": 2},
        "layers": [],
    }
    for key, value in changes.items():
        if value is None:
            obj.pop(key, None)
        else:
            obj[key] = value
    return json.dumps(obj).encode()


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"\xff", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (b'{"schemaVersion": 2, "schemaVersion": 2}', 'duplicate key "schemaVersion"'),
        (b'{"schemaVersion": NaN}', "NaN is not allowed"),
        (_manifest(schemaVersion=1), "schemaVersion must be 2"),
        (_manifest(schemaVersion=None), "schemaVersion must be 2"),
        (_manifest(schemaVersion=True), "schemaVersion must be 2"),
        (_manifest(mediaType=MEDIA_TYPE_OCI_INDEX), "unexpected mediaType"),
        (_manifest(config=None), "missing config"),
        (_manifest(layers=None), "layers must be a list"),
        (_manifest(layers={}), "layers must be a list"),
        (_manifest(layers=[{"mediaType": "a/b", "digest": EMPTY}]), "layers[0]: missing size"),
        (_manifest(manifests=[]), "looks like an image index"),
        (_manifest(artifactType="x"), "invalid artifactType"),
        (_manifest(annotations={"a": 1}), "annotations must map strings to strings"),
        (_manifest(subject="sha256:x"), "subject: descriptor must be a JSON object"),
    ],
)
def test_bad_manifests_give_clear_errors(data: bytes, fragment: str) -> None:
    with pytest.raises(ArtifactError) as info:
        ImageManifest.from_bytes(data)
    assert fragment in info.value.message


def test_manifest_media_type_must_match_descriptor() -> None:
    with pytest.raises(ArtifactError, match="does not match the descriptor"):
        ImageManifest.from_bytes(_manifest(), MEDIA_TYPE_DOCKER_MANIFEST)
    # An OCI manifest may omit mediaType; the descriptor's is then used.
    assert ImageManifest.from_bytes(_manifest(mediaType=None), MEDIA_TYPE_OCI_MANIFEST).media_type == (
        MEDIA_TYPE_OCI_MANIFEST
    )


def test_index_parsing() -> None:
    data = json.dumps(
        {"schemaVersion": 2, "manifests": [{"mediaType": MEDIA_TYPE_OCI_MANIFEST, "digest": EMPTY, "size": 2}]}
    ).encode()
    index = ImageIndex.from_bytes(data, MEDIA_TYPE_OCI_INDEX)
    assert [str(d.digest) for d in index.manifests] == [EMPTY]
    with pytest.raises(ArtifactError, match="looks like an image manifest"):
        ImageIndex.from_bytes(_manifest(mediaType=None, manifests=[]))
    with pytest.raises(ArtifactError, match="manifests must be a list"):
        ImageIndex.from_bytes(b'{"schemaVersion":2}')


def test_referrer_descriptor_falls_back_to_config_media_type() -> None:
    legacy = _manifest(config={"mediaType": "application/vnd.cncf.notary.signature", "digest": EMPTY, "size": 2})
    desc = Descriptor.of(MEDIA_TYPE_OCI_MANIFEST, legacy)
    assert referrer_descriptor(desc, legacy).artifact_type == "application/vnd.cncf.notary.signature"


# --- the signature manifest ---------------------------------------------------------------------

# Written by hand from notation-go's output shape (oras-go PackManifest, Go struct field order,
# config without "data"): not generated by the code under test.
EXPECTED_SIGNATURE_MANIFEST = (
    b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
    b'"artifactType":"application/vnd.cncf.notary.signature",'
    b'"config":{"mediaType":"application/vnd.oci.empty.v1+json",'
    b'"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},'
    b'"layers":[{"mediaType":"application/jose+json",'
    b'"digest":"sha256:9b55dedfe66889201c6ba23ae5bba7c873ccec239aa08825edcf451ec0fa4c21","size":15}],'
    b'"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json",'
    b'"digest":"sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0","size":481},'
    b'"annotations":{"io.cncf.notary.x509chain.thumbprint#S256":'
    b'"[\\"e38aea13c2c7f1f2b3ec5f7e9c3d1b1b5d4de3a3c3b6f0b2a9c3e1d0f7a843b9\\",'
    b'\\"932e0f0a1f6b5b7c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c\\"]",'
    b'"org.opencontainers.image.created":"2025-01-21T09:17:46Z"}}'
)


def test_signature_manifest_exact_bytes() -> None:
    envelope = Descriptor.of("application/jose+json", JWS)
    # Extra descriptor fields of the subject are not recorded (notation-go pushes a plain descriptor).
    subject = Descriptor(SUBJECT.media_type, SUBJECT.digest, SUBJECT.size, annotations={"ref": "v2"})
    built = SignatureManifest.create(envelope, subject, THUMBPRINTS, CREATED).to_bytes()
    assert built == EXPECTED_SIGNATURE_MANIFEST


def test_created_is_written_in_utc_seconds() -> None:
    tz = timezone(timedelta(hours=8))
    local = datetime(2025, 1, 21, 17, 17, 46, 999999, tzinfo=tz)
    assert signature_annotations(THUMBPRINTS, local)[ANNOTATION_CREATED] == "2025-01-21T09:17:46Z"
    with pytest.raises(UsageError, match="timezone-aware"):
        signature_annotations(THUMBPRINTS, datetime(2025, 1, 1))


def test_reserved_annotations_cannot_be_overridden() -> None:
    extra = {ANNOTATION_CREATED: "1999-01-01T00:00:00Z", ANNOTATION_THUMBPRINTS: "[]", "io.plugin/x": "1"}
    annotations = signature_annotations(THUMBPRINTS, CREATED, extra)
    assert annotations[ANNOTATION_CREATED] == "2025-01-21T09:17:46Z"
    assert json.loads(annotations[ANNOTATION_THUMBPRINTS]) == THUMBPRINTS
    assert annotations["io.plugin/x"] == "1"
    assert list(annotations) == sorted(annotations)


@pytest.mark.parametrize(
    "thumbprints", [[], ["E38AEA13C2C7F1F2B3EC5F7E9C3D1B1B5D4DE3A3C3B6F0B2A9C3E1D0F7A843B9"], ["abc"], "a" * 64]
)
def test_bad_thumbprints(thumbprints: Any) -> None:
    with pytest.raises(UsageError):
        signature_annotations(thumbprints, CREATED)


def test_envelope_media_type_is_checked_when_building() -> None:
    with pytest.raises(UnsupportedEnvelopeError, match='media type "application/json" is not supported'):
        SignatureManifest.create(Descriptor.of("application/json", JWS), SUBJECT, THUMBPRINTS, CREATED)


def test_go_json_escapes_like_go() -> None:
    assert go_json({"a": "<&>\u2028\u2029é\n\x01"}) == b'{"a":"\\u003c\\u0026\\u003e\\u2028\\u2029\xc3\xa9\\n\\u0001"}'
    with pytest.raises(UsageError):
        go_json({"a": "\ud800"})


def test_parse_signature_manifest_current_form() -> None:
    envelope, subject, annotations = parse_signature_manifest(EXPECTED_SIGNATURE_MANIFEST)
    assert envelope == Descriptor("application/jose+json", Digest.parse(JWS_DIGEST), 15)
    assert subject == SUBJECT
    assert annotations[ANNOTATION_CREATED] == "2025-01-21T09:17:46Z"


def _signature(**changes: Any) -> bytes:
    obj = json.loads(EXPECTED_SIGNATURE_MANIFEST)
    for key, value in changes.items():
        if value is None:
            obj.pop(key, None)
        else:
            obj[key] = value
    return json.dumps(obj).encode()


LEGACY_CONFIG = {"mediaType": "application/vnd.cncf.notary.signature", "digest": EMPTY, "size": 2}


def test_parse_signature_manifest_legacy_form() -> None:
    data = _signature(artifactType=None, config=LEGACY_CONFIG, annotations=None)
    envelope, subject, annotations = parse_signature_manifest(data)
    assert str(envelope.digest) == JWS_DIGEST
    assert subject == SUBJECT
    assert dict(annotations) == {}


COSE_LAYER = {"mediaType": "application/cose", "digest": JWS_DIGEST, "size": 15}


@pytest.mark.parametrize(
    ("data", "error", "fragment"),
    [
        (_signature(artifactType="application/x.other"), ArtifactError, "not a Notary Project signature manifest"),
        (_signature(artifactType=None), ArtifactError, "not a Notary Project signature manifest"),
        (_signature(config=LEGACY_CONFIG), ArtifactError, "not a Notary Project signature manifest"),
        (_signature(layers=[]), ArtifactError, "requries exactly one signature envelope blob, got 0"),
        (
            _signature(layers=[COSE_LAYER, COSE_LAYER]),
            ArtifactError,
            "signature manifest requries exactly one signature envelope blob, got 2",
        ),
        (
            _signature(layers=[{**COSE_LAYER, "mediaType": "application/octet-stream"}]),
            UnsupportedEnvelopeError,
            'media type "application/octet-stream" is not supported',
        ),
        (_signature(subject=None), ArtifactError, "has no subject"),
        (_signature(schemaVersion=1), ArtifactError, "schemaVersion must be 2"),
        (_signature(mediaType=MEDIA_TYPE_DOCKER_MANIFEST), ArtifactError, "does not match the descriptor"),
        (_signature(layers=[{**COSE_LAYER, "digest": "sha256:1"}]), DigestError, "layers[0]"),
        (b" " * (MAX_MANIFEST_SIZE + 1), ArtifactError, "signature manifest too large"),
    ],
)
def test_bad_signature_manifests(data: bytes, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as info:
        parse_signature_manifest(data)
    assert fragment in str(info.value)


def test_signature_manifest_must_be_an_oci_image_manifest() -> None:
    with pytest.raises(ArtifactError, match="media type must be"):
        parse_signature_manifest(EXPECTED_SIGNATURE_MANIFEST, MEDIA_TYPE_OCI_INDEX)


_annotation_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]), max_size=16
)  # any Unicode but lone surrogates


@given(
    envelope=st.binary(max_size=64),
    cose=st.booleans(),
    thumbprints=st.lists(st.binary(min_size=32, max_size=32).map(bytes.hex), min_size=1, max_size=4),
    seconds=st.integers(min_value=0, max_value=4_000_000_000),
    extra=st.dictionaries(_annotation_text, _annotation_text, max_size=4),
)
def test_signature_manifest_build_parse_round_trip(
    envelope: bytes, cose: bool, thumbprints: list[str], seconds: int, extra: dict[str, str]
) -> None:
    media_type = "application/cose" if cose else "application/jose+json"
    created = datetime.fromtimestamp(seconds, UTC)
    built = SignatureManifest.create(Descriptor.of(media_type, envelope), SUBJECT, thumbprints, created, extra)
    data = built.to_bytes()
    # Go-compatible bytes are still plain JSON.
    assert json.loads(data)["artifactType"] == "application/vnd.cncf.notary.signature"
    parsed_envelope, subject, annotations = parse_signature_manifest(data)
    assert parsed_envelope == Descriptor.of(media_type, envelope)
    assert subject == SUBJECT
    assert dict(annotations) == dict(built.annotations)
    assert json.loads(annotations[ANNOTATION_THUMBPRINTS]) == thumbprints
    assert annotations[ANNOTATION_CREATED] == created.strftime("%Y-%m-%dT%H:%M:%SZ")
