"""Descriptor validation and serialisation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notation_py.errors import ArtifactError, DigestError
from notation_py.oci.descriptor import Descriptor
from notation_py.oci.digest import Digest, compute

EMPTY = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"


def test_of_describes_exact_bytes() -> None:
    d = Descriptor.of("application/vnd.oci.empty.v1+json", b"{}")
    assert str(d.digest) == EMPTY
    assert d.size == 2
    assert d.to_dict() == {"mediaType": "application/vnd.oci.empty.v1+json", "digest": EMPTY, "size": 2}


def test_to_dict_uses_go_field_order_and_sorted_annotations() -> None:
    d = Descriptor(
        "application/vnd.oci.image.manifest.v1+json",
        Digest.parse(EMPTY),
        2,
        annotations={"z": "1", "a": "2"},
        artifact_type="application/x.test",
        platform={"os": "linux", "architecture": "amd64"},
        urls=["https://example.com/x"],
        data=b"{}",
    )
    out = d.to_dict()
    assert list(out) == ["mediaType", "digest", "size", "urls", "annotations", "data", "platform", "artifactType"]
    assert list(out["annotations"]) == ["a", "z"]
    assert list(out["platform"]) == ["architecture", "os"]
    assert out["data"] == "e30="


def test_descriptor_is_immutable_and_hashable() -> None:
    source = {"k": "v"}
    d = Descriptor("application/x.a", Digest.parse(EMPTY), 2, annotations=source)
    source["k"] = "changed"
    assert d.annotations == {"k": "v"}
    with pytest.raises(TypeError):
        d.annotations["k"] = "x"  # type: ignore[index]
    assert hash(d) == hash(d.plain())
    assert d != d.plain()
    assert d.same_content(d.plain())


def test_empty_optionals_are_absent() -> None:
    d = Descriptor("application/x.a", Digest.parse(EMPTY), 2, annotations={}, urls=[], artifact_type=None)
    assert d.annotations is None and d.urls is None
    assert (
        Descriptor.from_dict({"mediaType": "a/b", "digest": EMPTY, "size": 2, "artifactType": ""}).artifact_type is None
    )


BASE: dict[str, Any] = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": EMPTY, "size": 2}


@pytest.mark.parametrize(
    ("changes", "error", "fragment"),
    [
        ({"mediaType": None}, ArtifactError, "missing mediaType"),
        ({"mediaType": "nonsense"}, ArtifactError, "invalid mediaType"),
        ({"mediaType": 7}, ArtifactError, "invalid mediaType"),
        ({"digest": None}, ArtifactError, "missing digest"),
        ({"digest": "sha256:abc"}, DigestError, "layers[0]: invalid digest"),
        ({"size": None}, ArtifactError, "missing size"),
        ({"size": "2"}, ArtifactError, "size must be an integer"),
        ({"size": True}, ArtifactError, "size must be an integer"),
        ({"size": 2.0}, ArtifactError, "size must be an integer"),
        ({"size": -1}, ArtifactError, "out of range"),
        ({"size": 2**63}, ArtifactError, "out of range"),
        ({"annotations": []}, ArtifactError, "annotations must be a JSON object"),
        ({"annotations": {"a": 1}}, ArtifactError, "must map a string to a string"),
        ({"artifactType": "bad"}, ArtifactError, "invalid artifactType"),
        ({"urls": "https://x"}, ArtifactError, "urls must be a list"),
        ({"platform": {"os": "linux"}}, ArtifactError, "platform.architecture"),
        ({"platform": {"os": "linux", "architecture": "amd64", "os.features": "x"}}, ArtifactError, "os.features"),
        ({"data": "e30"}, ArtifactError, "not valid base64"),
        ({"data": "W10="}, DigestError, "layers[0]: embedded data does not match"),
        ({"data": 5}, ArtifactError, "data must be a base64 string"),
    ],
)
def test_from_dict_rejects(changes: dict[str, Any], error: type[Exception], fragment: str) -> None:
    obj = dict(BASE)
    for key, value in changes.items():
        if value is None:
            del obj[key]
        else:
            obj[key] = value
    with pytest.raises(error) as info:
        Descriptor.from_dict(obj, "layers[0]")
    assert fragment in str(info.value)
    assert "layers[0]" in str(info.value)


def test_from_dict_rejects_non_object() -> None:
    with pytest.raises(ArtifactError, match="subject: descriptor must be a JSON object"):
        Descriptor.from_dict(["x"], "subject")


def test_from_dict_ignores_unknown_properties() -> None:
    assert Descriptor.from_dict({**BASE, "x-unknown": 1}) == Descriptor.from_dict(BASE)


_token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
_media_types = st.builds(lambda a, b: f"{a}/{b}", _token, _token)
_strings = st.text(max_size=20)


@st.composite
def descriptors(draw: st.DrawFn) -> Descriptor:
    data = draw(st.one_of(st.none(), st.binary(max_size=32)))
    content = data if data is not None else draw(st.binary(max_size=32))
    platform = draw(
        st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {"architecture": _strings, "os": _strings},
                optional={"variant": _strings, "os.version": _strings, "os.features": st.lists(_strings, max_size=3)},
            ),
        )
    )
    return Descriptor(
        draw(_media_types),
        compute(content, draw(st.sampled_from(["sha256", "sha384", "sha512"]))),
        len(content),
        annotations=draw(st.one_of(st.none(), st.dictionaries(_strings, _strings, max_size=4))),
        artifact_type=draw(st.one_of(st.none(), _media_types)),
        platform=platform,
        urls=draw(st.one_of(st.none(), st.lists(_strings, max_size=3))),
        data=data,
    )


@given(descriptors())
def test_to_dict_from_dict_round_trip(d: Descriptor) -> None:
    # Through real JSON text, as stored.
    again = Descriptor.from_dict(json.loads(json.dumps(d.to_dict())))
    assert again == d
    assert again.to_dict() == d.to_dict()
