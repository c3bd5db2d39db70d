"""Verification plugins: envelopes that name one in ``io.cncf.notary.verificationPlugin``.

Follows plugin-extensibility.md "Verification workflow using plugin" and notation-go's verifier:

1. :func:`prepare_verification_plugin` (right after integrity, always enforced): the named plugin must
   be installed; ``get-plugin-metadata`` must give a SemVer version at least
   ``io.cncf.notary.verificationPluginMinVersion`` and at least one ``SIGNATURE_VERIFIER``
   capability. It returns a :class:`VerificationPluginCheck`, or None when the envelope names no plugin.
2. The verifier runs its own checks, leaving out what the plugin declared it does:
   the trusted-identity match (:attr:`VerificationPluginCheck.handles_trusted_identity`) and the
   OCSP/CRL revocation check (:attr:`VerificationPluginCheck.handles_revocation`).
3. :meth:`VerificationPluginCheck.verify` (after revocation) sends ``verify-signature`` with the
   capabilities to check (revocation left out when the level skips it), the critical attributes,
   the critical extended attributes notation-py does not understand, the certificate chain, the
   statement's trusted identities and the plugin configuration. Every unknown critical attribute
   must come back in ``processedAttributes`` and every requested capability must have a result.
   A failed capability is returned as a :class:`PluginVerdict` so the verifier can enforce or log it
   with the level's action for ``authenticity`` (trusted identity) or ``revocation``.

Errors raised here are :class:`~notation_py.errors.PluginError` with notation-go's messages; the
verifier must treat them as enforced failures.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from notation_py.envelope.encoding import b64std_encode, format_rfc3339
from notation_py.envelope.model import EnvelopeContent, SigningScheme
from notation_py.errors import PluginError
from notation_py.plugins.manager import Plugin, load_plugin
from notation_py.plugins.process import DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT
from notation_py.plugins.protocol import (
    Capability,
    PluginMetadata,
    compare_semver,
    is_semver,
    require_dict,
)
from notation_py.x509.names import go_quote

__all__ = ["PluginVerdict", "VerificationPluginCheck", "prepare_verification_plugin"]


@dataclass(frozen=True)
class PluginVerdict:
    """What a verification plugin decided, per capability it was asked to check.

    Attributes:
        checked: The capabilities sent in ``trustPolicy.signatureVerification``.
        trusted_identity_error: notation-go's message when ``SIGNATURE_VERIFIER.TRUSTED_IDENTITY``
            failed (an ``authenticity`` failure), else None.
        revocation_error: notation-go's message when ``SIGNATURE_VERIFIER.REVOCATION_CHECK`` failed
            (a ``revocation`` failure), else None.
        processed_attributes: The critical attributes the plugin reported as processed.
    """

    checked: tuple[Capability, ...]
    trusted_identity_error: str | None = None
    revocation_error: str | None = None
    processed_attributes: tuple[str, ...] = ()


class VerificationPluginCheck:
    """An installed, usable verification plugin bound to one trust policy statement.

    Args:
        plugin: The plugin.
        metadata: Its validated metadata.
        trusted_identities: The statement's ``trustedIdentities`` as written.
        plugin_config: ``--plugin-config`` values, passed to every command.
    """

    def __init__(
        self,
        plugin: Plugin,
        metadata: PluginMetadata,
        *,
        trusted_identities: Sequence[str] = (),
        plugin_config: Mapping[str, str] | None = None,
    ) -> None:
        self.plugin = plugin
        self.metadata = metadata
        self.trusted_identities = tuple(trusted_identities)
        self.plugin_config: dict[str, str] = dict(plugin_config or {})

    @property
    def name(self) -> str:
        """Plugin name."""
        return self.plugin.name

    @property
    def capabilities(self) -> tuple[Capability, ...]:
        """The verification capabilities the plugin declared."""
        return self.metadata.verifier_capabilities

    @property
    def handles_trusted_identity(self) -> bool:
        """True: the verifier must skip its own trusted-identity match (the plugin checks it)."""
        return Capability.TRUSTED_IDENTITY in self.capabilities

    @property
    def handles_revocation(self) -> bool:
        """True: the verifier must skip its own OCSP/CRL revocation check (the plugin checks it)."""
        return Capability.REVOCATION_CHECK in self.capabilities

    def request(self, content: EnvelopeContent, capabilities: Sequence[Capability]) -> dict[str, Any]:
        """The ``verify-signature`` request (without ``contractVersion``) for ``content``."""
        signed = content.signed
        unprocessed = [a.key for a in signed.extended if a.critical]
        extended: dict[str, Any] = {}
        for attr in signed.extended:
            if attr.critical:
                try:
                    json.dumps(attr.value, allow_nan=False)
                except (TypeError, ValueError):
                    raise PluginError(
                        f'critical extended attribute "{attr.key}" has a value that cannot be passed to '
                        f'verification plugin "{self.name}" (only JSON primitive values can)'
                    ) from None
                extended[attr.key] = attr.value
        critical: dict[str, Any] = {"contentType": signed.content_type, "signingScheme": signed.signing_scheme.value}
        if signed.expiry is not None:
            critical["expiry"] = format_rfc3339(signed.expiry)
        if signed.signing_scheme is SigningScheme.X509_SIGNING_AUTHORITY and signed.authentic_signing_time is not None:
            critical["authenticSigningTime"] = format_rfc3339(signed.authentic_signing_time)
        if signed.verification_plugin is not None:
            critical["verificationPlugin"] = signed.verification_plugin
        if signed.verification_plugin_min_version is not None:
            critical["verificationPluginMinVersion"] = signed.verification_plugin_min_version
        critical["extendedAttributes"] = extended
        request: dict[str, Any] = {
            "signature": {
                "criticalAttributes": critical,
                "unprocessedAttributes": unprocessed,
                "certificateChain": [
                    b64std_encode(c.public_bytes(Encoding.DER)) for c in content.unsigned.certificate_chain
                ],
            },
            "trustPolicy": {
                "trustedIdentities": list(self.trusted_identities),
                "signatureVerification": [str(c) for c in capabilities],
            },
        }
        if self.plugin_config:
            request["pluginConfig"] = dict(self.plugin_config)
        return request

    def verify(self, content: EnvelopeContent, *, revocation_skipped: bool = False) -> PluginVerdict:
        """Run ``verify-signature`` for ``content`` and check the response.

        Args:
            content: The integrity-checked envelope.
            revocation_skipped: The level's action for ``revocation`` is ``skip``: the plugin is not
                asked to check revocation (as notation-go).

        Returns:
            The per-capability outcome; failed capabilities carry notation-go's message for the
            verifier to enforce or log.

        Raises:
            PluginError: the plugin failed (``failed to verify with plugin <name>: …``), left a
                critical attribute unprocessed, or gave no result for a requested capability.
        """
        capabilities = tuple(
            c for c in self.capabilities if not (revocation_skipped and c is Capability.REVOCATION_CHECK)
        )
        unprocessed = [a.key for a in content.signed.extended if a.critical]
        if not capabilities and not unprocessed:
            return PluginVerdict(checked=())
        try:
            doc = self.plugin.verify_signature(self.request(content, capabilities))
        except PluginError as exc:
            raise PluginError(f"failed to verify with plugin {self.name}: {exc.message}") from exc
        what = f'verification plugin "{self.name}" verify-signature response'
        processed_raw = doc.get("processedAttributes")
        if processed_raw is None:
            processed_raw = []
        if not isinstance(processed_raw, list):
            raise PluginError(f'{what}: "processedAttributes" must be a list')
        processed = tuple(str(v) for v in processed_raw)
        for key in unprocessed:
            if key not in processed:
                raise PluginError(
                    f"extended critical attribute {go_quote(key)} was not processed by the verification plugin "
                    f"{go_quote(self.name)} (all extended critical attributes must be processed by the "
                    "verification plugin)"
                )
        results = require_dict(doc.get("verificationResults") or {}, f'{what}: "verificationResults"')
        identity_error: str | None = None
        revocation_error: str | None = None
        for capability in capabilities:
            result = results.get(str(capability))
            if not isinstance(result, dict) or not isinstance(result.get("success"), bool):
                raise PluginError(
                    f"verification plugin {go_quote(self.name)} failed to verify {go_quote(str(capability))}"
                )
            if result["success"]:
                continue
            reason = result.get("reason")
            reason_text = reason if isinstance(reason, str) else ""
            if capability is Capability.TRUSTED_IDENTITY:
                identity_error = (
                    f"trusted identify verification by plugin {go_quote(self.name)} failed with reason "
                    f"{go_quote(reason_text)}"
                )
            else:
                revocation_error = (
                    f"revocation check by verification plugin {go_quote(self.name)} failed with reason "
                    f"{go_quote(reason_text)}"
                )
        return PluginVerdict(
            checked=capabilities,
            trusted_identity_error=identity_error,
            revocation_error=revocation_error,
            processed_attributes=processed,
        )


def _locate_error(name: str, reason: str) -> PluginError:
    return PluginError(
        f"error while locating the verification plugin {go_quote(name)}, make sure the plugin is installed "
        f"successfully before verifying the signature. error: {reason}"
    )


def prepare_verification_plugin(
    content: EnvelopeContent,
    *,
    directory: Path | None,
    trusted_identities: Sequence[str] = (),
    plugin_config: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_output: int = DEFAULT_MAX_OUTPUT,
) -> VerificationPluginCheck | None:
    """The verification plugin ``content`` names, checked usable; None when it names none.

    Args:
        content: The integrity-checked envelope.
        directory: The plugin directory (None: no plugins can be located).
        trusted_identities: The statement's ``trustedIdentities`` as written.
        plugin_config: ``--plugin-config`` values.
        timeout: Seconds each plugin command may take.
        max_output: Largest accepted stdout/stderr of a command, bytes.

    Raises:
        PluginError: notation-go's messages: ``error while locating the verification plugin "<name>",
            make sure the plugin is installed successfully before verifying the signature. error: …``;
            ``plugin <name> has pluginVersion <v> which is not in valid semver format``;
            ``found plugin <name> with version <v> but signature verification needs plugin version
            greater than or equal to <min>``; ``digital signature requires plugin "<name>" with signature
            verification capabilities ("SIGNATURE_VERIFIER.TRUSTED_IDENTITY" and/or
            "SIGNATURE_VERIFIER.REVOCATION_CHECK") installed``; or the metadata command's failure.
    """
    name = content.signed.verification_plugin
    if name is None:
        return None
    min_version = content.signed.verification_plugin_min_version
    if min_version is not None and not is_semver(min_version):
        raise PluginError(
            f"error while getting plugin minimum version, error: value {go_quote(min_version)} for attribute "
            f'"io.cncf.notary.verificationPluginMinVersion" is not in valid semver format'
        )
    if directory is None:
        raise _locate_error(name, "no plugin directory is configured")
    try:
        plugin = load_plugin(name, directory, timeout=timeout, max_output=max_output)
    except PluginError as exc:
        raise _locate_error(name, exc.message) from exc
    metadata = plugin.get_metadata(plugin_config)
    if not is_semver(metadata.version):
        raise PluginError(f"plugin {name} has pluginVersion {metadata.version} which is not in valid semver format")
    if min_version is not None and compare_semver(metadata.version, min_version) < 0:
        raise PluginError(
            f"found plugin {name} with version {metadata.version} but signature verification needs plugin "
            f"version greater than or equal to {min_version}"
        )
    if not metadata.verifier_capabilities:
        raise PluginError(
            f"digital signature requires plugin {go_quote(name)} with signature verification capabilities "
            f"({go_quote(Capability.TRUSTED_IDENTITY.value)} and/or {go_quote(Capability.REVOCATION_CHECK.value)}) "
            "installed"
        )
    return VerificationPluginCheck(plugin, metadata, trusted_identities=trusted_identities, plugin_config=plugin_config)
