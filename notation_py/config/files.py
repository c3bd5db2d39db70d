"""``signingkeys.json`` and ``config.json``: notation's formats, read and written unchanged.

Unknown members are preserved on rewrite so files shared with notation keep what notation put there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notation_py.deadline import valid_timeout
from notation_py.errors import ConfigError
from notation_py.fsutil import atomic_write


def _load_json_object(path: Path, what: str) -> dict[str, Any] | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"malformed {what} {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"malformed {what} {path}: expected a JSON object")
    return doc


@dataclass(frozen=True)
class Pkcs11KeyConfig:
    """The ``pkcs11`` member of a ``signingkeys.json`` entry: a key held in a PKCS#11 token.

    notation-py's own member: notation loads such an entry (it only checks names) and refuses to
    sign with it, because the entry has neither ``keyPath`` nor ``pluginName``.

    Attributes:
        uri: RFC 7512 ``pkcs11:`` URI of the private key (module, token, object, PIN source).
        cert_path: Certificate chain file, leaf first; ``None`` reads the chain from the token.
        pin_file: File holding the user PIN, used when the URI has no ``pin-source``/``pin-value``.
    """

    uri: str
    cert_path: str | None = None
    pin_file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON shape (``uri``, optional ``certPath`` and ``pinFile``)."""
        out: dict[str, Any] = {"uri": self.uri}
        if self.cert_path:
            out["certPath"] = self.cert_path
        if self.pin_file:
            out["pinFile"] = self.pin_file
        return out

    @classmethod
    def from_dict(cls, value: object, name: str) -> Pkcs11KeyConfig:
        """Validate the member of key ``name``."""
        from notation_py.keys.pkcs11_uri import Pkcs11Uri

        where = f'malformed signingkeys.json: "pkcs11" of key "{name}"'
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be an object")
        unknown = sorted(set(value) - {"uri", "certPath", "pinFile"})
        if unknown:
            raise ConfigError(f"{where} has unknown member(s) {', '.join(unknown)}")
        uri = value.get("uri")
        if not isinstance(uri, str) or not uri:
            raise ConfigError(f'{where} needs "uri", a pkcs11: URI')
        Pkcs11Uri.parse(uri, ConfigError)
        cert_path, pin_file = value.get("certPath"), value.get("pinFile")
        for member, item in (("certPath", cert_path), ("pinFile", pin_file)):
            if item is not None and (not isinstance(item, str) or not item):
                raise ConfigError(f'{where}: "{member}" must be a non-empty string')
        return cls(uri=uri, cert_path=cert_path, pin_file=pin_file)


