"""Trust policy documents: ``trustpolicy.oci.json`` and ``trustpolicy.blob.json`` (version ``1.0``).

Parsing has two layers:

1. **Structure** (always): the bytes must be one UTF-8 JSON object with the documented member types
   (no duplicate keys, no ``NaN``). A ``null`` member counts as absent, as in Go. Members this
   module does not know are kept, not rejected: the document's in
   :attr:`TrustPolicyDocument.extensions`, a statement's in
   :attr:`TrustPolicyStatement.extensions` (e.g. a ``transparencyLog`` member), unknown
   ``signatureVerification`` members in :attr:`TrustPolicyStatement.signature_verification_extensions`.
   The verification level and its overrides are always checked (a statement needs a usable level).
2. **Validation** (``validate=True``, the default): every rule of notation-go's ``Validate()``, in
   its order and with its messages: version, unique statement names, skip-level statements
   without trust stores/identities and all others with both, ``<type>:<name>`` trust stores,
   trusted identities (:mod:`notation_py.policy.identity`), and for OCI the registry scope rules
   (``*`` alone and at most once, each scope in one statement, valid repository names).

``validate=False`` reproduces how notation-go's verifier behaves when handed a policy it did not
validate (its unit tests, and the ``oci-envelope`` conformance cases, do this): malformed trust
store and trusted identity values then surface at *verification* time, through
:meth:`TrustPolicyStatement.certificates`, :meth:`TrustPolicyStatement.uses_tsa` and
:attr:`TrustPolicyStatement.identities`, with the messages Go's verifier produces there, e.g.
``error while loading the trust store, trust policy statement "x" is missing separator in trust
store value "signingAuthority". The required format is <TrustStoreType>:<TrustStoreName>``.
A verifier should always go through those three members (never parse ``trust_stores_raw`` or
``trusted_identities`` itself), so that both modes yield notation's messages.

Statement selection: OCI by repository (exact scope, else ``*``), blob by name (else the global
statement). Deliberate differences from notation-go are listed where they occur: trust store
names ``.``/``..`` are refused; when several statements would match (only possible without
validation) the last one wins, as in Go.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from cryptography import x509

from notation_py.errors import TrustPolicyError
from notation_py.jsonutil import JSONFormatError, strict_loads
from notation_py.policy.identity import TrustedIdentities, verify_trusted_identity
from notation_py.policy.levels import VerificationLevel
from notation_py.policy.truststore import (
    StoreType,
    TrustStore,
    is_valid_store_name,
    load_policy_certificates,
    policy_uses_tsa,
)
from notation_py.x509.names import go_quote

if TYPE_CHECKING:
    from notation_py.transparency import TransparencyPolicy

#: Statement member (notation-py's; notation ignores it) requiring proof of transparency log inclusion.
TRANSPARENCY_LOG_MEMBER = "transparencyLog"

__all__ = [
    "BLOB_POLICY_FILE",
    "LEGACY_OCI_POLICY_FILE",
    "OCI_POLICY_FILE",
    "SUPPORTED_VERSIONS",
    "TRANSPARENCY_LOG_MEMBER",
    "TRUST_POLICY_LINK",
    "BlobTrustPolicy",
    "OCITrustPolicy",
    "TrustPolicyDocument",
    "TrustPolicyStatement",
    "TrustStoreRef",
    "VerifyTimestamp",
    "artifact_path",
    "scope_match_rank",
    "validate_registry_scope",
]

TRUST_POLICY_LINK = "https://notaryproject.dev/docs/quickstart/#create-a-trust-policy"
SUPPORTED_VERSIONS = ("1.0",)
OCI_POLICY_FILE = "trustpolicy.oci.json"
LEGACY_OCI_POLICY_FILE = "trustpolicy.json"
BLOB_POLICY_FILE = "trustpolicy.blob.json"
WILDCARD_SCOPE = "*"

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _empty_mapping() -> Mapping[str, Any]:
    return _EMPTY


class VerifyTimestamp(StrEnum):
    """``signatureVerification.verifyTimestamp``: when a timestamp countersignature is checked."""

    ALWAYS = "always"
    AFTER_CERT_EXPIRY = "afterCertExpiry"


# ------------------------------------------------------------------------------------------------
# Trust store references
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustStoreRef:
    """A ``<type>:<name>`` trust store reference of a statement."""

    type: StoreType
    name: str

    def __str__(self) -> str:
        return f"{self.type.value}:{self.name}"

    @classmethod
    def parse(cls, value: str, statement_name: str = "") -> TrustStoreRef:
        """Parse ``value`` with notation-go's policy-document rules and messages.

        Raises:
            TrustPolicyError: No ``:`` separator, unknown type, or a name not matching
                ``[a-zA-Z0-9_.-]+`` (or ``.``/``..``).
        """
        quoted = go_quote(statement_name)
        kind, sep, name = value.partition(":")
        if not sep:
            raise TrustPolicyError(
                f"trust policy statement {quoted} has malformed trust store value {go_quote(value)}. "
                "The required format is <TrustStoreType>:<TrustStoreName>"
            )
        try:
            store_type = StoreType(kind)
        except ValueError:
            raise TrustPolicyError(
                f"trust policy statement {quoted} uses an unsupported trust store type {go_quote(kind)} "
                f"in trust store value {go_quote(value)}"
            ) from None
        if not is_valid_store_name(name):
            raise TrustPolicyError(
                f"trust policy statement {quoted} uses an unsupported trust store name {go_quote(name)} in "
                f"trust store value {go_quote(value)}. Named store name needs to follow [a-zA-Z0-9_.-]+ format"
            )
        return cls(store_type, name)


# ------------------------------------------------------------------------------------------------
# Registry scopes
# ------------------------------------------------------------------------------------------------

# notation-go's regexes (adapted from distribution/reference), rewritten without nested optional
# repetition so Python's backtracking engine stays linear; they accept the same language.
_DOMAIN_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = re.compile(rf"{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*(?::[0-9]+)?")
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_SCOPE_HINT = (
    "make sure it is a fully qualified repository without the scheme, protocol or tag. For example "
    "domain.com/my/repository or a local scope like local/myOCILayout"
)


def validate_registry_scope(scope: str) -> None:
    """Check a registry scope (``<registry>/<repository>``, no tag, no wildcard) like notation-go.

    Also used for artifact paths and ``--scope`` values. ``*`` is *not* accepted here; the
    document validation handles the global scope itself.

    Raises:
        TrustPolicyError: ``registry scope "<scope>" [with wild card(s)] is not valid, make sure ...``.
    """
    if len(scope) > 1 and "*" in scope:
        raise TrustPolicyError(f"registry scope {go_quote(scope)} with wild card(s) is not valid, {_SCOPE_HINT}")
    domain, sep, repository = scope.partition("/")
    if not sep or not _DOMAIN.fullmatch(domain) or not _REPOSITORY.fullmatch(repository):
        raise TrustPolicyError(f"registry scope {go_quote(scope)} is not valid, {_SCOPE_HINT}")


def artifact_path(artifact: str) -> str:
    """The repository path a policy scope is matched against.

    ``registry/repo@sha256:...`` gives ``registry/repo``; a value without ``@`` is taken as the
    path itself (e.g. the ``--scope`` of an OCI layout).

    Raises:
        TrustPolicyError: The path is not a valid registry scope.
    """
    path = artifact.rpartition("@")[0] if "@" in artifact else artifact
    validate_registry_scope(path)
    return path


def scope_match_rank(scope: str, path: str) -> int | None:
    """How specifically ``scope`` applies to the repository ``path``, or None if it does not.

    Higher wins: an exact repository scope (2) beats the global ``*`` scope (0). Rank 1 is free
    for registry- or namespace-level scopes (specifications PR #330) should they be adopted.
    """
    if scope == path:
        return 2
    if scope == WILDCARD_SCOPE:
        return 0
    return None


# ------------------------------------------------------------------------------------------------
# Statements
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustPolicyStatement:
    """One trust policy statement (OCI or blob).

    Attributes:
        name: Statement name.
        level: Verification level with overrides applied.
        trust_stores: Well-formed ``<type>:<name>`` references. After validation these are all
            of ``trust_stores_raw``; without it, malformed values are left out here (see
            :meth:`certificates`).
        trusted_identities: ``trustedIdentities`` as written (parsed form: :attr:`identities`).
        registry_scopes: OCI registry scopes (empty for blob statements).
        verify_timestamp: When to verify a timestamp countersignature.
        global_policy: Blob only: the statement used when no policy name is given.
        overrides: ``signatureVerification.override`` as written.
        extensions: Statement members this module does not interpret, e.g. ``transparencyLog``.
        signature_verification_extensions: Unknown ``signatureVerification`` members.
        trust_stores_raw: ``trustStores`` as written; None means "as :attr:`trust_stores`".
    """

    name: str
    level: VerificationLevel
    trust_stores: tuple[TrustStoreRef, ...] = ()
    trusted_identities: tuple[str, ...] = ()
    registry_scopes: tuple[str, ...] = ()
    verify_timestamp: VerifyTimestamp = VerifyTimestamp.ALWAYS
    global_policy: bool = False
    overrides: Mapping[str, str] = field(default_factory=_empty_mapping, hash=False)
    extensions: Mapping[str, Any] = field(default_factory=_empty_mapping, hash=False)
    signature_verification_extensions: Mapping[str, Any] = field(default_factory=_empty_mapping, hash=False)
    trust_stores_raw: tuple[str, ...] | None = None

    @property
    def raw_trust_stores(self) -> tuple[str, ...]:
        """``trustStores`` as written in the document."""
        if self.trust_stores_raw is not None:
            return self.trust_stores_raw
        return tuple(str(ref) for ref in self.trust_stores)

    @property
    def is_skip(self) -> bool:
        """True for a ``skip`` statement: artifacts in scope are not verified at all."""
        return self.level.is_skip

    @cached_property
    def identities(self) -> TrustedIdentities:
        """The parsed trusted identities.

        Raises:
            TrustPolicyError: (unvalidated documents only) an identity lacks ``:``, has an empty
                ``x509.subject`` value or an invalid DN; notation-go's verification-time messages,
                e.g. ``trust policy statement "x" has trusted identity "x509.subject" missing
                separator``.
        """
        return TrustedIdentities.parse(self.trusted_identities, self.name)

    @cached_property
    def transparency_log(self) -> TransparencyPolicy | None:
        """The statement's ``transparencyLog`` member, parsed; None when absent (or ``null``).

        Raises:
            TrustPolicyError: (unvalidated documents only) the member is malformed.
        """
        value = self.extensions.get(TRANSPARENCY_LOG_MEMBER)
        if value is None:
            return None
        from notation_py.transparency import TransparencyPolicy

        return TransparencyPolicy.from_extension(value, f"trust policy statement {go_quote(self.name)}")

    def verify_identity(self, leaf: x509.Certificate) -> None:
        """Check the signing certificate against the trusted identities (notation-go semantics).

        Raises:
            TrustPolicyError: Malformed identities (see :attr:`identities`), or no ``x509.subject``
                identity and no ``*``.
            IdentityMismatchError: The leaf subject matches no identity (notation-go's message).
        """
        verify_trusted_identity(self.identities, leaf)

    def certificates(self, store: TrustStore, store_type: StoreType) -> list[x509.Certificate]:
        """Trusted certificates of this statement's stores of ``store_type``.

        Raises:
            TrustStoreError: notation-go's verifier messages (see
                :func:`notation_py.policy.truststore.load_policy_certificates`).
        """
        return load_policy_certificates(store, store_type, self.name, self.raw_trust_stores)

    def uses_tsa(self) -> bool:
        """True if a ``tsa`` store is configured (timestamp verification is enabled).

        Raises:
            TrustStoreError: A value before the first ``tsa:`` one lacks ``:`` (see
                :func:`notation_py.policy.truststore.policy_uses_tsa`).
        """
        return policy_uses_tsa(self.name, self.raw_trust_stores)

    def to_dict(self, *, oci: bool) -> dict[str, Any]:
        """The statement as a JSON object of an OCI (``oci=True``) or blob document."""
        verification: dict[str, Any] = {"level": self.level.name.value}
        if self.overrides:
            verification["override"] = dict(self.overrides)
        if self.verify_timestamp is not VerifyTimestamp.ALWAYS:
            verification["verifyTimestamp"] = self.verify_timestamp.value
        verification.update(self.signature_verification_extensions)
        out: dict[str, Any] = {"name": self.name}
        if oci:
            out["registryScopes"] = list(self.registry_scopes)
        out["signatureVerification"] = verification
        if self.raw_trust_stores:
            out["trustStores"] = list(self.raw_trust_stores)
        if self.trusted_identities:
            out["trustedIdentities"] = list(self.trusted_identities)
        if not oci and self.global_policy:
            out["globalPolicy"] = True
        out.update(self.extensions)
        return out


# ------------------------------------------------------------------------------------------------
# JSON structure
# ------------------------------------------------------------------------------------------------


class _MalformedPolicyError(TrustPolicyError):
    """The bytes are not a structurally valid policy document; ``detail`` says why."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"malformed trust policy: {detail}")
        self.detail = detail


def _decode_json(data: bytes) -> Any:
    try:
        return strict_loads(data)
    except JSONFormatError as exc:
        raise _MalformedPolicyError(exc.message if exc.not_utf8 else f"invalid JSON: {exc.message}") from None


def _string(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _MalformedPolicyError(f"{where}{key} must be a string")
    return value


def _strings(obj: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _MalformedPolicyError(f"{where}{key} must be an array of strings")
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _MalformedPolicyError(f"{where} must be a JSON object")
    return value


@dataclass
class _RawStatement:
    """A statement with every value as written (what validation looks at)."""

    name: str
    level: str
    overrides: dict[str, str]
    verify_timestamp: str
    trust_stores: list[str]
    trusted_identities: list[str]
    registry_scopes: list[str]
    global_policy: bool
    extensions: dict[str, Any]
    sv_extensions: dict[str, Any]


_SV_KEYS = frozenset({"level", "override", "verifyTimestamp"})


def _raw_statement(obj: Any, index: int, known: frozenset[str], oci: bool) -> _RawStatement:
    where = f"trustPolicies[{index}]"
    st = _object(obj, where)
    prefix = where + "."
    sv_value = st.get("signatureVerification")
    sv = {} if sv_value is None else _object(sv_value, prefix + "signatureVerification")
    sv_prefix = prefix + "signatureVerification."
    override_value = sv.get("override")
    overrides = {} if override_value is None else _object(override_value, sv_prefix + "override")
    if not all(isinstance(v, str) for v in overrides.values()):
        raise _MalformedPolicyError(f"{sv_prefix}override values must be strings")
    global_policy = False
    if not oci:
        flag = st.get("globalPolicy")
        if flag is not None and not isinstance(flag, bool):
            raise _MalformedPolicyError(f"{prefix}globalPolicy must be a boolean")
        global_policy = bool(flag)
    return _RawStatement(
        name=_string(st, "name", prefix),
        level=_string(sv, "level", sv_prefix),
        overrides=overrides,
        verify_timestamp=_string(sv, "verifyTimestamp", sv_prefix),
        trust_stores=_strings(st, "trustStores", prefix),
        trusted_identities=_strings(st, "trustedIdentities", prefix),
        registry_scopes=_strings(st, "registryScopes", prefix) if oci else [],
        global_policy=global_policy,
        extensions={k: v for k, v in st.items() if k not in known},
        sv_extensions={k: v for k, v in sv.items() if k not in _SV_KEYS},
    )


def _build_level(raw: _RawStatement) -> VerificationLevel:
    try:
        return VerificationLevel.build(raw.level, raw.overrides)
    except TrustPolicyError as exc:
        raise TrustPolicyError(
            f"trust policy statement {go_quote(raw.name)} has invalid signatureVerification: {exc.message}"
        ) from None


def _validate_core(raw: _RawStatement) -> None:
    """notation-go ``validatePolicyCore``: name, signatureVerification, stores and identities."""
    if raw.name == "":
        raise TrustPolicyError("a trust policy statement is missing a name, every statement requires a name")
    quoted = go_quote(raw.name)
    level = _build_level(raw)
    if raw.verify_timestamp not in ("", *VerifyTimestamp):
        raise TrustPolicyError(
            f"trust policy statement {quoted} has invalid signatureVerification: verifyTimestamp must be "
            f'"always" or "afterCertExpiry", but got {go_quote(raw.verify_timestamp)}'
        )
    if level.is_skip:
        if raw.trust_stores or raw.trusted_identities:
            raise TrustPolicyError(
                f"trust policy statement {quoted} is set to skip signature verification but configured with "
                "trust stores and/or trusted identities, remove them if signature verification needs to be skipped"
            )
        return
    if not raw.trust_stores or not raw.trusted_identities:
        raise TrustPolicyError(
            f"trust policy statement {quoted} is either missing trust stores or trusted identities, both must be specified"
        )
    for value in raw.trust_stores:
        TrustStoreRef.parse(value, raw.name)
    TrustedIdentities.parse(raw.trusted_identities, raw.name, strict=True)
    if raw.extensions.get(TRANSPARENCY_LOG_MEMBER) is not None:
        from notation_py.transparency import TransparencyPolicy

        TransparencyPolicy.from_extension(raw.extensions[TRANSPARENCY_LOG_MEMBER], f"trust policy statement {quoted}")


def _build_statement(raw: _RawStatement) -> TrustPolicyStatement:
    refs: list[TrustStoreRef] = []
    for value in raw.trust_stores:
        try:
            refs.append(TrustStoreRef.parse(value, raw.name))
        except TrustPolicyError:
            continue  # unvalidated document: reported by certificates()/uses_tsa() at verification
    try:
        verify_timestamp = VerifyTimestamp(raw.verify_timestamp or VerifyTimestamp.ALWAYS)
    except ValueError:
        verify_timestamp = VerifyTimestamp.ALWAYS  # Go treats anything but afterCertExpiry as always
    return TrustPolicyStatement(
        name=raw.name,
        level=_build_level(raw),
        trust_stores=tuple(refs),
        trusted_identities=tuple(raw.trusted_identities),
        registry_scopes=tuple(raw.registry_scopes),
        verify_timestamp=verify_timestamp,
        global_policy=raw.global_policy,
        overrides=MappingProxyType(dict(raw.overrides)),
        extensions=MappingProxyType(dict(raw.extensions)),
        signature_verification_extensions=MappingProxyType(dict(raw.sv_extensions)),
        trust_stores_raw=tuple(raw.trust_stores),
    )


# ------------------------------------------------------------------------------------------------
# Documents
# ------------------------------------------------------------------------------------------------


class TrustPolicyDocument:
    """Common part of :class:`OCITrustPolicy` and :class:`BlobTrustPolicy`."""

    _KIND: ClassVar[str] = ""  # "oci" or "blob", as notation-go's messages say
    _EMPTY_VERSION_MESSAGE: ClassVar[str] = ""  # notation-go words it differently per kind
    _OCI: ClassVar[bool] = False
    _STATEMENT_KEYS: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        statements: Sequence[TrustPolicyStatement],
        *,
        version: str = "1.0",
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        """A document of ``statements`` (not validated; see :meth:`validate`)."""
        self.version = version
        self.statements: tuple[TrustPolicyStatement, ...] = tuple(statements)
        self.extensions: Mapping[str, Any] = MappingProxyType(dict(extensions or {}))

    def __iter__(self) -> Iterator[TrustPolicyStatement]:
        return iter(self.statements)

    def __len__(self) -> int:
        return len(self.statements)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, TrustPolicyDocument)
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        names = ", ".join(s.name for s in self.statements)
        return f"{type(self).__name__}(version={self.version!r}, statements=[{names}])"

    # --- parsing ----------------------------------------------------------------------------------

    @classmethod
    def from_bytes(cls, data: bytes, *, validate: bool = True) -> Self:
        """Parse (and by default validate) a policy document.

        Args:
            data: The file content.
            validate: Apply notation-go's document rules (see the module docstring). Leave on
                for everything but reproducing the behaviour of an unvalidated Go verifier.

        Raises:
            TrustPolicyError: ``malformed trust policy: <detail>`` for bad JSON or member types;
                otherwise notation-go's validation message.
        """
        return cls.from_dict(_decode_json(data), validate=validate)

    @classmethod
    def from_dict(cls, obj: Any, *, validate: bool = True) -> Self:
        """Like :meth:`from_bytes`, for an already decoded JSON value."""
        doc = _object(obj, "the trust policy document")
        policies = doc.get("trustPolicies")
        if policies is None:
            policies = []
        if not isinstance(policies, list):
            raise _MalformedPolicyError("trustPolicies must be an array")
        version = _string(doc, "version", "")
        raws = [_raw_statement(st, i, cls._STATEMENT_KEYS, cls._OCI) for i, st in enumerate(policies)]
        if validate:
            cls._validate_raw(version, raws)
        extensions = {k: v for k, v in doc.items() if k not in ("version", "trustPolicies")}
        return cls([_build_statement(raw) for raw in raws], version=version, extensions=extensions)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, validate: bool = True) -> Self:
        """Read a policy file (not a symlink) and parse it like :meth:`from_bytes`.

        Raises:
            TrustPolicyError: ``trust policy is not present. To create a trust policy, see: <link>``;
                ``trust policy is not a regular file (symlinks are not supported) ...``; ``unable to
                read trust policy due to file permissions ...``; ``malformed trust policy file
                "<path>": <detail>``; or a validation message.
        """
        file = Path(path)
        try:
            info = file.lstat()
        except FileNotFoundError:
            raise TrustPolicyError(
                f"trust policy is not present. To create a trust policy, see: {TRUST_POLICY_LINK}"
            ) from None
        except OSError as exc:
            raise TrustPolicyError(
                f"failed to access trust policy {go_quote(str(file))}: {exc.strerror or exc}"
            ) from exc
        if not stat.S_ISREG(info.st_mode):
            raise TrustPolicyError(
                "trust policy is not a regular file (symlinks are not supported). To create a trust policy, "
                f"see: {TRUST_POLICY_LINK}"
            )
        try:
            data = file.read_bytes()
        except PermissionError:
            raise TrustPolicyError(
                f"unable to read trust policy due to file permissions, please verify the permissions of {file}"
            ) from None
        except OSError as exc:
            raise TrustPolicyError(f"failed to read trust policy {go_quote(str(file))}: {exc.strerror or exc}") from exc
        try:
            return cls.from_bytes(data, validate=validate)
        except _MalformedPolicyError as exc:
            raise TrustPolicyError(f"malformed trust policy file {go_quote(str(file))}: {exc.detail}") from None

    # --- validation -------------------------------------------------------------------------------

    @classmethod
    def _validate_raw(cls, version: str, raws: Sequence[_RawStatement]) -> None:
        kind = cls._KIND
        if version == "":
            raise TrustPolicyError(cls._EMPTY_VERSION_MESSAGE)
        if version not in SUPPORTED_VERSIONS:
            raise TrustPolicyError(f"{kind} trust policy document uses unsupported version {go_quote(version)}")
        if not raws:
            raise TrustPolicyError(f"{kind} trust policy document can not have zero trust policy statements")
        names: set[str] = set()
        global_seen = False
        for raw in raws:
            if raw.name in names:
                raise TrustPolicyError(
                    f"multiple {kind} trust policy statements use the same name {go_quote(raw.name)}, "
                    "statement names must be unique"
                )
            try:
                _validate_core(raw)
            except TrustPolicyError as exc:
                raise TrustPolicyError(f"{kind} trust policy: {exc.message}") from None
            if raw.global_policy:
                if global_seen:
                    raise TrustPolicyError(
                        "multiple blob trust policy statements have globalPolicy set to true. Only one trust "
                        "policy statement should be marked as global policy"
                    )
                global_seen = True
            names.add(raw.name)
        cls._validate_document_rules(raws)

    @classmethod
    def _validate_document_rules(cls, raws: Sequence[_RawStatement]) -> None:
        """Rules spanning statements, beyond the common ones (OCI: registry scopes)."""

    def validate(self) -> None:
        """Validate this document with notation-go's rules (for documents built in code).

        Raises:
            TrustPolicyError: The first rule violated; notation-go's message.
        """
        type(self).from_dict(self.to_dict(), validate=True)

    # --- output -----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The document as a JSON object."""
        out: dict[str, Any] = {
            "version": self.version,
            "trustPolicies": [s.to_dict(oci=self._OCI) for s in self.statements],
        }
        out.update(self.extensions)
        return out

    def to_json(self) -> bytes:
        """The document as indented UTF-8 JSON with a final newline (what ``policy import`` writes)."""
        return (json.dumps(self.to_dict(), indent=4, ensure_ascii=False) + "\n").encode("utf-8")

    def statement(self, name: str) -> TrustPolicyStatement | None:
        """The first statement called ``name``, if any."""
        return next((s for s in self.statements if s.name == name), None)


class OCITrustPolicy(TrustPolicyDocument):
    """An OCI trust policy document (``trustpolicy.oci.json``)."""

    _KIND = "oci"
    _EMPTY_VERSION_MESSAGE = "oci trust policy document has empty version, version must be specified"
    _OCI = True
    _STATEMENT_KEYS = frozenset({"name", "registryScopes", "signatureVerification", "trustStores", "trustedIdentities"})

    @classmethod
    def _validate_document_rules(cls, raws: Sequence[_RawStatement]) -> None:
        counts: dict[str, int] = {}
        for raw in raws:
            quoted = go_quote(raw.name)
            if not raw.registry_scopes:
                raise TrustPolicyError(
                    f"oci trust policy statement {quoted} has zero registry scopes, it must specify registry "
                    "scopes with at least one value"
                )
            if len(raw.registry_scopes) > 1 and WILDCARD_SCOPE in raw.registry_scopes:
                raise TrustPolicyError(
                    f"oci trust policy statement {quoted} uses wildcard registry scope '*', a wildcard scope "
                    "cannot be used in conjunction with other scope values"
                )
            for scope in raw.registry_scopes:
                if scope != WILDCARD_SCOPE:
                    validate_registry_scope(scope)
                counts[scope] = counts.get(scope, 0) + 1
        for scope, count in counts.items():
            if count > 1:
                raise TrustPolicyError(
                    f"registry scope {go_quote(scope)} is present in multiple oci trust policy statements, one "
                    "registry scope value can only be associated with one statement"
                )

    @classmethod
    def load(cls, config_dir: str | os.PathLike[str], *, validate: bool = True) -> OCITrustPolicy:
        """Read ``trustpolicy.oci.json`` of a notation configuration directory, else the legacy
        ``trustpolicy.json`` (see :meth:`from_file` for errors)."""
        base = Path(config_dir)
        primary = base / OCI_POLICY_FILE
        if not os.path.lexists(primary) and os.path.lexists(base / LEGACY_OCI_POLICY_FILE):
            primary = base / LEGACY_OCI_POLICY_FILE
        return cls.from_file(primary, validate=validate)

    def statement_for(self, artifact: str) -> TrustPolicyStatement:
        """The statement that applies to an artifact: exact repository scope, else ``*``.

        Args:
            artifact: ``registry/repository@digest``, or a repository path (``registry/repository``,
                an OCI layout's ``--scope``).

        Raises:
            TrustPolicyError: The repository path is not valid, or no statement applies:
                ``artifact "<artifact>" has no applicable oci trust policy statement. Trust policy
                applicability for a given artifact is determined by registryScopes. To create a trust
                policy, see: <link>``.
        """
        path = artifact_path(artifact)
        best: TrustPolicyStatement | None = None
        best_rank = -1
        for statement in self.statements:
            ranks = [r for r in (scope_match_rank(s, path) for s in statement.registry_scopes) if r is not None]
            if ranks and max(ranks) >= best_rank:  # ">=": the last of equals wins, as in Go
                best, best_rank = statement, max(ranks)
        if best is None:
            raise TrustPolicyError(
                f"artifact {go_quote(artifact)} has no applicable oci trust policy statement. Trust policy "
                "applicability for a given artifact is determined by registryScopes. To create a trust policy, "
                f"see: {TRUST_POLICY_LINK}"
            )
        return best


class BlobTrustPolicy(TrustPolicyDocument):
    """A blob trust policy document (``trustpolicy.blob.json``).

    Note: the specification forbids a ``skip`` global statement, notation-go does not enforce it
    (its check is dead code) and neither does this class.
    """

    _KIND = "blob"
    _EMPTY_VERSION_MESSAGE = "blob trust policy has empty version, version must be specified"
    _OCI = False
    _STATEMENT_KEYS = frozenset({"name", "signatureVerification", "trustStores", "trustedIdentities", "globalPolicy"})

    @classmethod
    def load(cls, config_dir: str | os.PathLike[str], *, validate: bool = True) -> BlobTrustPolicy:
        """Read ``trustpolicy.blob.json`` of a notation configuration directory (see :meth:`from_file`)."""
        return cls.from_file(Path(config_dir) / BLOB_POLICY_FILE, validate=validate)

    @property
    def global_statement(self) -> TrustPolicyStatement | None:
        """The statement with ``globalPolicy: true``, if any."""
        return next((s for s in self.statements if s.global_policy), None)

    def statement_for(self, name: str | None = None) -> TrustPolicyStatement:
        """The statement called ``name``, or the global statement when ``name`` is None.

        Raises:
            TrustPolicyError: ``policy name cannot be empty`` (blank name); ``no applicable blob trust
                policy. Applicability for a given blob is determined by policy name``; ``no global
                blob trust policy``.
        """
        if name is None:
            statement = self.global_statement
            if statement is None:
                raise TrustPolicyError("no global blob trust policy")
            return statement
        if not name.strip():
            raise TrustPolicyError("policy name cannot be empty")
        statement = self.statement(name)
        if statement is None:
            raise TrustPolicyError(
                "no applicable blob trust policy. Applicability for a given blob is determined by policy name"
            )
        return statement
