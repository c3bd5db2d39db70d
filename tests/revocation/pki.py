"""A throw-away PKI for revocation tests: certificates with OCSP/CRL URLs, CRLs and OCSP responses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import core as a_core
from asn1crypto import ocsp as a_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

_serial = 1000


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _next_serial() -> int:
    global _serial  # noqa: PLW0603
    _serial += 1
    return _serial


@dataclass
class Node:
    """A certificate with its private key."""

    cert: x509.Certificate
    key: Key

    @property
    def serial(self) -> int:
        return self.cert.serial_number


def name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Notary"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _dps(urls: Sequence[str]) -> list[x509.DistributionPoint]:
    return [
        x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(u) for u in urls],
            relative_name=None,
            reasons=None,
            crl_issuer=None,
        )
    ]


def make_cert(
    common_name: str,
    issuer: Node | None,
    *,
    ca: bool,
    ocsp_urls: Sequence[str] = (),
    crl_urls: Sequence[str] = (),
    crl_url_groups: Sequence[Sequence[str]] = (),
    freshest_urls: Sequence[str] = (),
    eku: Sequence[x509.ObjectIdentifier] | None = None,
    eku_critical: bool = False,
    key: Key | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    serial: int | None = None,
) -> Node:
    """A certificate meeting the Notary Project rules for a CA or a leaf."""
    key = key or new_key()
    subject = name(common_name)
    start = not_before or now() - dt.timedelta(days=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(serial or _next_serial())
        .not_valid_before(start)
        .not_valid_after(not_after or start + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(list(eku) if eku is not None else [ExtendedKeyUsageOID.CODE_SIGNING]),
            critical=eku_critical,
        )
    elif eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=eku_critical)
    if ocsp_urls:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(u))
                    for u in ocsp_urls
                ]
            ),
            critical=False,
        )
    groups = [list(g) for g in crl_url_groups] or ([list(crl_urls)] if crl_urls else [])
    if groups:
        points = [dp for group in groups for dp in _dps(group)]
        builder = builder.add_extension(x509.CRLDistributionPoints(points), critical=False)
    if freshest_urls:
        builder = builder.add_extension(x509.FreshestCRL(_dps(freshest_urls)), critical=False)
    signer = issuer.key if issuer else key
    cert = builder.sign(signer, hashes.SHA256())
    return Node(cert, key)


@dataclass
class Pki:
    """root -> intermediate -> leaf."""

    root: Node
    intermediate: Node
    leaf: Node

    @property
    def chain(self) -> list[x509.Certificate]:
        return [self.leaf.cert, self.intermediate.cert, self.root.cert]


def make_pki(
    base_url: str,
    *,
    leaf_ocsp: bool = True,
    leaf_crl: bool = True,
    intermediate_ocsp: bool = False,
    intermediate_crl: bool = False,
    leaf_freshest: Sequence[str] = (),
    leaf_ocsp_urls: Sequence[str] | None = None,
    leaf_crl_urls: Sequence[str] | None = None,
    timestamping: bool = False,
) -> Pki:
    """Leaf URLs point at ``{base_url}/ocsp/int`` and ``{base_url}/crl/int.crl``; the intermediate's
    at ``/ocsp/root`` and ``/crl/root.crl``."""
    root = make_cert("Test Root", None, ca=True)
    intermediate = make_cert(
        "Test Intermediate",
        root,
        ca=True,
        ocsp_urls=[f"{base_url}/ocsp/root"] if intermediate_ocsp else (),
        crl_urls=[f"{base_url}/crl/root.crl"] if intermediate_crl else (),
    )
    ocsp_urls = leaf_ocsp_urls if leaf_ocsp_urls is not None else ([f"{base_url}/ocsp/int"] if leaf_ocsp else [])
    crl_urls = leaf_crl_urls if leaf_crl_urls is not None else ([f"{base_url}/crl/int.crl"] if leaf_crl else [])
    leaf = make_cert(
        "Test Leaf",
        intermediate,
        ca=False,
        ocsp_urls=ocsp_urls,
        crl_urls=crl_urls,
        freshest_urls=leaf_freshest,
        eku=[ExtendedKeyUsageOID.TIME_STAMPING] if timestamping else None,
        eku_critical=timestamping,
    )
    return Pki(root, intermediate, leaf)


@dataclass
class Revoked:
    serial: int
    reason: x509.ReasonFlags | None = None
    when: dt.datetime = field(default_factory=lambda: now() - dt.timedelta(hours=1))
    invalidity: dt.datetime | None = None


def make_crl(
    issuer: Node,
    revoked: Sequence[Revoked] = (),
    *,
    number: int = 1,
    this_update: dt.datetime | None = None,
    next_update: dt.datetime | None = None,
    delta_indicator: int | None = None,
    freshest_urls: Sequence[str] = (),
    signing_key: Key | None = None,
    extra_extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> bytes:
    """DER CRL signed by ``issuer`` (or ``signing_key``)."""
    start = this_update or now() - dt.timedelta(minutes=5)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(start)
        .next_update(next_update or now() + dt.timedelta(hours=1))
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    if delta_indicator is not None:
        builder = builder.add_extension(x509.DeltaCRLIndicator(delta_indicator), critical=True)
    if freshest_urls:
        builder = builder.add_extension(x509.FreshestCRL(_dps(freshest_urls)), critical=False)
    for extension, critical in extra_extensions:
        builder = builder.add_extension(extension, critical=critical)
    for entry in revoked:
        rb = x509.RevokedCertificateBuilder().serial_number(entry.serial).revocation_date(entry.when)
        if entry.reason is not None:
            rb = rb.add_extension(x509.CRLReason(entry.reason), critical=False)
        if entry.invalidity is not None:
            rb = rb.add_extension(x509.InvalidityDate(entry.invalidity), critical=False)
        builder = builder.add_revoked_certificate(rb.build())
    crl = builder.sign(signing_key or issuer.key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.DER)


def make_ocsp_response(
    cert: x509.Certificate,
    issuer: Node,
    status: ocsp.OCSPCertStatus,
    *,
    signer: Node | None = None,
    include_signer_cert: bool = False,
    this_update: dt.datetime | None = None,
    next_update: dt.datetime | bool | None = True,
    revocation_time: dt.datetime | None = None,
    reason: x509.ReasonFlags | None = None,
    hash_algorithm: hashes.HashAlgorithm | None = None,
    by_name: bool = False,
) -> bytes:
    """DER OCSP response about ``cert``, signed by ``signer`` (default: the issuer)."""
    signer = signer or issuer
    start = this_update or now() - dt.timedelta(minutes=1)
    nxt: dt.datetime | None
    if next_update is True:
        nxt = now() + dt.timedelta(hours=1)
    elif next_update is False:
        nxt = None
    else:
        nxt = next_update
    revoked = status is ocsp.OCSPCertStatus.REVOKED
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=cert,
        issuer=issuer.cert,
        algorithm=hash_algorithm or hashes.SHA1(),
        cert_status=status,
        this_update=start,
        next_update=nxt,
        revocation_time=(revocation_time or now() - dt.timedelta(hours=1)) if revoked else None,
        revocation_reason=reason if revoked else None,
    )
    encoding = ocsp.OCSPResponderEncoding.NAME if by_name else ocsp.OCSPResponderEncoding.HASH
    builder = builder.responder_id(encoding, signer.cert)
    if include_signer_cert:
        builder = builder.certificates([signer.cert])
    response = builder.sign(signer.key, hashes.SHA256())
    return response.public_bytes(serialization.Encoding.DER)


def with_single_invalidity_date(response_der: bytes, signer: Node, invalidity: dt.datetime) -> bytes:
    """Add an ``invalidityDate`` single extension and re-sign (cryptography cannot build one)."""
    response: Any = a_ocsp.OCSPResponse.load(response_der)
    basic: Any = response["response_bytes"]["response"].parsed
    tbs: Any = basic["tbs_response_data"]
    single: Any = tbs["responses"][0]
    single["single_extensions"] = [
        {
            "extn_id": "invalidity_date",
            "critical": False,
            "extn_value": a_core.GeneralizedTime(invalidity.replace(microsecond=0)),
        }
    ]
    tbs_der = tbs.dump(force=True)
    assert isinstance(signer.key, ec.EllipticCurvePrivateKey)
    basic["signature"] = signer.key.sign(tbs_der, ec.ECDSA(hashes.SHA256()))
    response["response_bytes"]["response"] = a_core.ParsableOctetString(basic.dump(force=True))
    out: bytes = response.dump(force=True)
    return out


def unsuccessful_ocsp_response(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)
