"""RFC 3161 timestamp tokens: parsing and verification of a bare ``TimeStampToken``.

A Notary Project envelope carries the TSA's answer as a *bare* ``TimeStampToken`` (a CMS
``ContentInfo`` holding ``SignedData`` over a DER ``TSTInfo``), not a full ``TimeStampResp``.
``rfc3161-client`` (1.0.9) verifies only whole ``TimeStampResp`` objects, does not check the ESS
signing-certificate(-v2) binding of the signer certificate, and validates the chain with a private
OpenSSL PKCS #7 routine whose failures cannot be mapped to notation-go's messages. So this module
assembles the verification from library parts (no hand-written DER or crypto):

* structure: :mod:`asn1crypto` (``cms``, ``tsp``) parses ``ContentInfo``/``SignedData``/``TSTInfo``,
  the ESS ``SigningCertificate(V2)`` attributes and re-encodes the signed attributes as a DER ``SET``
  (RFC 5652 §5.4) for the signature check;
* cryptography: :mod:`cryptography` verifies the RSA (PKCS #1 v1.5 / PSS) or ECDSA signature of
  the signer info and builds/validates the TSA certificate path
  (:mod:`cryptography.x509.verification`) at the token's ``genTime``.

The verification order and the error texts follow notation-go's ``tspclient-go``
(``SignedToken.Verify`` → ``GetSigningCertificate`` → ``cms.VerifySigner``), so that messages
such as ``failed to verify signed token: signing certificate not found in the timestamp token``
or ``invalid TSTInfo: mismatched message`` match the reference implementation.

Typical use::

    token = parse_timestamp_token(der)
    info = token.verify(raw_signature, roots=tsa_roots)
    print(info.lower, info.upper, info.tsa_chain[0].subject)

The individual stages (:meth:`TimestampToken.tst_info`, :meth:`TimestampToken.validate_message`,
:meth:`TimestampToken.verify_signed_token`, :func:`validate_tsa_chain`) are public as well: the
notation "authentic timestamp" step (:mod:`notation_py.timestamp.authentic`) calls them one by one
because notation-go wraps the error of each stage with a different prefix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, cast

from asn1crypto import cms, core, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

from notation_py.errors import CertificateError, TimestampError
from notation_py.x509.chain import validate_timestamping_chain
from notation_py.x509.names import format_name, go_quote

__all__ = [
    "OID_BASELINE_TIMESTAMP_POLICY",
    "OID_TST_INFO",
    "SignedTokenError",
    "TSAChainError",
    "TSTInfoError",
    "TimestampInfo",
    "TimestampParseError",
    "TimestampToken",
    "parse_timestamp_token",
    "validate_tsa_chain",
]

#: ``id-ct-TSTInfo`` (RFC 3161 §2.4.2): the only encapsulated content type a token may carry.
OID_TST_INFO = "1.2.840.113549.1.9.16.1.4"
#: ``id-signedData`` (RFC 5652 §5.1).
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
#: ETSI baseline time-stamp policy (RFC 3628 §5.2 / ETSI TS 102 023): accuracy of at least 1 s.
OID_BASELINE_TIMESTAMP_POLICY = "0.4.0.2023.1.1"

# Hash algorithms tspclient-go accepts for message imprints, digests and ESS cert hashes.
_SHA2: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "2.16.840.1.101.3.4.2.1": hashes.SHA256,
    "2.16.840.1.101.3.4.2.2": hashes.SHA384,
    "2.16.840.1.101.3.4.2.3": hashes.SHA512,
}
_OID_RSA = "1.2.840.113549.1.1.1"
_OID_RSA_PSS = "1.2.840.113549.1.1.10"
# signatureAlgorithm OIDs that fix the hash themselves (Go's oid.ToSignatureAlgorithm).
_FIXED_SIGNATURE_ALGORITHMS: dict[str, tuple[str, Callable[[], hashes.HashAlgorithm]]] = {
    "1.2.840.113549.1.1.11": ("rsa", hashes.SHA256),
    "1.2.840.113549.1.1.12": ("rsa", hashes.SHA384),
    "1.2.840.113549.1.1.13": ("rsa", hashes.SHA512),
    "1.2.840.10045.4.3.2": ("ecdsa", hashes.SHA256),
    "1.2.840.10045.4.3.3": ("ecdsa", hashes.SHA384),
    "1.2.840.10045.4.3.4": ("ecdsa", hashes.SHA512),
}


class TimestampParseError(TimestampError):
    """The bytes are not a CMS ``SignedData`` timestamp token over ``id-ct-TSTInfo``."""


class TSTInfoError(TimestampError):
    """The ``TSTInfo`` cannot be decoded, or it does not match the timestamped message."""


class SignedTokenError(TimestampError):
    """The token's CMS signature, signer certificate or TSA certificate path does not verify."""


