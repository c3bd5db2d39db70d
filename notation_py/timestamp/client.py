"""RFC 3161 timestamping at signing time: a :data:`~notation_py.envelope.model.Timestamper` over HTTP.

The Notary Project countersignature is an RFC 3161 ``TimeStampToken`` over the *primitive
signature*, hashed with the signing key's hash (SHA-256/384/512), requested with ``certReq`` set
(signing-scheme.md, plugin-extensibility.md). :class:`HTTPTimestamper` does what notation-go does
with ``tspclient-go`` and ``timestampSignature``:

1. build a ``TimeStampReq`` (version 1, message imprint, a random 159-bit nonce, ``certReq``
   true) with :mod:`asn1crypto` and ``POST`` it as ``application/timestamp-query`` with httpx;
2. require HTTP 200, ``application/timestamp-reply`` and a body under 1 MiB; decode the
   ``TimeStampResp``; require status ``granted`` (or ``grantedWithMods``);
3. require the token's ``TSTInfo`` to be version 1 with the request's message imprint (hash
   algorithm and value) and nonce, and the TSA's certificates in it;
4. verify the token's signature and build the TSA chain to the configured root at ``genTime``
   (timestamping EKU rules), then apply the Notary Project timestamping certificate rules
   (:mod:`notation_py.timestamp.token`), then the optional TSA-chain revocation hook.

Any failure raises :class:`~notation_py.errors.TimestampError` naming the cause; signing fails
with it (the specification: a failed timestamp MUST fail signing).
"""

from __future__ import annotations

import hashlib
import secrets
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from asn1crypto import cms, core, tsp
from cryptography import x509

from notation_py.deadline import current_deadline
from notation_py.deadline_http import body_within, capped_timeout, timed_out_by
from notation_py.envelope.algorithms import Algorithm
from notation_py.errors import CertificateError, DeadlineExceededError, NotationError, TimestampError, UsageError
from notation_py.timestamp.authentic import RevocationCheck
from notation_py.timestamp.token import TimestampInfo, parse_timestamp_token, validate_tsa_chain
from notation_py.tls import ssl_context
from notation_py.x509.chain import is_self_signed

if TYPE_CHECKING:
    from notation_py.revocation import RevocationChecker

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_RESPONSE_SIZE",
    "TIMESTAMP_QUERY",
    "TIMESTAMP_REPLY",
    "HTTPTimestamper",
    "TimestampResult",
    "load_tsa_root",
    "tsa_revocation_check",
]

#: Request and response media types (RFC 3161 §3.4).
TIMESTAMP_QUERY = "application/timestamp-query"
TIMESTAMP_REPLY = "application/timestamp-reply"
#: Largest accepted response body (tspclient-go's limit).
MAX_RESPONSE_SIZE = 1024 * 1024
#: Seconds for connecting to, and reading from, the TSA.
DEFAULT_TIMEOUT = 15.0

_HASHES = {"sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512"}
_IMPRINT_HASHES = {
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}


