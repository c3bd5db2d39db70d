"""Revocation checking with OCSP (RFC 6960), as notation-core-go ``revocation/internal/ocsp`` does it.

:func:`build_request` and :func:`evaluate_response` are pure (bytes and certificates in, results
out); :func:`check_ocsp` talks to the responders through a
:class:`~notation_py.revocation.http.Transport`.

Behaviour (Go unless noted):

* Only ``http`` responder URLs. The request identifies the certificate with a SHA-1 ``CertID``
  (Go chose SHA-1 because several large CAs' responders reject SHA-256 ones); it is sent with GET
  when its URL-escaped base64 form is shorter than 255 characters, otherwise with POST.
* Responders are tried in order; the first definitive answer (``good``, ``revoked`` or
  ``unknown``) decides; transport and validation failures move on to the next responder.
* The response must be signed by the issuer, or by a delegated responder certificate carried in the
  response that the issuer signed, that has the ``id-kp-OCSPSigning`` EKU and is currently valid
  (RFC 6960 §4.2.2.2; Go's ``x/crypto/ocsp`` does not check the EKU or validity). The revocation
  status of a delegated responder is not checked (Go has the same gap).
* The matching single response must name the certificate's serial number *and* its issuer's name
  and key hashes (Go compares only the serial number).
* A response without ``nextUpdate`` or whose ``nextUpdate`` has passed is "expired" and gives
  ``unknown`` (Go). ``thisUpdate`` may be at most five minutes in the future (not checked by Go).
* ``revoked`` with an ``invalidityDate`` single extension after the authentic signing time is
  reported as ``ok``; the revocation time itself is not compared (Go and the specification).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit, urlunsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, SignatureAlgorithmOID

from notation_py.errors import RevocationError
from notation_py.revocation import _asn1
from notation_py.revocation.http import OCSP_TIMEOUT, Transport
from notation_py.revocation.result import CertRevocationResult, Result, RevocationMethod, ServerResult

logger = logging.getLogger(__name__)

#: Largest OCSP response accepted, bytes (notation-core-go ``ocspMaxResponseSize``).
MAX_OCSP_RESPONSE_SIZE = 20480
#: Tolerated clock difference for ``thisUpdate`` in the future.
CLOCK_SKEW = timedelta(minutes=5)
#: Requests whose escaped base64 form is at least this long are POSTed (Go).
_MAX_GET_LENGTH = 255


_STATUS_ERRORS = {
    ocsp.OCSPResponseStatus.MALFORMED_REQUEST: "OCSP malformed",
    ocsp.OCSPResponseStatus.INTERNAL_ERROR: "OCSP internal error",
    ocsp.OCSPResponseStatus.TRY_LATER: "OCSP try later",
    ocsp.OCSPResponseStatus.SIG_REQUIRED: "OCSP signature required",
    ocsp.OCSPResponseStatus.UNAUTHORIZED: "OCSP unauthorized",
}

UNKNOWN_STATUS_ERROR = "certificate has unknown status via OCSP"
REVOKED_ERROR = "certificate is revoked via OCSP"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def supported(cert: x509.Certificate) -> bool:
    """True when ``cert`` names at least one OCSP responder (a malformed AIA also counts; fails later)."""
    try:
        return bool(ocsp_urls(cert))
    except RevocationError:
        return True


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    """OCSP responder URIs from the certificate's Authority Information Access (Go ``OCSPServer``).

    Raises:
        RevocationError: The extension is malformed.
    """
    try:
        extensions = _asn1.certificate_extensions(cert.tbs_certificate_bytes)
        extension = _asn1.find_extension(extensions, _asn1.OID_AIA)
        return _asn1.ocsp_uris(extension.value) if extension is not None else []
    except _asn1.Asn1Error as exc:
        raise RevocationError(f"failed to parse authority information access: {exc}") from exc


def build_request(
    cert: x509.Certificate, issuer: x509.Certificate, hash_algorithm: hashes.HashAlgorithm | None = None
) -> bytes:
    """DER ``OCSPRequest`` for ``cert`` (no nonce, unsigned).

    Args:
        cert: Certificate to ask about.
        issuer: Its issuer.
        hash_algorithm: ``CertID`` hash; SHA-1 by default, as Go.

    Raises:
        RevocationError: The request cannot be built.
    """
    try:
        request = (
            ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hash_algorithm or hashes.SHA1()).build()  # noqa: S303
        )
    except (ValueError, TypeError) as exc:
        raise RevocationError(f"failed to create OCSP request: {exc}") from exc
    return request.public_bytes(serialization.Encoding.DER)


def get_url(server: str, request: bytes) -> str | None:
    """URL for sending ``request`` with GET (RFC 6960 Appendix A.1), or ``None`` when POST is required."""
    encoded = base64.b64encode(request).decode("ascii")
    if len(encoded) >= _MAX_GET_LENGTH:
        return None
    escaped = quote(encoded, safe="")
    if len(escaped) >= _MAX_GET_LENGTH:
        return None
    parts = urlsplit(server)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + escaped))


def _key_bits(cert: x509.Certificate) -> bytes:
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        return _asn1.subject_public_key_bits(spki)
    except _asn1.Asn1Error as exc:
        raise RevocationError(f"failed to read the issuer public key: {exc}") from exc


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    return hashlib.new(algorithm.name, data).digest()


def _responder_is(response: ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    if response.responder_name is not None:
        return response.responder_name == cert.subject
    if response.responder_key_hash is not None:
        return response.responder_key_hash == hashlib.sha1(_key_bits(cert)).digest()  # noqa: S324
    return False


def _has_ocsp_signing_eku(cert: x509.Certificate) -> bool:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (x509.ExtensionNotFound, ValueError):
        return False
    return ExtendedKeyUsageOID.OCSP_SIGNING in eku


def _verify_signature(
    key: object, signature: bytes, data: bytes, hash_algorithm: hashes.HashAlgorithm | None, oid: x509.ObjectIdentifier
) -> None:
    """Verify a signature made with ``key``'s private key.

    Raises:
        RevocationError: Unsupported key or algorithm, or a wrong signature.
    """
    try:
        if isinstance(key, rsa.RSAPublicKey) and hash_algorithm is not None:
            pad: padding.AsymmetricPadding = (
                padding.PSS(padding.MGF1(hash_algorithm), padding.PSS.AUTO)
                if oid == SignatureAlgorithmOID.RSASSA_PSS
                else padding.PKCS1v15()
            )
            key.verify(signature, data, pad, hash_algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and hash_algorithm is not None:
            key.verify(signature, data, ec.ECDSA(hash_algorithm))
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
        elif isinstance(key, dsa.DSAPublicKey) and hash_algorithm is not None:
            key.verify(signature, data, hash_algorithm)
        else:
            raise RevocationError(f"unsupported OCSP signature algorithm {oid.dotted_string}")
    except InvalidSignature as exc:
        raise RevocationError("bad OCSP signature") from exc
    except (UnsupportedAlgorithm, ValueError, TypeError) as exc:
        raise RevocationError(f"bad OCSP signature: {exc}") from exc


def _signer(response: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime) -> x509.Certificate:
    if _responder_is(response, issuer):
        return issuer
    problems: list[str] = []
    for candidate in response.certificates:
        if not _responder_is(response, candidate):
            continue
        try:
            candidate.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature) as exc:
            problems.append(f"responder certificate is not issued by the certificate's issuer ({exc})")
            continue
        if not _has_ocsp_signing_eku(candidate):
            problems.append("responder certificate lacks the OCSPSigning extended key usage")
            continue
        if not candidate.not_valid_before_utc <= now <= candidate.not_valid_after_utc:
            problems.append("responder certificate is not valid at the current time")
            continue
        return candidate
    detail = "; ".join(problems) if problems else "responder is neither the issuer nor a certificate in the response"
    raise RevocationError(f"OCSP response is not signed by an authorized responder: {detail}")


def _matching_single(
    response: ocsp.OCSPResponse, cert: x509.Certificate, issuer: x509.Certificate
) -> tuple[int, ocsp.OCSPSingleResponse]:
    name_der = issuer.subject.public_bytes()
    key_bits = _key_bits(issuer)
    for index, single in enumerate(response.responses):
        if single.serial_number != cert.serial_number:
            continue
        try:
            algorithm = single.hash_algorithm
            if single.issuer_name_hash == _digest(algorithm, name_der) and single.issuer_key_hash == _digest(
                algorithm, key_bits
            ):
                return index, single
        except (UnsupportedAlgorithm, ValueError):
            continue
    raise RevocationError("no response matching the supplied certificate")


def _invalidity_date(response: ocsp.OCSPResponse, index: int) -> datetime | None:
    try:
        extensions = _asn1.ocsp_single_extensions(response.tbs_response_bytes, index)
        extension = _asn1.find_extension(extensions, _asn1.OID_INVALIDITY_DATE)
        if extension is None:
            return None
        return _asn1.decode_generalized_time(extension.value)
    except _asn1.Asn1Error:
        return None  # Go ignores an unparsable invalidity date


def evaluate_response(
    response_der: bytes,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    server: str = "",
    signing_time: datetime | None = None,
    now: datetime | None = None,
) -> ServerResult:
    """Validate an OCSP response for ``cert`` and turn it into a definitive server result.

    Args:
        response_der: DER ``OCSPResponse``.
        cert: Certificate asked about.
        issuer: Its issuer.
        server: Responder URL, reported in the result.
        signing_time: Authentic signing time, compared with an ``invalidityDate``.
        now: Current time (aware UTC); defaults to the system clock.

    Returns:
        ``OK`` (good, or revoked after the signing time), ``REVOKED``, or ``UNKNOWN`` with
        :data:`UNKNOWN_STATUS_ERROR` when the responder does not know the certificate.

    Raises:
        RevocationError: The response is unparsable, unsuccessful, not for this certificate,
            not signed by an authorized responder, or expired.
    """
    now = now or _utcnow()
    try:
        response = ocsp.load_der_ocsp_response(response_der)
    except ValueError as exc:
        raise RevocationError(f"failed to parse OCSP response: {exc}") from exc
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise RevocationError(_STATUS_ERRORS.get(response.response_status, str(response.response_status)))

    index, single = _matching_single(response, cert, issuer)
    signer = _signer(response, issuer, now)
    try:
        hash_algorithm = response.signature_hash_algorithm
    except UnsupportedAlgorithm as exc:
        raise RevocationError(f"bad OCSP signature: {exc}") from exc
    _verify_signature(
        signer.public_key(),
        response.signature,
        response.tbs_response_bytes,
        hash_algorithm,
        response.signature_algorithm_oid,
    )

    if single.this_update_utc > now + CLOCK_SKEW:
        raise RevocationError(f"OCSP response thisUpdate {single.this_update_utc.isoformat()} is in the future")
    next_update = single.next_update_utc
    if next_update is None or now > next_update:
        raise RevocationError("expired OCSP response")

    status = single.certificate_status
    if status is ocsp.OCSPCertStatus.GOOD:
        return ServerResult(Result.OK, server, RevocationMethod.OCSP)
    if status is ocsp.OCSPCertStatus.REVOKED:
        invalidity = _invalidity_date(response, index)
        if signing_time is not None and invalidity is not None and signing_time < invalidity:
            return ServerResult(Result.OK, server, RevocationMethod.OCSP, invalidity_date=invalidity)
        reason = single.revocation_reason
        return ServerResult(
            Result.REVOKED,
            server,
            RevocationMethod.OCSP,
            error=REVOKED_ERROR,
            revocation_time=single.revocation_time_utc,
            reason=reason.value if reason is not None else None,
            invalidity_date=invalidity,
        )
    return ServerResult(Result.UNKNOWN, server, RevocationMethod.OCSP, error=UNKNOWN_STATUS_ERROR)


def query(
    server: str,
    request: bytes,
    transport: Transport,
    *,
    timeout: float = OCSP_TIMEOUT,
    max_size: int = MAX_OCSP_RESPONSE_SIZE,
) -> bytes:
    """Send ``request`` to ``server`` (GET when short enough, else POST) and return the response.

    Raises:
        RevocationError: Unsupported scheme or transport failure.
    """
    try:
        scheme = urlsplit(server).scheme
    except ValueError as exc:
        raise RevocationError(f"invalid OCSP server URL: {exc}") from exc
    if scheme.lower() != "http":
        raise RevocationError(f"OCSPServer protocol {scheme} is not supported")
    url = get_url(server, request)
    if url is not None:
        return transport.get(url, timeout=timeout, max_bytes=max_size)
    return transport.post(server, request, content_type="application/ocsp-request", timeout=timeout, max_bytes=max_size)


def check_ocsp(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    transport: Transport,
    *,
    signing_time: datetime | None = None,
    now: datetime | None = None,
    timeout: float = OCSP_TIMEOUT,
    hash_algorithm: hashes.HashAlgorithm | None = None,
    servers: Iterable[str] | None = None,
) -> CertRevocationResult:
    """Revocation status of ``cert`` (issued by ``issuer``) from its OCSP responders.

    Args:
        cert: Certificate to check.
        issuer: Its issuer (next certificate of the chain).
        transport: HTTP transport.
        signing_time: Authentic signing time (signing-authority scheme).
        now: Current time (aware UTC); defaults to the system clock.
        timeout: Timeout of each exchange, seconds.
        hash_algorithm: ``CertID`` hash (SHA-1 by default).
        servers: Responder URLs; by default those of the certificate's AIA extension.

    Returns:
        ``NON_REVOKABLE`` without responders; the first definitive answer; else ``UNKNOWN`` with
        one server result per responder tried.
    """
    try:
        urls = list(servers) if servers is not None else ocsp_urls(cert)
    except RevocationError as exc:
        return CertRevocationResult(
            Result.UNKNOWN,
            (ServerResult(Result.UNKNOWN, "", RevocationMethod.OCSP, error=str(exc)),),
            RevocationMethod.OCSP,
        )
    if not urls:
        return CertRevocationResult(
            Result.NON_REVOKABLE,
            (ServerResult(Result.NON_REVOKABLE, "", RevocationMethod.OCSP, error="no valid OCSP server found"),),
            RevocationMethod.OCSP,
        )
    now = now or _utcnow()
    results: list[ServerResult] = []
    for server in urls:
        try:
            request = build_request(cert, issuer, hash_algorithm)
            body = query(server, request, transport, timeout=timeout)
            result = evaluate_response(body, cert, issuer, server=server, signing_time=signing_time, now=now)
        except RevocationError as exc:
            logger.debug("OCSP check of %s failed: %s", server, exc)
            results.append(
                ServerResult(
                    Result.UNKNOWN,
                    server,
                    RevocationMethod.OCSP,
                    error=f"error checking revocation status via OCSP: {exc}",
                )
            )
            continue
        # A definitive answer (good, revoked or unknown) decides; other servers' errors are dropped.
        return CertRevocationResult(result.result, (result,), RevocationMethod.OCSP)
    return CertRevocationResult(results[-1].result, tuple(results), RevocationMethod.OCSP)
