"""Chain-level revocation checking (notation-core-go ``revocation.ValidateContext`` and notation-go's
``revocationFinalResult``).

For every certificate but the root (never checked: ``NON_REVOKABLE``):

* with an OCSP responder: OCSP; if OCSP gives ``UNKNOWN`` and the certificate has CRL distribution
  points, CRL decides (method ``OCSPFallbackCRL``; both server result lists are kept);
* else with CRL distribution points: CRL;
* else ``NON_REVOKABLE``.

Certificates are checked concurrently. :func:`summarize` folds the per-certificate results into
the chain verdict; :func:`raise_for_result` turns a failed verdict into notation-go's error.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from notation_py.deadline import current_deadline
from notation_py.errors import CertificateError, RevocationError
from notation_py.revocation import crl as crl_mod
from notation_py.revocation import ocsp as ocsp_mod
from notation_py.revocation.cache import CRLCache
from notation_py.revocation.crl import HTTPCRLFetcher
from notation_py.revocation.http import CRL_TIMEOUT, OCSP_TIMEOUT, HttpxTransport, Transport
from notation_py.revocation.result import (
    CertRevocationResult,
    ChainResult,
    Purpose,
    Result,
    RevocationMethod,
    ServerResult,
)
from notation_py.x509.chain import validate_code_signing_chain, validate_timestamping_chain
from notation_py.x509.names import format_name

logger = logging.getLogger(__name__)

_NON_REVOKABLE = CertRevocationResult(
    Result.NON_REVOKABLE, (ServerResult(Result.NON_REVOKABLE),), RevocationMethod.UNKNOWN
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RevocationChecker:
    """Checks certificate chains with OCSP and CRLs.

    Args:
        transport: HTTP transport for OCSP and CRL downloads; by default an
            :class:`~notation_py.revocation.http.HttpxTransport` owned (and closed) by the checker.
        crl_fetcher: Source of CRLs; by default an :class:`~notation_py.revocation.crl.HTTPCRLFetcher`
            over ``transport`` with ``crl_cache``.
        crl_cache: Cache for the default CRL fetcher (ignored when ``crl_fetcher`` is given), e.g.
            ``FileCRLCache.in_cache_dir(notation_cache_dir)``.
        ocsp_timeout: Timeout of each OCSP exchange, seconds (default 2).
        crl_timeout: Timeout of each CRL download, seconds (default 5).
        ocsp_hash: ``CertID`` hash algorithm of OCSP requests (default SHA-1, as Go).
        clock: Returns the current time (aware UTC); for tests.
    """

    def __init__(
        self,
        *,
        transport: Transport | None = None,
        crl_fetcher: crl_mod.CRLFetcher | None = None,
        crl_cache: CRLCache | None = None,
        ocsp_timeout: float = OCSP_TIMEOUT,
        crl_timeout: float = CRL_TIMEOUT,
        ocsp_hash: hashes.HashAlgorithm | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._owned_transport: HttpxTransport | None = None
        if transport is None:
            self._owned_transport = HttpxTransport()
            transport = self._owned_transport
        self.transport = transport
        self.crl_fetcher: crl_mod.CRLFetcher = crl_fetcher or HTTPCRLFetcher(
            transport, cache=crl_cache, timeout=crl_timeout, clock=clock
        )
        self.ocsp_timeout = ocsp_timeout
        self.ocsp_hash = ocsp_hash
        self.clock = clock

    def close(self) -> None:
        """Release the HTTP client if the checker created it."""
        if self._owned_transport is not None:
            self._owned_transport.close()

    def __enter__(self) -> RevocationChecker:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def check_certificate(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        *,
        authentic_signing_time: datetime | None = None,
    ) -> CertRevocationResult:
        """Revocation status of one certificate.

        Args:
            cert: Certificate to check.
            issuer: Its issuer.
            authentic_signing_time: Authentic signing time (signing-authority scheme); revocations
                whose invalidity date is after it do not count.

        Returns:
            The certificate's result; never raises for network or data problems (they give ``UNKNOWN``).

        Raises:
            DeadlineExceededError: The running operation's deadline (:mod:`notation_py.deadline`) passed.
        """
        signing_time = _as_utc(authentic_signing_time)
        now = self.clock()
        has_ocsp = ocsp_mod.supported(cert)
        has_crl = crl_mod.supported(cert)
        deadline = current_deadline()
        if deadline is not None and (has_ocsp or has_crl):
            # Also for transports that know nothing of deadlines: no new lookup once it has passed.
            deadline.check(f"checking the revocation status of {format_name(cert.subject)}")
        if has_ocsp:
            ocsp_result = ocsp_mod.check_ocsp(
                cert,
                issuer,
                self.transport,
                signing_time=signing_time,
                now=now,
                timeout=self.ocsp_timeout,
                hash_algorithm=self.ocsp_hash,
            )
            if ocsp_result.result is not Result.UNKNOWN or not has_crl:
                return ocsp_result
            crl_result = crl_mod.check_crl(cert, issuer, self.crl_fetcher, signing_time=signing_time, now=now)
            return CertRevocationResult(
                crl_result.result,
                ocsp_result.server_results + crl_result.server_results,
                RevocationMethod.OCSP_FALLBACK_CRL,
            )
        if has_crl:
            return crl_mod.check_crl(cert, issuer, self.crl_fetcher, signing_time=signing_time, now=now)
        return _NON_REVOKABLE

    def check_chain(
        self,
        chain: Sequence[x509.Certificate],
        *,
        authentic_signing_time: datetime | None = None,
        purpose: Purpose = Purpose.CODE_SIGNING,
        validate_chain: bool = True,
    ) -> ChainResult:
        """Revocation status of every certificate of ``chain`` and the chain verdict.

        Args:
            chain: Certificates, leaf first, root last.
            authentic_signing_time: Authentic signing time; notation-go passes it only for the
                ``notary.x509.signingAuthority`` scheme, never for timestamping chains.
            purpose: Code-signing or timestamping chain (selects the chain rules and the message).
            validate_chain: Check the chain rules for ``purpose`` first (Go always does; callers that
                just validated the chain may skip it).

        Returns:
            The chain verdict with per-certificate results.

        Raises:
            RevocationError: The chain is empty or violates the chain rules
                (``invalid chain: expected chain to be correct and complete: ...``).
            DeadlineExceededError: The running operation's deadline passed; the lookups, made in
                worker threads, run in a copy of the caller's context and so keep to it.
        """
        certs = list(chain)
        if not certs:
            raise RevocationError(
                "invalid chain: expected chain to be correct and complete: chain does not contain any certificates"
            )
        if validate_chain:
            validate = validate_timestamping_chain if purpose is Purpose.TIMESTAMPING else validate_code_signing_chain
            try:
                validate(certs)
            except CertificateError as exc:
                raise RevocationError(
                    f"invalid chain: expected chain to be correct and complete: {exc.message}"
                ) from exc

        results: list[CertRevocationResult] = [_NON_REVOKABLE] * len(certs)
        pairs = list(itertools.pairwise(certs))
        if len(pairs) == 1:
            results[0] = self.check_certificate(*pairs[0], authentic_signing_time=authentic_signing_time)
        elif pairs:
            with ThreadPoolExecutor(max_workers=len(pairs), thread_name_prefix="revocation") as pool:
                # Each lookup runs in a copy of this context: it carries the operation's deadline.
                futures = [
                    pool.submit(
                        contextvars.copy_context().run,
                        self.check_certificate,
                        cert,
                        issuer,
                        authentic_signing_time=authentic_signing_time,
                    )
                    for cert, issuer in pairs
                ]
                for index, future in enumerate(futures):
                    results[index] = future.result()
        return summarize(certs, results, purpose)


def summarize(
    chain: Sequence[x509.Certificate],
    cert_results: Sequence[CertRevocationResult],
    purpose: Purpose = Purpose.CODE_SIGNING,
) -> ChainResult:
    """Fold per-certificate results into the chain verdict (notation-go ``revocationFinalResult``).

    All ``OK``/``NON_REVOKABLE`` gives ``OK``. Otherwise the verdict names the revoked certificate
    closest to the leaf if any is revoked, else the unknown certificate closest to the leaf.
    Server errors are logged as notation-go logs them.

    Args:
        chain: Certificates, leaf first.
        cert_results: One result per certificate, same order.
        purpose: Code-signing or timestamping chain.

    Raises:
        ValueError: ``chain`` and ``cert_results`` differ in length.
    """
    if len(chain) != len(cert_results):
        raise ValueError("chain and cert_results differ in length")
    revoked_index: int | None = None
    unknown_index: int | None = None
    for index in range(len(chain) - 1, -1, -1):
        cert_result = cert_results[index]
        subject = format_name(chain[index].subject)
        if cert_result.method is RevocationMethod.OCSP_FALLBACK_CRL:
            logger.warning(
                "OCSP check failed with unknown error and fallback to CRL check for certificate #%d in chain "
                "with subject %s",
                index + 1,
                subject,
            )
        for server_result in cert_result.server_results:
            if server_result.error is None or server_result.result is Result.REVOKED:
                continue
            level = (
                logging.DEBUG
                if (
                    cert_result.method is RevocationMethod.OCSP_FALLBACK_CRL
                    and server_result.method is RevocationMethod.OCSP
                )
                or server_result.result is Result.NON_REVOKABLE
                else logging.ERROR
            )
            logger.log(
                level,
                "Certificate #%d in chain with subject %s encountered an error for revocation method %s at URL %r: %s",
                index + 1,
                subject,
                server_result.method.value,
                server_result.server,
                server_result.error,
            )
        if cert_result.is_good:
            continue
        if cert_result.result is Result.REVOKED:
            revoked_index = index
        else:
            unknown_index = index

    problem = revoked_index if revoked_index is not None else unknown_index
    if problem is None:
        return ChainResult(Result.OK, tuple(cert_results), tuple(chain), purpose)
    return ChainResult(
        Result.REVOKED if revoked_index is not None else Result.UNKNOWN,
        tuple(cert_results),
        tuple(chain),
        purpose,
        problematic_index=problem,
        problematic_subject=format_name(chain[problem].subject),
    )


def raise_for_result(result: ChainResult) -> None:
    """Raise notation-go's error when the chain failed the revocation check.

    Raises:
        RevocationError: ``<signing|timestamping> certificate with subject "<subject>" is revoked``
            or ``... revocation status is unknown``.
    """
    message = result.message
    if message is not None:
        raise RevocationError(message)


def check_chain(
    chain: Sequence[x509.Certificate],
    *,
    authentic_signing_time: datetime | None = None,
    purpose: Purpose = Purpose.CODE_SIGNING,
    checker: RevocationChecker | None = None,
    validate_chain: bool = True,
) -> ChainResult:
    """Check a chain with ``checker`` (by default a fresh :class:`RevocationChecker`, closed afterwards).

    Raises:
        RevocationError: The chain is empty or violates the chain rules.
    """
    if checker is not None:
        return checker.check_chain(
            chain, authentic_signing_time=authentic_signing_time, purpose=purpose, validate_chain=validate_chain
        )
    with RevocationChecker() as own:
        return own.check_chain(
            chain, authentic_signing_time=authentic_signing_time, purpose=purpose, validate_chain=validate_chain
        )


def _as_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
