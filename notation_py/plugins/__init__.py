"""notation plugins: signing keys held by plugins, and verification plugins.

Plugins are executables ``notation-<name>`` under ``{NOTATION_CONFIG}/plugins/<name>/`` (or
``$NOTATION_LIBEXEC/plugins/<name>/``) that speak notation's plugin contract
(plugin-extensibility.md) over stdin/stdout, so plugins written for ``notation`` work unchanged.

* Discovery: :func:`plugin_directory`, :func:`load_plugin`, :func:`list_plugins`.
* Signing: :class:`PluginSigner`, a :class:`~notation_py.sign.Signer` whether the plugin returns raw
  signatures (``SIGNATURE_GENERATOR.RAW``) or whole envelopes (``SIGNATURE_GENERATOR.ENVELOPE``), and
  :func:`signer_for_key` for ``signingkeys.json`` entries.
* Verification: :func:`prepare_verification_plugin` and :class:`VerificationPluginCheck`.

Every failure is a :class:`~notation_py.errors.PluginError` (a :class:`PluginRequestError` when the
plugin itself reported an error), within a per-command timeout.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from notation_py.config.files import KeySuite
from notation_py.errors import PluginError
from notation_py.plugins.manager import (
    Plugin,
    PluginListing,
    executable_name,
    list_plugins,
    load_plugin,
    plugin_directory,
)
from notation_py.plugins.process import DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT
from notation_py.plugins.protocol import CONTRACT_VERSION, Capability, Command, PluginMetadata, PluginRequestError
from notation_py.plugins.signer import GeneratedEnvelope, PluginSigner, merge_plugin_config
from notation_py.plugins.verification import PluginVerdict, VerificationPluginCheck, prepare_verification_plugin

__all__ = [
    "CONTRACT_VERSION",
    "DEFAULT_MAX_OUTPUT",
    "DEFAULT_TIMEOUT",
    "Capability",
    "Command",
    "GeneratedEnvelope",
    "Plugin",
    "PluginListing",
    "PluginMetadata",
    "PluginRequestError",
    "PluginSigner",
    "PluginVerdict",
    "VerificationPluginCheck",
    "executable_name",
    "list_plugins",
    "load_plugin",
    "merge_plugin_config",
    "plugin_directory",
    "prepare_verification_plugin",
    "signer_for_key",
]


def signer_for_key(
    key: KeySuite,
    plugin_config: Mapping[str, str] | None = None,
    *,
    directory: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> PluginSigner:
    """The :class:`PluginSigner` of a ``signingkeys.json`` plugin key (``pluginName``, ``id``, ``pluginConfig``).

    ``plugin_config`` (``--plugin-config``) is merged over the key's ``pluginConfig``.

    Raises:
        PluginError: the entry is not a plugin key, or the plugin is not installed/usable.
    """
    if not key.is_plugin or not key.plugin_name or not key.id:
        raise PluginError(f'signing key "{key.name}" is not a plugin key')
    return PluginSigner.open(
        key.plugin_name,
        key.id,
        merge_plugin_config(key.plugin_config, plugin_config),
        directory=directory,
        timeout=timeout,
    )