class TSAChainError(TimestampError):
    """The TSA certificate chain violates the Notary Project timestamping certificate rules."""


@dataclass(frozen=True)
class TimestampInfo:
    """The facts of a ``TSTInfo`` that verification relies on.

    ``accuracy`` is the *effective* accuracy: ``TSTInfo.accuracy`` (seconds + millis + micros);
    when that is zero or absent and the policy is the RFC 3628 baseline policy
    (``0.4.0.2023.1.1``) it is one second, as notation-go does. The time the token asserts is the
    closed interval ``[lower, upper]`` = ``genTime ± accuracy``.

    ``tsa_chain`` (leaf first, ending with a trust-store root) is filled in only by a successful
    :meth:`TimestampToken.verify`; it is empty on the value returned by
    :meth:`TimestampToken.validate_message`.
    """

    gen_time: datetime
    accuracy: timedelta
    policy: str
    serial_number: int
    hash_algorithm: str
    hashed_message: bytes
    nonce: int | None = None
    tsa_chain: tuple[x509.Certificate, ...] = field(default=(), repr=False)

    @property
    def lower(self) -> datetime:
        """Earliest time the token may have been created (``genTime - accuracy``)."""
        return self.gen_time - self.accuracy

    @property
    def upper(self) -> datetime:
        """Latest time the token may have been created (``genTime + accuracy``)."""
        return self.gen_time + self.accuracy

    def bounded_after(self, moment: datetime) -> bool:
        """True if the whole range lies at or after ``moment`` (Go ``Timestamp.BoundedAfter``)."""
        return self.lower >= moment

    def bounded_before(self, moment: datetime) -> bool:
        """True if the whole range lies at or before ``moment`` (Go ``Timestamp.BoundedBefore``)."""
        return self.upper <= moment

    def __str__(self) -> str:
        return f"timestamp range: [{_rfc3339(self.lower)}, {_rfc3339(self.upper)}]"


def parse_timestamp_token(der: bytes) -> TimestampToken:
    """Parse a DER (or BER) ``TimeStampToken`` without verifying anything.

    Checks that it is a CMS ``SignedData`` (version 3) whose encapsulated content type is
    ``id-ct-TSTInfo`` and that every embedded certificate is an X.509 certificate. The ``TSTInfo``
    itself is decoded lazily by :meth:`TimestampToken.tst_info`.

    Raises:
        TimestampParseError: malformed CMS, wrong content type, or unusable certificates.
            For a token over ``id-data`` the message is notation-go's
            ``unexpected content type: 1.2.840.113549.1.7.1. Expected to be id-ct-TSTInfo
            (1.2.840.113549.1.9.16.1.4)``.
    """
    try:
        content_info = cms.ContentInfo.load(bytes(der))
        outer_type = content_info["content_type"].dotted
    except (ValueError, TypeError) as exc:
        raise TimestampParseError(
            f"cms: syntax error: invalid content info: failed to unmarshal DER to ContentInfo: {_reason(exc)}"
        ) from exc
    if outer_type != OID_SIGNED_DATA:
        raise TimestampParseError("cms: content type is not signed-data")
    try:
        signed_data = content_info["content"]
        version = int(signed_data["version"])
        _ = signed_data["digest_algorithms"].native
        encap = signed_data["encap_content_info"]
        content_type = encap["content_type"].dotted
        raw_content = encap["content"]
        content = None if isinstance(raw_content, core.Void) else bytes(raw_content)
        signer_infos = list(signed_data["signer_infos"])
        for signer_info in signer_infos:
            _force_signer_info(signer_info)
    except (ValueError, TypeError, KeyError) as exc:
        raise TimestampParseError(f"cms: syntax error: invalid signed data: {_reason(exc)}") from exc
    if version != 3:
        raise TimestampParseError(f"cms: syntax error: unsupported signed data version: got {version}, want 3")
    if content_type != OID_TST_INFO:
        raise TimestampParseError(
            f"unexpected content type: {content_type}. Expected to be id-ct-TSTInfo ({OID_TST_INFO})"
        )
    certificates: list[tuple[x509.Certificate, bytes]] = []
    try:
        cert_set = signed_data["certificates"]
        for choice in [] if isinstance(cert_set, core.Void) else cert_set:
            if choice.name != "certificate":
                raise ValueError(f"unsupported certificate choice {choice.name!r}")
            asn1_cert = choice.chosen
            cert = x509.load_der_x509_certificate(asn1_cert.dump())
            raw_issuer = asn1_cert["tbs_certificate"]["issuer"].dump()
            certificates.append((cert, raw_issuer))
    except (ValueError, TypeError) as exc:
        raise TimestampParseError(
            "cms: syntax error: failed to parse X.509 certificates from signed data. "
            f"Only X.509 certificates are supported: {_reason(exc)}"
        ) from exc
    return TimestampToken(
        der=bytes(der),
        content_type=content_type,
        content=content,
        signer_infos=tuple(signer_infos),
        certificate_entries=tuple(certificates),
    )


