"""Decoding of the certificate chain carried in an envelope's unprotected header."""

from __future__ import annotations

import functools
import warnings

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.utils import CryptographyDeprecationWarning

from notation_py.errors import EnvelopeError

#: Parsed certificates kept for reuse: a log or verifier sees the same few chains again and again.
_CACHE_SIZE = 1024
#: Larger certificates are parsed every time, so the cache holds at most ~16 MiB of DER.
_MAX_CACHED_DER = 16 * 1024


class _NonPositiveSerialError(Exception):
    """The certificate parsed, but its serial number is zero or negative."""


def load_chain_certificate(der: bytes, where: str) -> x509.Certificate:
    """Parse one DER certificate and force-decode the fields verification reads.

    ``cryptography`` parses some fields lazily, so a corrupt subject or extension would otherwise
    surface later as a bare ``ValueError``; here it becomes a clear :class:`EnvelopeError`.

    Certificates that parse are memoised by their DER bytes (bounded LRU), so the same chain in
    many envelopes is parsed once; the same bytes may therefore return the same object.

    Args:
        der: The certificate's DER encoding.
        where: Where the certificate sits in the envelope (e.g. ``x5c[0]``), for error messages.

    Raises:
        EnvelopeError: The bytes are not a certificate verification can use.
    """
    # Only exact bytes are cache keys: a subclass (or other buffer) could hash or compare differently.
    cacheable = type(der) is bytes and len(der) <= _MAX_CACHED_DER
    try:
        return _parse_cached(der) if cacheable else _parse(der)
    except _NonPositiveSerialError:
        raise EnvelopeError(f"{where} has a serial number that is not positive (RFC 5280 §4.1.2.2)") from None
    except UnsupportedAlgorithm as exc:
        raise EnvelopeError(f"{where} uses an unsupported algorithm: {exc}") from None
    except (
        ValueError,
        TypeError,
        x509.InvalidVersion,
        x509.DuplicateExtension,
        x509.UnsupportedGeneralNameType,
    ) as exc:
        raise EnvelopeError(f"{where} is not a valid DER certificate: {exc}") from None


def _parse(der: bytes) -> x509.Certificate:
    """Parse and force-decode ``der``; raises what ``cryptography`` raises, or the serial error."""
    with warnings.catch_warnings():
        # cryptography warns (and will later refuse) on non-positive serials; we refuse now.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        cert = x509.load_der_x509_certificate(der)
        serial = cert.serial_number
    if serial <= 0:
        raise _NonPositiveSerialError
    _ = (cert.subject, cert.issuer, cert.not_valid_before_utc, cert.not_valid_after_utc)
    _ = (cert.public_key(), cert.signature_hash_algorithm, list(cert.extensions))
    return cert


# Safe to share: the result is a pure function of the DER bytes (the key), and a cryptography
# Certificate is immutable (no attribute can be set; lazily decoded fields are computed once).
# lru_cache never stores a raised exception, so a bad certificate fails again on every call, and
# the message (which names ``where``) is built outside the cache. lru_cache is thread-safe.
_parse_cached = functools.lru_cache(maxsize=_CACHE_SIZE)(_parse)