@dataclass(frozen=True)
class KeySuite:
    """One entry of ``signingkeys.json``: a local key (``keyPath``/``certPath``), a plugin key, or a PKCS#11 key.

    ``passphraseFile`` (local keys) and ``pkcs11`` are notation-py's members; notation ignores them.
    """

    name: str
    key_path: str | None = None
    cert_path: str | None = None
    id: str | None = None
    plugin_name: str | None = None
    plugin_config: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: File holding the passphrase of an encrypted ``keyPath``.
    passphrase_file: str | None = None
    #: Set for a key held in a PKCS#11 token.
    pkcs11: Pkcs11KeyConfig | None = None

    @property
    def is_plugin(self) -> bool:
        """True for a plugin-backed key."""
        return self.plugin_name is not None

    @property
    def is_pkcs11(self) -> bool:
        """True for a key held in a PKCS#11 token."""
        return self.pkcs11 is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON shape used by notation (plus notation-py's ``passphraseFile`` and ``pkcs11``)."""
        out: dict[str, Any] = {"name": self.name}
        if self.is_plugin:
            out["id"] = self.id
            out["pluginName"] = self.plugin_name
            if self.plugin_config:
                out["pluginConfig"] = dict(self.plugin_config)
        elif self.pkcs11 is not None:
            out["pkcs11"] = self.pkcs11.to_dict()
        else:
            out["keyPath"] = self.key_path
            out["certPath"] = self.cert_path
            if self.passphrase_file:
                out["passphraseFile"] = self.passphrase_file
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, item: object, index: int) -> KeySuite:
        """Validate one ``keys[]`` entry."""
        if not isinstance(item, dict):
            raise ConfigError(f"malformed signingkeys.json: keys[{index}] is not an object")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"malformed signingkeys.json: keys[{index}] has no name")
        known = {"name", "keyPath", "certPath", "id", "pluginName", "pluginConfig", "passphraseFile", "pkcs11"}
        extra = {k: v for k, v in item.items() if k not in known}
        if "pluginName" in item:
            plugin, key_id, cfg = item.get("pluginName"), item.get("id"), item.get("pluginConfig") or {}
            if not isinstance(plugin, str) or not plugin or not isinstance(key_id, str) or not key_id:
                raise ConfigError(f'malformed signingkeys.json: plugin key "{name}" needs "id" and "pluginName"')
            if not isinstance(cfg, dict) or not all(isinstance(v, str) for v in cfg.values()):
                raise ConfigError(f'malformed signingkeys.json: "pluginConfig" of key "{name}" must map strings')
            return cls(name=name, id=key_id, plugin_name=plugin, plugin_config=cfg, extra=extra)
        if "pkcs11" in item:
            if "keyPath" in item or "certPath" in item:
                raise ConfigError(
                    f'malformed signingkeys.json: key "{name}" has both "pkcs11" and "keyPath"/"certPath"; '
                    'put the chain file in "pkcs11": {"certPath": ...}'
                )
            return cls(name=name, pkcs11=Pkcs11KeyConfig.from_dict(item["pkcs11"], name), extra=extra)
        key_path, cert_path = item.get("keyPath"), item.get("certPath")
        if not isinstance(key_path, str) or not key_path or not isinstance(cert_path, str) or not cert_path:
            raise ConfigError(f'malformed signingkeys.json: key "{name}" needs "keyPath" and "certPath"')
        passphrase_file = item.get("passphraseFile")
        if passphrase_file is not None and (not isinstance(passphrase_file, str) or not passphrase_file):
            raise ConfigError(
                f'malformed signingkeys.json: "passphraseFile" of key "{name}" must be a non-empty string'
            )
        return cls(name=name, key_path=key_path, cert_path=cert_path, passphrase_file=passphrase_file, extra=extra)


