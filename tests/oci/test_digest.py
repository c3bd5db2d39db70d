"""Digest grammar, computation and verification."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notation_py.errors import DigestError
from notation_py.oci.digest import Digest, compute, verify

SHA256_EMPTY_JSON = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"


@pytest.mark.parametrize(
    "value",
    [
        SHA256_EMPTY_JSON,
        "sha256:" + "0" * 64,
        "sha384:" + "a" * 96,
        "sha512:" + "f" * 128,
    ],
)
def test_valid_digests_round_trip(value: str) -> None:
    d = Digest.parse(value)
    assert str(d) == value
    assert d.algorithm == value.split(":", maxsplit=1)[0]


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "missing ':'"),
        ("sha256", "missing ':'"),
        ("sha256:", "malformed encoded"),
        (":" + "a" * 64, "malformed algorithm"),
        ("SHA256:" + "a" * 64, "malformed algorithm"),
        ("sha256+:" + "a" * 64, "malformed algorithm"),
        ("sha256:" + "A" * 64, "lowercase hex"),
        ("sha256:" + "g" * 64, "lowercase hex"),
        ("sha256:" + "a" * 63, "64 hex characters, got 63"),
        ("sha256:" + "a" * 65, "64 hex characters, got 65"),
        ("sha512:" + "a" * 64, "128 hex characters"),
        ("sha384:" + "a" * 64, "96 hex characters"),
        ("md5:d41d8cd98f00b204e9800998ecf8427e", "unsupported digest algorithm 'md5'"),
        ("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", "unsupported"),
        ("sha256:" + "a" * 64 + "\n", "malformed encoded"),
        ("sha256:" + "a" * 32 + " " + "a" * 31, "malformed encoded"),
        ("sha256:" + "a" * 64 + ":x", "malformed encoded"),
    ],
)
def test_invalid_digests(value: str, fragment: str) -> None:
    with pytest.raises(DigestError, match="invalid digest") as info:
        Digest.parse(value)
    assert fragment in info.value.message


def test_constructor_validates() -> None:
    with pytest.raises(DigestError):
        Digest("sha256", "abc")


def test_compute_matches_hashlib() -> None:
    assert str(compute(b"{}")) == SHA256_EMPTY_JSON
    assert compute(b"x", "sha512").hex == hashlib.sha512(b"x").hexdigest()
    with pytest.raises(DigestError, match="unsupported"):
        compute(b"x", "md5")


def test_verify_accepts_matching_content() -> None:
    verify(b"{}", Digest.parse(SHA256_EMPTY_JSON), 2)
    verify(b"{}", Digest.parse(SHA256_EMPTY_JSON), None)


def test_verify_names_expected_and_actual_digest() -> None:
    expected = Digest.parse(SHA256_EMPTY_JSON)
    with pytest.raises(DigestError) as info:
        verify(b"[]", expected, 2)
    assert str(expected) in info.value.message
    assert str(compute(b"[]")) in info.value.message


def test_verify_checks_size() -> None:
    with pytest.raises(DigestError, match="expected 3 bytes, got 2"):
        verify(b"{}", Digest.parse(SHA256_EMPTY_JSON), 3)


@given(st.binary(), st.sampled_from(["sha256", "sha384", "sha512"]))
def test_compute_parse_round_trip(data: bytes, algorithm: str) -> None:
    d = compute(data, algorithm)
    assert Digest.parse(str(d)) == d
    verify(data, d, len(data))
