"""The notation plugin contract (plugin-extensibility.md): names, capabilities and response checks.

Pure functions and values only: nothing here runs a process. Requests are built as plain
dictionaries with the JSON member names of notation's contract (``contractVersion``, ``keyId``,
``pluginConfig``, ...); byte values are standard, padded base64 as Go's ``encoding/json`` writes
``[]byte``. Responses are checked member by member and turned into typed values, so a plugin that
answers something malformed fails with a :class:`~notation_py.errors.PluginError` naming the
member, never with a ``KeyError`` later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cryptography import x509

from notation_py.envelope.algorithms import Algorithm
from notation_py.envelope.encoding import b64std_decode
from notation_py.errors import EnvelopeError, PluginError
from notation_py.x509.names import go_quote

__all__ = [
    "CONTRACT_VERSION",
    "Capability",
    "Command",
    "PluginMetadata",
    "PluginRequestError",
    "algorithm_from_key_spec",
    "algorithm_from_signing_algorithm",
    "compare_semver",
    "decode_b64",
    "decode_certificate_chain",
    "is_semver",
    "require_dict",
    "require_str",
]

#: The contract version notation-py speaks (the only one defined so far).
CONTRACT_VERSION = "1.0"


class Command(StrEnum):
    """Plugin commands (first argument of ``notation-<name>``)."""

    GET_PLUGIN_METADATA = "get-plugin-metadata"
    DESCRIBE_KEY = "describe-key"
    GENERATE_SIGNATURE = "generate-signature"
    GENERATE_ENVELOPE = "generate-envelope"
    VERIFY_SIGNATURE = "verify-signature"


class Capability(StrEnum):
    """Capabilities a plugin may declare in ``get-plugin-metadata``."""

    #: ``describe-key`` + ``generate-signature``: the plugin signs, notation builds the envelope.
    SIGNATURE_GENERATOR_RAW = "SIGNATURE_GENERATOR.RAW"
    #: ``generate-envelope``: the plugin returns the whole envelope.
    SIGNATURE_GENERATOR_ENVELOPE = "SIGNATURE_GENERATOR.ENVELOPE"
    #: ``verify-signature`` checks the trusted identity instead of notation's ``x509.subject`` match.
    TRUSTED_IDENTITY = "SIGNATURE_VERIFIER.TRUSTED_IDENTITY"
    #: ``verify-signature`` checks revocation instead of notation's OCSP/CRL check.
    REVOCATION_CHECK = "SIGNATURE_VERIFIER.REVOCATION_CHECK"


#: Verification capabilities, in the order notation-go lists them in messages.
VERIFIER_CAPABILITIES = (Capability.TRUSTED_IDENTITY, Capability.REVOCATION_CHECK)


class PluginRequestError(PluginError):
    """A plugin answered a command with an error (non-zero exit code).

    Attributes:
        plugin: Plugin name.
        command: The command that failed.
        code: The plugin's ``errorCode`` (``VALIDATION_ERROR``, ``ACCESS_DENIED``, ``TIMEOUT``,
            ``THROTTLED``, ``UNSUPPORTED_CONTRACT_VERSION``, ``ERROR``...), or ``ERROR`` when the
            plugin wrote no JSON error.
        error_metadata: The plugin's ``errorMetadata`` (empty when absent).
    """

    def __init__(
        self, message: str, *, plugin: str, command: str, code: str, error_metadata: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.plugin = plugin
        self.command = command
        self.code = code
        self.error_metadata: Mapping[str, str] = dict(error_metadata or {})


@dataclass(frozen=True)
class PluginMetadata:
    """A validated ``get-plugin-metadata`` response.

    ``capabilities`` keeps every value the plugin declared, known or not (``plugin list`` shows them).
    """

    name: str
    description: str
    version: str
    url: str
    supported_contract_versions: tuple[str, ...]
    capabilities: tuple[str, ...]
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def has(self, capability: Capability | str) -> bool:
        """True if the plugin declared ``capability``."""
        return str(capability) in self.capabilities

    @property
    def verifier_capabilities(self) -> tuple[Capability, ...]:
        """The ``SIGNATURE_VERIFIER.*`` capabilities the plugin declared."""
        return tuple(c for c in VERIFIER_CAPABILITIES if self.has(c))

    @classmethod
    def from_response(cls, doc: object, expected_name: str) -> PluginMetadata:
        """Validate a response as notation-go does (``plugin.validate`` and the name check).

        Raises:
            PluginError: ``invalid metadata: empty name`` (description, version, url,
                capabilities), ``supported contract versions not specified``, a contract version
                other than ``1.0`` only, or a name that is not the directory's
                (``executable name must be "notation-x" instead of "notation-y"``).
        """
        data = require_dict(doc, "get-plugin-metadata response")
        values: dict[str, str] = {}
        for member, label in (("name", "name"), ("description", "description"), ("version", "version"), ("url", "url")):
            value = data.get(member)
            if value is not None and not isinstance(value, str):
                raise PluginError(f'invalid metadata: "{member}" must be a string')
            if not value:
                raise PluginError(f"invalid metadata: empty {label}")
            values[member] = value
        capabilities = _string_list(data.get("capabilities"), "capabilities")
        if not capabilities:
            raise PluginError("invalid metadata: empty capabilities")
        versions = _string_list(data.get("supportedContractVersions"), "supportedContractVersions")
        if not versions:
            raise PluginError("invalid metadata: supported contract versions not specified")
        if CONTRACT_VERSION not in versions:
            raise PluginError(
                f'invalid metadata: contract version "{CONTRACT_VERSION}" is not in the list of the plugin '
                f"supported versions [{' '.join(versions)}]"
            )
        if values["name"] != expected_name:
            raise PluginError(
                f"executable name must be {go_quote('notation-' + values['name'])} instead of "
                f"{go_quote('notation-' + expected_name)}"
            )
        return cls(
            name=values["name"],
            description=values["description"],
            version=values["version"],
            url=values["url"],
            supported_contract_versions=tuple(versions),
            capabilities=tuple(capabilities),
            raw=data,
        )


# --- response member helpers ----------------------------------------------------------------------


def require_dict(value: object, what: str) -> dict[str, Any]:
    """``value`` as a JSON object, or :class:`PluginError` ``<what> must be a JSON object``."""
    if not isinstance(value, dict):
        raise PluginError(f"{what} must be a JSON object")
    return value


def require_str(doc: Mapping[str, Any], member: str, what: str) -> str:
    """A required, non-empty string member."""
    value = doc.get(member)
    if not isinstance(value, str) or not value:
        raise PluginError(f'{what} has no "{member}" string')
    return value


def _string_list(value: object, member: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PluginError(f'invalid metadata: "{member}" must be a list of strings')
    return list(value)


def decode_b64(value: object, member: str, what: str) -> bytes:
    """Decode a standard base64 member (Go's ``[]byte`` JSON encoding)."""
    if not isinstance(value, str) or not value:
        raise PluginError(f'{what} has no "{member}" base64 string')
    try:
        return b64std_decode(value)
    except EnvelopeError as exc:
        raise PluginError(f'{what} has an invalid "{member}": {exc.message}') from None


def decode_certificate_chain(value: object, what: str) -> tuple[x509.Certificate, ...]:
    """``certificateChain``: a non-empty list of base64 DER certificates, leaf first."""
    if not isinstance(value, list) or not value:
        raise PluginError(f'{what} has no "certificateChain"')
    chain: list[x509.Certificate] = []
    for index, item in enumerate(value):
        der = decode_b64(item, f"certificateChain[{index}]", what)
        try:
            chain.append(x509.load_der_x509_certificate(der))
        except ValueError as exc:
            raise PluginError(f"{what} has an invalid certificate at certificateChain[{index}]: {exc}") from None
    return tuple(chain)


def algorithm_from_key_spec(key_spec: str) -> Algorithm:
    """``RSA-2048`` ... ``EC-521`` to the algorithm the spec assigns (signature-specification.md)."""
    for alg in Algorithm:
        if alg.key_spec == key_spec:
            return alg
    raise PluginError(f'key spec "{key_spec}" is not supported')


def algorithm_from_signing_algorithm(name: str) -> Algorithm:
    """``RSASSA-PSS-SHA-256`` ... ``ECDSA-SHA-512`` to the algorithm."""
    for alg in Algorithm:
        if alg.display_name == name:
            return alg
    raise PluginError(f'signing algorithm "{name}" is not supported')


# --- Semantic Versioning 2.0.0 --------------------------------------------------------------------

# The regular expression of semver.org, as notation-go's internal/semver uses it.
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


def is_semver(version: str) -> bool:
    """True for a valid SemVer 2.0.0 version (``1.2.3``, ``1.0.0-alpha.1+build``; no ``v`` prefix)."""
    return _SEMVER.match(version) is not None


def compare_semver(a: str, b: str) -> int:
    """SemVer precedence of two valid versions: -1, 0 or 1 (build metadata ignored).

    Raises:
        ValueError: either version is not valid SemVer.
    """
    ma, mb = _SEMVER.match(a), _SEMVER.match(b)
    if ma is None or mb is None:
        raise ValueError(f"not a semantic version: {a if ma is None else b!r}")
    core_a = tuple(int(x) for x in ma.group(1, 2, 3))
    core_b = tuple(int(x) for x in mb.group(1, 2, 3))
    if core_a != core_b:
        return -1 if core_a < core_b else 1
    pre_a, pre_b = ma.group(4), mb.group(4)
    if pre_a == pre_b:
        return 0
    if pre_a is None:
        return 1  # a release has higher precedence than its pre-releases
    if pre_b is None:
        return -1
    return _compare_prerelease(pre_a.split("."), pre_b.split("."))


def _compare_prerelease(a: Sequence[str], b: Sequence[str]) -> int:
    for x, y in zip(a, b, strict=False):
        if x == y:
            continue
        x_num, y_num = x.isdigit(), y.isdigit()
        if x_num and y_num:
            return -1 if int(x) < int(y) else 1
        if x_num != y_num:
            return -1 if x_num else 1  # numeric identifiers sort before alphanumeric ones
        return -1 if x < y else 1
    if len(a) == len(b):
        return 0
    return -1 if len(a) < len(b) else 1