@dataclass(frozen=True, eq=False)
class TimestampToken:
    """A parsed, not yet verified, RFC 3161 ``TimeStampToken``.

    Create it with :func:`parse_timestamp_token`. ``certificates`` are the certificates embedded in
    the ``SignedData`` (present when the request set ``certReq``, as notation always does).
    """

    der: bytes = field(repr=False)
    content_type: str
    #: The encapsulated content: DER ``TSTInfo`` bytes (``None`` if the token is detached).
    content: bytes | None = field(repr=False)
    signer_infos: tuple[Any, ...] = field(repr=False)
    #: (certificate, raw DER of its issuer Name) pairs, in token order.
    certificate_entries: tuple[tuple[x509.Certificate, bytes], ...] = field(repr=False)

    @property
    def certificates(self) -> tuple[x509.Certificate, ...]:
        """Certificates embedded in the token, in token order."""
        return tuple(cert for cert, _ in self.certificate_entries)

    # -- stage 1: TSTInfo ------------------------------------------------------------------------

    @cached_property
    def _tst_info(self) -> Any:
        if self.content is None:
            raise TSTInfoError("cannot unmarshal TSTInfo from timestamp token: the token has no content")
        try:
            info = tsp.TSTInfo.load(self.content, strict=True)
            _ = info.native  # asn1crypto parses lazily: force every field now
        except (ValueError, TypeError, OverflowError) as exc:
            raise TSTInfoError(f"cannot unmarshal TSTInfo from timestamp token: {_reason(exc)}") from exc
        return info

    def tst_info(self) -> TimestampInfo:
        """Decode the ``TSTInfo`` (no check against any message yet).

        Raises:
            TSTInfoError: ``cannot unmarshal TSTInfo from timestamp token: …``.
        """
        info = self._tst_info
        accuracy_field = info["accuracy"]
        accuracy = timedelta(0)
        if not isinstance(accuracy_field, core.Void):
            parts = accuracy_field.native
            accuracy = timedelta(
                seconds=parts["seconds"] or 0,
                milliseconds=parts["millis"] or 0,
                microseconds=parts["micros"] or 0,
            )
        policy = info["policy"].dotted
        if accuracy == timedelta(0) and policy == OID_BASELINE_TIMESTAMP_POLICY:
            accuracy = timedelta(seconds=1)
        gen_time = cast(datetime, info["gen_time"].native)
        if gen_time.tzinfo is None:
            gen_time = gen_time.replace(tzinfo=UTC)
        nonce = info["nonce"].native
        return TimestampInfo(
            gen_time=gen_time,
            accuracy=accuracy,
            policy=policy,
            serial_number=int(info["serial_number"].native),
            hash_algorithm=info["message_imprint"]["hash_algorithm"]["algorithm"].dotted,
            hashed_message=bytes(info["message_imprint"]["hashed_message"].native),
            nonce=None if nonce is None else int(nonce),
        )

    # -- stage 2: the message imprint ------------------------------------------------------------

    def validate_message(self, message: bytes, hash_algorithm: hashes.HashAlgorithm | None = None) -> TimestampInfo:
        """Check the ``TSTInfo`` (version 1) and that its ``messageImprint`` is the hash of ``message``.

        ``hash_algorithm`` ``None`` hashes with the imprint's own algorithm (SHA-256/384/512), as
        notation-go does; pass one to additionally require that the TSA used that algorithm.

        Raises:
            TSTInfoError: decode failure, or ``invalid TSTInfo: …`` (``mismatched message``,
                ``unrecognized hash algorithm: <oid>``, wrong version, unexpected algorithm).
        """
        info = self.tst_info()
        version = int(self._tst_info["version"])
        if version != 1:
            raise TSTInfoError(f"invalid TSTInfo: timestamp token info version must be 1, but got {version}")
        factory = _SHA2.get(info.hash_algorithm)
        if factory is None:
            raise TSTInfoError(f"invalid TSTInfo: unrecognized hash algorithm: {info.hash_algorithm}")
        algorithm = factory()
        if hash_algorithm is not None and hash_algorithm.name != algorithm.name:
            raise TSTInfoError(
                f"invalid TSTInfo: message imprint uses {algorithm.name}, expected {hash_algorithm.name}"
            )
        if hashlib.new(algorithm.name, message).digest() != info.hashed_message:
            raise TSTInfoError("invalid TSTInfo: mismatched message")
        return info

    # -- stage 3: CMS signature and TSA certificate path -----------------------------------------

    def verify_signed_token(self, roots: Sequence[x509.Certificate]) -> tuple[x509.Certificate, ...]:
        """Verify the CMS signature and build the TSA chain to one of ``roots`` at ``genTime``.

        For each signer info (the first that verifies wins), as tspclient-go does:

        1. find the signing certificate through the ESS ``signing-certificate-v2`` attribute
           (``signing-certificate`` v1 if v2 is absent) and check its hash;
        2. build a path from it through the token's certificates to one of ``roots``, valid at
           ``genTime``, every certificate's EKU allowing ``id-kp-timeStamping``;
        3. verify the signature over the DER ``SET OF`` signed attributes;
        4. check the ``content-type``, ``message-digest`` and (if present) ``signing-time``
           attributes;
        5. require the signing certificate's EKU to be exactly ``id-kp-timeStamping``, critical.

        Returns:
            The verified chain, TSA certificate first, ending with the trusted root.

        Raises:
            TSTInfoError: the ``TSTInfo`` cannot be decoded (its ``genTime`` is needed).
            SignedTokenError: ``failed to verify signed token: …`` with tspclient-go's detail,
                e.g. ``cms verification failure: x509: certificate signed by unknown authority``.
        """
        gen_time = self.tst_info().gen_time
        if not self.signer_infos:
            raise SignedTokenError("failed to verify signed token: signerInfo not found")
        last_error = "failed to verify signed token"
        for signer_info in self.signer_infos:
            try:
                signing_cert = self._signing_certificate(signer_info)
                chain = self._verify_signer(signer_info, signing_cert, roots, gen_time)
            except _SignerError as failure:
                last_error = f"failed to verify signed token: {failure}"
                continue
            try:
                eku = signing_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
            except x509.ExtensionNotFound:
                eku = None
            if eku is None or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
                last_error = (
                    "failed to verify signed token: signing certificate must have and only have "
                    "ExtKeyUsageTimeStamping as extended key usage"
                )
                continue
            if not eku.critical:
                last_error = (
                    "failed to verify signed token: signing certificate extended key usage "
                    "extension must be set as critical"
                )
                continue
            return chain
        raise SignedTokenError(last_error)

    # -- all stages ------------------------------------------------------------------------------

    def verify(
        self,
        message: bytes,
        hash_algorithm: hashes.HashAlgorithm | None = None,
        roots: Sequence[x509.Certificate] = (),
        *,
        chain_validator: Callable[[Sequence[x509.Certificate]], None] | None = None,
    ) -> TimestampInfo:
        """Verify the token as a countersignature over ``message`` and return its time.

        Runs :meth:`validate_message`, :meth:`verify_signed_token` against ``roots`` and then the
        Notary Project TSA certificate rules on the verified chain (``chain_validator``, default
        :func:`validate_tsa_chain`). TSA-chain revocation is *not* checked here.

        Raises:
            TSTInfoError, SignedTokenError, TSAChainError: see the individual stages.
        """
        info = self.validate_message(message, hash_algorithm)
        chain = self.verify_signed_token(roots)
        (chain_validator or validate_tsa_chain)(chain)
        return replace(info, tsa_chain=chain)

    # -- internals -------------------------------------------------------------------------------

    def _find_certificate(self, raw_issuer: bytes, serial: int) -> x509.Certificate | None:
        for cert, cert_issuer in self.certificate_entries:
            if cert_issuer == raw_issuer and cert.serial_number == serial:
                return cert
        return None

    def _signing_certificate(self, signer_info: Any) -> x509.Certificate:
        """tspclient-go ``GetSigningCertificate``: locate the signer via ESS and check its hash."""
        v2 = _single_attribute(signer_info, "signing_certificate_v2")
        v1 = None if v2 is not None else _single_attribute(signer_info, "signing_certificate")
        ess = v2 if v2 is not None else v1
        if ess is None:
            raise _SignerError(
                "invalid timestamp token: both signingCertificate and signingCertificateV2 fields are missing"
            )
        cert_ids = list(ess["certs"])
        if not cert_ids:
            name = "signingCertificateV2" if v2 is not None else "signingCertificate"
            raise _SignerError(f"{name} does not contain any certificate")
        cert_id = cert_ids[0]
        issuer_serial = cert_id["issuer_serial"]
        candidate: x509.Certificate | None
        if not isinstance(issuer_serial, core.Void):
            names = list(issuer_serial["issuer"])
            if not names:
                raise _SignerError("issuer name is missing in IssuerSerial")
            if names[0].name != "directory_name":
                raise _SignerError(f"signing certificate IssuerSerial requires CHOICE tag 4, but got {names[0].tag}")
            raw_issuer = names[0].chosen.untag().dump()
            candidate = self._find_certificate(raw_issuer, int(issuer_serial["serial_number"].native))
        else:
            sid = signer_info["sid"]
            if sid.name != "issuer_and_serial_number":
                candidate = None
            else:
                ias = sid.chosen
                candidate = self._find_certificate(ias["issuer"].dump(), int(ias["serial_number"].native))
        if candidate is None:
            raise _SignerError("signing certificate not found in the timestamp token")
        cert_der = candidate.public_bytes(Encoding.DER)
        if v2 is not None:
            algorithm_oid = cert_id["hash_algorithm"]["algorithm"].dotted
            factory = _SHA2.get(algorithm_oid)
            if factory is None:
                raise _SignerError("unsupported certificate hash algorithm in SigningCertificateV2 attribute")
            digest = hashlib.new(factory().name, cert_der).digest()
        else:
            digest = hashlib.sha1(cert_der, usedforsecurity=False).digest()
        if digest != bytes(cert_id["cert_hash"].native):
            raise _SignerError("signing certificate hash does not match CertHash in signed attribute")
        return candidate

    def _verify_signer(
        self,
        signer_info: Any,
        signing_cert: x509.Certificate,
        roots: Sequence[x509.Certificate],
        gen_time: datetime,
    ) -> tuple[x509.Certificate, ...]:
        """tspclient-go ``cms.VerifySigner``: chain, then signature, then signed attributes."""
        version = int(signer_info["version"])
        if version != 1:
            raise _SignerError(
                f"cms verification failure: invalid signer info version: only version 1 is supported; got {version}"
            )
        chain = _build_chain(signing_cert, self.certificates, roots, gen_time)
        _verify_signature(signer_info, signing_cert)
        self._verify_signed_attributes(signer_info, chain)
        return chain

    def _verify_signed_attributes(self, signer_info: Any, chain: Sequence[x509.Certificate]) -> None:
        attrs = signer_info["signed_attrs"]
        if isinstance(attrs, core.Void) or len(attrs) == 0:
            raise _SignerError("cms verification failure: missing signed attributes")
        content_type = _single_attribute(signer_info, "content_type")
        if content_type is None:
            raise _SignerError("cms verification failure: invalid content type: attribute not found")
        if content_type.dotted != self.content_type:
            raise _SignerError(
                f'cms verification failure: mismatch content type: found "{content_type.dotted}" '
                f'in signer info, and "{self.content_type}" in signed data'
            )
        expected_digest = _single_attribute(signer_info, "message_digest")
        if expected_digest is None:
            raise _SignerError("cms verification failure: invalid message digest: attribute not found")
        factory = _SHA2.get(signer_info["digest_algorithm"]["algorithm"].dotted)
        if factory is None:
            raise _SignerError("cms verification failure: unsupported digest algorithm")
        actual = hashlib.new(factory().name, self.content or b"").digest()
        if bytes(expected_digest.native) != actual:
            raise _SignerError("cms verification failure: mismatch message digest")
        signing_time_attr = _single_attribute(signer_info, "signing_time")
        if signing_time_attr is not None:
            signing_time = cast(datetime, signing_time_attr.native)
            if signing_time.tzinfo is None:
                signing_time = signing_time.replace(tzinfo=UTC)
            for cert in chain:
                if signing_time < cert.not_valid_before_utc or signing_time > cert.not_valid_after_utc:
                    raise _SignerError(
                        f"cms verification failure: signing time, {_rfc3339(signing_time)}, "
                        "is outside certificate's validity period"
                    )


