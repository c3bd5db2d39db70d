"""Shared plumbing of the CLI commands: configuration, key selection, targets, output helpers."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from notation_py.config.dirs import ConfigDir, cache_dir
from notation_py.errors import ConfigError, UnsupportedEnvelopeError, UsageError

# Everything else is imported where it is used: every command module imports this one, and ``--help``
# or a command that needs no revocation checking, trust policy or registry should not load those
# (docs/performance.md, "CLI start-up").
if TYPE_CHECKING:
    from notation_py.deadline import Deadline
    from notation_py.oci.registry import RegistryClient
    from notation_py.oci.store import ArtifactStore
    from notation_py.policy.document import BlobTrustPolicy, OCITrustPolicy
    from notation_py.policy.truststore import X509TrustStore
    from notation_py.revocation import RevocationChecker
    from notation_py.sign import Signer

TRUST_POLICY_MISSING = (
    "trust policy is not present. To create a trust policy, see: "
    "https://notaryproject.dev/docs/quickstart/#create-a-trust-policy"
)


_machine_output = False


def set_machine_output(on: bool) -> None:
    """``-o json``: the command prints one JSON document, so its human-readable lines are not printed."""
    global _machine_output  # noqa: PLW0603 - one CLI invocation per process
    _machine_output = on


def out(text: str = "") -> None:
    """Print to standard output (nothing while a command writes JSON)."""
    if not _machine_output:
        print(text)


def warn(text: str) -> None:
    """Print a warning to standard error."""
    print(f"Warning: {text}", file=sys.stderr)


def enable_debug(on: bool) -> None:
    """``--debug``: log the library's decisions (revocation servers, store reads) to standard error."""
    if on:
        import logging

        # Only our own loggers: httpx/httpcore debug output would print every header.
        logger = logging.getLogger("notation_py")
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
            logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)


def check_max_signatures(value: int) -> None:
    """``--max-signatures`` must be positive."""
    if value < 1:
        raise UsageError("--max-signatures must be at least 1")


def config_dir() -> ConfigDir:
    """The notation configuration directory in effect."""
    return ConfigDir.from_env()


# Go's time.ParseDuration units; notation's --expiry and our --validity accept the same syntax.
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str, flag: str) -> timedelta:
    """Parse a Go-style duration (``12h``, ``30m``, ``3h20m``, ``1.5h``); ``d`` is accepted as 24h."""
    value = text.strip()
    if value.endswith("d") and value[:-1].isdigit():
        return timedelta(days=int(value[:-1]))
    pos, seconds = 0, 0.0
    if not value:
        raise UsageError(f'invalid {flag} "{text}": empty duration')
    while pos < len(value):
        m = _DURATION.match(value, pos)
        if not m:
            raise UsageError(f'invalid {flag} "{text}": use a duration like 12h, 30m or 3h20m')
        seconds += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class TimeoutSetting:
    """The overall deadline of a command that uses the network: its length and where it was set."""

    seconds: float
    #: Named in the deadline error: ``--timeout`` (also for the default) or the config.json member.
    source: str

    def start(self, operation: str) -> Deadline:
        """Start the clock of ``operation`` (``verification of <ref>``): the deadline is from now."""
        from notation_py.deadline import Deadline

        return Deadline(self.seconds, operation, setting=self.source)


def timeout_setting(flag: str | None) -> TimeoutSetting:
    """``--timeout SECONDS``, else ``config.json``'s ``timeout``, else 60 s.

    Raises:
        UsageError: the flag is not a positive number of seconds.
        ConfigError: ``config.json`` is malformed (its ``timeout`` included).
    """
    from notation_py.config.files import NotationConfig
    from notation_py.deadline import DEFAULT_TIMEOUT, valid_timeout

    if flag is not None:
        try:
            value: float | None = float(flag.strip())
        except ValueError:
            value = None
        seconds = valid_timeout(value)
        if seconds is None:
            raise UsageError(f'invalid --timeout "{flag}": expected a positive number of seconds, e.g. --timeout 60')
        return TimeoutSetting(seconds, "--timeout")
    path = config_dir().config_json
    configured = NotationConfig.load(path).timeout
    if configured is not None:
        return TimeoutSetting(configured, f'"timeout" in {path}')
    return TimeoutSetting(DEFAULT_TIMEOUT, "--timeout")


def parse_expiry(text: str | None) -> timedelta | None:
    """``--expiry``: a duration of whole seconds, at least one (checked before anything is signed)."""
    if text is None:
        return None
    value = parse_duration(text, "--expiry")
    if value < timedelta(seconds=1):
        raise UsageError(f'invalid --expiry "{text}": expiry duration must be at least 1 second')
    if value % timedelta(seconds=1):
        raise UsageError(f'invalid --expiry "{text}": expiry duration supports minimum granularity of seconds')
    return value


def parse_pairs(values: Iterable[str] | None, flag: str) -> dict[str, str]:
    """Parse repeated ``key=value`` flags; duplicate keys are an error."""
    pairs: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f'could not parse {flag} "{item}": expected key=value')
        key = key.strip()
        if key in pairs:
            raise UsageError(f'duplicate {flag} key "{key}"')
        pairs[key] = value
    return pairs


