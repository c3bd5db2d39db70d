"""RFC 7512 ``pkcs11:`` URIs: which module, token and object hold a signing key, and where its PIN is.

Only parsing lives here (no PKCS#11 library is loaded), so configuration files can be checked
without one. Example::

    pkcs11:token=signing;object=release;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/pin

Path attributes select the token (``token``, ``manufacturer``, ``serial``, ``model``, ``slot-id``,
``slot-description``, ``slot-manufacturer``, ``library-manufacturer``, ``library-description``,
``library-version``) and the object (``object`` = label, ``id`` = CKA_ID bytes, ``type``). Query
attributes name the module (``module-path``, ``module-name``) and the PIN (``pin-source``, a
``file:`` URI or a path; ``pin-value``, the PIN itself, accepted only from configuration files).
Values are percent-decoded. Vendor attributes (``x-…``) are ignored, as RFC 7512 allows; any other
unknown or repeated attribute is an error, so a typo never selects a different key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from urllib.parse import unquote, unquote_to_bytes, urlparse

from notation_py.errors import NotationError, UsageError

_PATH_ATTRS = {
    "token": "token",
    "manufacturer": "manufacturer",
    "serial": "serial",
    "model": "model",
    "library-manufacturer": "library_manufacturer",
    "library-description": "library_description",
    "library-version": "library_version",
    "object": "object_label",
    "id": "object_id",
    "type": "object_type",
    "slot-description": "slot_description",
    "slot-manufacturer": "slot_manufacturer",
    "slot-id": "slot_id",
}
_QUERY_ATTRS = {
    "module-path": "module_path",
    "module-name": "module_name",
    "pin-source": "pin_source",
    "pin-value": "pin_value",
}
_TYPES = ("private", "public", "cert", "secret-key", "data")
_PIN_VALUE = re.compile(r"(?i)([?&]pin-value=)[^&]*")


@dataclass(frozen=True)
class Pkcs11Uri:
    """A parsed ``pkcs11:`` URI (RFC 7512). Attributes that are absent are ``None`` and match anything.

    ``object``, ``id`` and ``type`` are :attr:`object_label`, :attr:`object_id` and :attr:`object_type`.
    """

    raw: str
    token: str | None = None
    manufacturer: str | None = None
    serial: str | None = None
    model: str | None = None
    library_manufacturer: str | None = None
    library_description: str | None = None
    library_version: str | None = None
    object_label: str | None = None
    object_id: bytes | None = None
    object_type: str | None = None
    slot_description: str | None = None
    slot_manufacturer: str | None = None
    slot_id: int | None = None
    module_path: str | None = None
    module_name: str | None = None
    pin_source: str | None = None
    pin_value: str | None = None

    @classmethod
    def parse(cls, text: str, error: type[NotationError] = UsageError) -> Pkcs11Uri:
        """Parse ``text``.

        Raises:
            error: not a ``pkcs11:`` URI, an unknown or repeated attribute, or a bad value.
        """
        shown = redact_pin_value(text)
        if not text.lower().startswith("pkcs11:"):
            raise error(f'"{shown}" is not a PKCS#11 URI: it must start with "pkcs11:"')
        path, _, query = text[len("pkcs11:") :].partition("?")
        values: dict[str, object] = {}
        for part, known, sep in ((path, _PATH_ATTRS, ";"), (query, _QUERY_ATTRS, "&")):
            for item in part.split(sep) if part else []:
                name, eq, value = item.partition("=")
                name = name.strip().lower()
                if not eq or not name:
                    raise error(f'invalid PKCS#11 URI "{shown}": "{item}" is not name=value')
                if name.startswith("x-"):
                    continue
                if name not in known:
                    where = "path" if sep == ";" else "query"
                    raise error(f'invalid PKCS#11 URI "{shown}": unknown {where} attribute "{name}"')
                field = known[name]
                if field in values:
                    raise error(f'invalid PKCS#11 URI "{shown}": attribute "{name}" appears more than once')
                values[field] = _decode(field, value, shown, error)
        return cls(raw=text, **values)  # type: ignore[arg-type]

    @property
    def redacted(self) -> str:
        """The URI with any ``pin-value`` hidden, safe to print and log."""
        return redact_pin_value(self.raw)

    @property
    def selects_object(self) -> bool:
        """True when the URI names an object (``object=`` or ``id=``)."""
        return self.object_label is not None or self.object_id is not None

    def describe_object(self) -> str:
        """``object=release, id=01`` style description of the object attributes, for messages."""
        parts = []
        if self.object_label is not None:
            parts.append(f"object={self.object_label}")
        if self.object_id is not None:
            parts.append(f"id={self.object_id.hex()}")
        return ", ".join(parts) or "any object"

    def describe_token(self) -> str:
        """``token=signing, serial=…`` style description of the token attributes, for messages."""
        names = ("token", "manufacturer", "serial", "model", "slot_id", "slot_description", "slot_manufacturer")
        parts = [
            f"{f.name.replace('_', '-')}={getattr(self, f.name)}"
            for f in fields(self)
            if f.name in names and getattr(self, f.name) is not None
        ]
        return ", ".join(parts) or "any token"


def redact_pin_value(text: str) -> str:
    """``text`` with the value of a ``pin-value`` query attribute replaced by ``***``."""
    return _PIN_VALUE.sub(r"\1***", text)


def pin_source_path(source: str, error: type[NotationError] = UsageError) -> str:
    """The file a ``pin-source`` names: ``file:/path``, ``file:///path`` or a plain path.

    Raises:
        error: a ``pin-source`` scheme other than ``file``.
    """
    if ":" in source and not source.startswith("/"):
        parsed = urlparse(source)
        if parsed.scheme.lower() != "file":
            raise error(f'unsupported pin-source "{source}": use file:/path/to/pin-file')
        if parsed.netloc not in ("", "localhost"):
            raise error(f'unsupported pin-source "{source}": only local files can hold the PIN')
        return unquote(parsed.path)
    return source


def _decode(field: str, value: str, shown: str, error: type[NotationError]) -> object:
    try:
        if field == "object_id":
            return unquote_to_bytes(value)
        text = unquote(value, errors="strict")
    except UnicodeDecodeError:
        raise error(f'invalid PKCS#11 URI "{shown}": the value of "{field}" is not UTF-8') from None
    if field == "slot_id":
        if not text.isdigit():
            raise error(f'invalid PKCS#11 URI "{shown}": slot-id must be a decimal number')
        return int(text)
    if field == "object_type" and text not in _TYPES:
        raise error(f'invalid PKCS#11 URI "{shown}": type must be one of {", ".join(_TYPES)}')
    return text


def command_line_uri(text: str, flag: str) -> Pkcs11Uri:
    """Parse a URI given on the command line, where a PIN must never appear.

    Raises:
        UsageError: malformed, or it has a ``pin-value``.
    """
    uri = Pkcs11Uri.parse(text, UsageError)
    if uri.pin_value is not None:
        raise UsageError(
            f"{flag}: do not put the PIN on the command line (pin-value); use pin-source=file:..., "
            "--pin-file or NOTATION_PKCS11_PIN"
        )
    return uri
