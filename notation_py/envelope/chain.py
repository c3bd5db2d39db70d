"""Decoding of the certificate chain carried in an envelope's unprotected header."""

from __future__ import annotations

import warnings

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.utils import CryptographyDeprecationWarning

from notation_py.errors import EnvelopeError


def load_chain_certificate(der: bytes, where: str) -> x509.Certificate:
    """Parse one DER certificate and force-decode the fields verification reads.

    ``cryptography`` parses some fields lazily, so a corrupt subject or extension would otherwise
    surface later as a bare ``ValueError``; here it becomes a clear :class:`EnvelopeError`.
    """
    try:
        with warnings.catch_warnings():
            # cryptography warns (and will later refuse) on non-positive serials; we refuse now.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            cert = x509.load_der_x509_certificate(der)
            serial = cert.serial_number
        if serial <= 0:
            raise EnvelopeError(f"{where} has a serial number that is not positive (RFC 5280 §4.1.2.2)")
        _ = (cert.subject, cert.issuer, cert.not_valid_before_utc, cert.not_valid_after_utc)
        _ = (cert.public_key(), cert.signature_hash_algorithm, list(cert.extensions))
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
    return cert
