"""Revocation checking with CRLs (RFC 5280), as notation-core-go ``revocation/internal/crl`` does it.

Pure functions take DER and certificates (:func:`validate_bundle`, :func:`evaluate_bundle`);
:class:`HTTPCRLFetcher` is the I/O edge (download, delta CRL discovery, cache);
:func:`check_crl` combines them for one certificate.

Behaviour (Go unless noted):

* Only ``http`` CRL URLs; downloads are limited to 32 MiB and (by default) 5 seconds.
* A base CRL's Freshest CRL extension names its delta CRL; if the base CRL has none, the
  certificate's Freshest CRL extension is used. Delta URLs are alternatives, tried in order.
* A CRL must be signed by the certificate's issuer (which must be allowed to sign CRLs), carry a
  ``nextUpdate`` and no unsupported critical extension. A delta CRL must carry a Delta CRL
  Indicator not above the base CRL number, and a CRL number above it.
* An entry whose invalidity date lies after the authentic signing time does not revoke. The most
  recent of ``certificateHold`` / ``removeFromCRL`` entries decides temporary holds; any other
  reason revokes.
* Every distribution point must be checked (they may be partitioned). Within one distribution
  point the URIs name the *same* CRL (RFC 5280 §4.2.1.13), so they are tried in order until one
  gives an answer; Go instead requires every URI to succeed (an ``ldap://`` URI makes Go's result
  unknown).
* An expired CRL (``now > nextUpdate``) gives ``unknown``, except that, per the Notary Project
  specification, an expired CRL that lists the certificate for any reason other than
  ``certificateHold`` revokes it. Go reports every expired CRL as unknown.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

from cryptography import x509

from notation_py.errors import RevocationError
from notation_py.revocation import _asn1
from notation_py.revocation.bundle import CRLBundle, crl_expired, parse_crl
from notation_py.revocation.cache import CRLCache
from notation_py.revocation.http import CRL_TIMEOUT, Transport
from notation_py.revocation.result import CertRevocationResult, Result, RevocationMethod, ServerResult

logger = logging.getLogger(__name__)

#: Largest CRL accepted, bytes (notation-core-go ``maxCRLSize``).
MAX_CRL_SIZE = 32 * 1024 * 1024

OID_CRL_NUMBER = "2.5.29.20"
OID_DELTA_CRL_INDICATOR = "2.5.29.27"
OID_ISSUING_DISTRIBUTION_POINT = "2.5.29.28"

_ALLOWED_CRITICAL_CRL_EXTENSIONS = frozenset(
    {OID_ISSUING_DISTRIBUTION_POINT, OID_DELTA_CRL_INDICATOR, _asn1.OID_FRESHEST_CRL}
)
_ALLOWED_CRITICAL_ENTRY_EXTENSIONS = frozenset({_asn1.OID_INVALIDITY_DATE})
_TEMPORARY_REASONS = (x509.ReasonFlags.certificate_hold, x509.ReasonFlags.remove_from_crl)


def _utcnow() -> datetime:
    return datetime.now(UTC)


# --- URLs -------------------------------------------------------------------------------------


def _certificate_extensions(cert: x509.Certificate) -> list[_asn1.RawExtension]:
    try:
        return _asn1.certificate_extensions(cert.tbs_certificate_bytes)
    except _asn1.Asn1Error as exc:
        raise RevocationError(f"failed to parse certificate extensions: {exc}") from exc


def distribution_points(cert: x509.Certificate) -> list[list[str]]:
    """CRL distribution point URIs of ``cert``, one list per distribution point (Go semantics).

    Raises:
        RevocationError: The extension is malformed.
    """
    extension = _asn1.find_extension(_certificate_extensions(cert), _asn1.OID_CRL_DISTRIBUTION_POINTS)
    if extension is None:
        return []
    try:
        return _asn1.distribution_point_uris(extension.value)
    except _asn1.Asn1Error as exc:
        raise RevocationError(f"failed to parse CRL distribution points: x509: {exc}") from exc


def crl_urls(cert: x509.Certificate) -> list[str]:
    """All CRL URIs of ``cert`` in order (Go ``Certificate.CRLDistributionPoints``).

    Raises:
        RevocationError: The extension is malformed.
    """
    return [url for group in distribution_points(cert) for url in group]


def supported(cert: x509.Certificate) -> bool:
    """True when ``cert`` names at least one CRL URI; a malformed extension also counts (fails later)."""
    try:
        return bool(crl_urls(cert))
    except RevocationError:
        return True


def freshest_crl_urls(extensions: list[_asn1.RawExtension]) -> list[str] | None:
    """Delta CRL URIs from a Freshest CRL extension, ``None`` when there is no such extension.

    Raises:
        RevocationError: ``failed to parse Freshest CRL extension: ...``.
    """
    extension = _asn1.find_extension(extensions, _asn1.OID_FRESHEST_CRL)
    if extension is None:
        return None
    try:
        groups = _asn1.distribution_point_uris(extension.value)
    except _asn1.Asn1Error as exc:
        raise RevocationError(f"failed to parse Freshest CRL extension: x509: {exc}") from exc
    return [url for group in groups for url in group]


def certificate_freshest_crl_urls(cert: x509.Certificate) -> list[str] | None:
    """Delta CRL URIs from the certificate's Freshest CRL extension (``None`` if absent).

    Raises:
        RevocationError: The extension is malformed.
    """
    return freshest_crl_urls(_certificate_extensions(cert))


def crl_freshest_crl_urls(crl: x509.CertificateRevocationList) -> list[str] | None:
    """Delta CRL URIs from a base CRL's Freshest CRL extension (``None`` if absent).

    Raises:
        RevocationError: The extension list or the extension is malformed.
    """
    return freshest_crl_urls(_crl_raw_extensions(crl))


def _crl_raw_extensions(crl: x509.CertificateRevocationList) -> list[_asn1.RawExtension]:
    try:
        return _asn1.crl_extensions(crl.tbs_certlist_bytes)
    except _asn1.Asn1Error as exc:
        raise RevocationError(f"failed to parse CRL extensions: {exc}") from exc


def _check_scheme(url: str) -> None:
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:
        raise RevocationError(f"invalid CRL URL: {exc}") from exc
    if scheme != "http":
        raise RevocationError(f"unsupported scheme: {scheme}. Only supports CRL URL in HTTP protocol")


# --- fetching ---------------------------------------------------------------------------------


@runtime_checkable
class CRLFetcher(Protocol):
    """Source of CRL bundles (Go ``crl.Fetcher``)."""

    def fetch(self, url: str, *, certificate: x509.Certificate | None = None, refresh: bool = False) -> CRLBundle:
        """The bundle published at ``url``.

        Args:
            url: Base CRL distribution point URL.
            certificate: Certificate being checked; its Freshest CRL extension locates the delta
                CRL when the base CRL does not.
            refresh: Bypass any cache.

        Raises:
            RevocationError: The CRL could not be retrieved.
        """
        ...


class HTTPCRLFetcher:
    """:class:`CRLFetcher` that downloads CRLs over HTTP, optionally through a cache.

    A cached bundle is reused while every CRL in it is effective (``now <= nextUpdate``); otherwise
    it is downloaded again and the cache updated. Cache failures are logged and ignored unless
    ``discard_cache_errors`` is false (notation-go sets Go's ``DiscardCacheError``).

    Args:
        transport: HTTP transport.
        cache: Optional cache (see :mod:`notation_py.revocation.cache`).
        timeout: Timeout of each download, seconds.
        max_size: Largest CRL accepted, bytes.
        discard_cache_errors: Ignore cache read/write failures.
        clock: Returns the current time (aware UTC); for tests.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        cache: CRLCache | None = None,
        timeout: float = CRL_TIMEOUT,
        max_size: int = MAX_CRL_SIZE,
        discard_cache_errors: bool = True,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.transport = transport
        self.cache = cache
        self.timeout = timeout
        self.max_size = max_size
        self.discard_cache_errors = discard_cache_errors
        self.clock = clock

    def fetch(self, url: str, *, certificate: x509.Certificate | None = None, refresh: bool = False) -> CRLBundle:
        """The bundle published at ``url``, from the cache when it holds an effective copy.

        Raises:
            RevocationError: Download, parsing, delta retrieval or (unless discarded) the cache failed.
        """
        if not url:
            raise RevocationError("CRL URL cannot be empty")
        if self.cache is not None and not refresh:
            try:
                cached = self.cache.get(url)
            except RevocationError as exc:
                if not self.discard_cache_errors:
                    raise RevocationError(f"failed to retrieve CRL from cache: {exc}") from exc
                logger.debug("ignoring CRL cache entry for %s: %s", url, exc)
                cached = None
            if cached is not None and cached.is_effective(self.clock()):
                return replace(cached, from_cache=True)

        bundle = self._download_bundle(url, certificate)

        if self.cache is not None:
            try:
                self.cache.set(url, bundle)
            except RevocationError as exc:
                if not self.discard_cache_errors:
                    raise RevocationError(f"failed to store CRL to cache: {exc}") from exc
                logger.debug("failed to cache CRL from %s: %s", url, exc)
        return bundle

    def download(self, url: str) -> bytes:
        """Download one CRL (``http`` only) and return its DER.

        Raises:
            RevocationError: Unsupported scheme, transport failure or oversized CRL.
        """
        _check_scheme(url)
        return self.transport.get(url, timeout=self.timeout, max_bytes=self.max_size)

    def _download_bundle(self, url: str, certificate: x509.Certificate | None) -> CRLBundle:
        base_der = self.download(url)
        base = parse_crl(base_der)
        delta_urls = crl_freshest_crl_urls(base)
        if not delta_urls and certificate is not None:
            delta_urls = certificate_freshest_crl_urls(certificate)
        delta_der: bytes | None = None
        last_error: RevocationError | None = None
        for delta_url in delta_urls or ():
            # RFC 5280 §5.2.6: the URIs are alternatives for the same delta CRL.
            try:
                delta_der = self.download(delta_url)
                parse_crl(delta_der)
            except RevocationError as exc:
                last_error = RevocationError(f"failed to retrieve delta CRL from {delta_url}: {exc}")
                delta_der = None
                continue
            break
        if delta_der is None and last_error is not None:
            raise last_error
        return CRLBundle.from_der(base_der, delta_der)


# --- validation -------------------------------------------------------------------------------


def _crl_number(extensions: list[_asn1.RawExtension], oid: str) -> int | None:
    extension = _asn1.find_extension(extensions, oid)
    if extension is None:
        return None
    try:
        return _asn1.decode_integer(extension.value)
    except _asn1.Asn1Error as exc:
        raise RevocationError(f"failed to parse CRL extension {oid}: {exc}") from exc


def _check_issuer_may_sign_crls(issuer: x509.Certificate) -> None:
    try:
        extensions = issuer.extensions
    except ValueError as exc:
        raise RevocationError(f"failed to parse extensions of CRL issuer: {exc}") from exc
    try:
        constraints = extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise RevocationError("CRL issuer is not a CA certificate")
    try:
        key_usage = extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not key_usage.crl_sign:
        raise RevocationError("CRL issuer key usage does not permit CRL signing")


def validate_crl(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> list[_asn1.RawExtension]:
    """Check that ``crl`` is authentic and usable; freshness is *not* judged here.

    Checks: issued by ``issuer`` (name and signature; issuer is a CA allowed to sign CRLs),
    ``nextUpdate`` present, no unsupported critical extension.

    Returns:
        The CRL's extensions, decoded to OID/criticality/raw value.

    Raises:
        RevocationError: The CRL fails a check.
    """
    if crl.issuer != issuer.subject:
        raise RevocationError(
            f"CRL issuer {crl.issuer.rfc4514_string()!r} does not match certificate issuer "
            f"{issuer.subject.rfc4514_string()!r}"
        )
    _check_issuer_may_sign_crls(issuer)
    try:
        valid = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except Exception as exc:  # unsupported key or algorithm
        raise RevocationError(f"CRL is not signed by CA {issuer.subject.rfc4514_string()}: {exc}") from exc
    if not valid:
        raise RevocationError(
            f"CRL is not signed by CA {issuer.subject.rfc4514_string()}: signature verification failed"
        )
    if crl.next_update_utc is None:
        raise RevocationError("CRL NextUpdate is not set")
    extensions = _crl_raw_extensions(crl)
    for extension in extensions:
        if extension.critical and extension.oid not in _ALLOWED_CRITICAL_CRL_EXTENSIONS:
            raise RevocationError(f"unsupported critical extension found in CRL: {extension.oid}")
    return extensions


def validate_bundle(bundle: CRLBundle, issuer: x509.Certificate, now: datetime) -> bool:
    """Validate a base CRL and its delta CRL (RFC 5280 §5.2.4) for certificates issued by ``issuer``.

    Returns:
        True when a CRL of the bundle is expired (``now`` after its ``nextUpdate``).

    Raises:
        RevocationError: A CRL is not authentic, malformed, or the delta does not fit the base.
    """
    try:
        base_extensions = validate_crl(bundle.base, issuer)
    except RevocationError as exc:
        raise RevocationError(f"failed to validate base CRL: {exc}") from exc
    if _asn1.find_extension(base_extensions, OID_DELTA_CRL_INDICATOR) is not None:
        raise RevocationError("failed to validate base CRL: the CRL at a distribution point is a delta CRL")
    expired = crl_expired(bundle.base, now)
    if bundle.delta is None:
        return expired

    try:
        delta_extensions = validate_crl(bundle.delta, issuer)
    except RevocationError as exc:
        raise RevocationError(f"failed to validate delta CRL: {exc}") from exc
    base_number = _crl_number(base_extensions, OID_CRL_NUMBER)
    delta_number = _crl_number(delta_extensions, OID_CRL_NUMBER)
    minimum_base = _crl_number(delta_extensions, OID_DELTA_CRL_INDICATOR)
    if minimum_base is None:
        raise RevocationError("failed to validate delta CRL: delta CRL indicator extension is not found")
    if base_number is None or delta_number is None:
        raise RevocationError("failed to validate delta CRL: CRL number extension is missing")
    if delta_number <= base_number:
        raise RevocationError(f"delta CRL number {delta_number} is not greater than the base CRL number {base_number}")
    if minimum_base > base_number:
        raise RevocationError(
            f"delta CRL indicator {minimum_base} is not less than or equal to the base CRL number {base_number}"
        )
    return expired or crl_expired(bundle.delta, now)


# --- evaluation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    revocation_time: datetime
    reason: x509.ReasonFlags | None
    invalidity_date: datetime | None


def _entry(revoked: x509.RevokedCertificate) -> _Entry:
    try:
        extensions = revoked.extensions
    except ValueError as exc:
        raise RevocationError(f"failed to parse CRL entry extensions: {exc}") from exc
    reason: x509.ReasonFlags | None = None
    invalidity: datetime | None = None
    for extension in extensions:
        value = extension.value
        if isinstance(value, x509.CRLReason):
            reason = value.reason
        elif isinstance(value, x509.InvalidityDate):
            invalidity = value.invalidity_date_utc
        elif extension.critical and extension.oid.dotted_string not in _ALLOWED_CRITICAL_ENTRY_EXTENSIONS:
            raise RevocationError(f"unsupported critical extension found in CRL: {extension.oid.dotted_string}")
    return _Entry(revoked.revocation_date_utc, reason, invalidity)


def evaluate_bundle(
    cert: x509.Certificate, bundle: CRLBundle, *, signing_time: datetime | None = None, url: str = ""
) -> ServerResult:
    """Decide the status of ``cert`` from an already validated bundle.

    Args:
        cert: Certificate to look up (by serial number).
        bundle: Validated base (and delta) CRL of the certificate's issuer.
        signing_time: Authentic signing time; an entry whose invalidity date is after it is ignored.
        url: Distribution point, reported in the result.

    Returns:
        ``REVOKED`` or ``OK`` server result.

    Raises:
        RevocationError: A matching entry has malformed or unsupported critical extensions.
    """
    latest_temporary: _Entry | None = None
    crls = [bundle.base] if bundle.delta is None else [bundle.base, bundle.delta]
    for crl in crls:
        revoked = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if revoked is None:
            continue
        entry = _entry(revoked)
        if signing_time is not None and entry.invalidity_date is not None and signing_time < entry.invalidity_date:
            continue  # the key was still valid when the signature was made
        if entry.reason in _TEMPORARY_REASONS:
            if latest_temporary is None or latest_temporary.revocation_time < entry.revocation_time:
                latest_temporary = entry
            continue
        return _revoked(url, entry)
    if latest_temporary is not None and latest_temporary.reason is x509.ReasonFlags.certificate_hold:
        return _revoked(url, latest_temporary)
    return ServerResult(Result.OK, url, RevocationMethod.CRL)


def _revoked(url: str, entry: _Entry) -> ServerResult:
    return ServerResult(
        Result.REVOKED,
        url,
        RevocationMethod.CRL,
        error="certificate is revoked via CRL",
        revocation_time=entry.revocation_time,
        reason=entry.reason.value if entry.reason is not None else None,
        invalidity_date=entry.invalidity_date,
    )


# --- one certificate --------------------------------------------------------------------------


def check_url(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    url: str,
    fetcher: CRLFetcher,
    *,
    signing_time: datetime | None = None,
    now: datetime | None = None,
) -> ServerResult:
    """Status of ``cert`` according to the CRL published at ``url``.

    A cached bundle that fails validation is discarded and downloaded again.

    Returns:
        ``OK`` or ``REVOKED``; ``UNKNOWN`` when the CRL is expired and does not revoke.

    Raises:
        RevocationError: The CRL could not be retrieved or is invalid.
    """
    now = now or _utcnow()
    try:
        bundle = fetcher.fetch(url, certificate=cert)
    except RevocationError as exc:
        raise RevocationError(f"failed to download CRL from {url}: {exc}") from exc
    try:
        expired = validate_bundle(bundle, issuer, now)
    except RevocationError as exc:
        if not bundle.from_cache:
            raise RevocationError(f"failed to validate CRL from {url}: {exc}") from exc
        logger.debug("cached CRL from %s failed validation (%s); downloading it again", url, exc)
        try:
            bundle = fetcher.fetch(url, certificate=cert, refresh=True)
        except RevocationError as exc2:
            raise RevocationError(f"failed to download CRL from {url}: {exc2}") from exc2
        try:
            expired = validate_bundle(bundle, issuer, now)
        except RevocationError as exc2:
            raise RevocationError(f"failed to validate CRL from {url}: {exc2}") from exc2
    try:
        result = evaluate_bundle(cert, bundle, signing_time=signing_time, url=url)
    except RevocationError as exc:
        raise RevocationError(f"failed to check revocation status from {url}: {exc}") from exc
    if not expired:
        return result
    if result.result is Result.REVOKED and result.reason != x509.ReasonFlags.certificate_hold.value:
        return replace(result, error="certificate is revoked via CRL (the CRL has expired)")
    next_updates = [bundle.base.next_update_utc] + ([bundle.delta.next_update_utc] if bundle.delta else [])
    return ServerResult(
        Result.UNKNOWN,
        url,
        RevocationMethod.CRL,
        error=(
            f"failed to validate CRL from {url}: expired CRL. Current time {now.isoformat()} is after CRL "
            f"NextUpdate {min(t for t in next_updates if t is not None).isoformat()}"
        ),
    )


def check_crl(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    fetcher: CRLFetcher,
    *,
    signing_time: datetime | None = None,
    now: datetime | None = None,
) -> CertRevocationResult:
    """Revocation status of ``cert`` (issued by ``issuer``) from its CRL distribution points.

    Args:
        cert: Certificate to check.
        issuer: Its issuer (next certificate of the chain).
        fetcher: Source of CRLs.
        signing_time: Authentic signing time (signing-authority scheme), compared with invalidity dates.
        now: Current time (aware UTC); defaults to the system clock.

    Returns:
        ``NON_REVOKABLE`` without CRL URIs; ``REVOKED`` if any distribution point revokes;
        ``UNKNOWN`` if some distribution point gave no answer; else ``OK``.
    """
    now = now or _utcnow()
    try:
        groups = [group for group in distribution_points(cert) if group]
    except RevocationError as exc:
        return _unknown("", str(exc))
    if not groups:
        return CertRevocationResult(
            Result.NON_REVOKABLE,
            (ServerResult(Result.NON_REVOKABLE, "", RevocationMethod.CRL, error="CRL is not supported"),),
            RevocationMethod.CRL,
        )

    server_results: list[ServerResult] = []
    for group in groups:
        answer: ServerResult | None = None
        for url in group:
            try:
                _check_scheme(url)
                answer = check_url(cert, issuer, url, fetcher, signing_time=signing_time, now=now)
            except RevocationError as exc:
                answer = ServerResult(Result.UNKNOWN, url, RevocationMethod.CRL, error=str(exc))
            if answer.result is not Result.UNKNOWN:
                break
        assert answer is not None  # groups are non-empty
        if answer.result is Result.REVOKED:
            return CertRevocationResult(Result.REVOKED, (answer,), RevocationMethod.CRL)
        if answer.result is Result.UNKNOWN:
            return CertRevocationResult(Result.UNKNOWN, (answer,), RevocationMethod.CRL)
        server_results.append(answer)
    return CertRevocationResult(Result.OK, tuple(server_results), RevocationMethod.CRL)


def _unknown(url: str, error: str) -> CertRevocationResult:
    return CertRevocationResult(
        Result.UNKNOWN, (ServerResult(Result.UNKNOWN, url, RevocationMethod.CRL, error=error),), RevocationMethod.CRL
    )


__all__ = [
    "MAX_CRL_SIZE",
    "CRLBundle",
    "CRLFetcher",
    "HTTPCRLFetcher",
    "certificate_freshest_crl_urls",
    "check_crl",
    "check_url",
    "crl_expired",
    "crl_freshest_crl_urls",
    "crl_urls",
    "distribution_points",
    "evaluate_bundle",
    "parse_crl",
    "supported",
    "validate_bundle",
    "validate_crl",
]
