"""RFC 3161 timestamp countersignatures of Notary Project signatures.

* :mod:`notation_py.timestamp.token` parses and verifies a bare ``TimeStampToken``
  (:func:`parse_timestamp_token`, :meth:`TimestampToken.verify`, :class:`TimestampInfo`).
* :mod:`notation_py.timestamp.authentic` is the "authentic timestamp" step of signature
  verification (:func:`verify_authentic_timestamp`), notation-go's ``verifyAuthenticTimestamp``.
"""

from __future__ import annotations

from notation_py.timestamp.authentic import (
    AFTER_CERT_EXPIRY,
    AuthenticTimestampResult,
    RevocationCheck,
    TimestampPolicyStatement,
    TrustStoreRefLike,
    verify_authentic_timestamp,
)
from notation_py.timestamp.token import (
    OID_BASELINE_TIMESTAMP_POLICY,
    OID_TST_INFO,
    SignedTokenError,
    TimestampInfo,
    TimestampParseError,
    TimestampToken,
    TSAChainError,
    TSTInfoError,
    parse_timestamp_token,
    validate_tsa_chain,
)

__all__ = [
    "AFTER_CERT_EXPIRY",
    "OID_BASELINE_TIMESTAMP_POLICY",
    "OID_TST_INFO",
    "AuthenticTimestampResult",
    "RevocationCheck",
    "SignedTokenError",
    "TSAChainError",
    "TSTInfoError",
    "TimestampInfo",
    "TimestampParseError",
    "TimestampPolicyStatement",
    "TimestampToken",
    "TrustStoreRefLike",
    "parse_timestamp_token",
    "validate_tsa_chain",
    "verify_authentic_timestamp",
]
