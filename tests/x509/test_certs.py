"""Reading certificates (PEM, DER, multi) and decoding the fields the chain rules use."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import ExtensionOID
from hypothesis import given, settings
from hypothesis import strategies as st

from notation_py.errors import CertificateError
from notation_py.x509 import certificate_fields, parse_certificates, read_certificate_file, thumbprint_sha256
from notation_py.x509.certs import (
    EKU_CODE_SIGNING,
    EKU_TIME_STAMPING,
    KU_CERT_SIGN,
    KU_CRL_SIGN,
    KU_DECIPHER_ONLY,
    KU_DIGITAL_SIGNATURE,
    KU_ENCIPHER_ONLY,
    OID_EXT_KEY_USAGE,
    OID_KEY_USAGE,
)
from tests.conformance import vector
from tests.x509.pki import build, ec_key, resign, rsa_key, sha256_rsa_signer

READCERT = "core-go/x509-readcert"
# SHA-256 of the GlobalSign Root CA - R3 certificate all readcert vectors hold.
GLOBALSIGN_R3 = "cbb522d7b7f127ad6a0113865bdf1cd4102e7d0759af635a7cf4720dc963c53b"


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.PEM)


def _parse_error(data: bytes) -> str:
    with pytest.raises(CertificateError) as info:
        parse_certificates(data)
    return info.value.message


# ------------------------------------------------------------------------------------------------
# Conformance vectors (core-go/x509-readcert, Go cert_test.go)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "count"),
    [("pem.crt", 1), ("multi-pem.crt", 2), ("der.der", 1), ("multi-der.der", 2)],
)
def test_readcert_vectors(file: str, count: int) -> None:
    loaded = read_certificate_file(vector(f"{READCERT}/{file}"))
    assert len(loaded) == count
    assert [thumbprint_sha256(c) for c in loaded] == [GLOBALSIGN_R3] * count


def test_readcert_openssl_minimum() -> None:
    (cert,) = read_certificate_file(vector(f"{READCERT}/openssl-minimum-self-signed.pem"))
    assert cert.subject == cert.issuer


def test_readcert_invalid() -> None:
    path = vector(f"{READCERT}/invalid")
    with pytest.raises(CertificateError) as info:
        read_certificate_file(path)
    assert str(path) in info.value.message
    assert "neither PEM nor a DER certificate" in info.value.message


def test_thumbprint_is_sha256_of_der_file() -> None:
    data = vector(f"{READCERT}/der.der").read_bytes()
    (cert,) = parse_certificates(data)
    assert thumbprint_sha256(cert) == hashlib.sha256(data).hexdigest() == GLOBALSIGN_R3


def test_multi_der_is_concatenation() -> None:
    single = vector(f"{READCERT}/der.der").read_bytes()
    assert vector(f"{READCERT}/multi-der.der").read_bytes() == single * 2


# ------------------------------------------------------------------------------------------------
# Parsing (generated input)
# ------------------------------------------------------------------------------------------------


def _three() -> list[x509.Certificate]:
    return [build(f"Cert {i}", key=ec_key(index=i)).cert for i in range(3)]


def test_pem_with_surrounding_text_and_crlf() -> None:
    a, b, _ = _three()
    data = b"leading text\r\n" + _pem(a).replace(b"\n", b"\r\n") + b"between\n" + _pem(b) + b"trailing"
    assert parse_certificates(data) == [a, b]


def test_pem_order_preserved() -> None:
    certs = _three()
    assert parse_certificates(b"".join(_pem(c) for c in reversed(certs))) == list(reversed(certs))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2), min_size=1, max_size=6), st.booleans())
def test_roundtrip_concatenations(indices: list[int], pem: bool) -> None:
    pool = _three()
    chosen = [pool[i] for i in indices]
    data = b"".join(_pem(c) if pem else _der(c) for c in chosen)
    assert parse_certificates(data) == chosen


@pytest.mark.parametrize("data", [b"", b"  \n\t"])
def test_empty_input(data: bytes) -> None:
    assert _parse_error(data) == "no certificate found: the input is empty"


def test_private_key_pem_block_rejected() -> None:
    key_pem = ec_key().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    assert _parse_error(key_pem) == "PEM block 1 is of type 'PRIVATE KEY'; only CERTIFICATE blocks are allowed"
    # Even next to a certificate: a key in a certificate file is a misconfiguration.
    cert = _three()[0]
    assert _parse_error(_pem(cert) + key_pem) == (
        "PEM block 2 is of type 'PRIVATE KEY'; only CERTIFICATE blocks are allowed"
    )


def test_pem_bad_base64() -> None:
    data = b"-----BEGIN CERTIFICATE-----\nMIIB*notbase64\n-----END CERTIFICATE-----\n"
    assert _parse_error(data).startswith("PEM block 1 is not valid base64")


def test_pem_without_complete_block() -> None:
    assert _parse_error(b"-----BEGIN CERTIFICATE-----\nMIIB\n") == "no certificate found: malformed PEM data"


def test_pem_block_not_a_certificate() -> None:
    data = b"-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n"  # SEQUENCE { INTEGER 1 }
    assert _parse_error(data).startswith("PEM block 1 is not a valid X.509 certificate")


def test_der_truncated() -> None:
    der = _der(_three()[0])
    assert _parse_error(der[:-1]) == "data is neither PEM nor a DER certificate: truncated data"


def test_der_trailing_garbage() -> None:
    der = _der(_three()[0])
    assert _parse_error(der + b"\x00") == (
        f"malformed DER certificate data at offset {len(der)}: expected a SEQUENCE, found tag 0x00"
    )
    assert _parse_error(der + der[:10]) == f"malformed DER certificate data at offset {len(der)}: truncated data"


def test_der_sequence_not_a_certificate() -> None:
    assert _parse_error(bytes.fromhex("3003020101")).startswith(
        "DER certificate at offset 0 is not a valid X.509 certificate"
    )


def test_der_indefinite_length() -> None:
    assert _parse_error(bytes.fromhex("3080020101")) == (
        "data is neither PEM nor a DER certificate: indefinite length is not allowed in DER"
    )


def test_read_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.pem"
    with pytest.raises(CertificateError) as info:
        read_certificate_file(path)
    assert info.value.message == f"failed to read certificate file {str(path)!r}: No such file or directory"


def test_read_directory(tmp_path: Path) -> None:
    with pytest.raises(CertificateError) as info:
        read_certificate_file(tmp_path)
    assert info.value.message.startswith(f"failed to read certificate file {str(tmp_path)!r}: ")


def test_read_file_parse_error_names_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.crt"
    path.write_bytes(b"")
    with pytest.raises(CertificateError) as info:
        read_certificate_file(path)
    assert info.value.message == (
        f"failed to read certificates from {str(path)!r}: no certificate found: the input is empty"
    )


# ------------------------------------------------------------------------------------------------
# Certificate fields
# ------------------------------------------------------------------------------------------------


def _vector_cert(rel: str) -> x509.Certificate:
    (cert,) = read_certificate_file(vector(rel))
    return cert


def test_fields_of_vectors() -> None:
    root = certificate_fields(_vector_cert("core-go/x509-codesigning/rootCert.pem"))
    assert root.version == 3
    assert (root.basic_constraints_present, root.is_ca, root.path_len) == (True, True, 2)
    assert root.key_usage & KU_CERT_SIGN
    assert root.raw_subject == root.raw_issuer

    leaf_cert = _vector_cert("core-go/x509-codesigning/codeSigningLeaf.pem")
    leaf = certificate_fields(leaf_cert)
    assert leaf.ext_key_usages == (EKU_CODE_SIGNING,)
    assert leaf.raw_subject == leaf_cert.subject.public_bytes()
    assert leaf.raw_issuer == leaf_cert.issuer.public_bytes()
    assert leaf.raw_subject != leaf.raw_issuer

    no_bc = certificate_fields(_vector_cert("core-go/x509-codesigning/noBasicConstraintsCa.pem"))
    assert (no_bc.basic_constraints_present, no_bc.is_ca) == (False, False)
    not_ca = certificate_fields(_vector_cert("core-go/x509-codesigning/basicConstraintsNotCa.pem"))
    assert (not_ca.basic_constraints_present, not_ca.is_ca) == (True, False)

    ku = certificate_fields(_vector_cert("core-go/x509-codesigning/kuNotCriticalCertSignCa.pem"))
    ext = ku.extension(OID_KEY_USAGE)
    assert ext is not None and not ext.critical

    tsa = certificate_fields(_vector_cert("core-go/x509-timestamping-chain/timestamp_leaf.crt"))
    assert tsa.ext_key_usages == (EKU_TIME_STAMPING,)
    eku = tsa.extension(OID_EXT_KEY_USAGE)
    assert eku is not None and eku.critical


def test_fields_key_usage_bits() -> None:
    cert = build("CA", ca=True).cert  # keyCertSign + cRLSign
    assert certificate_fields(cert).key_usage == KU_CERT_SIGN | KU_CRL_SIGN
    assert certificate_fields(build("Leaf").cert).key_usage == KU_DIGITAL_SIGNATURE


def test_fields_unknown_eku() -> None:
    unknown = x509.ObjectIdentifier("1.3.6.1.4.1.99999.1")
    fields = certificate_fields(build("Leaf", eku=[unknown, x509.ObjectIdentifier(EKU_CODE_SIGNING)]).cert)
    assert fields.ext_key_usages == (EKU_CODE_SIGNING,)
    assert fields.unknown_ext_key_usages == ("1.3.6.1.4.1.99999.1",)


def _mutated(mutate: Any) -> x509.Certificate:
    base = build("Mutant", ca=True, key=rsa_key())
    return resign(base.cert, algorithm="sha256_rsa", sign=sha256_rsa_signer(rsa_key()), mutate=mutate)


def test_duplicate_extensions_rejected() -> None:
    def duplicate(tbs: Any) -> None:
        tbs["extensions"].append(tbs["extensions"][0].copy())

    cert = _mutated(duplicate)
    assert _parse_error(_der(cert)) == (
        "DER certificate at offset 0: malformed certificate: certificate contains duplicate extensions"
    )
    with pytest.raises(CertificateError):
        certificate_fields(cert)


def test_version_1_certificate() -> None:
    def v1(tbs: Any) -> None:
        tbs["version"] = "v1"
        del tbs["extensions"]

    fields = certificate_fields(_mutated(v1))
    assert fields.version == 1
    assert fields.extensions == ()
    assert not fields.basic_constraints_present


def test_der_invalid_version() -> None:
    der = _der(_three()[0])
    v3 = bytes.fromhex("a003020102")  # [0] EXPLICIT INTEGER 2 (v3)
    assert der.count(v3) == 1
    message = _parse_error(der.replace(v3, bytes.fromhex("a003020105")))
    assert message.startswith("DER certificate at offset 0 is not a valid X.509 certificate")


def _with_extension(oid: x509.ObjectIdentifier, value_hex: str) -> x509.Certificate:
    raw = x509.UnrecognizedExtension(oid, bytes.fromhex(value_hex))
    return build("Raw", ca=None, ku=None, extensions=[(raw, True)]).cert


@pytest.mark.parametrize(
    ("oid", "value", "expected"),
    [
        (ExtensionOID.KEY_USAGE, "0400", "invalid key usage: Error parsing asn1crypto.x509.KeyUsage"),
        (ExtensionOID.KEY_USAGE, "0300", "invalid key usage: empty BIT STRING"),
        (ExtensionOID.KEY_USAGE, "03020701", "invalid key usage: invalid BIT STRING padding"),
        (ExtensionOID.KEY_USAGE, "030208ff", "invalid key usage: Bit string has 8 unused bits"),
        (ExtensionOID.KEY_USAGE, "0302008000", "invalid key usage: Extra data"),
        (ExtensionOID.BASIC_CONSTRAINTS, "30030201ff", "invalid basic constraints: negative path length"),
        (ExtensionOID.BASIC_CONSTRAINTS, "0400", "invalid basic constraints: Error parsing"),
        (ExtensionOID.BASIC_CONSTRAINTS, "3005020105", "invalid basic constraints: Insufficient data"),
        (ExtensionOID.EXTENDED_KEY_USAGE, "3003020101", "invalid extended key usages: Error parsing"),
    ],
)
def test_malformed_rule_extensions(oid: x509.ObjectIdentifier, value: str, expected: str) -> None:
    cert = _with_extension(oid, value)
    with pytest.raises(CertificateError) as info:
        certificate_fields(cert)
    message = info.value.message
    assert message.startswith(f"malformed certificate: {expected}")
    assert "\n" not in message  # only the first line of asn1crypto's parse context
    assert _parse_error(_der(cert)) == f"DER certificate at offset 0: {message}"


def test_rule_extension_encodings() -> None:
    # encipherOnly and decipherOnly (bits 7 and 8) without anything else.
    ku = certificate_fields(_with_extension(ExtensionOID.KEY_USAGE, "0303000180"))
    assert ku.key_usage == KU_ENCIPHER_ONLY | KU_DECIPHER_ONLY
    # cA FALSE encoded although it is the DEFAULT (not DER, but Go accepts it).
    bc = certificate_fields(_with_extension(ExtensionOID.BASIC_CONSTRAINTS, "3003010100"))
    assert (bc.basic_constraints_present, bc.is_ca, bc.path_len) == (True, False, None)
    bc = certificate_fields(_with_extension(ExtensionOID.BASIC_CONSTRAINTS, "30060101ff020103"))
    assert (bc.basic_constraints_present, bc.is_ca, bc.path_len) == (True, True, 3)
    # Go reads an optional BOOLEAN then an optional INTEGER, and ignores what follows.
    bc = certificate_fields(_with_extension(ExtensionOID.BASIC_CONSTRAINTS, "30090101ff0201000c0161"))
    assert (bc.is_ca, bc.path_len) == (True, 0)
    eku = certificate_fields(_with_extension(ExtensionOID.EXTENDED_KEY_USAGE, "3000"))
    assert (eku.ext_key_usages, eku.unknown_ext_key_usages) == ((), ())


def test_other_extensions_stay_opaque() -> None:
    # A malformed extension the rules do not read (here subjectAltName) does not matter, as in Go
    # only for extensions Go parses; its bytes are kept as they are.
    fields = certificate_fields(_with_extension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, "0400"))
    ext = fields.extension("2.5.29.17")
    assert ext is not None and ext.critical and ext.value == b"\x04\x00"
