"""X.509 certificates for the Notary Project: reading, Go-compatible names, and chain rules.

* :mod:`notation_py.x509.certs` — read PEM/DER certificates, SHA-256 thumbprints, and the
  extension fields the rules use.
* :mod:`notation_py.x509.names` — subjects as Go prints them (``pkix.Name.String()``, ``%q``).
* :mod:`notation_py.x509.chain` — the code-signing and timestamping chain requirements of the
  signature specification, with notation-core-go's checks and messages.
"""

from __future__ import annotations

from notation_py.x509.certs import (
    CertificateFields,
    certificate_fields,
    parse_certificates,
    read_certificate_file,
    thumbprint_sha256,
)
from notation_py.x509.chain import (
    check_signature_from,
    format_go_time,
    has_valid_self_signature,
    is_ca,
    is_issued_by,
    is_self_signed,
    validate_code_signing_ca,
    validate_code_signing_chain,
    validate_code_signing_leaf,
    validate_timestamping_ca,
    validate_timestamping_chain,
    validate_timestamping_leaf,
)
from notation_py.x509.names import format_name, go_quote

__all__ = [
    "CertificateFields",
    "certificate_fields",
    "check_signature_from",
    "format_go_time",
    "format_name",
    "go_quote",
    "has_valid_self_signature",
    "is_ca",
    "is_issued_by",
    "is_self_signed",
    "parse_certificates",
    "read_certificate_file",
    "thumbprint_sha256",
    "validate_code_signing_ca",
    "validate_code_signing_chain",
    "validate_code_signing_leaf",
    "validate_timestamping_ca",
    "validate_timestamping_chain",
    "validate_timestamping_leaf",
]