class _TimeStampResp(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    """``TimeStampResp`` with the token optional, as RFC 3161 defines it (asn1crypto requires it)."""

    _fields = [  # noqa: RUF012 - asn1crypto's schema declaration
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


@dataclass(frozen=True)
class TimestampResult:
    """A verified timestamp: the token's exact DER and what it asserts (with the verified TSA chain)."""

    token: bytes = field(repr=False)
    info: TimestampInfo


def load_tsa_root(path: Path) -> x509.Certificate:
    """Read ``--timestamp-root-cert``: exactly one self-signed root certificate, PEM or DER.

    Raises:
        UsageError: unreadable file, no or several certificates, or not a root certificate
            (notation's ``Expecting single x509 root certificate in PEM or DER format from the file``).
    """
    from notation_py.x509.certs import read_certificate_file

    expecting = "Expecting single x509 root certificate in PEM or DER format from the file"
    try:
        certs = read_certificate_file(path)
    except CertificateError as exc:
        raise UsageError(f'failed to read the timestamp root certificate "{path}": {exc.message}') from None
    if not certs:
        raise UsageError(f'cannot find any certificate from "{path}". {expecting}')
    if len(certs) > 1:
        raise UsageError(f'found more than one certificates from "{path}". {expecting}')
    root = certs[0]
    try:
        is_root = is_self_signed(root)
    except CertificateError as exc:
        raise UsageError(f"failed to check root certificate with error: {exc.message}") from None
    if not is_root:
        raise UsageError(f'certificate from "{path}" is not a root certificate. {expecting}')
    return root


def tsa_revocation_check(checker: RevocationChecker) -> RevocationCheck:
    """A revocation hook for :class:`HTTPTimestamper` backed by OCSP/CRL (timestamping purpose), as notation does.

    The hook raises :class:`~notation_py.errors.RevocationError` (``timestamping certificate with
    subject "…" is revoked`` / ``… revocation status is unknown``), which the timestamper reports as
    an untrusted timestamp.
    """
    from notation_py.revocation import Purpose, raise_for_result

    def check(chain: Sequence[x509.Certificate], _now: datetime) -> None:
        raise_for_result(checker.check_chain(list(chain), purpose=Purpose.TIMESTAMPING))

    return check


class HTTPTimestamper:
    """RFC 3161 timestamping over HTTP(S); an instance is a :data:`~notation_py.envelope.model.Timestamper`.

    Pass it as ``SignRequest.timestamper`` / ``SignOptions.timestamper``: it is called with the raw
    primitive signature and the signing algorithm and returns the verified token's DER.

    Args:
        url: The TSA endpoint (``--timestamp-url``), ``http://`` or ``https://``.
        roots: Trusted TSA root certificates (``--timestamp-root-cert``, see :func:`load_tsa_root`).
        timeout: Seconds for connecting and for reading the response (cut to what the running
            operation's deadline leaves, :mod:`notation_py.deadline`).
        client: An httpx client to use (not closed here); by default one per request, verifying TLS
            with the process's trust (:func:`notation_py.tls.ssl_context`, ``SSL_CERT_FILE``), no redirects.
        revocation_check: Checks the verified TSA chain's revocation status (notation-go does so
            with a timestamping-purpose OCSP/CRL validator); raise to refuse the timestamp.
        now: Clock for the revocation hook (tests).

    Raises:
        UsageError: the URL is not an http(s) URL, or no root is given.
    """

    def __init__(
        self,
        url: str,
        roots: Sequence[x509.Certificate],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        client: httpx.Client | None = None,
        revocation_check: RevocationCheck | None = None,
        now: datetime | None = None,
    ) -> None:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise UsageError(f'invalid timestamp URL "{url}": {exc}') from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise UsageError(f'invalid timestamp URL "{url}": it must be an http:// or https:// URL')
        if not roots:
            raise UsageError("a timestamp root certificate is required to verify the timestamp authority's response")
        self.url = url
        self.roots = tuple(roots)
        self.timeout = timeout
        self.client = client
        self.revocation_check = revocation_check
        self._now = now

    @classmethod
    def from_root_file(cls, url: str, root_cert: Path, **kwargs: Any) -> HTTPTimestamper:
        """``--timestamp-url`` and ``--timestamp-root-cert`` (see :func:`load_tsa_root`)."""
        return cls(url, [load_tsa_root(root_cert)], **kwargs)

    def __call__(self, signature: bytes, algorithm: Algorithm) -> bytes:
        """Timestamp a primitive signature with the signing key's hash; return the token's DER."""
        return self.timestamp(signature, algorithm.digest_algorithm).token

    # --- the exchange -----------------------------------------------------------------------------

    def timestamp(self, message: bytes, hash_algorithm: str = "sha256") -> TimestampResult:
        """Request, receive and verify a timestamp over ``message``.

        Args:
            message: The data to timestamp (the primitive signature).
            hash_algorithm: ``sha256``, ``sha384`` or ``sha512``.

        Raises:
            TimestampError: the TSA could not be reached, answered an HTTP error or something other
                than a timestamp reply, rejected the request, or returned a token that is for another
                message or nonce, lacks its certificates, or does not verify to the trusted root.
        """
        if hash_algorithm not in _HASHES:
            raise TimestampError(f'hash algorithm "{hash_algorithm}" cannot be used for timestamping')
        nonce = secrets.randbelow(2**159 - 1) + 1
        imprint = hashlib.new(hash_algorithm, message).digest()
        request = tsp.TimeStampReq(
            {
                "version": "v1",
                "message_imprint": {
                    "hash_algorithm": {"algorithm": hash_algorithm, "parameters": core.Null()},
                    "hashed_message": imprint,
                },
                "nonce": nonce,
                "cert_req": True,
            }
        ).dump()
        body = self._post(request)
        token = self._token(body)
        return self._verify(token, message, hash_algorithm, nonce)

    def _post(self, request: bytes) -> bytes:
        where = f"timestamp authority {self.url}"
        headers = {"Content-Type": TIMESTAMP_QUERY, "Accept": TIMESTAMP_REPLY}
        if self.client is not None:
            client = self.client
        else:
            try:
                verify = ssl_context()
            except (OSError, ssl.SSLError) as exc:
                raise TimestampError(f"cannot set up TLS for the {where}: {exc}") from None
            client = httpx.Client(timeout=self.timeout, follow_redirects=False, verify=verify)
        deadline = current_deadline()
        activity = f"requesting a timestamp from {self.url}"
        try:
            if deadline is not None:
                deadline.check(activity)
            timeout = capped_timeout(httpx.Timeout(self.timeout), deadline)
            with client.stream("POST", self.url, content=request, headers=headers, timeout=timeout) as response:
                if response.status_code != 200:
                    raise TimestampError(f"{where} answered HTTP {response.status_code} {response.reason_phrase}")
                content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if content_type != TIMESTAMP_REPLY:
                    raise TimestampError(
                        f'{where} answered with content type "{content_type}", expected "{TIMESTAMP_REPLY}"'
                    )
                body = bytearray()
                with body_within(response, deadline, activity) as chunks:
                    for chunk in chunks:
                        body += chunk
                        if len(body) > MAX_RESPONSE_SIZE:
                            raise TimestampError(f"{where} sent a response larger than {MAX_RESPONSE_SIZE} bytes")
                return bytes(body)
        except httpx.TimeoutException:
            if timed_out_by(deadline):
                assert deadline is not None
                raise deadline.exceeded(activity) from None
            raise TimestampError(f"{where} did not answer within {self.timeout:g} seconds") from None
        except httpx.HTTPError as exc:
            raise TimestampError(f"cannot reach the {where}: {exc}") from None
        finally:
            if self.client is None:
                client.close()

    def _token(self, body: bytes) -> bytes:
        where = f"timestamp authority {self.url}"
        try:
            response = _TimeStampResp.load(body, strict=True)
            status_info = response["status"]
            status = status_info["status"].native
            token_value = response["time_stamp_token"]
        except (ValueError, TypeError) as exc:
            raise TimestampError(f"{where} sent a malformed timestamp response: {exc}") from None
        if status not in ("granted", "granted_with_mods"):
            detail = [f"status {status}"]
            try:
                failures = status_info["fail_info"].native
                texts = status_info["status_string"].native
            except (ValueError, TypeError):
                failures, texts = None, None
            if failures:
                detail.append("failure info " + ", ".join(sorted(failures)))
            if texts:
                detail.append("; ".join(texts))
            raise TimestampError(f"{where} rejected the timestamp request: {'; '.join(detail)}")
        if isinstance(token_value, core.Void):
            raise TimestampError(f"{where} granted the request but sent no timestamp token")
        return bytes(token_value.dump())

    def _verify(self, token_der: bytes, message: bytes, hash_algorithm: str, nonce: int) -> TimestampResult:
        where = f"timestamp from {self.url}"
        token = parse_timestamp_token(token_der)
        info = token.tst_info()
        imprint_name = _IMPRINT_HASHES.get(info.hash_algorithm, info.hash_algorithm)
        if imprint_name != hash_algorithm:
            raise TimestampError(
                f"{where} is for another message: the message imprint uses {imprint_name}, the request {hash_algorithm}"
            )
        try:
            info = token.validate_message(message)
        except TimestampError as exc:
            reason = "the message imprint does not match" if "mismatched message" in exc.message else exc.message
            raise TimestampError(f"{where} is for another message: {reason}") from None
        if info.nonce != nonce:
            raise TimestampError(
                f"{where} does not answer this request: nonce in the response {info.nonce} does not match "
                f"nonce in the request {nonce}"
            )
        if not token.certificates:
            raise TimestampError(
                f"{where}: certReq is True in request, but did not find any TSA signing certificate in the response"
            )
        try:
            chain = token.verify_signed_token(self.roots)
            validate_tsa_chain(chain)
        except TimestampError as exc:
            raise TimestampError(f"{where} is not trusted: {exc.message}") from None
        if self.revocation_check is not None:
            try:
                self.revocation_check(chain, self._now or datetime.now(UTC))
            except DeadlineExceededError:
                raise
            except NotationError as exc:
                raise TimestampError(f"{where} is not trusted: {exc.message}") from None
        return TimestampResult(token=token_der, info=replace(info, tsa_chain=chain))
