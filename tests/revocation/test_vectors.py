"""notation-core-go ``revocation/crl/testdata`` vectors (conformance ``core-go/crl``).

``cases.json`` lists no revocation case, so the expected values below are inferred from the
vectors themselves (decoded independently with openssl) and from notation-core-go's parsing rules:
Go's ``crypto/x509`` CRL distribution point parsing, which notation-core-go reuses for the Freshest
CRL extension (only ``fullName`` URIs; a non-URI name ends the list; a point without a name adds
nothing; a ``[0]`` without a ``fullName`` is an error).
"""

from __future__ import annotations

import pytest
from cryptography import x509

from notation_py.errors import RevocationError
from notation_py.revocation import CRLBundle, HTTPCRLFetcher
from notation_py.revocation import crl as crl_mod
from notation_py.revocation import ocsp as ocsp_mod
from tests.conformance import vector

EJBCA = "http://localhost:80/ejbca/publicweb/webdist/certdist?cmd="
ISSUER = "&issuer=UID%3Dc-0nwwozqvawvao3ech%2CCN%3DManagementCA%2CO%3DEJBCA+Container+Quickstart"
BASE_URL = f"{EJBCA}crl{ISSUER}"
DELTA_URL = f"{EJBCA}deltacrl{ISSUER}"


def cert(name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(vector(f"core-go/crl/{name}").read_bytes())


def crl_bytes(name: str) -> bytes:
    return vector(f"core-go/crl/{name}").read_bytes()


class DictTransport:
    """Serves fixed bodies by URL; anything else fails like a 404 (no network)."""

    def __init__(self, bodies: dict[str, bytes]) -> None:
        self.bodies = bodies
        self.gets: list[str] = []

    def get(self, url: str, *, timeout: float, max_bytes: int) -> bytes:
        self.gets.append(url)
        if url not in self.bodies:
            raise RevocationError(f"GET {url!r}: unexpected status code 404")
        return self.bodies[url]

    def post(self, url: str, body: bytes, *, content_type: str, timeout: float, max_bytes: int) -> bytes:
        raise RevocationError("POST not supported")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("certificateWithDeltaCRL.cer", [DELTA_URL]),
        ("certificateWith2DeltaCRL.cer", [DELTA_URL, DELTA_URL]),
        ("certificateWithZeroDeltaCRLURL.cer", []),  # fullName with no GeneralName
        ("certificateWithNonURIDeltaCRL.cer", []),  # fullName holds a non-URI name
        ("certificateWithIncompleteFreshestCRL2.cer", []),  # one DistributionPoint without a name
    ],
)
def test_certificate_freshest_crl_urls(name: str, expected: list[str]) -> None:
    assert crl_mod.certificate_freshest_crl_urls(cert(name)) == expected


def test_incomplete_freshest_crl_is_an_error() -> None:
    with pytest.raises(
        RevocationError, match=r"failed to parse Freshest CRL extension: x509: invalid CRL distribution point$"
    ):
        crl_mod.certificate_freshest_crl_urls(cert("certificateWithIncompleteFreshestCRL.cer"))


@pytest.mark.parametrize(
    ("name", "urls"),
    [
        ("certificateWithDeltaCRL.cer", [BASE_URL]),
        ("certificateWith2DeltaCRL.cer", [BASE_URL]),
        ("certificateWithZeroDeltaCRLURL.cer", [BASE_URL]),
        # their CRL distribution points hold a non-URI name only: Go sees no CRL URL at all
        ("certificateWithNonURIDeltaCRL.cer", []),
        ("certificateWithIncompleteFreshestCRL.cer", []),
        ("certificateWithIncompleteFreshestCRL2.cer", []),
    ],
)
def test_certificate_crl_urls(name: str, urls: list[str]) -> None:
    certificate = cert(name)
    assert crl_mod.crl_urls(certificate) == urls
    assert crl_mod.supported(certificate) is bool(urls)
    assert ocsp_mod.ocsp_urls(certificate) == []


