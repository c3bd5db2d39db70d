"""Trust policy documents, trusted identities, verification levels and the X.509 trust store.

See :mod:`notation_py.policy.document` for how policies are parsed and validated and how a
verifier obtains notation-go's exact messages for malformed statements.
"""

from notation_py.policy.document import (
    BLOB_POLICY_FILE,
    LEGACY_OCI_POLICY_FILE,
    OCI_POLICY_FILE,
    TRUST_POLICY_LINK,
    BlobTrustPolicy,
    OCITrustPolicy,
    TrustPolicyDocument,
    TrustPolicyStatement,
    TrustStoreRef,
    VerifyTimestamp,
    artifact_path,
    scope_match_rank,
    validate_registry_scope,
)
from notation_py.policy.identity import (
    IdentityMismatchError,
    TrustedIdentities,
    format_distinguished_name,
    identity_mismatch_message,
    match_trusted_identity,
    parse_distinguished_name,
    verify_trusted_identity,
)
from notation_py.policy.levels import Action, Check, LevelName, VerificationLevel
from notation_py.policy.truststore import (
    CertificateFile,
    StoreType,
    TrustStore,
    X509TrustStore,
    load_policy_certificates,
    policy_uses_tsa,
)

__all__ = [
    "BLOB_POLICY_FILE",
    "LEGACY_OCI_POLICY_FILE",
    "OCI_POLICY_FILE",
    "TRUST_POLICY_LINK",
    "Action",
    "BlobTrustPolicy",
    "CertificateFile",
    "Check",
    "IdentityMismatchError",
    "LevelName",
    "OCITrustPolicy",
    "StoreType",
    "TrustPolicyDocument",
    "TrustPolicyStatement",
    "TrustStore",
    "TrustStoreRef",
    "TrustedIdentities",
    "VerificationLevel",
    "VerifyTimestamp",
    "X509TrustStore",
    "artifact_path",
    "format_distinguished_name",
    "identity_mismatch_message",
    "load_policy_certificates",
    "match_trusted_identity",
    "parse_distinguished_name",
    "policy_uses_tsa",
    "scope_match_rank",
    "validate_registry_scope",
    "verify_trusted_identity",
]