@dataclass(frozen=True)
class SigningKeys:
    """The parsed ``signingkeys.json``."""

    keys: tuple[KeySuite, ...] = ()
    default: str | None = None
    #: Top-level members this class does not interpret, written back unchanged.
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_bytes(cls, data: bytes) -> SigningKeys:
        """Parse and validate (unique names, existing default).

        Raises:
            ConfigError: malformed document.
        """
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"malformed signingkeys.json: {exc}") from None
        if not isinstance(doc, dict):
            raise ConfigError("malformed signingkeys.json: expected a JSON object")
        raw_keys = doc.get("keys")
        if raw_keys is None:
            raw_keys = []
        if not isinstance(raw_keys, list):
            raise ConfigError('malformed signingkeys.json: "keys" must be a list')
        keys = tuple(KeySuite.from_dict(item, i) for i, item in enumerate(raw_keys))
        seen: set[str] = set()
        for key in keys:
            if key.name in seen:
                raise ConfigError(f"malformed signingkeys.json: multiple keys with name '{key.name}' found")
            seen.add(key.name)
        default = doc.get("default")
        # An empty default means "no default", as in notation-go's config loader.
        if default not in (None, "") and (not isinstance(default, str) or default not in seen):
            raise ConfigError(f"malformed signingkeys.json: default key '{default}' not found")
        extra = {k: v for k, v in doc.items() if k not in ("default", "keys")}
        return cls(keys=keys, default=default or None, extra=extra)

    @classmethod
    def load(cls, path: Path) -> SigningKeys:
        """Read ``path``; a missing file is an empty key list."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return cls()
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        return cls.from_bytes(data)

    def to_bytes(self) -> bytes:
        """Serialise as notation does (indented JSON)."""
        doc: dict[str, Any] = {}
        if self.default:
            doc["default"] = self.default
        doc["keys"] = [k.to_dict() for k in self.keys]
        doc.update(self.extra)
        return (json.dumps(doc, indent=4) + "\n").encode()

    def save(self, path: Path) -> None:
        """Write atomically (0600: the file points at private keys)."""
        atomic_write(path, self.to_bytes(), mode=0o600)

    def get(self, name: str | None) -> KeySuite:
        """The key named ``name``, or the default key when ``name`` is None.

        Raises:
            ConfigError: no such key, or no default configured.
        """
        if name is None:
            if self.default is None:
                raise ConfigError("default signing key not set. Please set default signing key or specify a key name")
            name = self.default
        for key in self.keys:
            if key.name == name:
                return key
        raise ConfigError(f'signing key "{name}" not found')

    def add(self, key: KeySuite, make_default: bool = False) -> SigningKeys:
        """A copy with ``key`` added (names must be unique)."""
        if any(k.name == key.name for k in self.keys):
            raise ConfigError(f'signing key "{key.name}" already exists')
        default = key.name if make_default else self.default
        return SigningKeys(keys=(*self.keys, key), default=default, extra=self.extra)

    def remove(self, name: str) -> SigningKeys:
        """A copy without ``name``; removing the default clears it."""
        if not any(k.name == name for k in self.keys):
            raise ConfigError(f'signing key "{name}" not found')
        keys = tuple(k for k in self.keys if k.name != name)
        return SigningKeys(keys=keys, default=None if self.default == name else self.default, extra=self.extra)

    def with_default(self, name: str) -> SigningKeys:
        """A copy whose default is ``name``."""
        self.get(name)
        return SigningKeys(keys=self.keys, default=name, extra=self.extra)


@dataclass(frozen=True)
class TransparencyLogSettings:
    """``config.json`` ``transparencyLog`` (notation-py's): where ``sign`` records signatures by default.

    Attributes:
        url: The log's base URL (``POST {url}/v1/entries``).
        token_file: File holding the bearer token for submissions (relative paths: to the config directory).
        optional: Keep the signature and only warn when the log cannot record it.
    """

    url: str
    token_file: str | None = None
    optional: bool = False

    @classmethod
    def from_dict(cls, value: object, path: Path) -> TransparencyLogSettings:
        """Parse the member; raises :class:`ConfigError` naming the file and the field."""
        where = f'malformed config file {path}: "transparencyLog"'
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be an object")
        unknown = sorted(set(value) - {"url", "tokenFile", "optional"})
        if unknown:
            raise ConfigError(f"{where} has unknown member(s) {', '.join(unknown)}")
        url = value.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ConfigError(f'{where}: "url" must be an http(s) URL')
        token_file = value.get("tokenFile")
        if token_file is not None and (not isinstance(token_file, str) or not token_file):
            raise ConfigError(f'{where}: "tokenFile" must be a non-empty string')
        optional = value.get("optional", False)
        if not isinstance(optional, bool):
            raise ConfigError(f'{where}: "optional" must be a boolean')
        return cls(url=url, token_file=token_file, optional=optional)


#: The members :class:`NotationConfig` interprets.
_CONFIG_MEMBERS = ("insecureRegistries", "signatureFormat", "transparencyLog", "timeout")


@dataclass(frozen=True)
class NotationConfig:
    """``config.json``: insecure registries, default signature format, transparency log, deadline; other members kept.

    Attributes:
        timeout: notation-py's ``timeout`` member: the overall deadline in seconds of the commands that
            use the network (``verify``, ``sign``, ...), unless ``--timeout`` is given; None when absent.
    """

    insecure_registries: tuple[str, ...] = ()
    signature_format: str | None = None
    transparency_log: TransparencyLogSettings | None = None
    timeout: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> NotationConfig:
        """Read ``path``; a missing file is the default configuration."""
        doc = _load_json_object(path, "config file")
        if doc is None:
            return cls()
        insecure = doc.get("insecureRegistries") or []
        fmt = doc.get("signatureFormat")
        if not isinstance(insecure, list) or not all(isinstance(x, str) for x in insecure):
            raise ConfigError(f'malformed config file {path}: "insecureRegistries" must be a list of strings')
        if fmt is not None and fmt not in ("jws", "cose"):
            raise ConfigError(f'malformed config file {path}: "signatureFormat" must be "jws" or "cose"')
        tlog_value = doc.get("transparencyLog")
        tlog = TransparencyLogSettings.from_dict(tlog_value, path) if tlog_value is not None else None
        raw_timeout = doc.get("timeout")
        timeout = valid_timeout(raw_timeout) if raw_timeout is not None else None
        if raw_timeout is not None and timeout is None:
            raise ConfigError(
                f'malformed config file {path}: "timeout" must be a positive number of seconds, '
                f"got {json.dumps(raw_timeout)[:40]}"
            )
        extra = {k: v for k, v in doc.items() if k not in _CONFIG_MEMBERS}
        return cls(
            insecure_registries=tuple(insecure),
            signature_format=fmt,
            transparency_log=tlog,
            timeout=timeout,
            extra=extra,
        )