class _SignerError(Exception):
    """Internal: one signer info failed; the message is tspclient-go's detail text."""


def _reason(exc: BaseException) -> str:
    """First line of an exception message (asn1crypto appends multi-line parse context)."""
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def _rfc3339(moment: datetime) -> str:
    text = moment.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def _force_signer_info(signer_info: Any) -> None:
    """Parse the structural fields of a signer info (asn1crypto is lazy)."""
    _ = signer_info["version"].native
    _ = signer_info["sid"].native
    _ = signer_info["digest_algorithm"].native
    _ = signer_info["signature_algorithm"]["algorithm"].dotted
    _ = signer_info["signature"].native
    attrs = signer_info["signed_attrs"]
    if not isinstance(attrs, core.Void):
        for attr in attrs:
            _ = attr["type"].dotted


def _single_attribute(signer_info: Any, name: str) -> Any:
    """The single value of a signed attribute, ``None`` if absent.

    Raises:
        _SignerError: the attribute occurs more than once or has not exactly one value, or its value
            cannot be decoded.
    """
    attrs = signer_info["signed_attrs"]
    if isinstance(attrs, core.Void):
        return None
    found = [attr for attr in attrs if attr["type"].native == name]
    if not found:
        return None
    if len(found) > 1 or len(found[0]["values"]) != 1:
        raise _SignerError(f"cms verification failure: attribute {found[0]['type'].dotted} must have exactly one value")
    value = found[0]["values"][0]
    try:
        _ = value.native
    except (ValueError, TypeError) as exc:
        raise _SignerError(f"failed to decode signed attribute {found[0]['type'].dotted}: {_reason(exc)}") from exc
    return value


