"""Certificate revocation checking (OCSP with CRL fallback), as notation-core-go does it.

Typical use::

    from notation_py.revocation import FileCRLCache, Purpose, RevocationChecker, raise_for_result

    with RevocationChecker(crl_cache=FileCRLCache.in_cache_dir(cache_dir)) as checker:
        result = checker.check_chain(chain, authentic_signing_time=None, purpose=Purpose.CODE_SIGNING)
    raise_for_result(result)  # RevocationError: signing certificate with subject "..." is revoked

Modules:

* :mod:`~notation_py.revocation.result` — result types.
* :mod:`~notation_py.revocation.ocsp` — OCSP (RFC 6960).
* :mod:`~notation_py.revocation.crl` — CRLs (RFC 5280), base and delta.
* :mod:`~notation_py.revocation.cache` — CRL caches (notation-go compatible file cache).
* :mod:`~notation_py.revocation.http` — the HTTP edge (:class:`Transport`).
* :mod:`~notation_py.revocation.checker` — chain checking and the final verdict.
"""

from __future__ import annotations

import logging

from notation_py.revocation.bundle import CRLBundle
from notation_py.revocation.cache import CRLCache, FileCRLCache, MemoryCRLCache
from notation_py.revocation.checker import RevocationChecker, check_chain, raise_for_result, summarize
from notation_py.revocation.crl import CRLFetcher, HTTPCRLFetcher
from notation_py.revocation.http import CRL_TIMEOUT, OCSP_TIMEOUT, HttpxTransport, Transport
from notation_py.revocation.result import (
    CertRevocationResult,
    ChainResult,
    Purpose,
    Result,
    RevocationMethod,
    ServerResult,
)

# Server errors and OCSP-to-CRL fallbacks are logged as notation-go logs them; stay silent unless the
# application configures logging (notation only prints them with --verbose/--debug).
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "CRL_TIMEOUT",
    "OCSP_TIMEOUT",
    "CRLBundle",
    "CRLCache",
    "CRLFetcher",
    "CertRevocationResult",
    "ChainResult",
    "FileCRLCache",
    "HTTPCRLFetcher",
    "HttpxTransport",
    "MemoryCRLCache",
    "Purpose",
    "Result",
    "RevocationChecker",
    "RevocationMethod",
    "ServerResult",
    "Transport",
    "check_chain",
    "raise_for_result",
    "summarize",
]
