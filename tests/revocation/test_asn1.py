"""Extension reading with asn1crypto (``notation_py.revocation._asn1``) behind URL extraction."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections.abc import Sequence

import pytest
from asn1crypto import core as a_core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID
from hypothesis import given, settings
from hypothesis import strategies as st

from notation_py.errors import RevocationError
from notation_py.revocation import _asn1
from notation_py.revocation import crl as crl_mod
from notation_py.revocation import ocsp as ocsp_mod
from tests.revocation.pki import make_cert, make_crl, make_ocsp_response, new_key, now, with_single_invalidity_date


def _self_signed(extensions: Sequence[x509.ExtensionType]) -> x509.Certificate:
    key = new_key()
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "x")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(dt.datetime(2020, 1, 1))
        .not_valid_after(dt.datetime(2030, 1, 1))
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(key, hashes.SHA256())


def _raw(oid: x509.ObjectIdentifier, value: str) -> x509.UnrecognizedExtension:
    return x509.UnrecognizedExtension(oid, bytes.fromhex(value.replace(" ", "")))


def test_urls_of_a_generated_certificate() -> None:
    root = make_cert("Root", None, ca=True)
    node = make_cert(
        "Leaf",
        root,
        ca=False,
        ocsp_urls=["http://ocsp.example/a", "http://ocsp.example/b"],
        crl_url_groups=[["ldap://x/crl", "http://crl.example/1.crl"], ["http://crl.example/2.crl"]],
        freshest_urls=["http://crl.example/delta.crl"],
    )
    extensions = _asn1.certificate_extensions(node.cert.tbs_certificate_bytes)
    assert {_asn1.OID_AIA, _asn1.OID_CRL_DISTRIBUTION_POINTS, _asn1.OID_FRESHEST_CRL} <= {e.oid for e in extensions}
    aia = _asn1.find_extension(extensions, _asn1.OID_AIA)
    assert aia is not None
    assert _asn1.ocsp_uris(aia.value) == ["http://ocsp.example/a", "http://ocsp.example/b"]
    cdp = _asn1.find_extension(extensions, _asn1.OID_CRL_DISTRIBUTION_POINTS)
    assert cdp is not None
    assert _asn1.distribution_point_uris(cdp.value) == [
        ["ldap://x/crl", "http://crl.example/1.crl"],
        ["http://crl.example/2.crl"],
    ]
    critical = {e.oid: e.critical for e in extensions}
    assert critical["2.5.29.19"] is True and critical[_asn1.OID_AIA] is False
    assert crl_mod.certificate_freshest_crl_urls(node.cert) == ["http://crl.example/delta.crl"]


def test_certificate_without_extensions() -> None:
    cert = _self_signed([])
    assert _asn1.certificate_extensions(cert.tbs_certificate_bytes) == []
    assert crl_mod.crl_urls(cert) == [] and crl_mod.certificate_freshest_crl_urls(cert) is None
    assert ocsp_mod.ocsp_urls(cert) == []


def test_aia_ignores_ca_issuers_and_non_uri_locations() -> None:
    aia = x509.AuthorityInformationAccess(
        [
            x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier("http://ca")
            ),
            x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.DNSName("ocsp.example")),
            x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier("http://ocsp")),
        ]
    )
    cert = _self_signed([aia])
    assert ocsp_mod.ocsp_urls(cert) == ["http://ocsp"]


def test_aia_location_asn1crypto_cannot_decode_is_skipped() -> None:
    # SEQUENCE { SEQUENCE { id-ad-ocsp, [5] primitive } , SEQUENCE { id-ad-ocsp, [6] "http://o" } }:
    # a primitive [5] is not a valid ediPartyName; Go skips any location that is not a URI.
    value = "3020 300d 06082b06010505073001 8501ff 300f 06082b06010505073001 8603683a6f"
    cert = _self_signed([_raw(ExtensionOID.AUTHORITY_INFORMATION_ACCESS, value)])
    assert ocsp_mod.ocsp_urls(cert) == ["h:o"]


def test_uris_are_verbatim() -> None:
    # asn1crypto's ``native`` would turn percent-escapes into an IRI; Go keeps the bytes.
    url = "http://crl.example/c?issuer=UID%3Dc%2CCN%3DCA"
    node = make_cert("Leaf", None, ca=False, crl_urls=[url], ocsp_urls=[url])
    assert crl_mod.crl_urls(node.cert) == [url]
    assert ocsp_mod.ocsp_urls(node.cert) == [url]


@pytest.mark.parametrize(
    ("value", "groups"),
    [
        ("3000", []),
        ("30023000", [[]]),  # a distribution point without a name
        ("30063004a002a000", [[]]),  # fullName without a GeneralName
        ("30093007a005a0038501ff", [[]]),  # primitive [5] (not decodable as a GeneralName) ends fullName
        ("300c300aa008a006820178860179", [[]]),  # dNSName first: reading stops there
        ("300c300aa008a006860178820179", [["x"]]),  # URI, then dNSName
        ("300c300aa008a006860178a60179", [["x"]]),  # constructed [6] is not a URI for Go either
        ("3010300ea008a0068601788601798102 0520", [["x", "y"]]),  # reasons are ignored
        ("30063004a002a000ffff", [[]]),  # trailing bytes after the value are ignored
    ],
)
def test_distribution_point_semantics(value: str, groups: list[list[str]]) -> None:
    assert _asn1.distribution_point_uris(bytes.fromhex(value.replace(" ", ""))) == groups


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0400", "invalid CRL distribution points"),
        ("3003", "invalid CRL distribution points"),  # truncated
        ("300b3009a007a1053003060155", "invalid CRL distribution point"),  # nameRelativeToCRLIssuer
        ("30043002a000", "invalid CRL distribution point"),  # [0] without fullName (core-go vector)
        ("30020400", "invalid CRL distribution point"),  # element is not a SEQUENCE
        ("30053003a00186", "invalid CRL distribution point"),  # truncated name
        ("300a3008a006a004860278ff", "invalid CRL distribution point"),  # URI is not ASCII
    ],
)
def test_distribution_point_errors(value: str, message: str) -> None:
    with pytest.raises(_asn1.Asn1Error, match=f"^{message}$"):
        _asn1.distribution_point_uris(bytes.fromhex(value))


def test_malformed_extension_does_not_hide_the_others() -> None:
    # A CRL distribution points value that is not a SEQUENCE: cryptography refuses every extension.
    aia = x509.AuthorityInformationAccess(
        [x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier("http://ocsp"))]
    )
    freshest = x509.FreshestCRL(
        [x509.DistributionPoint([x509.UniformResourceIdentifier("http://delta")], None, None, None)]
    )
    cert = _self_signed([aia, _raw(ExtensionOID.CRL_DISTRIBUTION_POINTS, "0400"), freshest])
    with pytest.raises(ValueError):
        _ = cert.extensions
    assert ocsp_mod.ocsp_urls(cert) == ["http://ocsp"]
    assert crl_mod.certificate_freshest_crl_urls(cert) == ["http://delta"]
    with pytest.raises(RevocationError, match=r"^failed to parse CRL distribution points: x509: invalid CRL"):
        crl_mod.crl_urls(cert)
    assert crl_mod.supported(cert)


def test_integer() -> None:
    assert _asn1.decode_integer(bytes.fromhex("020105")) == 5
    assert _asn1.decode_integer(bytes.fromhex("0202ff00")) == -256
    for bad in ("0200", "0400", "02", ""):
        with pytest.raises(_asn1.Asn1Error):
            _asn1.decode_integer(bytes.fromhex(bad))


def _generalized(text: bytes) -> bytes:
    return bytes([0x18, len(text)]) + text


def test_generalized_time() -> None:
    decode = _asn1.decode_generalized_time
    assert decode(_generalized(b"20240102030405Z")) == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert decode(_generalized(b"20240102030405.25Z")).microsecond == 250000
    for bad in (
        b"20240102030405",  # local time
        b"2024010203040Z",
        b"20241302030405Z",
        b"202401020304Z",  # no seconds
        b"20240102030405+0100",  # not UTC
        b"20240102030405.250Z",  # trailing zero in the fraction
        b"20240102030405,5Z",
        b"00000102030405Z",  # year 0
    ):
        with pytest.raises(_asn1.Asn1Error):
            decode(_generalized(bad))
    with pytest.raises(_asn1.Asn1Error):
        decode(bytes.fromhex("170d3234303130323033303430355a"))  # UTCTime


def test_subject_public_key_bits_match_key_identifier() -> None:
    public_key = new_key().public_key()
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    bits = _asn1.subject_public_key_bits(spki)
    assert hashlib.sha1(bits).digest() == x509.SubjectKeyIdentifier.from_public_key(public_key).digest
    with pytest.raises(_asn1.Asn1Error):
        _asn1.subject_public_key_bits(b"\x30\x00")


def test_ocsp_single_extensions() -> None:
    ca = make_cert("CA", None, ca=True)
    leaf = make_cert("Leaf", ca, ca=False)
    invalid_since = now().replace(microsecond=0) - dt.timedelta(days=1)
    plain = make_ocsp_response(leaf.cert, ca, ocsp.OCSPCertStatus.REVOKED)
    with_date = with_single_invalidity_date(plain, ca, invalid_since)
    tbs = ocsp.load_der_ocsp_response(with_date).tbs_response_bytes
    extensions = _asn1.ocsp_single_extensions(tbs, 0)
    extension = _asn1.find_extension(extensions, _asn1.OID_INVALIDITY_DATE)
    assert extension is not None
    assert _asn1.decode_generalized_time(extension.value) == invalid_since
    assert _asn1.ocsp_single_extensions(ocsp.load_der_ocsp_response(plain).tbs_response_bytes, 0) == []
    with pytest.raises(_asn1.Asn1Error):
        _asn1.ocsp_single_extensions(tbs, 1)


def test_crl_extensions() -> None:
    ca = make_cert("CA", None, ca=True)
    crl = x509.load_der_x509_crl(make_crl(ca))
    extensions = _asn1.crl_extensions(crl.tbs_certlist_bytes)
    number = _asn1.find_extension(extensions, "2.5.29.20")
    assert number is not None
    assert _asn1.decode_integer(number.value) == crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


_PARSERS = (
    _asn1.distribution_point_uris,
    _asn1.ocsp_uris,
    _asn1.certificate_extensions,
    _asn1.crl_extensions,
    lambda data: _asn1.ocsp_single_extensions(data, 0),
    _asn1.decode_integer,
    _asn1.decode_generalized_time,
    _asn1.subject_public_key_bits,
)


def _der_like() -> st.SearchStrategy[bytes]:
    """Bytes that often look like nested DER (plain random bytes rarely get past the first header)."""
    tags = st.sampled_from([0x30, 0x31, 0x02, 0x04, 0x06, 0x01, 0x18, 0x80, 0x82, 0x85, 0x86, 0xA0, 0xA1, 0xA3, 0xA6])

    def wrap(parts: tuple[int, list[bytes]]) -> bytes:
        tag, children = parts
        body = b"".join(children)
        return bytes([tag, len(body)]) + body if len(body) < 128 else bytes([tag, 0x81, len(body) & 0xFF]) + body

    leaves = st.binary(max_size=12)
    return st.recursive(leaves, lambda inner: st.tuples(tags, st.lists(inner, max_size=4)).map(wrap), max_leaves=12)


@settings(max_examples=300)
@given(st.one_of(st.binary(max_size=64), _der_like()))
def test_parsers_fail_only_with_asn1_error(data: bytes) -> None:
    for parse in _PARSERS:
        with contextlib.suppress(_asn1.Asn1Error):
            parse(data)


@settings(max_examples=300)
@given(_der_like())
def test_uris_are_strings(data: bytes) -> None:
    with contextlib.suppress(_asn1.Asn1Error):
        groups = _asn1.distribution_point_uris(data)
        assert all(isinstance(uri, str) for group in groups for uri in group)
    with contextlib.suppress(_asn1.Asn1Error):
        assert all(isinstance(uri, str) for uri in _asn1.ocsp_uris(data))


def test_asn1crypto_generalized_time_is_lenient() -> None:
    # Why decode_generalized_time re-encodes: asn1crypto alone accepts non-DER forms.
    time = a_core.GeneralizedTime.load(_generalized(b"202401020304Z"))
    assert time.native == dt.datetime(2024, 1, 2, 3, 4, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("critical", "expected"),
    [("", False), ("0101ff", True), ("010100", False), ("010101", None), ("01020000", None)],
)
def test_extension_criticality_must_be_der(critical: str, expected: bool | None) -> None:
    # Extensions { Extension { basicConstraints, [critical], OCTET STRING { SEQUENCE { TRUE } } } }
    extension = "0603551d13" + critical + "040530030101ff"
    body = f"30{len(extension) // 2:02x}{extension}"
    extensions = _asn1._Extensions.load(bytes.fromhex(f"30{len(body) // 2:02x}{body}"))
    if expected is None:
        with pytest.raises(_asn1.Asn1Error, match="criticality"):
            _asn1._extension_list(extensions)
    else:
        assert _asn1._extension_list(extensions) == [_asn1.RawExtension("2.5.29.19", expected, b"\x30\x03\x01\x01\xff")]


@pytest.mark.parametrize(
    ("value", "urls"),
    [
        ("3000", []),
        ("3011300f06082b06010505073001860378 3a6f", ["x:o"]),
        ("3011300f06082b06010505073002860378 3a6f", []),  # caIssuers
        ("300f300d06082b060105050730018201 78", []),  # dNSName location
        ("0400", None),
        ("300c300a06082b06010505073001", None),  # no location
        ("3011300f0608 2b060105050730 81 860378 3a6f", None),  # truncated method OID
        ("3012301006092b0601050507308001 8603783a6f", None),  # padded (non-DER) method OID
    ],
)
def test_ocsp_uri_semantics(value: str, urls: list[str] | None) -> None:
    data = bytes.fromhex(value.replace(" ", ""))
    if urls is None:
        with pytest.raises(_asn1.Asn1Error, match=r"^invalid authority info access$"):
            _asn1.ocsp_uris(data)
    else:
        assert _asn1.ocsp_uris(data) == urls