def _signature_scheme(signer_info: Any) -> tuple[str, hashes.HashAlgorithm]:
    """Go ``oid.ToSignatureAlgorithm``: (``rsa`` | ``rsa-pss`` | ``ecdsa``, hash)."""
    sig_oid = signer_info["signature_algorithm"]["algorithm"].dotted
    digest_factory = _SHA2.get(signer_info["digest_algorithm"]["algorithm"].dotted)
    if sig_oid in (_OID_RSA, _OID_RSA_PSS) and digest_factory is not None:
        return ("rsa" if sig_oid == _OID_RSA else "rsa-pss"), digest_factory()
    if sig_oid in _FIXED_SIGNATURE_ALGORITHMS:
        kind, factory = _FIXED_SIGNATURE_ALGORITHMS[sig_oid]
        return kind, factory()
    raise _SignerError("cms verification failure: unknown signature algorithm")


def _verify_signature(signer_info: Any, cert: x509.Certificate) -> None:
    """Verify the signer info's signature over the DER ``SET OF`` signed attributes (RFC 5652 §5.4)."""
    kind, algorithm = _signature_scheme(signer_info)
    attrs = signer_info["signed_attrs"]
    if isinstance(attrs, core.Void):
        raise _SignerError("cms verification failure: missing signed attributes")
    # The signature covers the attributes with their universal SET tag, not the [0] IMPLICIT tag.
    signed = attrs.untag().dump()
    signature = bytes(signer_info["signature"].native)
    key = cert.public_key()
    try:
        if kind in ("rsa", "rsa-pss"):
            if not isinstance(key, rsa.RSAPublicKey):
                raise _SignerError(
                    "cms verification failure: x509: signature algorithm specifies an RSA public key, "
                    f"but have public key of type {type(key).__name__}"
                )
            pad: padding.AsymmetricPadding = (
                padding.PKCS1v15()
                if kind == "rsa"
                else padding.PSS(mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size)
            )
            try:
                key.verify(signature, signed, pad, algorithm)
            except InvalidSignature:
                raise _SignerError("cms verification failure: crypto/rsa: verification error") from None
        else:
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise _SignerError(
                    "cms verification failure: x509: signature algorithm specifies an ECDSA public key, "
                    f"but have public key of type {type(key).__name__}"
                )
            try:
                key.verify(signature, signed, ec.ECDSA(algorithm))
            except InvalidSignature:
                raise _SignerError("cms verification failure: x509: ECDSA verification failure") from None
    except UnsupportedAlgorithm as exc:
        raise _SignerError(f"cms verification failure: {exc}") from exc


