"""Registry and OCI layout reference parsing."""

from __future__ import annotations

import pytest

from notation_py.errors import UsageError
from notation_py.oci.digest import Digest
from notation_py.oci.reference import LayoutReference, RegistryReference

D = "sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0"


@pytest.mark.parametrize(
    ("raw", "registry", "repository", "tag", "digest", "canonical"),
    [
        ("localhost:5000/net-monitor:v1", "localhost:5000", "net-monitor", "v1", None, None),
        ("localhost:5000/x", "localhost:5000", "x", None, None, None),
        (
            f"registry.acme-rockets.io/software/net-monitor@{D}",
            "registry.acme-rockets.io",
            "software/net-monitor",
            None,
            D,
            None,
        ),
        (f"example.com/a/b:v1@{D}", "example.com", "a/b", None, D, f"example.com/a/b@{D}"),
        ("127.0.0.1:5000/a.b_c__d-e---f:latest", "127.0.0.1:5000", "a.b_c__d-e---f", "latest", None, None),
        ("[::1]:5000/repo:_tag.-1", "[::1]:5000", "repo", "_tag.-1", None, None),
        ("[fe80::1]/repo", "[fe80::1]", "repo", None, None, None),
        ("Example.COM/repo", "Example.COM", "repo", None, None, None),
        ("ghcr.io/org/team/img:" + "t" * 128, "ghcr.io", "org/team/img", "t" * 128, None, None),
    ],
)
def test_valid_registry_references(
    raw: str, registry: str, repository: str, tag: str | None, digest: str | None, canonical: str | None
) -> None:
    ref = RegistryReference.parse(raw)
    assert (ref.registry, ref.repository, ref.tag) == (registry, repository, tag)
    assert ref.digest == (Digest.parse(digest) if digest else None)
    assert ref.repository_path == f"{registry}/{repository}"
    assert str(ref) == (canonical or raw)
    assert ref.reference == (digest or tag)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "empty reference"),
        ("alpine", "missing registry or repository"),
        ("alpine:3", "missing registry or repository"),
        ("localhost:5000/", "missing registry or repository"),
        ("/repo", "missing registry or repository"),
        ("localhost:5000/Net-Monitor:v1", "invalid repository 'Net-Monitor'"),
        ("localhost/a//b", "invalid repository"),
        ("localhost/-a", "invalid repository"),
        ("localhost/a-", "invalid repository"),
        ("localhost/a:", "invalid tag ''"),
        ("localhost/a:-v1", "invalid tag '-v1'"),
        ("localhost/a:" + "t" * 129, "invalid tag"),
        ("localhost/a:v+1", "invalid tag"),
        ("localhost/a@sha256:abc", "invalid digest"),
        ("localhost/a@md5:d41d8cd98f00b204e9800998ecf8427e", "unsupported digest algorithm"),
        ("local_host/a", "invalid registry"),
        ("-host/a", "invalid registry"),
        ("host:port/a", "invalid registry"),
        ("host:70000/a", "invalid registry"),
        ("[::g]:5000/a", "invalid registry"),
        ("[::1]x/a", "invalid registry"),
        ("h/" + "a" * 300, "longer than 255"),
    ],
)
def test_invalid_registry_references(raw: str, fragment: str) -> None:
    with pytest.raises(UsageError) as info:
        RegistryReference.parse(raw)
    assert fragment in info.value.message


def test_with_digest_drops_tag() -> None:
    ref = RegistryReference.parse("localhost:5000/net-monitor:v1").with_digest(Digest.parse(D))
    assert str(ref) == f"localhost:5000/net-monitor@{D}"
    assert ref.tag is None


@pytest.mark.parametrize(
    ("raw", "path", "tag", "digest"),
    [
        ("layout:v2", "layout", "v2", None),
        (f"layout@{D}", "layout", None, D),
        ("/tmp/my:dir/layout:v1", "/tmp/my:dir/layout", "v1", None),
        (f"./a@b/layout@{D}", "./a@b/layout", None, D),
        ("dir:with:colons:1.0+build", "dir:with:colons", "1.0+build", None),
    ],
)
def test_layout_references(raw: str, path: str, tag: str | None, digest: str | None) -> None:
    ref = LayoutReference.parse(raw)
    assert (ref.path, ref.tag) == (path, tag)
    assert ref.digest == (Digest.parse(digest) if digest else None)
    assert str(ref) == raw
    assert ref.reference == (digest or tag)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("layout", "missing either digest or tag"),
        ("/tmp/a:b/layout", "missing either digest or tag"),
        ("C:\\layout", "missing either digest or tag"),
        (":v1", "found empty file path"),
        (f"@{D}", "found empty file path"),
        ("layout@sha256:abc", "invalid digest"),
        ("layout:", "invalid tag"),
        ("layout:-x", "invalid tag"),
    ],
)
def test_invalid_layout_references(raw: str, fragment: str) -> None:
    with pytest.raises(UsageError) as info:
        LayoutReference.parse(raw)
    assert fragment in info.value.message


def test_layout_with_digest() -> None:
    ref = LayoutReference.parse("layout:v2").with_digest(Digest.parse(D))
    assert str(ref) == f"layout@{D}"
