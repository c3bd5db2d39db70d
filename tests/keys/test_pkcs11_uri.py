"""RFC 7512 pkcs11: URI parsing."""

from __future__ import annotations

import pytest

from notation_py.errors import ConfigError, UsageError
from notation_py.keys.pkcs11_uri import Pkcs11Uri, command_line_uri, pin_source_path, redact_pin_value


def test_full_uri() -> None:
    uri = Pkcs11Uri.parse(
        "pkcs11:token=Signing%20Token;manufacturer=SoftHSM%20project;serial=0123;model=SoftHSM%20v2;"
        "object=release;id=%01%a2;type=private;slot-id=7;x-vendor=ignored"
        "?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin"
    )
    assert uri.token == "Signing Token"
    assert uri.manufacturer == "SoftHSM project"
    assert uri.serial == "0123"
    assert uri.model == "SoftHSM v2"
    assert uri.object_label == "release"
    assert uri.object_id == b"\x01\xa2"
    assert uri.object_type == "private"
    assert uri.slot_id == 7
    assert uri.module_path == "/usr/lib/softhsm/libsofthsm2.so"
    assert uri.pin_source == "file:/run/pin"
    assert uri.selects_object
    assert uri.describe_object() == "object=release, id=01a2"
    assert (
        uri.describe_token()
        == "token=Signing Token, manufacturer=SoftHSM project, serial=0123, model=SoftHSM v2, slot-id=7"
    )


def test_empty_uri_matches_anything() -> None:
    uri = Pkcs11Uri.parse("pkcs11:")
    assert uri.token is None and not uri.selects_object
    assert uri.describe_token() == "any token"
    assert uri.describe_object() == "any object"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pkcs12:token=a", 'must start with "pkcs11:"'),
        ("pkcs11:token", '"token" is not name=value'),
        ("pkcs11:tokn=a", 'unknown path attribute "tokn"'),
        ("pkcs11:token=a?pin=1", 'unknown query attribute "pin"'),
        ("pkcs11:token=a;token=b", 'attribute "token" appears more than once'),
        ("pkcs11:slot-id=x", "slot-id must be a decimal number"),
        ("pkcs11:type=secret", "type must be one of"),
        ("pkcs11:token=%ff", 'the value of "token" is not UTF-8'),
    ],
)
def test_invalid_uris(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Pkcs11Uri.parse(text)


def test_error_class_is_the_callers() -> None:
    with pytest.raises(ConfigError):
        Pkcs11Uri.parse("nope", ConfigError)


def test_pin_value_is_redacted_and_refused_on_the_command_line() -> None:
    text = "pkcs11:token=a?module-path=/m.so&pin-value=123456"
    assert redact_pin_value(text) == "pkcs11:token=a?module-path=/m.so&pin-value=***"
    assert Pkcs11Uri.parse(text).redacted.endswith("pin-value=***")
    with pytest.raises(UsageError, match=r"invalid PKCS#11 URI .*pin-value=\*\*\*"):
        Pkcs11Uri.parse(text + "&bogus=1")  # messages never show the PIN
    with pytest.raises(UsageError, match=r"do not put the PIN on the command line"):
        command_line_uri(text, "--pkcs11-uri")
    assert command_line_uri("pkcs11:token=a", "--pkcs11-uri").token == "a"


@pytest.mark.parametrize(
    ("source", "path"),
    [("file:/run/pin", "/run/pin"), ("file:///run/my%20pin", "/run/my pin"), ("/run/pin", "/run/pin"), ("pin", "pin")],
)
def test_pin_source_paths(source: str, path: str) -> None:
    assert pin_source_path(source) == path


@pytest.mark.parametrize("source", ["https://example.invalid/pin", "file://otherhost/pin"])
def test_unsupported_pin_sources(source: str) -> None:
    with pytest.raises(UsageError, match=r"pin-source"):
        pin_source_path(source)