def test_vector_crls() -> None:
    base = crl_mod.parse_crl(crl_bytes("crlWithMultipleFreshestCRLs.crl"))
    assert crl_mod.crl_freshest_crl_urls(base) == [DELTA_URL, DELTA_URL]
    delta = crl_mod.parse_crl(crl_bytes("delta.crl"))
    assert crl_mod.crl_freshest_crl_urls(delta) is None
    assert delta.extensions.get_extension_for_class(x509.DeltaCRLIndicator).value.crl_number == 4
    assert delta.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 5


def test_fetch_delta_named_by_base_crl() -> None:
    transport = DictTransport(
        {BASE_URL: crl_bytes("crlWithMultipleFreshestCRLs.crl"), DELTA_URL: crl_bytes("delta.crl")}
    )
    bundle = HTTPCRLFetcher(transport).fetch(BASE_URL)
    assert bundle.base_der == crl_bytes("crlWithMultipleFreshestCRLs.crl")
    assert bundle.delta_der == crl_bytes("delta.crl")


def test_fetch_delta_named_by_certificate() -> None:
    # delta.crl has no Freshest CRL extension, so the certificate's extension locates the delta.
    transport = DictTransport({BASE_URL: crl_bytes("delta.crl"), DELTA_URL: crl_bytes("delta.crl")})
    fetcher = HTTPCRLFetcher(transport)
    bundle = fetcher.fetch(BASE_URL, certificate=cert("certificateWithDeltaCRL.cer"))
    assert bundle.delta_der == crl_bytes("delta.crl")
    assert transport.gets == [BASE_URL, DELTA_URL]
    # without a usable delta URL there is no delta
    for name in ("certificateWithZeroDeltaCRLURL.cer", "certificateWithNonURIDeltaCRL.cer"):
        assert fetcher.fetch(BASE_URL, certificate=cert(name)).delta_der is None
    assert fetcher.fetch(BASE_URL).delta_der is None


def test_fetch_delta_failures() -> None:
    transport = DictTransport({BASE_URL: crl_bytes("delta.crl")})
    fetcher = HTTPCRLFetcher(transport)
    with pytest.raises(RevocationError, match="failed to parse Freshest CRL extension"):
        fetcher.fetch(BASE_URL, certificate=cert("certificateWithIncompleteFreshestCRL.cer"))
    with pytest.raises(RevocationError, match="failed to retrieve delta CRL"):
        fetcher.fetch(BASE_URL, certificate=cert("certificateWithDeltaCRL.cer"))


def test_vector_bundle_is_stale() -> None:
    # Both CRLs were valid for five minutes in November 2024: a cache must not serve them.
    import datetime as dt

    bundle = CRLBundle.from_der(crl_bytes("crlWithMultipleFreshestCRLs.crl"), crl_bytes("delta.crl"))
    assert bundle.delta is not None
    assert bundle.is_effective(dt.datetime(2024, 11, 25, 7, 35, tzinfo=dt.UTC))
    assert not bundle.is_effective(dt.datetime(2024, 11, 25, 7, 37, tzinfo=dt.UTC))


def test_digicert_tsa_chain_offline_is_unknown() -> None:
    # README §2: offline, Go reports the TSA chain's revocation status as unknown.
    from notation_py.revocation import Purpose, Result, RevocationChecker
    from notation_py.x509 import read_certificate_file

    chain = [
        read_certificate_file(vector(f"core-go/x509-timestamping-chain/timestamp_{part}.crt"))[0]
        for part in ("leaf", "intermediate", "root")
    ]
    transport = DictTransport({})
    result = RevocationChecker(transport=transport).check_chain(chain, purpose=Purpose.TIMESTAMPING)
    assert result.result is Result.UNKNOWN
    assert [r.result for r in result.cert_results] == [Result.UNKNOWN, Result.UNKNOWN, Result.NON_REVOKABLE]
    assert result.problematic_index == 0
    assert result.message == (
        'timestamping certificate with subject "CN=DigiCert Timestamp 2023,O=DigiCert\\\\, Inc.,C=US" '
        "revocation status is unknown"
    )
    # OCSP was tried first, then the CRL distribution point (plain http URLs, no network used)
    assert transport.gets[0].startswith("http://ocsp.digicert.com/")
    assert "http://crl3.digicert.com/DigiCertTrustedG4RSA4096SHA256TimeStampingCA.crl" in transport.gets
