"""Go-compatible name rendering (pkix.Name.String) and quoting (strconv.Quote)."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from notation_py.x509 import format_name, go_quote, read_certificate_file
from notation_py.x509 import names as names_module
from tests.conformance import vector

EMAIL = x509.ObjectIdentifier("1.2.840.113549.1.9.1")


def _name(*attrs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    """A name with one RDN per attribute, in the given (DER) order."""
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attrs])


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        # The certificate holds OU, O, CN; Go regroups as O, OU, CN before reversing.
        ("core-go/x509-readcert/der.der", "CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"),
        (
            "core-go/x509-readcert/openssl-minimum-self-signed.pem",
            "OU=TestCert,O=Notation Test,L=Seattle,ST=Washington,C=US",
        ),
        (
            "core-go/x509-timestamping-chain/timestamp_leaf.crt",
            "CN=DigiCert Timestamp 2023,O=DigiCert\\, Inc.,C=US",
        ),
        (
            "core-go/x509-timestamping-chain/timestamp_root.crt",
            "CN=DigiCert Trusted Root G4,OU=www.digicert.com,O=DigiCert Inc,C=US",
        ),
    ],
)
def test_vector_subjects(rel: str, expected: str) -> None:
    (cert,) = read_certificate_file(vector(rel))
    assert format_name(cert.subject) == expected


def test_notation_style_subject() -> None:
    name = _name(
        (NameOID.COUNTRY_NAME, "US"),
        (NameOID.STATE_OR_PROVINCE_NAME, "WA"),
        (NameOID.LOCALITY_NAME, "Seattle"),
        (NameOID.ORGANIZATION_NAME, "Notary"),
        (NameOID.COMMON_NAME, "Notation Test Root"),
    )
    assert format_name(name) == "CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"


def test_attribute_order_is_canonical() -> None:
    name = _name(
        (NameOID.SERIAL_NUMBER, "42"),
        (NameOID.COMMON_NAME, "c"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "ou"),
        (NameOID.POSTAL_CODE, "98101"),
        (NameOID.STREET_ADDRESS, "1 Main St"),
        (NameOID.ORGANIZATION_NAME, "o"),
        (NameOID.LOCALITY_NAME, "l"),
        (NameOID.STATE_OR_PROVINCE_NAME, "st"),
        (NameOID.COUNTRY_NAME, "US"),
    )
    assert format_name(name) == ("SERIALNUMBER=42,CN=c,OU=ou,O=o,POSTALCODE=98101,STREET=1 Main St,L=l,ST=st,C=US")


def test_repeated_attribute_becomes_multi_valued() -> None:
    name = _name(
        (NameOID.ORGANIZATION_NAME, "o"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "a"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "b"),
        (NameOID.COMMON_NAME, "c"),
    )
    assert format_name(name) == "CN=c,OU=a+OU=b,O=o"


def test_multi_valued_rdn_is_regrouped() -> None:
    rdn = x509.RelativeDistinguishedName(
        [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "a"), x509.NameAttribute(NameOID.COMMON_NAME, "b")]
    )
    name = x509.Name([x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "US")]), rdn])
    assert format_name(name) == "CN=b,OU=a,C=US"


def test_last_common_name_wins() -> None:
    name = _name((NameOID.COMMON_NAME, "first"), (NameOID.COMMON_NAME, "second"))
    assert format_name(name) == "CN=second"


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("a,b+c", "a\\,b\\+c"),
        ('q"<>;\\', 'q\\"\\<\\>\\;\\\\'),
        (" lead", "\\ lead"),
        ("trail ", "trail\\ "),
        ("in side", "in side"),
        ("#hash", "\\#hash"),
        ("mid#hash", "mid#hash"),
        ("=", "="),
        ("Zürich", "Zürich"),
    ],
)
def test_value_escaping(value: str, rendered: str) -> None:
    assert format_name(_name((NameOID.COMMON_NAME, value))) == f"CN={rendered}"


def test_unknown_attribute_types_print_as_hex_last() -> None:
    name = _name(
        (NameOID.DOMAIN_COMPONENT, "com"),
        (NameOID.DOMAIN_COMPONENT, "example"),
        (NameOID.COMMON_NAME, "x"),
        (EMAIL, "user@example.com"),
    )
    # Go re-encodes the value: PrintableString (0x13) when it can, UTF8String (0x0c) otherwise ('@').
    assert format_name(name) == (
        "CN=x,1.2.840.113549.1.9.1=#0c1075736572406578616d706c652e636f6d,"
        "0.9.2342.19200300.100.1.25=#13076578616d706c65,0.9.2342.19200300.100.1.25=#1303636f6d"
    )


def test_unknown_attribute_long_value_and_asterisk() -> None:
    long_value = "a" * 130
    assert format_name(_name((NameOID.USER_ID, long_value))) == (
        "0.9.2342.19200300.100.1.1=#138182" + long_value.encode().hex()
    )
    # '*' is not a PrintableString character for asn1.Marshal.
    assert format_name(_name((NameOID.USER_ID, "a*"))) == "0.9.2342.19200300.100.1.1=#0c02612a"


def test_empty_name() -> None:
    assert format_name(x509.Name([])) == ""


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("CN=Hello", '"CN=Hello"'),
        ("O=DigiCert\\, Inc.", '"O=DigiCert\\\\, Inc."'),
        ('say "hi"', '"say \\"hi\\""'),
        ("\a\b\f\n\r\t\v", '"\\a\\b\\f\\n\\r\\t\\v"'),
        ("\x00\x01\x1f\x7f", '"\\x00\\x01\\x1f\\x7f"'),
        ("é😀中", '"é😀中"'),
        ("\u00a0\u200b\u2028", '"\\u00a0\\u200b\\u2028"'),
        ("\U000e0001", '"\\U000e0001"'),
        (b"a\xffb".decode("utf-8", "surrogateescape"), '"a\\xffb"'),
    ],
)
def test_go_quote(text: str, quoted: str) -> None:
    assert go_quote(text) == quoted


# ------------------------------------------------------------------------------------------------
# Memoised rendering: the memo never changes a result
# ------------------------------------------------------------------------------------------------


def test_equal_names_with_reordered_multi_valued_rdn_render_differently() -> None:
    # cryptography compares RDNs as sets, so these names are equal and hash alike; Go renders the
    # values in encoded order, so a memo keyed by the Name would return the wrong string.
    a = x509.NameAttribute(NameOID.ORGANIZATION_NAME, "a")
    b = x509.NameAttribute(NameOID.ORGANIZATION_NAME, "b")
    ab = x509.Name([x509.RelativeDistinguishedName([a, b])])
    ba = x509.Name([x509.RelativeDistinguishedName([b, a])])
    assert ab == ba and hash(ab) == hash(ba)
    for _ in range(2):
        assert format_name(ab) == "O=a+O=b"
        assert format_name(ba) == "O=b+O=a"


def test_bytes_and_str_values_render_differently() -> None:
    text = x509.Name([x509.NameAttribute(NameOID.X500_UNIQUE_IDENTIFIER, "ab")])
    octets = x509.Name([x509.NameAttribute(NameOID.X500_UNIQUE_IDENTIFIER, b"ab", _type=_ASN1Type.BitString)])
    for _ in range(2):
        assert format_name(text) == "2.5.4.45=#13026162"
        assert format_name(octets) == "2.5.4.45=#04026162"


def test_rendering_is_memoised() -> None:
    name = _name((NameOID.COUNTRY_NAME, "US"), (NameOID.COMMON_NAME, "memo test"))
    first = format_name(name)
    hits = names_module._format_cached.cache_info().hits
    assert format_name(_name((NameOID.COUNTRY_NAME, "US"), (NameOID.COMMON_NAME, "memo test"))) == first
    assert names_module._format_cached.cache_info().hits == hits + 1
    assert first == "CN=memo test,C=US"


class _Text(str):
    """A str subclass that compares equal to any string: must never be a memo key."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return hash("Alice")


def test_long_names_and_str_subclasses_are_rendered_but_not_memoised() -> None:
    long_value = "x" * 5000
    assert format_name(_name((NameOID.COMMON_NAME, "Alice"))) == "CN=Alice"
    size = names_module._format_cached.cache_info().currsize
    assert format_name(_name((NameOID.ORGANIZATIONAL_UNIT_NAME, long_value))) == f"OU={long_value}"
    assert format_name(_name((NameOID.COMMON_NAME, _Text("Bob")))) == "CN=Bob"
    assert names_module._format_cached.cache_info().currsize == size