def signature_media_type(fmt: str | None) -> str:
    """Envelope media type from ``--signature-format``, else config.json, else JWS."""
    from notation_py.config.files import NotationConfig
    from notation_py.envelope import format_from_name

    if fmt is None:
        fmt = NotationConfig.load(config_dir().config_json).signature_format or "jws"
    try:
        return format_from_name(fmt)
    except UnsupportedEnvelopeError as exc:
        raise UsageError(exc.message) from None


def resolve_signer(
    key_name: str | None,
    plugin: str | None,
    key_id: str | None,
    *,
    passphrase_file: Path | None = None,
    plugin_config: Mapping[str, str] | None = None,
) -> Signer:
    """The signer for ``--key`` (or the default key), or for ``--plugin``/``--id`` (see :meth:`Signer.from_config`)."""
    from notation_py.sign import Signer

    return Signer.from_config(
        config_dir().root,
        key=key_name,
        plugin=plugin,
        key_id=key_id,
        passphrase_file=passphrase_file,
        plugin_config=plugin_config,
    )


def load_oci_policy() -> OCITrustPolicy:
    """``trustpolicy.oci.json`` (or legacy ``trustpolicy.json``), validated."""
    from notation_py.policy.document import OCITrustPolicy

    cfg = config_dir()
    if not cfg.trust_policy_oci.exists() and not cfg.trust_policy_legacy.exists():
        raise ConfigError(TRUST_POLICY_MISSING)
    return OCITrustPolicy.load(cfg.root)


def load_blob_policy() -> BlobTrustPolicy:
    """``trustpolicy.blob.json``, validated."""
    from notation_py.policy.document import BlobTrustPolicy

    cfg = config_dir()
    if not cfg.trust_policy_blob.exists():
        raise ConfigError(TRUST_POLICY_MISSING)
    return BlobTrustPolicy.load(cfg.root)


def trust_store() -> X509TrustStore:
    """The trust store under the configuration directory."""
    from notation_py.policy.truststore import X509TrustStore

    return X509TrustStore(config_dir().truststore)


def revocation_checker() -> RevocationChecker:
    """OCSP/CRL checker with notation's CRL file cache under ``{NOTATION_CACHE}/crl``."""
    from notation_py.revocation import FileCRLCache, RevocationChecker

    return RevocationChecker(crl_cache=FileCRLCache.in_cache_dir(cache_dir()))


@dataclass(frozen=True)
class RemoteFlags:
    """Registry flags shared by the artifact commands."""

    insecure_registry: bool = False
    username: str | None = None
    password: str | None = None
    force_referrers_tag: bool = False


@dataclass
class Target:
    """An artifact named on the command line, opened in its store (a layout or a registry repository)."""

    store: ArtifactStore
    #: Tag or digest string to resolve inside ``store``.
    ref: str
    tag: str | None
    #: Display prefix: the layout path or ``registry/repository``.
    base: str
    #: Artifact path the trust policy is selected by: ``--scope`` for layouts, ``registry/repo`` otherwise.
    scope: str | None
    _close: Callable[[], None] | None = None

    def display(self, digest: str) -> str:
        """``<base>@<digest>`` as notation prints it."""
        return f"{self.base}@{digest}"

    def close(self) -> None:
        """Release network connections (registries)."""
        if self._close is not None:
            self._close()

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def registry_client(host: str, remote: RemoteFlags) -> RegistryClient:
    """A registry client configured from the flags, ``config.json`` and the credential sources."""
    from notation_py.config.files import NotationConfig
    from notation_py.oci.registry import Credential, DefaultCredentials, RegistryClient, RegistryOptions

    cfg = config_dir()
    insecure = set(NotationConfig.load(cfg.config_json).insecure_registries)
    if remote.insecure_registry:
        insecure.add(host)
    explicit = Credential(username=remote.username or "", password=remote.password or "")
    return RegistryClient(
        RegistryOptions(insecure_registries=frozenset(insecure), force_referrers_tag=remote.force_referrers_tag),
        DefaultCredentials(cfg, explicit=explicit),
    )


def open_target(
    reference: str, oci_layout: bool, scope: str | None = None, remote: RemoteFlags | None = None
) -> Target:
    """Open the artifact named by ``reference`` in an OCI layout (``--oci-layout``) or a registry.

    Raises:
        UsageError: a malformed reference, or flags that do not fit the target.
    """
    from notation_py.oci.reference import LayoutReference, RegistryReference

    if oci_layout:
        if remote is not None and remote.force_referrers_tag:
            raise UsageError("--force-referrers-tag cannot be used with --oci-layout")
        from notation_py.oci.layout import OCILayout

        ref = LayoutReference.parse(reference)
        return Target(OCILayout(ref.path), ref.reference, ref.tag, ref.path, scope)
    try:
        registry_ref = RegistryReference.parse(reference)
    except UsageError as exc:
        raise UsageError(f"{exc.message}; for an OCI image layout directory, use --oci-layout") from None
    if registry_ref.reference is None:
        raise UsageError(f'invalid reference "{reference}": a tag or a digest is required')
    if scope is not None:
        raise UsageError("--scope is only used with --oci-layout; a registry reference is its own scope")
    remote = remote or RemoteFlags()
    client = registry_client(registry_ref.registry, remote)
    repo = client.repository(registry_ref)
    return Target(
        repo,
        str(registry_ref.reference),
        registry_ref.tag if registry_ref.digest is None else None,
        registry_ref.repository_path,
        registry_ref.repository_path,
        client.close,
    )
