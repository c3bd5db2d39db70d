"""Test TSA: a throw-away PKI (cryptography) and real RFC 3161 tokens from ``openssl ts -reply``.

``openssl`` is required (it is part of the test environment); tokens are produced by OpenSSL's own
TSA implementation, so verification is exercised against an independent producer. ``genTime`` is
OpenSSL's clock (now); tests place certificate validity periods around it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
#: Test policy OID of the TSA; the RFC 3628 baseline policy is used where a test needs it.
TSA_POLICY = "1.2.3.4.1"


def new_key(kind: str = "rsa") -> PrivateKey:
    """A fresh RSA-2048 or P-256 key."""
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def cn(common_name: str) -> x509.Name:
    """``CN=<name>,O=Notary,C=US``."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Notary"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def issue(
    subject: x509.Name,
    key: PrivateKey,
    issuer: x509.Name | None = None,
    issuer_key: PrivateKey | None = None,
    *,
    ca: bool,
    not_before: dt.datetime = NOW - dt.timedelta(days=1),
    not_after: dt.datetime = NOW + dt.timedelta(days=365),
    eku: list[x509.ObjectIdentifier] | None = None,
    eku_critical: bool = True,
    digital_signature: bool = True,
) -> x509.Certificate:
    """Issue a certificate (self-signed when ``issuer`` is omitted); ``eku`` ``None``/``[]``: no EKU."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=digital_signature,
                content_commitment=not digital_signature,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=eku_critical)
    return builder.sign(issuer_key or key, hashes.SHA256())


@dataclass
class TSAFixture:
    """A TSA: root CA, optional intermediate CA, and the timestamping certificate and key."""

    root: x509.Certificate
    root_key: PrivateKey
    leaf: x509.Certificate
    leaf_key: PrivateKey
    intermediates: list[x509.Certificate] = field(default_factory=list)

    @property
    def chain(self) -> list[x509.Certificate]:
        """TSA certificate, intermediates, root."""
        return [self.leaf, *self.intermediates, self.root]


def make_tsa(
    *,
    key: str = "rsa",
    intermediate: bool = False,
    eku: list[x509.ObjectIdentifier] | None = None,
    eku_critical: bool = True,
    leaf_not_before: dt.datetime = NOW - dt.timedelta(days=1),
    leaf_not_after: dt.datetime = NOW + dt.timedelta(days=365),
    name: str = "Test TSA",
) -> TSAFixture:
    """Build a TSA PKI: root and intermediate valid for ±10 years, the TSA certificate as given.

    ``eku`` defaults to ``[id-kp-timeStamping]``; ``[]`` omits the extension.
    """
    root_key = new_key(key)
    long_ago, far_ahead = NOW - dt.timedelta(days=3650), NOW + dt.timedelta(days=3650)
    root = issue(cn(f"{name} Root"), root_key, ca=True, not_before=long_ago, not_after=far_ahead)
    issuer_name, issuer_key = root.subject, root_key
    intermediates: list[x509.Certificate] = []
    if intermediate:
        inter_key = new_key(key)
        inter = issue(
            cn(f"{name} CA"), inter_key, root.subject, root_key, ca=True, not_before=long_ago, not_after=far_ahead
        )
        intermediates.append(inter)
        issuer_name, issuer_key = inter.subject, inter_key
    leaf_key = new_key(key)
    leaf = issue(
        cn(name),
        leaf_key,
        issuer_name,
        issuer_key,
        ca=False,
        not_before=leaf_not_before,
        not_after=leaf_not_after,
        eku=[ExtendedKeyUsageOID.TIME_STAMPING] if eku is None else eku,
        eku_critical=eku_critical,
    )
    return TSAFixture(root=root, root_key=root_key, leaf=leaf, leaf_key=leaf_key, intermediates=intermediates)


def _pem(certs: list[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _write_tsa_files(
    tsa: TSAFixture,
    workdir: Path,
    *,
    signer_digest: str,
    ess_cert_id_alg: str | None,
    accuracy: str | None,
    policy: str,
) -> None:
    """The TSA certificate, chain, key and ``ts.cnf`` that ``openssl ts -reply`` reads."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "serial").write_text("01\n")
    (workdir / "tsa.pem").write_bytes(_pem([tsa.leaf]))
    (workdir / "chain.pem").write_bytes(_pem([*tsa.intermediates, tsa.root]))
    (workdir / "tsa.key").write_bytes(
        tsa.leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    lines = [
        "[ tsa ]",
        "default_tsa = tsa_config",
        "[ tsa_config ]",
        f"serial = {workdir / 'serial'}",
        f"signer_digest = {signer_digest}",
        f"default_policy = {policy}",
        "digests = sha256, sha384, sha512",
        "ordering = no",
        "tsa_name = no",
        "ess_cert_id_chain = no",
        "clock_precision_digits = 0",
    ]
    if accuracy is not None:
        lines.append(f"accuracy = {accuracy}")
    if ess_cert_id_alg is not None:
        lines.append(f"ess_cert_id_alg = {ess_cert_id_alg}")
    (workdir / "ts.cnf").write_text("\n".join(lines) + "\n")


def openssl_token(
    tsa: TSAFixture,
    workdir: Path,
    message: bytes,
    *,
    digest: str = "sha256",
    signer_digest: str = "sha256",
    ess_cert_id_alg: str | None = "sha256",
    accuracy: str | None = "secs:1, millisecs:500",
    policy: str = TSA_POLICY,
    embed_signer: bool = True,
    embed_chain: bool = True,
) -> bytes:
    """Timestamp ``message`` with ``openssl ts`` and return the DER ``TimeStampToken``.

    ``ess_cert_id_alg=None`` makes OpenSSL emit the v1 ``signing-certificate`` attribute (SHA-1);
    ``sha256`` emits ``signing-certificate-v2``. ``accuracy=None`` omits ``TSTInfo.accuracy``.
    """
    _write_tsa_files(
        tsa, workdir, signer_digest=signer_digest, ess_cert_id_alg=ess_cert_id_alg, accuracy=accuracy, policy=policy
    )
    (workdir / "message.bin").write_bytes(message)
    query = ["openssl", "ts", "-query", "-data", str(workdir / "message.bin"), f"-{digest}", "-no_nonce"]
    if embed_signer:
        query.append("-cert")
    query += ["-out", str(workdir / "request.tsq")]
    subprocess.run(query, check=True, capture_output=True)
    extra = ["-token_out"] + (["-chain", str(workdir / "chain.pem")] if embed_chain else [])
    return _run_reply(workdir, extra, "token.der")


def _run_reply(workdir: Path, extra: list[str], out: str) -> bytes:
    """``openssl ts -reply`` on ``workdir/request.tsq`` with the TSA files written there; the output's bytes."""
    reply = [
        "openssl",
        "ts",
        "-reply",
        "-config",
        str(workdir / "ts.cnf"),
        "-queryfile",
        str(workdir / "request.tsq"),
        "-signer",
        str(workdir / "tsa.pem"),
        "-inkey",
        str(workdir / "tsa.key"),
        *extra,
        "-out",
        str(workdir / out),
    ]
    result = subprocess.run(reply, capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl ts -reply failed: {result.stderr.decode(errors='replace')}")
    return (workdir / out).read_bytes()


def openssl_reply(
    tsa: TSAFixture,
    workdir: Path,
    query: bytes,
    *,
    signer_digest: str = "sha256",
    ess_cert_id_alg: str | None = "sha256",
    accuracy: str | None = "secs:1, millisecs:500",
    policy: str = TSA_POLICY,
) -> bytes:
    """Answer a DER ``TimeStampReq`` with ``openssl ts -reply``: the DER ``TimeStampResp``.

    OpenSSL copies the request's nonce and embeds the TSA certificate (with the chain) when the
    request sets ``certReq``; a request it cannot serve gets a ``rejection`` status.
    """
    _write_tsa_files(
        tsa, workdir, signer_digest=signer_digest, ess_cert_id_alg=ess_cert_id_alg, accuracy=accuracy, policy=policy
    )
    (workdir / "request.tsq").write_bytes(query)
    return _run_reply(workdir, ["-chain", str(workdir / "chain.pem")], "reply.tsr")


def python_token(
    tsa: TSAFixture,
    message: bytes,
    *,
    gen_time: dt.datetime = NOW,
    policy: str = TSA_POLICY,
    accuracy: dict[str, int] | None = None,
    imprint_hash: str = "sha256",
    version: int = 1,
    ess: str | None = "v2",
    ess_hash_of: bytes | None = None,
    certificates: list[x509.Certificate] | None = None,
    signing_time: dt.datetime | None = None,
    content_type_attr: str = "tst_info",
    digest_of_content: bytes | None = None,
    signature_algorithm: str | None = None,
    corrupt_signature: bool = False,
) -> bytes:
    """Build a ``TimeStampToken`` with asn1crypto and sign it with cryptography.

    For the cases ``openssl ts`` will not produce: a chosen ``genTime``, no accuracy with the
    baseline policy, broken attributes, a non-conforming TSA certificate, and so on. Defaults give
    a valid token (ESS v2, ``signer_digest`` SHA-256, the TSA chain embedded).
    """
    from asn1crypto import algos, cms, core, tsp
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.asymmetric import padding

    imprint = hashlib.new(imprint_hash, message).digest()
    tst_fields: dict[str, object] = {
        "version": version,
        "policy": policy,
        "message_imprint": {"hash_algorithm": {"algorithm": imprint_hash}, "hashed_message": imprint},
        "serial_number": 4242,
        "gen_time": core.GeneralizedTime(gen_time),
    }
    if accuracy is not None:
        tst_fields["accuracy"] = accuracy
    tst_info = tsp.TSTInfo(tst_fields)
    content = tst_info.dump()

    leaf_der = tsa.leaf.public_bytes(serialization.Encoding.DER)
    asn1_leaf = asn1_x509.Certificate.load(leaf_der)
    issuer_serial = {
        "issuer": [asn1_x509.GeneralName(name="directory_name", value=asn1_leaf.issuer)],
        "serial_number": asn1_leaf.serial_number,
    }
    attrs: list[dict[str, object]] = [
        {"type": "content_type", "values": [content_type_attr]},
        {"type": "message_digest", "values": [digest_of_content or hashlib.sha256(content).digest()]},
    ]
    if signing_time is not None:
        attrs.append({"type": "signing_time", "values": [cms.Time(name="utc_time", value=signing_time)]})
    hashed_cert = ess_hash_of if ess_hash_of is not None else leaf_der
    if ess == "v2":
        attrs.append(
            {
                "type": "signing_certificate_v2",
                "values": [
                    {
                        "certs": [
                            {
                                "hash_algorithm": {"algorithm": "sha256"},
                                "cert_hash": hashlib.sha256(hashed_cert).digest(),
                                "issuer_serial": issuer_serial,
                            }
                        ]
                    }
                ],
            }
        )
    elif ess == "v1":
        attrs.append(
            {
                "type": "signing_certificate",
                "values": [
                    {
                        "certs": [
                            {
                                "cert_hash": hashlib.sha1(hashed_cert, usedforsecurity=False).digest(),
                                "issuer_serial": issuer_serial,
                            }
                        ]
                    }
                ],
            }
        )
    signed_attrs = cms.CMSAttributes(attrs)
    to_sign = signed_attrs.dump()
    key = tsa.leaf_key
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256())
        sig_alg = signature_algorithm or "sha256_rsa"
    else:
        signature = key.sign(to_sign, ec.ECDSA(hashes.SHA256()))
        sig_alg = signature_algorithm or "sha256_ecdsa"
    if corrupt_signature:
        signature = signature[:-1] + bytes([signature[-1] ^ 1])
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": asn1_leaf.issuer, "serial_number": asn1_leaf.serial_number},
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": signed_attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": sig_alg}),
            "signature": signature,
        }
    )
    embedded = tsa.chain if certificates is None else certificates
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {"content_type": "tst_info", "content": tst_info},
            "certificates": [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in embedded],
            "signer_infos": [signer_info],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())
