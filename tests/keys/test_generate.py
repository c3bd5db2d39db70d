"""Certificates for a small PKI: each meets the Notary Project code-signing certificate rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from notation_py.errors import CertificateError, UsageError
from notation_py.keys.generate import (
    KEY_TYPES,
    CertRole,
    build_certificate,
    create_root_ca,
    generate_key,
    issue_intermediate_ca,
    issue_signing_certificate,
    order_chain,
    parse_subject,
    validate_ca_chain,
)
from notation_py.x509.chain import validate_code_signing_chain
from tests.pki import ca_chain


# RSA 3072/4096 leaves are covered by the token keys (tests/keys/test_pkcs11.py) and generate-test.
@pytest.mark.parametrize("key_type", ["rsa-2048", "ec-256", "ec-384", "ec-521"])
def test_every_key_type_makes_a_valid_chain(key_type: str) -> None:
    assert key_type in KEY_TYPES
    root, inter, _ = ca_chain()
    leaf = issue_signing_certificate(inter, parse_subject(f"CN={key_type},O=Acme"), key_type=key_type)
    validate_code_signing_chain([leaf.certificate, inter.certificate, root.certificate], datetime.now(UTC))


def test_generate_key_types() -> None:
    assert isinstance(generate_key("EC-384"), ec.EllipticCurvePrivateKey)
    with pytest.raises(UsageError, match=r'unsupported key type "dsa-2048"'):
        generate_key("dsa-2048")


def test_root_and_team_intermediates() -> None:
    root = create_root_ca(parse_subject("CN=Acme Root,O=Acme"), key_type="ec-384")
    validate_ca_chain([root.certificate])
    team_a = issue_intermediate_ca(root, parse_subject("CN=Team A,O=Acme"), key_type="ec-256")
    team_b = issue_intermediate_ca(root, parse_subject("CN=Team B,O=Acme"), key_type="ec-256")
    for team in (team_a, team_b):
        validate_ca_chain([team.certificate, root.certificate])
        leaf = issue_signing_certificate(team, parse_subject("CN=signer,O=Acme"), key_type="ec-256")
        validate_code_signing_chain([leaf.certificate, team.certificate, root.certificate], datetime.now(UTC))
        constraints = team.certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
        usage = leaf.certificate.extensions.get_extension_for_class(x509.KeyUsage)
        assert usage.critical and usage.value.digital_signature and not usage.value.key_encipherment
        eku = leaf.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert [o.dotted_string for o in eku] == ["1.3.6.1.5.5.7.3.3"]


def test_certificate_for_an_existing_public_key() -> None:
    root, inter, _ = ca_chain()
    key = generate_key("ec-256")
    cert = build_certificate(
        role=CertRole.LEAF,
        subject=parse_subject("CN=external"),
        public_key=key.public_key(),
        issuer_key=inter.key,
        issuer_cert=inter.certificate,
        validity=timedelta(days=1),
    )
    assert cert.public_key() == key.public_key()
    assert cert.issuer == inter.certificate.subject
    validate_code_signing_chain([cert, inter.certificate, root.certificate], datetime.now(UTC))


def test_certificate_cannot_outlive_its_issuer() -> None:
    _root, inter, _ = ca_chain()
    with pytest.raises(UsageError, match=r"after its issuer .* expires .*use a shorter validity"):
        issue_signing_certificate(inter, parse_subject("CN=long"), key_type="ec-256", validity=timedelta(days=5000))
    with pytest.raises(UsageError, match=r"validity must be positive"):
        issue_signing_certificate(inter, parse_subject("CN=x"), key_type="ec-256", validity=timedelta(0))


@pytest.mark.parametrize(
    ("text", "message"),
    [("not a dn", "invalid subject"), ("O=Acme", "a common name"), ("", "a common name")],
)
def test_parse_subject_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_subject(text)


def test_validate_ca_chain_errors() -> None:
    root, inter, leaf = ca_chain()
    with pytest.raises(CertificateError, match=r"empty"):
        validate_ca_chain([])
    with pytest.raises(CertificateError, match=r"basic constraints"):
        validate_ca_chain([leaf.certificate, inter.certificate, root.certificate])
    with pytest.raises(CertificateError, match=r"is not self-signed"):
        validate_ca_chain([inter.certificate])
    other_root = create_root_ca(parse_subject("CN=Other Root"), key_type="ec-256")
    with pytest.raises(CertificateError, match=r"is not issued by CN=Other Root"):
        validate_ca_chain([inter.certificate, other_root.certificate])
    old = create_root_ca(
        parse_subject("CN=Old Root"),
        key_type="ec-256",
        validity=timedelta(days=1),
        not_before=datetime.now(UTC) - timedelta(days=3),
    )
    with pytest.raises(CertificateError, match=r"is not valid now"):
        validate_ca_chain([old.certificate])


def test_path_length_zero_intermediate_cannot_have_a_sub_ca() -> None:
    root, inter, _ = ca_chain()
    sub = issue_intermediate_ca(inter, parse_subject("CN=Sub CA"), key_type="ec-256", validity=timedelta(days=30))
    with pytest.raises(CertificateError):
        validate_ca_chain([sub.certificate, inter.certificate, root.certificate])


def test_order_chain() -> None:
    root, inter, leaf = ca_chain()
    unrelated = create_root_ca(parse_subject("CN=Unrelated"), key_type="ec-256")
    ordered = order_chain([root.certificate, unrelated.certificate, inter.certificate], leaf.certificate)
    assert ordered == [leaf.certificate, inter.certificate, root.certificate]
    assert order_chain([], leaf.certificate) == [leaf.certificate]