# -- TSA certificate path --------------------------------------------------------------------------


def _eku_allows_timestamping(eku: x509.ExtendedKeyUsage | None) -> bool:
    """Go ``checkChainForKeyUsage`` for one certificate: no EKU, anyEKU or timeStamping."""
    if eku is None:
        return True
    usages = list(eku)
    return ExtendedKeyUsageOID.TIME_STAMPING in usages or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in usages


def _check_eku(_policy: verification.Policy, _cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None) -> None:
    if not _eku_allows_timestamping(eku):
        raise ValueError("x509: certificate specifies an incompatible key usage")


def _build_chain(
    leaf: x509.Certificate,
    pool: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    at: datetime,
) -> tuple[x509.Certificate, ...]:
    """Path from ``leaf`` via ``pool`` to one of ``roots``, valid at ``at`` (Go ``x509.Verify``).

    Path building and RFC 5280 validation are cryptography's (``PolicyBuilder``) with extension
    policies relaxed to Go's behaviour (only ``basicConstraints`` on CAs and EKU nesting for
    ``id-kp-timeStamping``); the Notary Project certificate rules are applied afterwards by
    :func:`validate_tsa_chain`. Failures are reported with Go's wording.
    """
    if not roots:
        raise _SignerError("cms verification failure: x509: certificate signed by unknown authority")
    ca_policy = (
        verification.ExtensionPolicy.permit_all()
        .require_present(x509.BasicConstraints, verification.Criticality.AGNOSTIC, None)
        .may_be_present(x509.ExtendedKeyUsage, verification.Criticality.AGNOSTIC, _check_eku)
    )
    ee_policy = verification.ExtensionPolicy.permit_all().may_be_present(
        x509.ExtendedKeyUsage, verification.Criticality.AGNOSTIC, _check_eku
    )
    intermediates = [cert for cert in pool if cert != leaf]
    try:
        verifier = (
            verification.PolicyBuilder()
            .store(verification.Store(list(roots)))
            .time(at.astimezone(UTC).replace(tzinfo=None))
            .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
            .build_client_verifier()
        )
        verified = verifier.verify(leaf, intermediates)
    except (verification.VerificationError, ValueError) as exc:
        raise _SignerError(f"cms verification failure: {_diagnose(leaf, intermediates, roots, at, exc)}") from exc
    return tuple(verified.chain)


