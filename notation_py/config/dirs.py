"""Where notation keeps its files (``NOTATION_CONFIG``, ``NOTATION_CACHE``), laid out as notation does."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path


def _user_config_dir() -> Path:
    # Go's os.UserConfigDir(), which notation uses.
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support"
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return Path(xdg) if xdg else Path.home() / ".config"


def _user_cache_dir() -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) if xdg else Path.home() / ".cache"


@dataclass(frozen=True)
class ConfigDir:
    """Paths inside a notation configuration directory."""

    root: Path

    @classmethod
    def from_env(cls) -> ConfigDir:
        """``$NOTATION_CONFIG`` or the platform's user config directory + ``notation``."""
        env = os.environ.get("NOTATION_CONFIG")
        return cls(Path(env) if env else _user_config_dir() / "notation")

    @property
    def truststore(self) -> Path:
        """``truststore/`` (holds ``x509/<type>/<store>/``)."""
        return self.root / "truststore"

    @property
    def trust_policy_oci(self) -> Path:
        """``trustpolicy.oci.json``."""
        return self.root / "trustpolicy.oci.json"

    @property
    def trust_policy_legacy(self) -> Path:
        """``trustpolicy.json``, read when ``trustpolicy.oci.json`` is absent."""
        return self.root / "trustpolicy.json"

    @property
    def trust_policy_blob(self) -> Path:
        """``trustpolicy.blob.json``."""
        return self.root / "trustpolicy.blob.json"

    @property
    def signing_keys(self) -> Path:
        """``signingkeys.json``."""
        return self.root / "signingkeys.json"

    @property
    def config_json(self) -> Path:
        """``config.json``."""
        return self.root / "config.json"

    @property
    def local_keys(self) -> Path:
        """``localkeys/`` (keys and certificates made by ``cert generate-test``)."""
        return self.root / "localkeys"

    @property
    def plugins(self) -> Path:
        """``plugins/<name>/notation-<name>``."""
        return self.root / "plugins"


def cache_dir() -> Path:
    """``$NOTATION_CACHE`` or the platform's user cache directory + ``notation``."""
    env = os.environ.get("NOTATION_CACHE")
    return Path(env) if env else _user_cache_dir() / "notation"


def plugin_directory(config: ConfigDir | None = None) -> Path:
    """Where plugins are installed: ``$NOTATION_LIBEXEC/plugins`` or ``{NOTATION_CONFIG}/plugins`` (as notation)."""
    libexec = os.environ.get("NOTATION_LIBEXEC")
    if libexec:
        return Path(libexec) / "plugins"
    return (config or ConfigDir.from_env()).plugins
