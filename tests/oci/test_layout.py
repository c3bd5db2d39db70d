"""The OCI image layout store."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from notation_py.errors import ArtifactError, DigestError, LayoutError, NotFoundError, UsageError
from notation_py.oci.descriptor import Descriptor
from notation_py.oci.digest import Digest, compute
from notation_py.oci.layout import OCILayout
from notation_py.oci.manifest import (
    EMPTY_JSON,
    MAX_MANIFEST_SIZE,
    MEDIA_TYPE_EMPTY_JSON,
    MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_OCI_MANIFEST,
)
from notation_py.oci.store import ArtifactStore
from tests.conformance import vector
from tests.oci.conftest import ALPINE_DIGEST, ALPINE_LAYOUT

CONFIG_DIGEST = "sha256:572996c3caeacea40b947911a9dda21516c082b5a64af30048a02a6f5eb956d4"


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _index(root: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((root / "index.json").read_bytes())
    return result


# --- reading the conformance vector --------------------------------------------------------------


def test_alpine_vector_resolves_by_tag_and_digest() -> None:
    store = OCILayout(vector(ALPINE_LAYOUT))
    assert isinstance(store, ArtifactStore)
    expected = Descriptor(MEDIA_TYPE_OCI_MANIFEST, Digest.parse(ALPINE_DIGEST), 481)
    assert store.resolve("v2") == expected
    assert store.resolve(ALPINE_DIGEST) == expected
    manifest = store.fetch_manifest(expected)
    assert compute(manifest) == expected.digest
    config = Descriptor("application/vnd.oci.image.config.v1+json", Digest.parse(CONFIG_DIGEST), 1035)
    assert len(store.fetch_blob(config, 4096)) == 1035
    assert store.tags() == ["v2"]
    assert list(store.referrers(expected)) == []


@pytest.mark.parametrize(
    ("reference", "error"),
    [
        ("v3", NotFoundError),
        ("sha256:" + "0" * 64, NotFoundError),
        ("sha256:abc", NotFoundError),  # not a digest, so looked up as a tag
        ("", UsageError),
    ],
)
def test_resolve_unknown(reference: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        OCILayout(vector(ALPINE_LAYOUT)).resolve(reference)


def test_tampered_manifest_raises_digest_error(alpine_copy: Path) -> None:
    store = OCILayout(alpine_copy)
    desc = store.resolve("v2")
    path = store.blob_path(desc.digest)
    data = bytearray(path.read_bytes())
    data[10] ^= 0x01  # same size, different content
    path.write_bytes(bytes(data))
    with pytest.raises(DigestError) as info:
        store.fetch_manifest(desc)
    assert ALPINE_DIGEST in info.value.message
    assert str(compute(bytes(data))) in info.value.message


def test_truncated_or_extended_blob_raises_digest_error(alpine_copy: Path) -> None:
    store = OCILayout(alpine_copy)
    config = Descriptor("application/vnd.oci.image.config.v1+json", Digest.parse(CONFIG_DIGEST), 1035)
    path = store.blob_path(config.digest)
    path.write_bytes(path.read_bytes() + b"\n")
    with pytest.raises(DigestError, match="expected 1035 bytes, got 1036"):
        store.fetch_blob(config, 4096)


def test_fetch_limits_and_missing_content(alpine_copy: Path) -> None:
    store = OCILayout(alpine_copy)
    desc = store.resolve("v2")
    with pytest.raises(ArtifactError, match="not a manifest media type"):
        store.fetch_manifest(Descriptor("application/octet-stream", desc.digest, desc.size))
    with pytest.raises(ArtifactError, match="manifest too large"):
        store.fetch_manifest(Descriptor(desc.media_type, desc.digest, MAX_MANIFEST_SIZE + 1))
    with pytest.raises(ArtifactError, match="blob too large"):
        store.fetch_blob(desc, 100)
    layer = Descriptor("application/vnd.oci.image.layer.v1.tar+gzip", compute(b"missing"), 7)
    with pytest.raises(NotFoundError, match="not found in OCI layout"):
        store.fetch_blob(layer, 100)


# --- opening and creating ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "fragment"),
    [
        (lambda p: p.joinpath("oci-layout").unlink(), "missing oci-layout"),
        (
            lambda p: p.joinpath("oci-layout").write_text('{"imageLayoutVersion":"2.0.0"}'),
            "unsupported imageLayoutVersion",
        ),
        (lambda p: p.joinpath("oci-layout").write_text("{"), "not valid JSON"),
        (lambda p: p.joinpath("index.json").unlink(), "missing index.json"),
        (lambda p: p.joinpath("index.json").write_text('{"schemaVersion":2}'), "manifests must be a list"),
        (
            lambda p: p.joinpath("index.json").write_text('{"schemaVersion":2,"manifests":[],"manifests":[]}'),
            "duplicate key",
        ),
        (
            lambda p: p.joinpath("index.json").write_text(
                '{"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":"sha256:x","size":1}]}'
            ),
            "invalid digest",
        ),
    ],
)
def test_invalid_layouts(alpine_copy: Path, setup: Any, fragment: str) -> None:
    setup(alpine_copy)
    with pytest.raises(LayoutError) as info:
        OCILayout(alpine_copy)
    assert fragment in info.value.message


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(LayoutError, match="no such directory"):
        OCILayout(tmp_path / "nope")


def test_create_new_layout(tmp_path: Path) -> None:
    store = OCILayout.create(tmp_path / "new" / "layout")
    root = store.path
    assert (root / "oci-layout").read_bytes() == b'{"imageLayoutVersion":"1.0.0"}'
    assert (root / "index.json").read_bytes() == (
        b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'
    )
    assert (root / "blobs").is_dir()
    # Opening again (either name) keeps what is there.
    store.push_blob("application/octet-stream", b"x")
    assert OCILayout.init(root).path == root
    assert (root / "blobs/sha256" / compute(b"x").hex).read_bytes() == b"x"


# --- writing ------------------------------------------------------------------------------------


def _image(store: OCILayout, layer: bytes, **extra: Any) -> bytes:
    """Push a config and layer and return the bytes of a manifest over them."""
    config = store.push_blob(MEDIA_TYPE_EMPTY_JSON, EMPTY_JSON)
    layer_desc = store.push_blob("application/octet-stream", layer)
    obj = {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_OCI_MANIFEST,
        "config": config.to_dict(),
        "layers": [layer_desc.to_dict()],
        **extra,
    }
    return json.dumps(obj, indent=3).encode()  # deliberately not compact: stored as given


def test_push_manifest_stores_exact_bytes_and_tags(alpine_copy: Path) -> None:
    store = OCILayout(alpine_copy)
    first = _image(store, b"one", artifactType="application/x.demo", annotations={"k": "v"})
    desc = store.push_manifest(MEDIA_TYPE_OCI_MANIFEST, first, tag="v1")
    assert desc.digest == compute(first)
    assert desc.artifact_type == "application/x.demo"
    assert desc.annotations == {"k": "v"}
    assert store.blob_path(desc.digest).read_bytes() == first
    assert store.resolve("v1") == desc.plain()
    entry = _index(alpine_copy)["manifests"][-1]
    assert entry == {
        "mediaType": MEDIA_TYPE_OCI_MANIFEST,
        "digest": str(desc.digest),
        "size": len(first),
        "annotations": {"k": "v", "org.opencontainers.image.ref.name": "v1"},
        "artifactType": "application/x.demo",
    }
    assert list(entry) == ["mediaType", "digest", "size", "annotations", "artifactType"]

    # Moving the tag leaves the old manifest listed without it; pushing again adds nothing.
    second = _image(store, b"two")
    desc2 = store.push_manifest(MEDIA_TYPE_OCI_MANIFEST, second, tag="v1")
    store.push_manifest(MEDIA_TYPE_OCI_MANIFEST, second)
    assert store.resolve("v1") == desc2.plain()
    manifests = _index(alpine_copy)["manifests"]
    assert [m["digest"] for m in manifests] == [ALPINE_DIGEST, str(desc.digest), str(desc2.digest)]
    assert manifests[1]["annotations"] == {"k": "v"}
    assert store.resolve(str(desc.digest)) == desc.plain()
    assert store.tags() == ["v1", "v2"]
    # The vector's own entry kept every property.
    assert manifests[0]["platform"] == {"architecture": "amd64", "os": "linux"}


def test_push_manifest_rejects_bad_input(alpine_copy: Path) -> None:
    store = OCILayout(alpine_copy)
    good = _image(store, b"x")
    with pytest.raises(UsageError, match="invalid tag"):
        store.push_manifest(MEDIA_TYPE_OCI_MANIFEST, good, tag="bad/tag")
    with pytest.raises(ArtifactError, match="unsupported manifest media type"):
        store.push_manifest("application/json", good)
    with pytest.raises(ArtifactError, match="manifest too large"):
        store.push_manifest(MEDIA_TYPE_OCI_MANIFEST, b" " * (MAX_MANIFEST_SIZE + 1))
    orphan = json.dumps(
        {
            "schemaVersion": 2,
            "config": {"mediaType": MEDIA_TYPE_EMPTY_JSON, "digest": str(compute(EMPTY_JSON)), "size": 2},
            "layers": [{"mediaType": "application/octet-stream", "digest": str(compute(b"nope")), "size": 4}],
        }
    ).encode()
    with pytest.raises(ArtifactError, match="not in the layout; push it first"):
        store.push_manifest(MEDIA_TYPE_OCI_MANIFEST, orphan)
    assert _index(alpine_copy)["manifests"][-1]["digest"] == ALPINE_DIGEST


def test_push_blob_rewrites_a_corrupt_copy(alpine_copy: Path) -> None:
    store = OCILayout(alpine_copy)
    desc = store.push_blob("application/octet-stream", b"payload")
    store.blob_path(desc.digest).write_bytes(b"garbage")
    store.push_blob("application/octet-stream", b"payload")
    assert store.fetch_blob(desc, 100) == b"payload"


def test_writes_leave_no_temporary_files(alpine_copy: Path) -> None:
    store = OCILayout(alpine_copy)
    before = _files(alpine_copy)
    desc = store.push_manifest(MEDIA_TYPE_OCI_MANIFEST, _image(store, b"layer"), tag="t")
    added = _files(alpine_copy) - before
    assert added == {f"blobs/sha256/{d.hex}" for d in (compute(EMPTY_JSON), compute(b"layer"), desc.digest)}
    assert not any(name.endswith(".tmp") or "/." in name for name in _files(alpine_copy))


@pytest.mark.parametrize("failing", ["index.json", "blob"])
def test_failed_write_changes_nothing(alpine_copy: Path, monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    store = OCILayout(alpine_copy)
    manifest = _image(store, b"layer")
    manifest_blob = f"blobs/sha256/{compute(manifest).hex}"
    index_before = (alpine_copy / "index.json").read_bytes()
    files_before = _files(alpine_copy)
    real_replace = os.replace

    def failing_replace(src: str, dst: str) -> None:
        if (failing == "index.json") == str(dst).endswith("index.json"):
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(LayoutError, match="disk full"):
        store.push_manifest(MEDIA_TYPE_OCI_MANIFEST, manifest, tag="t")
    # index.json is untouched and no temporary file remains; only a complete blob may have landed.
    assert (alpine_copy / "index.json").read_bytes() == index_before
    expected = files_before | {manifest_blob} if failing == "index.json" else files_before
    assert _files(alpine_copy) == expected
    if failing == "index.json":
        assert (alpine_copy / manifest_blob).read_bytes() == manifest


def test_concurrent_pushes_keep_every_entry(alpine_copy: Path) -> None:
    store = OCILayout(alpine_copy)
    manifests = [_image(store, f"layer {i}".encode()) for i in range(12)]
    errors: list[BaseException] = []

    def push(data: bytes) -> None:
        try:
            OCILayout(alpine_copy).push_manifest(MEDIA_TYPE_OCI_MANIFEST, data)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=push, args=(m,)) for m in manifests]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    listed = {m["digest"] for m in _index(alpine_copy)["manifests"]}
    assert {str(compute(m)) for m in manifests} <= listed


# --- resolving and referrers beyond index.json -------------------------------------------------------


def _referrer(store: OCILayout, subject: Descriptor, artifact_type: str) -> bytes:
    return _image(store, artifact_type.encode(), artifactType=artifact_type, subject=subject.to_dict())


def test_referrers_below_a_listed_index(alpine_copy: Path) -> None:
    store = OCILayout(alpine_copy)
    subject = store.resolve("v2")
    sbom = _referrer(store, subject, "application/spdx+json")
    sbom_desc = Descriptor.of(MEDIA_TYPE_OCI_MANIFEST, sbom)
    store.blob_path(sbom_desc.digest).write_bytes(sbom)  # a blob only, not listed in index.json
    # A referrers-tag-schema style index lists it; only the index is in index.json.
    index = json.dumps(
        {"schemaVersion": 2, "mediaType": MEDIA_TYPE_OCI_INDEX, "manifests": [sbom_desc.to_dict()]}
    ).encode()
    store.push_manifest(MEDIA_TYPE_OCI_INDEX, index, tag=f"sha256-{subject.digest.hex}")

    found = list(store.referrers(subject))
    assert [d.digest for d in found] == [sbom_desc.digest]
    assert found[0].artifact_type == "application/spdx+json"
    assert list(store.referrers(subject, "application/spdx+json")) == found
    assert list(store.referrers(subject, "application/other")) == []
    # A child of a listed index resolves by digest with the index's media type.
    assert store.resolve(str(sbom_desc.digest)) == sbom_desc


def test_resolve_digest_of_unlisted_manifest_blob(alpine_copy: Path) -> None:
    store = OCILayout(alpine_copy)
    manifest = _image(store, b"unlisted")
    path = store.blob_path(compute(manifest))
    path.write_bytes(manifest)
    assert store.resolve(str(compute(manifest))) == Descriptor.of(MEDIA_TYPE_OCI_MANIFEST, manifest)
    # A blob that does not say what it is does not resolve.
    with pytest.raises(NotFoundError, match="has no mediaType"):
        store.resolve(CONFIG_DIGEST)
    raw = manifest.replace(b'"mediaType": "application/vnd.oci.image.manifest.v1+json",', b"")
    store.blob_path(compute(raw)).write_bytes(raw)
    with pytest.raises(NotFoundError, match="has no mediaType"):
        store.resolve(str(compute(raw)))


def test_ambiguous_tag(alpine_copy: Path) -> None:
    index = _index(alpine_copy)
    other = dict(index["manifests"][0], digest=str(compute(b"x")), size=1)
    index["manifests"].append(other)
    (alpine_copy / "index.json").write_text(json.dumps(index))
    with pytest.raises(LayoutError, match="names several manifests"):
        OCILayout(alpine_copy).resolve("v2")


def test_referrers_fail_closed_on_tampered_manifest(alpine_copy: Path) -> None:
    store = OCILayout(alpine_copy)
    path = store.blob_path(Digest.parse(ALPINE_DIGEST))
    path.write_bytes(path.read_bytes().replace(b"gzip", b"zstd"))
    with pytest.raises(DigestError):
        list(store.referrers(Descriptor(MEDIA_TYPE_OCI_MANIFEST, Digest.parse(ALPINE_DIGEST), 481)))


def test_blob_paths_use_algorithm_directories(alpine_copy: Path) -> None:
    store = OCILayout(alpine_copy)
    digest = compute(b"x", "sha512")
    assert store.blob_path(digest) == alpine_copy / "blobs" / "sha512" / digest.hex
    assert os.path.isdir(alpine_copy / "blobs" / "sha256")