def _validity_error(cert: x509.Certificate, at: datetime) -> str | None:
    if at < cert.not_valid_before_utc:
        return (
            "x509: certificate has expired or is not yet valid: current time "
            f"{_rfc3339(at)} is before {_rfc3339(cert.not_valid_before_utc)}"
        )
    if at > cert.not_valid_after_utc:
        return (
            "x509: certificate has expired or is not yet valid: current time "
            f"{_rfc3339(at)} is after {_rfc3339(cert.not_valid_after_utc)}"
        )
    return None


def _diagnose(
    leaf: x509.Certificate,
    pool: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    at: datetime,
    exc: Exception,
) -> str:
    """Translate a path-validation failure into Go's ``crypto/x509`` wording.

    Go checks the leaf's validity period first, then reports ``certificate signed by unknown
    authority`` when no issuer path (names and signatures) reaches a root, with Go's "possibly
    because of …" hint when a same-named candidate issuer's signature did not verify; an expired
    certificate on an otherwise complete path gets Go's expiry text; any other failure (EKU,
    basic constraints, path length, …) keeps cryptography's explanation.
    """
    leaf_error = _validity_error(leaf, at)
    if leaf_error:
        return leaf_error
    paths, hint = _candidate_paths(leaf, pool, roots)
    if not paths:
        message = "x509: certificate signed by unknown authority"
        if hint is not None:
            reason, candidate = hint
            message += (
                f" (possibly because of {go_quote(reason)} while trying to verify candidate authority "
                f"certificate {go_quote(_go_cert_name(candidate))})"
            )
        return message
    for path in paths:
        for cert in path[1:]:
            problem = _validity_error(cert, at)
            if problem:
                return problem
    detail = str(exc).removeprefix("validation failed: ")
    return f"x509: {detail}"


