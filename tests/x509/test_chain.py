"""Certificate-chain rules: notation-core-go conformance cases plus generated chains."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from asn1crypto import algos as asn1_algos
from asn1crypto import core as asn1_core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from notation_py.errors import CertificateError
from notation_py.x509 import chain as chain_module
from notation_py.x509 import (
    check_signature_from,
    format_go_time,
    has_valid_self_signature,
    is_ca,
    is_issued_by,
    is_self_signed,
    read_certificate_file,
    validate_code_signing_ca,
    validate_code_signing_chain,
    validate_code_signing_leaf,
    validate_timestamping_ca,
    validate_timestamping_chain,
    validate_timestamping_leaf,
)
from tests.conformance import case, vector
from tests.x509.pki import (
    NOT_AFTER,
    NOT_BEFORE,
    Issued,
    build,
    certs,
    code_signing_chain,
    ec_key,
    ed_key,
    key_usage,
    name,
    resign,
    rsa_key,
    sha1_rsa_signer,
    sha256_rsa_signer,
)

ChainValidator = Callable[[Sequence[x509.Certificate], dt.datetime | None], None]


def _error(fn: Callable[[], None]) -> str | None:
    """Run ``fn``; the CertificateError message, or None when it passes."""
    try:
        fn()
    except CertificateError as exc:
        return exc.message
    return None


# ------------------------------------------------------------------------------------------------
# Conformance vectors (cases.json: core-x509-codesigning, core-x509-timestamping)
# ------------------------------------------------------------------------------------------------


def _params(case_id: str) -> list[Any]:
    subs = case(case_id)["cases"]
    return [pytest.param(sub, id=sub.get("test") or f"{case_id}-{i}") for i, sub in enumerate(subs)]


def _cert(rel: str) -> x509.Certificate:
    loaded = read_certificate_file(vector(rel))
    assert len(loaded) == 1
    return loaded[0]


def _signing_time(sub: dict[str, Any]) -> dt.datetime | None:
    value = sub.get("signingTime")
    if value is None:
        return None
    if value == "now":
        return dt.datetime.now(dt.UTC)
    return dt.datetime.fromisoformat(value)


def _run_case(sub: dict[str, Any], chain_fn: ChainValidator) -> str | None:
    if "chain" in sub:
        chain = [_cert(p) for p in sub["chain"]]
        return _error(lambda: chain_fn(chain, _signing_time(sub)))
    cert = _cert(sub["cert"])
    # Single-certificate cases call Go's CA or leaf validator directly; the CA ones name the
    # expected path length in the test name, or use Go's 3 when it does not matter.
    path_len = re.search(r"expectedPathLen=(\d+)", sub["test"])
    if sub.get("role") == "CA" or path_len:
        return _error(lambda: validate_code_signing_ca(cert, int(path_len.group(1)) if path_len else 3))
    assert sub.get("role") == "leaf", sub
    return _error(lambda: validate_code_signing_leaf(cert))


def _check_outcome(sub: dict[str, Any], outcome: str | None) -> None:
    if "error" in sub:
        assert outcome == sub["error"]
    else:
        assert sub["result"] == "valid"
        assert outcome is None


@pytest.mark.parametrize("sub", _params("core-x509-codesigning"))
def test_code_signing_conformance(sub: dict[str, Any]) -> None:
    _check_outcome(sub, _run_case(sub, validate_code_signing_chain))


@pytest.mark.parametrize("sub", _params("core-x509-timestamping"))
def test_timestamping_conformance(sub: dict[str, Any]) -> None:
    _check_outcome(sub, _run_case(sub, validate_timestamping_chain))


def test_conformance_case_counts() -> None:
    # Guard against silently running fewer vectors than cases.json holds.
    assert len(case("core-x509-codesigning")["cases"]) == 26
    assert len(case("core-x509-timestamping")["cases"]) == 6


def test_timestamping_vector_chain_valid_at_signing_time() -> None:
    chain = [_cert(f"core-go/x509-timestamping-chain/timestamp_{p}.crt") for p in ("leaf", "intermediate", "root")]
    validate_timestamping_chain(chain, dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    message = _error(lambda: validate_timestamping_chain(chain, dt.datetime(2023, 7, 13, tzinfo=dt.UTC)))
    assert message == (
        'certificate with subject "CN=DigiCert Timestamp 2023,O=DigiCert\\\\, Inc.,C=US" was invalid at '
        "signing time of 2023-07-13 00:00:00 +0000 UTC. Certificate is valid from "
        "[2023-07-14 00:00:00 +0000 UTC] to [2034-10-13 23:59:59 +0000 UTC]"
    )


def test_vector_leaf_is_not_a_timestamping_leaf() -> None:
    leaf = _cert("core-go/x509-codesigning/validNoOptionsLeaf.pem")
    assert _error(lambda: validate_timestamping_leaf(leaf)) == (
        'timestamp signing certificate with subject "CN=Hello" must have and only have Timestamping as '
        "extended key usage"
    )


# ------------------------------------------------------------------------------------------------
# Chain structure (generated chains)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [validate_code_signing_chain, validate_timestamping_chain])
def test_empty_chain(fn: ChainValidator) -> None:
    assert _error(lambda: fn([], None)) == "certificate chain must contain at least one certificate"


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_generated_chain_valid(depth: int) -> None:
    chain = certs(code_signing_chain(depth))
    assert len(chain) == depth + 2
    validate_code_signing_chain(chain)
    validate_code_signing_chain(chain, dt.datetime(2030, 5, 6, 7, 8, 9, tzinfo=dt.UTC))


def test_chain_with_duplicate_root() -> None:
    chain = certs(code_signing_chain(1))
    assert _error(lambda: validate_code_signing_chain([*chain, chain[-1]])) == (
        'intermediate certificate with subject "CN=Test Root" is self-signed. Certificate chain must not '
        "contain self-signed intermediate certificate"
    )


def test_chain_with_duplicate_intermediate() -> None:
    leaf, intermediate, root = certs(code_signing_chain(1))
    assert _error(lambda: validate_code_signing_chain([leaf, intermediate, intermediate, root])) == (
        'invalid certificates or certificate with subject "CN=Test Intermediate 1" is not issued by '
        '"CN=Test Intermediate 1". Error: x509: ECDSA verification failure'
    )


def test_chain_missing_intermediate() -> None:
    leaf, _, root = certs(code_signing_chain(1))
    assert _error(lambda: validate_code_signing_chain([leaf, root])) == (
        'invalid certificates or certificate with subject "CN=Test Leaf" is not issued by "CN=Test Root". '
        "Error: x509: ECDSA verification failure"
    )


def test_issuer_name_mismatch_with_valid_signature() -> None:
    _, intermediate, root = code_signing_chain(1)
    leaf = build("Test Leaf", issuer=intermediate, issuer_name=name("Someone Else"), key=ec_key(index=1))
    assert _error(lambda: validate_code_signing_chain(certs([leaf, intermediate, root]))) == (
        'certificate with subject "CN=Test Leaf" is not issued by "CN=Test Intermediate 1"'
    )


def test_root_signed_by_own_key_but_not_self_issued() -> None:
    root = build("Test Root", ca=True, issuer_name=name("Other Root"), key=ec_key(index=100))
    leaf = build("Test Leaf", issuer=root, key=ec_key(index=1))
    assert _error(lambda: validate_code_signing_chain(certs([leaf, root]))) == (
        'root certificate with subject "CN=Test Root" is not self-signed. Certificate chain must end with '
        "a valid self-signed root certificate"
    )


def test_parent_without_basic_constraints_cannot_sign() -> None:
    root = build("Test Root", ca=None, key=ec_key(index=100))
    leaf = build("Test Leaf", issuer=root, key=ec_key(index=1))
    assert _error(lambda: validate_code_signing_chain(certs([leaf, root]))) == (
        'invalid certificates or certificate with subject "CN=Test Leaf" is not issued by "CN=Test Root". '
        "Error: x509: invalid signature: parent certificate cannot sign this kind of certificate"
    )


def test_parent_key_usage_without_cert_sign_cannot_sign() -> None:
    root = build("Test Root", ca=True, ku=key_usage(digital_signature=True), key=ec_key(index=100))
    leaf = build("Test Leaf", issuer=root, key=ec_key(index=1))
    assert _error(lambda: validate_code_signing_chain(certs([leaf, root]))) == (
        'invalid certificates or certificate with subject "CN=Test Leaf" is not issued by "CN=Test Root". '
        "Error: x509: invalid signature: parent certificate cannot sign this kind of certificate"
    )


def test_self_signed_ca_root_alone_fails_leaf_rules() -> None:
    root = build("Test Root", ca=True)
    assert _error(lambda: validate_code_signing_chain([root.cert])) == (
        'invalid self-signed certificate. Error: certificate with subject "CN=Test Root": if the basic '
        "constraints extension is present, the ca field must be set to false"
    )


def test_single_certificate_not_self_issued() -> None:
    cert = build("Lonely", issuer_name=name("Other"))
    assert _error(lambda: validate_code_signing_chain([cert.cert])) == (
        'invalid self-signed certificate. subject: "CN=Lonely". Error: issuer(CN=Other) and '
        "subject(CN=Lonely) are not the same"
    )


@pytest.mark.parametrize("ca", [None, False])
def test_single_self_signed_leaf_valid(ca: bool | None) -> None:
    cert = build("Self Signed", ca=ca, eku=[ExtendedKeyUsageOID.CODE_SIGNING])
    validate_code_signing_chain([cert.cert], dt.datetime(2050, 1, 1, tzinfo=dt.UTC))


def test_path_len_too_small() -> None:
    root = build("Test Root", ca=True, path_len=0, key=ec_key(index=100))
    intermediate = build("Test Intermediate", ca=True, issuer=root, key=ec_key(index=101))
    leaf = build("Test Leaf", issuer=intermediate, key=ec_key(index=1))
    assert _error(lambda: validate_code_signing_chain(certs([leaf, intermediate, root]))) == (
        'certificate with subject "CN=Test Root": expected path length of 1 but certificate has path length 0 instead'
    )
    root1 = build("Test Root", ca=True, path_len=1, key=ec_key(index=100))
    intermediate1 = build("Test Intermediate", ca=True, path_len=0, issuer=root1, key=ec_key(index=101))
    leaf1 = build("Test Leaf", issuer=intermediate1, key=ec_key(index=1))
    validate_code_signing_chain(certs([leaf1, intermediate1, root1]))


def test_intermediate_key_usage_not_critical() -> None:
    root = build("Test Root", ca=True, key=ec_key(index=100))
    intermediate = build("Test Intermediate", ca=True, ku_critical=False, issuer=root, key=ec_key(index=101))
    leaf = build("Test Leaf", issuer=intermediate, key=ec_key(index=1))
    chain = certs([leaf, intermediate, root])
    assert _error(lambda: validate_code_signing_chain(chain)) == (
        'certificate with subject "CN=Test Intermediate": key usage extension must be marked critical'
    )


# ------------------------------------------------------------------------------------------------
# Signing time
# ------------------------------------------------------------------------------------------------


def _short_lived_chain() -> list[x509.Certificate]:
    root = build("Test Root", ca=True, key=ec_key(index=100))
    leaf = build(
        "Test Leaf",
        issuer=root,
        key=ec_key(index=1),
        not_before=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        not_after=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    )
    return certs([leaf, root])


def test_expired_leaf_at_signing_time() -> None:
    signing_time = dt.datetime(2025, 6, 1, 12, 0, 0, 500000, tzinfo=dt.UTC)
    assert _error(lambda: validate_code_signing_chain(_short_lived_chain(), signing_time)) == (
        'certificate with subject "CN=Test Leaf" was invalid at signing time of 2025-06-01 12:00:00.5 +0000 '
        "UTC. Certificate is valid from [2024-01-01 00:00:00 +0000 UTC] to [2025-01-01 00:00:00 +0000 UTC]"
    )


def test_not_yet_valid_at_signing_time() -> None:
    signing_time = dt.datetime(2023, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    assert _error(lambda: validate_code_signing_chain(_short_lived_chain(), signing_time)) == (
        'certificate with subject "CN=Test Leaf" was invalid at signing time of 2023-12-31 23:59:59 +0000 '
        "UTC. Certificate is valid from [2024-01-01 00:00:00 +0000 UTC] to [2025-01-01 00:00:00 +0000 UTC]"
    )


def test_signing_time_bounds_are_inclusive() -> None:
    chain = _short_lived_chain()
    validate_code_signing_chain(chain, dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    validate_code_signing_chain(chain, dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    late = dt.datetime(2025, 1, 1, 0, 0, 0, 1, tzinfo=dt.UTC)
    assert _error(lambda: validate_code_signing_chain(chain, late)) is not None


def test_signing_time_in_other_zone_and_naive() -> None:
    chain = _short_lived_chain()
    # 2025-01-01 00:30 in UTC+01:00 is 2024-12-31 23:30 UTC: still valid.
    validate_code_signing_chain(chain, dt.datetime(2025, 1, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1))))
    # Naive datetimes are UTC: 2025-01-01 00:30 is after notAfter.
    message = _error(lambda: validate_code_signing_chain(chain, dt.datetime(2025, 1, 1, 0, 30)))
    assert message is not None
    assert "signing time of 2025-01-01 00:30:00 +0000 UTC" in message


def test_expired_intermediate_at_signing_time() -> None:
    root = build("Test Root", ca=True, key=ec_key(index=100))
    intermediate = build(
        "Test Intermediate",
        ca=True,
        issuer=root,
        key=ec_key(index=101),
        not_after=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    leaf = build("Test Leaf", issuer=intermediate, key=ec_key(index=1))
    message = _error(
        lambda: validate_code_signing_chain(certs([leaf, intermediate, root]), dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    )
    assert message == (
        'certificate with subject "CN=Test Intermediate" was invalid at signing time of 2027-01-01 00:00:00 '
        "+0000 UTC. Certificate is valid from [2024-01-01 00:00:00 +0000 UTC] to [2026-01-01 00:00:00 +0000 UTC]"
    )


def test_single_certificate_signing_time() -> None:
    cert = build("Self Signed", not_after=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    message = _error(lambda: validate_code_signing_chain([cert.cert], dt.datetime(2026, 1, 1, tzinfo=dt.UTC)))
    assert message == (
        'certificate with subject "CN=Self Signed" was invalid at signing time of 2026-01-01 00:00:00 +0000 '
        "UTC. Certificate is valid from [2024-01-01 00:00:00 +0000 UTC] to [2025-01-01 00:00:00 +0000 UTC]"
    )


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (dt.datetime(2021, 7, 7, 20, 48, 42, tzinfo=dt.UTC), "2021-07-07 20:48:42 +0000 UTC"),
        (dt.datetime(2021, 7, 7, 20, 48, 42, 500000, tzinfo=dt.UTC), "2021-07-07 20:48:42.5 +0000 UTC"),
        (dt.datetime(2021, 7, 7, 20, 48, 42, 123, tzinfo=dt.UTC), "2021-07-07 20:48:42.000123 +0000 UTC"),
        (dt.datetime(3021, 10, 31, 19, 20, 3, tzinfo=dt.UTC), "3021-10-31 19:20:03 +0000 UTC"),
        (dt.datetime(999, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "0999-01-02 03:04:05 +0000 UTC"),
        (
            dt.datetime(2022, 1, 1, 1, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2021-12-31 23:00:00 +0000 UTC",
        ),
    ],
)
def test_format_go_time(moment: dt.datetime, expected: str) -> None:
    assert format_go_time(moment) == expected


# ------------------------------------------------------------------------------------------------
# Signature algorithms
# ------------------------------------------------------------------------------------------------


def _rsa_intermediate_chain() -> tuple[Issued, Issued, Issued]:
    root = build("Test Root", ca=True, key=ec_key(index=100))
    intermediate = build("RSA Intermediate", ca=True, issuer=root, key=rsa_key())
    leaf = build("Test Leaf", issuer=intermediate, key=ec_key(index=1))
    return leaf, intermediate, root


def test_sha1_signed_leaf_rejected() -> None:
    leaf, intermediate, root = _rsa_intermediate_chain()
    validate_code_signing_chain(certs([leaf, intermediate, root]))
    sha1_leaf = resign(leaf.cert, algorithm="sha1_rsa", sign=sha1_rsa_signer(rsa_key()))
    # The re-signed leaf is otherwise sound: the same bytes signed with SHA-256 pass.
    sha256_leaf = resign(leaf.cert, algorithm="sha256_rsa", sign=sha256_rsa_signer(rsa_key()))
    validate_code_signing_chain([sha256_leaf, intermediate.cert, root.cert])
    assert _error(lambda: validate_code_signing_chain([sha1_leaf, intermediate.cert, root.cert])) == (
        'invalid certificates or certificate with subject "CN=Test Leaf" is not issued by '
        '"CN=RSA Intermediate". Error: x509: cannot verify signature: insecure algorithm SHA1-RSA'
    )


def test_sha1_self_signed_root_rejected() -> None:
    root = build("Test Root", ca=True, key=rsa_key())
    leaf = build("Test Leaf", issuer=root, key=ec_key(index=1))
    sha1_root = resign(root.cert, algorithm="sha1_rsa", sign=sha1_rsa_signer(rsa_key()))
    assert _error(lambda: validate_code_signing_chain([leaf.cert, sha1_root])) == (
        'root certificate with subject "CN=Test Root" is invalid or not self-signed. Certificate chain must '
        "end with a valid self-signed root certificate. Error: x509: cannot verify signature: insecure "
        "algorithm SHA1-RSA"
    )


def test_sha1_single_self_signed_rejected() -> None:
    # Go allows SHA-1 on a lone self-signed certificate; the specification (and this module) does not.
    cert = build("Old", key=rsa_key())
    sha1_cert = resign(cert.cert, algorithm="sha1_rsa", sign=sha1_rsa_signer(rsa_key()))
    assert has_valid_self_signature(cert.cert)
    assert not has_valid_self_signature(sha1_cert)
    assert _error(lambda: validate_code_signing_chain([sha1_cert])) == (
        'invalid self-signed certificate. subject: "CN=Old". Error: x509: cannot verify signature: '
        "insecure algorithm SHA1-RSA"
    )


def test_ecdsa_sha1_rejected() -> None:
    root = build("Test Root", ca=True, key=ec_key(index=100))
    leaf = build("Test Leaf", issuer=root, key=ec_key(index=1))
    key = ec_key(index=100)

    def sign(data: bytes) -> bytes:
        return key.sign(data, ec.ECDSA(hashes.SHA1()))

    sha1_leaf = resign(leaf.cert, algorithm="sha1_ecdsa", sign=sign)
    assert _error(lambda: validate_code_signing_chain([sha1_leaf, root.cert])) == (
        'invalid certificates or certificate with subject "CN=Test Leaf" is not issued by "CN=Test Root". '
        "Error: x509: cannot verify signature: insecure algorithm ECDSA-SHA1"
    )


def test_tampered_signature() -> None:
    leaf, intermediate, root = _rsa_intermediate_chain()
    bad = resign(leaf.cert, algorithm="sha256_rsa", sign=lambda d: sha256_rsa_signer(rsa_key())(d + b"x"))
    assert _error(lambda: validate_code_signing_chain([bad, intermediate.cert, root.cert])) == (
        'invalid certificates or certificate with subject "CN=Test Leaf" is not issued by '
        '"CN=RSA Intermediate". Error: crypto/rsa: verification error'
    )


def test_signature_algorithm_key_mismatch() -> None:
    leaf, intermediate, root = _rsa_intermediate_chain()
    bad = resign(leaf.cert, algorithm="sha256_ecdsa", sign=sha256_rsa_signer(rsa_key()))
    assert _error(lambda: validate_code_signing_chain([bad, intermediate.cert, root.cert])) == (
        'invalid certificates or certificate with subject "CN=Test Leaf" is not issued by '
        '"CN=RSA Intermediate". Error: x509: signature algorithm specifies an ECDSA public key, but have '
        "public key of type *rsa.PublicKey"
    )


def _pss(salt: int) -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt)


def test_rsa_pss_chain() -> None:
    root = build("PSS Root", ca=True, key=rsa_key(), rsa_padding=_pss(32))
    leaf = build("PSS Leaf", issuer=root, key=rsa_key(3072), rsa_padding=_pss(32))
    validate_code_signing_chain(certs([leaf, root]))
    # Go only knows PSS with salt length = hash length; anything else is an unknown algorithm.
    odd_leaf = build("PSS Leaf", issuer=root, key=rsa_key(3072), rsa_padding=_pss(20))
    assert _error(lambda: validate_code_signing_chain(certs([odd_leaf, root]))) == (
        'invalid certificates or certificate with subject "CN=PSS Leaf" is not issued by "CN=PSS Root". '
        "Error: x509: cannot verify signature: algorithm unimplemented"
    )


def _mgf1(hash_name: str) -> dict[str, Any]:
    return {"algorithm": "mgf1", "parameters": {"algorithm": hash_name}}


_PSS_SHA256 = {"hash_algorithm": {"algorithm": "sha256"}, "mask_gen_algorithm": _mgf1("sha256"), "salt_length": 32}


@pytest.mark.parametrize(
    ("params", "accepted"),
    [
        (_PSS_SHA256, True),
        (
            {
                "hash_algorithm": {"algorithm": "sha256", "parameters": asn1_core.Null()},
                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256", "parameters": None}},
                "salt_length": 32,
            },
            True,
        ),
        ({**_PSS_SHA256, "trailer_field": 1}, True),
        ({**_PSS_SHA256, "trailer_field": 2}, False),
        ({**_PSS_SHA256, "salt_length": 20}, False),
        ({**_PSS_SHA256, "salt_length": 0}, False),
        ({**_PSS_SHA256, "mask_gen_algorithm": _mgf1("sha384")}, False),
        ({k: v for k, v in _PSS_SHA256.items() if k != "salt_length"}, False),
        ({k: v for k, v in _PSS_SHA256.items() if k != "mask_gen_algorithm"}, False),  # MGF1-SHA-1 default
        ({k: v for k, v in _PSS_SHA256.items() if k != "hash_algorithm"}, False),  # SHA-1 default
        ({"hash_algorithm": {"algorithm": "sha1"}, "mask_gen_algorithm": _mgf1("sha1"), "salt_length": 20}, False),
    ],
)
def test_rsa_pss_parameters(params: dict[str, Any], accepted: bool) -> None:
    # The signature is PSS/SHA-256/salt 32; only the parameters in signatureAlgorithm vary. Go
    # accepts exactly SHA-256/384/512 with MGF1 of the same hash, salt = hash size, trailer 1.
    signed = build("PSS", ca=True, key=rsa_key(), rsa_padding=_pss(32)).cert
    parsed = asn1_x509.Certificate.load(signed.public_bytes(Encoding.DER))
    algorithm = asn1_algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss", "parameters": params})
    rebuilt = asn1_x509.Certificate(
        {
            "tbs_certificate": parsed["tbs_certificate"],
            "signature_algorithm": algorithm,
            "signature_value": parsed["signature_value"],
        }
    )
    cert = x509.load_der_x509_certificate(rebuilt.dump())
    assert has_valid_self_signature(cert) is accepted
    assert is_self_signed(cert) is accepted


def test_ed25519_root_may_sign() -> None:
    # Go puts no key requirement on CA certificates, and verifies Ed25519 signatures.
    root = build("Ed Root", ca=True, key=ed_key())
    leaf = build("Test Leaf", issuer=root, key=ec_key(index=1))
    validate_code_signing_chain(certs([leaf, root]))


# ------------------------------------------------------------------------------------------------
# Leaf rules (generated)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (lambda: ec_key("secp256r1"), None),
        (lambda: ec_key("secp384r1"), None),
        (lambda: ec_key("secp521r1"), None),
        (lambda: rsa_key(2048), None),
        (lambda: rsa_key(3072), None),
        (lambda: ec_key("secp224r1"), 'certificate with subject "CN=Leaf": ecdsa key size 224 bits is not supported'),
        (lambda: ec_key("secp256k1"), 'certificate with subject "CN=Leaf": ecdsa curve secp256k1 is not supported'),
        (ed_key, 'certificate with subject "CN=Leaf": unsupported public key type'),
    ],
    ids=["p256", "p384", "p521", "rsa2048", "rsa3072", "p224", "secp256k1", "ed25519"],
)
def test_leaf_key_types(key: Callable[[], Any], expected: str | None) -> None:
    root = build("Test Root", ca=True, key=ec_key(index=100))
    leaf = build("Leaf", issuer=root, key=key())
    assert _error(lambda: validate_code_signing_leaf(leaf.cert)) == expected
    assert _error(lambda: validate_code_signing_chain(certs([leaf, root]))) == expected


@pytest.mark.parametrize(
    ("ekus", "expected"),
    [
        ([ExtendedKeyUsageOID.CODE_SIGNING], None),
        ([ExtendedKeyUsageOID.CODE_SIGNING, x509.ObjectIdentifier("1.2.3.4")], None),
        # Go does not reject anyExtendedKeyUsage (the specification does); Go wins.
        ([ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE], None),
        ([ExtendedKeyUsageOID.CODE_SIGNING, ExtendedKeyUsageOID.SERVER_AUTH], "ServerAuth"),
        ([ExtendedKeyUsageOID.CLIENT_AUTH], "ClientAuth"),
        ([ExtendedKeyUsageOID.EMAIL_PROTECTION], "EmailProtection"),
        ([ExtendedKeyUsageOID.TIME_STAMPING], "Timestamping"),
        ([ExtendedKeyUsageOID.OCSP_SIGNING], "OCSPSigning"),
        ([ExtendedKeyUsageOID.OCSP_SIGNING, ExtendedKeyUsageOID.SERVER_AUTH], "OCSPSigning"),
    ],
)
def test_code_signing_leaf_eku(ekus: list[x509.ObjectIdentifier], expected: str | None) -> None:
    leaf = build("Leaf", eku=ekus)
    message = _error(lambda: validate_code_signing_leaf(leaf.cert))
    if expected is None:
        assert message is None
    else:
        assert message == f'certificate with subject "CN=Leaf": extended key usage must not contain {expected} eku'


@pytest.mark.parametrize(
    ("bits", "found"),
    [
        ({"content_commitment": True}, None),
        ({"key_encipherment": True}, '"KeyEncipherment"'),
        ({"data_encipherment": True, "crl_sign": True}, '"DataEncipherment", "CRLSign"'),
        (
            {"key_agreement": True, "encipher_only": True, "decipher_only": True},
            '"KeyAgreement", "EncipherOnly", "DecipherOnly"',
        ),
    ],
)
def test_leaf_key_usage_bits(bits: dict[str, bool], found: str | None) -> None:
    leaf = build("Leaf", ku=key_usage(digital_signature=True, **bits))
    expected = (
        None
        if found is None
        else f'the certificate with subject "CN=Leaf" is invalid. The key usage must be "Digital Signature" only, '
        f"but found {found}"
    )
    assert _error(lambda: validate_code_signing_leaf(leaf.cert)) == expected
    assert (
        _error(
            lambda: validate_timestamping_leaf(
                build(
                    "Leaf",
                    ku=key_usage(digital_signature=True, **bits),
                    eku=[ExtendedKeyUsageOID.TIME_STAMPING],
                    eku_critical=True,
                ).cert
            )
        )
        == expected
    )


def test_leaf_key_usage_encipher_only_without_key_agreement() -> None:
    # cryptography refuses to model this keyUsage; Go parses the bits as they are.
    raw = x509.UnrecognizedExtension(ExtensionOID.KEY_USAGE, bytes.fromhex("03020081"))
    leaf = build("Leaf", ku=None, extensions=[(raw, True)])
    assert _error(lambda: validate_code_signing_leaf(leaf.cert)) == (
        'the certificate with subject "CN=Leaf" is invalid. The key usage must be "Digital Signature" only, '
        'but found "EncipherOnly"'
    )


def test_malformed_key_usage_extension() -> None:
    raw = x509.UnrecognizedExtension(ExtensionOID.KEY_USAGE, bytes.fromhex("0400"))
    leaf = build("Leaf", ku=None, extensions=[(raw, True)])
    message = _error(lambda: validate_code_signing_leaf(leaf.cert))
    assert message is not None
    assert message.startswith("malformed certificate: invalid key usage")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"ku": None}, 'certificate with subject "CN=Leaf": key usage extension must be present'),
        ({"ku_critical": False}, 'certificate with subject "CN=Leaf": key usage extension must be marked critical'),
        (
            {"ku": key_usage(content_commitment=True)},
            'the certificate with subject "CN=Leaf" is invalid. The key usage must have the bit positions for '
            '"Digital Signature" set',
        ),
        (
            {"ca": True, "ku": key_usage(digital_signature=True)},
            'certificate with subject "CN=Leaf": if the basic constraints extension is present, the ca field '
            "must be set to false",
        ),
    ],
)
def test_code_signing_leaf_rules(kwargs: dict[str, Any], expected: str) -> None:
    assert _error(lambda: validate_code_signing_leaf(build("Leaf", **kwargs).cert)) == expected


# ------------------------------------------------------------------------------------------------
# CA rules (generated)
# ------------------------------------------------------------------------------------------------


def test_ca_rules() -> None:
    good = build("CA", ca=True, path_len=2)
    validate_code_signing_ca(good.cert, 2)
    assert _error(lambda: validate_code_signing_ca(good.cert, 3)) == (
        'certificate with subject "CN=CA": expected path length of 3 but certificate has path length 2 instead'
    )
    # No pathLenConstraint: any depth.
    validate_code_signing_ca(build("CA", ca=True).cert, 10)
    no_bc = 'certificate with subject "CN=CA": ca field in basic constraints must be present, critical, and set to true'
    assert (
        _error(lambda: validate_code_signing_ca(build("CA", ca=None, ku=key_usage(key_cert_sign=True)).cert, 0))
        == no_bc
    )
    assert (
        _error(lambda: validate_timestamping_ca(build("CA", ca=False, ku=key_usage(key_cert_sign=True)).cert, 0))
        == no_bc
    )


def test_key_usage_criticality_code_signing_vs_timestamping_ca() -> None:
    ca = build("CA", ca=True, ku_critical=False)
    assert _error(lambda: validate_code_signing_ca(ca.cert, 0)) == (
        'certificate with subject "CN=CA": key usage extension must be marked critical'
    )
    validate_timestamping_ca(ca.cert, 0)
    assert _error(lambda: validate_timestamping_ca(build("CA", ca=True, ku=None).cert, 0)) == (
        'certificate with subject "CN=CA": key usage extension must be present'
    )
    assert _error(lambda: validate_timestamping_ca(build("CA", ca=True, ku=key_usage(crl_sign=True)).cert, 0)) == (
        'certificate with subject "CN=CA": key usage must have the bit positions for key cert sign set'
    )


# ------------------------------------------------------------------------------------------------
# Timestamping (generated)
# ------------------------------------------------------------------------------------------------


def _tsa_chain(**leaf_kwargs: Any) -> list[x509.Certificate]:
    root = build("TSA Root", ca=True, ku_critical=False, key=ec_key(index=200))
    options: dict[str, Any] = {"eku": [ExtendedKeyUsageOID.TIME_STAMPING], "eku_critical": True, "ku_critical": False}
    options.update(leaf_kwargs)
    leaf = build("TSA", issuer=root, key=ec_key(index=201), **options)
    return certs([leaf, root])


def test_timestamping_chain_valid() -> None:
    chain = _tsa_chain()
    validate_timestamping_chain(chain)
    validate_timestamping_chain(chain, dt.datetime(2050, 1, 1, tzinfo=dt.UTC))
    # The same chain is not a code-signing chain.
    assert _error(lambda: validate_code_signing_chain(chain)) == (
        'certificate with subject "CN=TSA": key usage extension must be marked critical'
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"eku": None},
        {"eku": [ExtendedKeyUsageOID.TIME_STAMPING, ExtendedKeyUsageOID.CODE_SIGNING]},
        {"eku": [ExtendedKeyUsageOID.TIME_STAMPING, x509.ObjectIdentifier("1.2.3.4")]},
        {"eku": [ExtendedKeyUsageOID.CODE_SIGNING]},
    ],
    ids=["missing", "extra-known", "extra-unknown", "wrong"],
)
def test_timestamping_leaf_eku_only_time_stamping(kwargs: dict[str, Any]) -> None:
    assert _error(lambda: validate_timestamping_chain(_tsa_chain(**kwargs))) == (
        'timestamp signing certificate with subject "CN=TSA" must have and only have Timestamping as extended key usage'
    )


def test_timestamping_leaf_eku_must_be_critical() -> None:
    assert _error(lambda: validate_timestamping_chain(_tsa_chain(eku_critical=False))) == (
        'timestamp signing certificate with subject "CN=TSA" must have extended key usage extension marked as critical'
    )


def test_timestamping_single_self_signed() -> None:
    good = build("valid cert", eku=[ExtendedKeyUsageOID.TIME_STAMPING], eku_critical=True)
    validate_timestamping_chain([good.cert])
    bad = build("valid cert")
    assert _error(lambda: validate_timestamping_chain([bad.cert])) == (
        'invalid self-signed certificate. Error: timestamp signing certificate with subject "CN=valid cert" '
        "must have and only have Timestamping as extended key usage"
    )


def test_timestamping_expired_at_signing_time() -> None:
    chain = _tsa_chain(not_after=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    assert _error(lambda: validate_timestamping_chain(chain, dt.datetime(2025, 2, 1, tzinfo=dt.UTC))) == (
        'certificate with subject "CN=TSA" was invalid at signing time of 2025-02-01 00:00:00 +0000 UTC. '
        "Certificate is valid from [2024-01-01 00:00:00 +0000 UTC] to [2025-01-01 00:00:00 +0000 UTC]"
    )


# ------------------------------------------------------------------------------------------------
# Helpers used by trust-store loading
# ------------------------------------------------------------------------------------------------


def test_is_self_signed_and_is_ca() -> None:
    leaf, intermediate, root = code_signing_chain(1)
    assert is_self_signed(root.cert)
    assert not is_self_signed(intermediate.cert)
    assert not is_self_signed(leaf.cert)
    assert is_ca(root.cert) and is_ca(intermediate.cert)
    assert not is_ca(leaf.cert)
    assert not is_ca(build("No BC", ca=None).cert)


def test_self_signed_leaf_helpers() -> None:
    # A self-signed non-CA certificate verifies under its own key (accepted in a "ca" store), but
    # it is not a root: Go's CheckSignatureFrom refuses a parent without cA=true.
    for ca in (False, None):
        cert = build("Self Signed Leaf", ca=ca).cert
        assert has_valid_self_signature(cert)
        assert not is_self_signed(cert)
        assert check_signature_from(cert, cert) == (
            "x509: invalid signature: parent certificate cannot sign this kind of certificate"
        )


def test_issued_by_helpers() -> None:
    leaf, intermediate, root = code_signing_chain(1)
    assert is_issued_by(leaf.cert, intermediate.cert)
    assert is_issued_by(intermediate.cert, root.cert)
    assert not is_issued_by(leaf.cert, root.cert)
    assert check_signature_from(leaf.cert, intermediate.cert) is None
    assert check_signature_from(leaf.cert, root.cert) == "x509: ECDSA verification failure"
    assert not has_valid_self_signature(leaf.cert)


def test_vector_helpers() -> None:
    root = _cert("core-go/x509-codesigning/rootCert.pem")
    leaf = _cert("core-go/x509-codesigning/codeSigningLeaf.pem")
    assert is_self_signed(root) and is_ca(root)
    assert not is_self_signed(leaf) and not is_ca(leaf)
    openssl_min = _cert("core-go/x509-codesigning/openssl-minimum-self-signed.pem")
    assert has_valid_self_signature(openssl_min)


def test_not_before_after_constants_are_utc() -> None:
    # The generated-chain messages above depend on these exact instants.
    assert format_go_time(NOT_BEFORE) == "2024-01-01 00:00:00 +0000 UTC"
    assert format_go_time(NOT_AFTER) == "2124-01-01 00:00:00 +0000 UTC"


def test_version_1_root_may_sign_but_is_no_ca() -> None:
    # Go's CheckSignatureFrom lets a v1 certificate (no extensions) sign; the CA rules then fail.
    root = build("V1 Root", ca=True, key=rsa_key())

    def v1(tbs: Any) -> None:
        tbs["version"] = "v1"
        del tbs["extensions"]

    v1_root = resign(root.cert, algorithm="sha256_rsa", sign=sha256_rsa_signer(rsa_key()), mutate=v1)
    leaf = build("Test Leaf", issuer=root, key=ec_key(index=1))
    assert is_self_signed(v1_root)
    assert is_issued_by(leaf.cert, v1_root)
    assert _error(lambda: validate_code_signing_chain([leaf.cert, v1_root])) == (
        'certificate with subject "CN=V1 Root": ca field in basic constraints must be present, critical, and '
        "set to true"
    )


# ------------------------------------------------------------------------------------------------
# Memoised validation (no signing time): the memo never changes an outcome
# ------------------------------------------------------------------------------------------------


def _count_signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the certificate signature verifications done from now on (a one-element list)."""
    calls = [0]
    original = chain_module._check_signature

    def counting(cert: x509.Certificate, key: object) -> str | None:
        calls[0] += 1
        return original(cert, key)

    monkeypatch.setattr(chain_module, "_check_signature", counting)
    return calls


