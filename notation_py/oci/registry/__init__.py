"""A thin OCI distribution-spec client on httpx, implementing the ArtifactStore for registries.

``RegistryClient(options, credentials).repository(ref)`` gives a :class:`Repository` that signing
and verification use exactly like an OCI layout: exact bytes, digests and sizes checked on every
read, referrers through the referrers API or the referrers tag schema.
"""

from notation_py.oci.registry.auth import Authenticator, Challenge, merge_scopes, parse_challenges, repository_scope
from notation_py.oci.registry.client import RegistryClient, RegistryOptions, Reply
from notation_py.oci.registry.credentials import (
    Credential,
    CredentialSource,
    DefaultCredentials,
    StaticCredentials,
    docker_config_path,
    explicit_credential,
    server_address,
)
from notation_py.oci.registry.repository import Repository, referrers_tag

__all__ = [
    "Authenticator",
    "Challenge",
    "Credential",
    "CredentialSource",
    "DefaultCredentials",
    "RegistryClient",
    "RegistryOptions",
    "Reply",
    "Repository",
    "StaticCredentials",
    "docker_config_path",
    "explicit_credential",
    "merge_scopes",
    "parse_challenges",
    "referrers_tag",
    "repository_scope",
    "server_address",
]