def _go_cert_name(cert: x509.Certificate) -> str:
    """Go's ``certName``: the common name, else the whole subject."""
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if names:
        return str(names[0].value)
    return format_name(cert.subject)


def _issuer_signature_error(cert: x509.Certificate, issuer: x509.Certificate) -> str | None:
    """``None`` if ``issuer`` signed ``cert``, else Go's text for the failure."""
    try:
        cert.verify_directly_issued_by(issuer)
    except InvalidSignature:
        key = issuer.public_key()
        return (
            "crypto/rsa: verification error"
            if isinstance(key, rsa.RSAPublicKey)
            else "x509: ECDSA verification failure"
        )
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        return str(exc)
    return None


def _candidate_paths(
    leaf: x509.Certificate, pool: Sequence[x509.Certificate], roots: Sequence[x509.Certificate]
) -> tuple[list[list[x509.Certificate]], tuple[str, x509.Certificate] | None]:
    """Paths leaf → … → root whose links verify (names and signatures; no time or policy checks).

    Also returns the first signature failure of a same-named candidate issuer (Go's hint).
    """
    found: list[list[x509.Certificate]] = []
    hint: tuple[str, x509.Certificate] | None = None

    def linked(child: x509.Certificate, issuer: x509.Certificate) -> bool:
        nonlocal hint
        if child.issuer != issuer.subject:
            return False
        error = _issuer_signature_error(child, issuer)
        if error is not None and hint is None:
            hint = (error, issuer)
        return error is None

    def walk(path: list[x509.Certificate]) -> None:
        if len(path) > 8 or len(found) > 16:
            return
        current = path[-1]
        for root in roots:
            if linked(current, root):
                found.append([*path, root])
        for candidate in pool:
            if candidate not in path and candidate not in roots and linked(current, candidate):
                walk([*path, candidate])

    if leaf in roots:
        return [[leaf]], None
    walk([leaf])
    return found, hint


# -- Notary Project TSA certificate rules ----------------------------------------------------------


def validate_tsa_chain(chain: Sequence[x509.Certificate]) -> None:
    """Apply the Notary Project timestamping certificate rules to a verified TSA chain.

    This is notation-core-go's ``ValidateTimestampingCertChain``
    (:func:`notation_py.x509.chain.validate_timestamping_chain`): strictly ordered chain ending in
    a self-signed root, CA rules (``basicConstraints``, ``keyUsage``, path length) for the issuers,
    and the timestamping leaf rules (``keyUsage`` with ``digitalSignature``, EKU exactly
    ``id-kp-timeStamping``, key sizes).

    Raises:
        TSAChainError: a rule is violated (the x509 module's message is kept).
    """
    try:
        validate_timestamping_chain(list(chain))
    except CertificateError as exc:
        raise TSAChainError(exc.message) from exc