def test_valid_chain_is_validated_once_without_signing_time(monkeypatch: pytest.MonkeyPatch) -> None:
    chain = certs(code_signing_chain(1))
    calls = _count_signature_checks(monkeypatch)
    validate_code_signing_chain(chain)
    assert calls[0] == 4  # leaf by intermediate; intermediate by itself, by root; root by itself
    validate_code_signing_chain(chain)
    validate_code_signing_chain(tuple(chain), None)
    assert calls[0] == 4
    # A signing time is never served from the memo.
    validate_code_signing_chain(chain, dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    assert calls[0] == 8
    # Equal certificates that are other objects are validated afresh.
    validate_code_signing_chain([x509.load_der_x509_certificate(c.public_bytes(Encoding.DER)) for c in chain])
    assert calls[0] == 12


def test_validated_leaf_with_an_impostor_issuer_still_fails() -> None:
    leaf, root = certs(code_signing_chain(0))
    validate_code_signing_chain([leaf, root])
    impostor = build("Test Root", ca=True, key=ec_key(index=300)).cert  # same name, other key
    for _ in range(2):
        assert _error(lambda: validate_code_signing_chain([leaf, impostor])) == (
            'invalid certificates or certificate with subject "CN=Test Leaf" is not issued by "CN=Test Root". '
            "Error: x509: ECDSA verification failure"
        )
    validate_code_signing_chain([leaf, root])


def test_failing_chain_fails_every_time_with_the_same_message(monkeypatch: pytest.MonkeyPatch) -> None:
    leaf, intermediate, root = certs(code_signing_chain(1))
    validate_code_signing_chain([leaf, intermediate, root])
    calls = _count_signature_checks(monkeypatch)
    messages = {_error(lambda: validate_code_signing_chain([leaf, root])) for _ in range(3)}
    assert messages == {
        'invalid certificates or certificate with subject "CN=Test Leaf" is not issued by "CN=Test Root". '
        "Error: x509: ECDSA verification failure"
    }
    assert calls[0] == 3  # validated (leaf by root) each time


def test_chain_changed_after_validation_is_validated_again() -> None:
    leaf, root = certs(code_signing_chain(0))
    chain = [leaf, root]
    validate_code_signing_chain(chain)
    chain[1] = build("Test Root", ca=True, key=ec_key(index=300)).cert
    assert _error(lambda: validate_code_signing_chain(chain)) is not None
    chain.append(root)
    assert _error(lambda: validate_code_signing_chain(chain)) is not None


def test_memo_is_per_rule_set() -> None:
    code_signing = certs(code_signing_chain(0))
    validate_code_signing_chain(code_signing)
    assert _error(lambda: validate_timestamping_chain(code_signing)) == (
        'timestamp signing certificate with subject "CN=Test Leaf" must have and only have Timestamping as '
        "extended key usage"
    )
    validate_code_signing_chain(code_signing)
    tsa = _tsa_chain(ku_critical=True)
    validate_timestamping_chain(tsa)
    assert _error(lambda: validate_code_signing_chain(tsa)) == (
        'certificate with subject "CN=TSA": extended key usage must not contain Timestamping eku'
    )


def test_validated_chain_is_still_checked_at_a_signing_time() -> None:
    chain = _short_lived_chain()
    validate_code_signing_chain(chain)
    assert _error(lambda: validate_code_signing_chain(chain, dt.datetime(2025, 6, 1, tzinfo=dt.UTC))) == (
        'certificate with subject "CN=Test Leaf" was invalid at signing time of 2025-06-01 00:00:00 +0000 '
        "UTC. Certificate is valid from [2024-01-01 00:00:00 +0000 UTC] to [2025-01-01 00:00:00 +0000 UTC]"
    )
    validate_code_signing_chain(chain)


def test_single_self_signed_certificate_memo() -> None:
    good = build("valid cert")
    validate_code_signing_chain([good.cert])
    validate_code_signing_chain([good.cert])
    ca = build("Self CA", ca=True)
    for _ in range(2):
        assert _error(lambda: validate_code_signing_chain([ca.cert])) == (
            'invalid self-signed certificate. Error: certificate with subject "CN=Self CA": if the basic '
            "constraints extension is present, the ca field must be set to false"
        )


def test_memo_is_bounded_and_least_recently_used() -> None:
    rules = (validate_code_signing_leaf, validate_code_signing_ca)
    memo = chain_module._ValidatedChains(maxsize=2, max_chain_bytes=64 * 1024)
    a, b, c = (tuple(certs(code_signing_chain(0))) for _ in range(3))
    memo.add(a, rules)
    memo.add(b, rules)
    assert memo.passed(a, rules)  # a is now the most recently used
    memo.add(c, rules)
    assert memo.passed(a, rules) and memo.passed(c, rules)
    assert not memo.passed(b, rules)
    assert not memo.passed(a, (validate_timestamping_leaf, validate_timestamping_ca))
    assert not memo.passed(a[:1], rules)
    memo.clear()
    assert not memo.passed(a, rules)


def test_memo_skips_large_chains() -> None:
    rules = (validate_code_signing_leaf, validate_code_signing_ca)
    chain = tuple(certs(code_signing_chain(0)))
    size = sum(len(cert.public_bytes(Encoding.DER)) for cert in chain)
    small = chain_module._ValidatedChains(maxsize=8, max_chain_bytes=size - 1)
    small.add(chain, rules)
    assert not small.passed(chain, rules)
    exact = chain_module._ValidatedChains(maxsize=8, max_chain_bytes=size)
    exact.add(chain, rules)
    assert exact.passed(chain, rules)


def test_memo_under_threads() -> None:
    leaf, intermediate, root = certs(code_signing_chain(1))
    good, bad = [leaf, intermediate, root], [leaf, root]

    def outcome(i: int) -> str | None:
        return _error(lambda: validate_code_signing_chain(good if i % 2 else bad))

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(outcome, range(200)))
    assert set(results[1::2]) == {None}
    assert set(results[0::2]) == {
        'invalid certificates or certificate with subject "CN=Test Leaf" is not issued by "CN=Test Root". '
        "Error: x509: ECDSA verification failure"
    }


def test_forked_child_can_validate_while_the_parent_holds_the_memo_lock() -> None:
    chain = certs(code_signing_chain(0))
    context = multiprocessing.get_context("fork")
    with chain_module._VALIDATED_CHAINS._lock:
        child = context.Process(target=validate_code_signing_chain, args=(chain,))
        child.start()
        child.join(timeout=20)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked child deadlocked on the memo lock")
    assert child.exitcode == 0
