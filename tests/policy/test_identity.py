"""Trusted identities: DN parsing, policy rules, leaf matching (notation-go semantics and messages)."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography import x509
from hypothesis import given
from hypothesis import strategies as st

from notation_py.errors import TrustPolicyError
from notation_py.policy.identity import (
    IdentityMismatchError,
    TrustedIdentities,
    format_distinguished_name,
    format_go_dn_maps,
    identity_mismatch_message,
    is_subset_dn,
    leaf_subject_dn,
    match_trusted_identity,
    parse_distinguished_name,
    verify_trusted_identity,
)
from tests.conformance import cases_of_kind, vector
from tests.policy.certs import NOTARY, leaf_with

MANDATORY_HINT = "it must contain 'C', 'ST' or 'S', and 'O' RDN attributes at a minimum"
SYNTAX_HINT = (
    "A valid DN must contain 'C', 'ST' or 'S', and 'O' RDN attributes at a minimum, and follow RFC 4514 standard"
)

# --- parse_distinguished_name -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dn", "expected"),
    [
        ("C=US,ST=WA,O=MyOrg", {"C": "US", "ST": "WA", "O": "MyOrg"}),
        ("C=US, ST=WA, O=wabbit-networks.io, OU=Finance, CN=SecureBuilder", None),
        (" CN=e2e,O=Notary,L=Seattle,ST=WA,C=US", {"CN": "e2e", "O": "Notary", "L": "Seattle", "ST": "WA", "C": "US"}),
        ("C=US,ST=WA,O=  My.  Org", {"C": "US", "ST": "WA", "O": "My.  Org"}),
        (
            'C=US,ST=WA,O=My "special" Org \\, \\; \\\\ others',
            {"C": "US", "ST": "WA", "O": 'My "special" Org , ; \\ others'},
        ),
        ("C=US,ST=WA,O=MyOrg,CustomRDN=CustomValue", {"C": "US", "ST": "WA", "O": "MyOrg", "CUSTOMRDN": "CustomValue"}),
        ("C=US,S=WA,O=Org", {"C": "US", "ST": "WA", "O": "Org"}),  # S is an alias of ST
        ("c=US,st=WA,o=Org", {"C": "US", "ST": "WA", "O": "Org"}),  # types are case-insensitive
        ("C=US;ST=WA;O=Org", {"C": "US", "ST": "WA", "O": "Org"}),  # ';' separates RDNs too
        ("C=US,ST=WA,O=\\4F\\72g", {"C": "US", "ST": "WA", "O": "Org"}),  # hex escapes
        ("C=US,ST=WA,O=caf\\C3\\A9", {"C": "US", "ST": "WA", "O": "café"}),  # UTF-8 in hex escapes
        ("C=US,ST=WA,O=\\ padded\\ ", {"C": "US", "ST": "WA", "O": " padded "}),  # escaped spaces kept
        ("C=US,ST=WA,O=a=b", {"C": "US", "ST": "WA", "O": "a=b"}),
        ("C=US,ST=WA,O=Org,", {"C": "US", "ST": "WA", "O": "Org"}),  # trailing separator, as go-ldap
        ("C=US,ST=WA,O=Org,2.5.4.11=Unit", {"C": "US", "ST": "WA", "O": "Org", "2.5.4.11": "Unit"}),
    ],
)
def test_parse_valid(dn: str, expected: dict[str, str] | None) -> None:
    parsed = parse_distinguished_name(dn)
    if expected is not None:
        assert parsed == expected
        assert list(parsed) == list(expected)  # DN order is kept
    else:
        assert parsed["CN"] == "SecureBuilder"


@pytest.mark.parametrize(
    ("dn", "message"),
    [
        (
            "C=US,C=IN",
            'distinguished name (DN) "C=US,C=IN" has duplicate RDN attribute for "C", DN can only have unique RDN attributes',
        ),
        (
            "C=US,ST=WA,S=OR,O=x",
            'distinguished name (DN) "C=US,ST=WA,S=OR,O=x" has duplicate RDN attribute for "ST", DN can only have unique RDN attributes',
        ),
        (
            "C=US,ST=WA",
            f'distinguished name (DN) "C=US,ST=WA" has no mandatory RDN attribute for "O", {MANDATORY_HINT}',
        ),
        (
            " CN=e2e,L=Seattle,ST=WA,C=US",
            f'distinguished name (DN) " CN=e2e,L=Seattle,ST=WA,C=US" has no mandatory RDN attribute for "O", {MANDATORY_HINT}',
        ),
        (
            " CN=e2e,O=Notary,L=Seattle,C=US",
            f'distinguished name (DN) " CN=e2e,O=Notary,L=Seattle,C=US" has no mandatory RDN attribute for "ST", {MANDATORY_HINT}',
        ),
        (
            " CN=e2e,O=Notary,L=Seattle,ST=WA",
            f'distinguished name (DN) " CN=e2e,O=Notary,L=Seattle,ST=WA" has no mandatory RDN attribute for "C", {MANDATORY_HINT}',
        ),
        (
            "C=US,ST=WA,O=",
            f'distinguished name (DN) "C=US,ST=WA,O=" has no mandatory RDN attribute for "O", {MANDATORY_HINT}',
        ),
        (
            "C=US+ST=WA,O=MyOrg",
            'distinguished name (DN) "C=US+ST=WA,O=MyOrg" has multi-valued RDN attributes, remove multi-valued RDN '
            "attributes as they are not supported",
        ),
        (
            "C=US,ST=WA,O=My Org,1.3.6.1.4.1.1466.0=#04024869",
            'unsupported distinguished name (DN) "C=US,ST=WA,O=My Org,1.3.6.1.4.1.1466.0=#04024869": notation does '
            'not support x509.subject identities containing "=#"',
        ),
        (",,,", f'parsing distinguished name (DN) ",,," failed with err: incomplete type, value pair. {SYNTAX_HINT}'),
        (
            "C=US,ST",
            f'parsing distinguished name (DN) "C=US,ST" failed with err: DN ended with incomplete type, value pair. {SYNTAX_HINT}',
        ),
        (
            "C=US+",
            f'parsing distinguished name (DN) "C=US+" failed with err: DN ended with incomplete type, value pair. {SYNTAX_HINT}',
        ),
        (
            "C=US\\",
            f'parsing distinguished name (DN) "C=US\\\\" failed with err: got corrupted escaped character. {SYNTAX_HINT}',
        ),
        (
            "C=U\\zzS",
            f"parsing distinguished name (DN) \"C=U\\\\zzS\" failed with err: failed to decode escaped character '\\\\zz'. {SYNTAX_HINT}",
        ),
        (
            "C=\\C3,ST=WA,O=x",
            f'parsing distinguished name (DN) "C=\\\\C3,ST=WA,O=x" failed with err: invalid UTF-8 in escaped characters. {SYNTAX_HINT}',
        ),
        (
            "C=US,S T=WA,O=x",
            f"parsing distinguished name (DN) \"C=US,S T=WA,O=x\" failed with err: invalid attribute type 'S T'. {SYNTAX_HINT}",
        ),
        ("", f'distinguished name (DN) "" has no mandatory RDN attribute for "C", {MANDATORY_HINT}'),
    ],
)
def test_parse_invalid(dn: str, message: str) -> None:
    with pytest.raises(TrustPolicyError) as info:
        parse_distinguished_name(dn)
    assert info.value.message == message


_VALUE = st.text(st.one_of(st.sampled_from('=#,+;\\" <>'), st.characters(exclude_categories=["Cs"])), max_size=12)
_OPTIONAL_TYPES = st.sampled_from(["CN", "OU", "L", "STREET", "SERIALNUMBER", "X-CUSTOM", "1.2.3.4"])


@given(
    c=_VALUE.filter(bool),
    state=_VALUE.filter(bool),
    org=_VALUE.filter(bool),
    extra=st.dictionaries(_OPTIONAL_TYPES, _VALUE, max_size=4),
)
def test_format_parse_round_trip(c: str, state: str, org: str, extra: dict[str, str]) -> None:
    dn = {"C": c, "ST": state, "O": org, **extra}
    assert parse_distinguished_name(format_distinguished_name(dn)) == dn


def test_format_never_produces_hex_marker() -> None:
    text = format_distinguished_name({"C": "#US", "ST": "a=#b", "O": "x"})
    assert "=#" not in text
    assert parse_distinguished_name(text) == {"C": "#US", "ST": "a=#b", "O": "x"}


def test_go_map_rendering() -> None:
    dns = [{"CN": "LOL", "O": "DummyOrg", "L": "Hyderabad", "ST": "TG", "C": "IN"}, {"C": "US", "O": 'a"b'}]
    assert format_go_dn_maps(dns) == (
        '[map["C":"IN" "CN":"LOL" "L":"Hyderabad" "O":"DummyOrg" "ST":"TG"] map["C":"US" "O":"a\\"b"]]'
    )


def test_subset() -> None:
    assert is_subset_dn({"C": "US"}, {"C": "US", "O": "x"})
    assert not is_subset_dn({"C": "US", "OU": "y"}, {"C": "US", "O": "x"})
    assert is_subset_dn({}, {"C": "US"})


# --- TrustedIdentities.parse ----------------------------------------------------------------------


def _strict_error(identities: list[str]) -> str:
    with pytest.raises(TrustPolicyError) as info:
        TrustedIdentities.parse(identities, "test-statement-name", strict=True)
    return info.value.message


@pytest.mark.parametrize(
    ("identities", "message"),
    [
        (
            ["*", "C=US, ST=WA, O=wabbit-network.io"],
            "trust policy statement \"test-statement-name\" uses a wildcard trusted identity '*', a wildcard identity "
            "cannot be used in conjunction with other values",
        ),
        ([""], 'trust policy statement "test-statement-name" has an empty trusted identity'),
        (
            ["C=US, ST=WA, O=wabbit-network.io, OU=org1"],
            'trust policy statement "test-statement-name" has trusted identity "C=US, ST=WA, O=wabbit-network.io, OU=org1" '
            "missing separator",
        ),
        (
            ["x509.subject:,,,"],
            'trust policy statement "test-statement-name" has trusted identity "x509.subject:,,," with invalid identity '
            f'value: parsing distinguished name (DN) ",,," failed with err: incomplete type, value pair. {SYNTAX_HINT}',
        ),
        (
            ["x509.subject:"],
            'trust policy statement "test-statement-name" has trusted identity "x509.subject:" without an identity value',
        ),
        (
            ["x509.subject:C=US,C=IN"],
            'trust policy statement "test-statement-name" has trusted identity "x509.subject:C=US,C=IN" with invalid '
            'identity value: distinguished name (DN) "C=US,C=IN" has duplicate RDN attribute for "C", DN can only have '
            "unique RDN attributes",
        ),
        (
            ["x509.subject:C=US,ST=WA"],
            'trust policy statement "test-statement-name" has trusted identity "x509.subject:C=US,ST=WA" with invalid '
            f'identity value: distinguished name (DN) "C=US,ST=WA" has no mandatory RDN attribute for "O", {MANDATORY_HINT}',
        ),
        (
            ["x509.subject:C=US,ST=WA,O=MyOrg", "x509.subject:C=US,ST=WA,O=MyOrg,X=Y"],
            'trust policy statement "test-statement-name" has overlapping x509 trustedIdentities, '
            '"x509.subject:C=US,ST=WA,O=MyOrg" overlaps with "x509.subject:C=US,ST=WA,O=MyOrg,X=Y"',
        ),
        (
            ["x509.subject:C=US,ST=WA,O=MyOrg", "x509.subject:O=MyOrg, ST=WA, C=US"],
            'trust policy statement "test-statement-name" has overlapping x509 trustedIdentities, '
            '"x509.subject:C=US,ST=WA,O=MyOrg" overlaps with "x509.subject:O=MyOrg, ST=WA, C=US"',
        ),
        (
            ["x509.subject:C=US+ST=WA,O=MyOrg"],
            'trust policy statement "test-statement-name" has trusted identity "x509.subject:C=US+ST=WA,O=MyOrg" with '
            'invalid identity value: distinguished name (DN) "C=US+ST=WA,O=MyOrg" has multi-valued RDN attributes, '
            "remove multi-valued RDN attributes as they are not supported",
        ),
    ],
)
def test_strict_rules(identities: list[str], message: str) -> None:
    assert _strict_error(identities) == message


def test_strict_accepts_valid_sets() -> None:
    parsed = TrustedIdentities.parse(
        [
            "x509.subject:C=US,ST=WA,O=MyOrg",
            "x509.subject:C=US,ST=WA,O=  My.  Org",
            'x509.subject:C=US,ST=WA,O=My "special" Org \\, \\; \\\\ others',
            "unknown:my-trusted-identity",
        ],
        "s",
        strict=True,
    )
    assert not parsed.wildcard
    assert len(parsed.x509_subjects) == 3
    assert parsed.others == ("unknown:my-trusted-identity",)
    assert TrustedIdentities.parse(["*"], "s", strict=True).wildcard


def test_lenient_wildcard_short_circuits_like_go() -> None:
    # At verification time Go returns before looking at other items when "*" is present.
    parsed = TrustedIdentities.parse(["x509.subject", "*"], "s")
    assert parsed.wildcard
    with pytest.raises(TrustPolicyError):
        TrustedIdentities.parse(["x509.subject", "*"], "s", strict=True)


def test_lenient_dn_error_is_unwrapped() -> None:
    with pytest.raises(TrustPolicyError) as info:
        TrustedIdentities.parse(["x509.subject:C=US,ST=WA"], "s")
    assert info.value.message.startswith('distinguished name (DN) "C=US,ST=WA" has no mandatory')


# --- matching -------------------------------------------------------------------------------------


def _conformance_cert(kind: str) -> x509.Certificate:
    file = "signing-cert.pem" if kind == "good" else "bad-cert.pem"
    return x509.load_pem_x509_certificate(vector(f"notation-go/trusted-identity-certs/{file}").read_bytes())


def _identity_cases() -> list[Any]:
    out = []
    for group in cases_of_kind("trusted-identity"):
        for index, sub in enumerate(group["cases"]):
            out.append(pytest.param(sub, id=f"{group['id']}-{index}"))
    assert len(out) == 10
    return out


@pytest.mark.parametrize("sub", _identity_cases())
def test_conformance_trusted_identities(sub: dict[str, Any]) -> None:
    leaf = _conformance_cert(sub["cert"])
    try:
        matched = match_trusted_identity(sub["ids"], leaf)
    except TrustPolicyError:  # malformed identities raise instead of answering
        matched = False
    assert matched is (not sub["wantErr"])
    if sub["wantErr"]:
        with pytest.raises((TrustPolicyError, IdentityMismatchError)):
            verify_trusted_identity(TrustedIdentities.parse(sub["ids"], "n"), leaf)
    else:
        verify_trusted_identity(TrustedIdentities.parse(sub["ids"], "n"), leaf)


def test_conformance_messages() -> None:
    good, bad = _conformance_cert("good"), _conformance_cert("bad")
    with pytest.raises(TrustPolicyError) as no_x509:
        verify_trusted_identity(TrustedIdentities.parse(["nonX509Prefix:my-custom-identity"], "p"), good)
    assert no_x509.value.message == 'no x509 trusted identities are configured in the trust policy "p"'
    with pytest.raises(IdentityMismatchError) as leaf_error:
        verify_trusted_identity(TrustedIdentities.parse(["x509.subject:C=US,O=SomeOrg,ST=WA"], "p"), bad)
    assert leaf_error.value.message == (
        "error while parsing the certificate subject from the digital signature. error : "
        '"unsupported distinguished name (DN) \\"CN=Bad=#CN,OU=SomeOU,O=SomeOrg,L=Seattle,ST=WA,C=US\\": '
        'notation does not support x509.subject identities containing \\"=#\\""'
    )


def _envelope_leaf(envelope: str) -> x509.Certificate:
    import base64
    import json

    data = json.loads(vector(f"notation-go/mock-envelopes/{envelope}").read_text())
    return x509.load_der_x509_certificate(base64.b64decode(data["header"]["x5c"][0]))


def test_mismatch_message_matches_oci_envelope_cases() -> None:
    checked = 0
    for case in cases_of_kind("oci-envelope"):
        if not case["id"].endswith("trusted-identity-mismatch"):
            continue
        statement = case["trustPolicyOCI"]["trustPolicies"][0]
        identities = TrustedIdentities.parse(statement["trustedIdentities"], statement["name"])
        with pytest.raises(IdentityMismatchError) as info:
            verify_trusted_identity(identities, _envelope_leaf(case["envelope"].rsplit("/", 1)[1]))
        assert info.value.message == case["levels"]["strict"]["error"]
        assert identity_mismatch_message(identities) == case["levels"]["strict"]["error"]
        checked += 1
    assert checked == 2


def test_envelope_leaf_matches_its_subject() -> None:
    leaf = _envelope_leaf("ca_valid_sig_env.json")
    assert match_trusted_identity(["x509.subject:CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"], leaf)
    assert match_trusted_identity(["x509.subject: C=US, ST=WA, O=Notary"], leaf)
    assert match_trusted_identity(["x509.subject:C=US,S=WA,O=Notary"], leaf)
    assert not match_trusted_identity(["x509.subject:C=US,ST=WA,O=Notary,OU=Other"], leaf)


@pytest.mark.parametrize(
    ("attributes", "error_fragment"),
    [
        ((("C", "US"), ("O", "Notary"), ("CN", "no-state")), 'has no mandatory RDN attribute for \\"ST\\"'),
        ((*NOTARY, ("OU", "a"), ("OU", "b"), ("CN", "two-ou")), "has multi-valued RDN attributes"),
        ((*NOTARY, ("CN", "mail"), ("EMAIL", "a@example.com")), 'containing \\"=#\\"'),
    ],
)
def test_leaf_subjects_go_cannot_parse_never_match(attributes: Any, error_fragment: str) -> None:
    leaf = leaf_with(*attributes)
    assert not match_trusted_identity(["x509.subject:C=US,ST=WA,O=Notary"], leaf)
    with pytest.raises(IdentityMismatchError) as info:
        leaf_subject_dn(leaf)
    assert info.value.message.startswith("error while parsing the certificate subject from the digital signature.")
    assert error_fragment in info.value.message
    assert match_trusted_identity(["*"], leaf)  # the wildcard does not look at the subject


def test_leaf_subject_uses_go_rendering() -> None:
    leaf = leaf_with(*NOTARY, ("CN", "a, b+c"), ("CN", "last wins"))
    assert leaf_subject_dn(leaf) == {"CN": "last wins", "O": "Notary", "L": "Seattle", "ST": "WA", "C": "US"}
    leaf = leaf_with(*NOTARY, ("CN", " spaced #1 "))
    assert leaf_subject_dn(leaf)["CN"] == " spaced #1 "


def test_any_of_several_identities_matches() -> None:
    leaf = leaf_with(*NOTARY, ("CN", "x"))
    identities = ["x509.subject:C=IN,ST=TS,O=Other", "x509.subject:C=US,ST=WA,O=Notary,CN=x"]
    assert match_trusted_identity(identities, leaf)
    assert not match_trusted_identity(identities[:1], leaf)


def test_match_raises_for_malformed_raw_identities() -> None:
    with pytest.raises(TrustPolicyError, match="missing separator"):
        match_trusted_identity(["x509.subject"], leaf_with(*NOTARY))
