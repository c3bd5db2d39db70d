"""JSON as the Notary Project formats need it: strict decoding and Go-compatible encoding.

Decoding refuses what Go's ``encoding/json`` would silently resolve (duplicate keys keep the last
value in Go) so that two parsers can never disagree about a signed document, and refuses the
non-standard ``NaN``/``Infinity`` Python accepts. Encoding reproduces ``json.Marshal`` output.
"""

from __future__ import annotations

import json
from typing import Any


class JSONFormatError(ValueError):
    """Input is not strict JSON; ``message`` says why, ``not_utf8`` tells encoding errors apart."""

    def __init__(self, message: str, *, not_utf8: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.not_utf8 = not_utf8


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JSONFormatError(f"duplicate key {json.dumps(key)}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise JSONFormatError(f"{name} is not allowed")


def strict_loads(data: bytes | str) -> Any:
    """Decode one JSON document: UTF-8, no duplicate keys, no NaN/Infinity, nothing after it.

    Raises:
        JSONFormatError: with a message naming the problem and its position.
    """
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JSONFormatError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", not_utf8=True) from None
    else:
        text = data
    try:
        return json.loads(text, object_pairs_hook=_unique, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise JSONFormatError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise JSONFormatError("nested too deeply") from None


# Go's encoder escapes these even inside strings; they can only occur inside strings, so a plain
# replacement on the serialised text is exact.
_GO_ESCAPES = (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def go_json(obj: object, *, sort_keys: bool = False) -> bytes:
    """Serialise like Go's ``json.Marshal``: compact, UTF-8, HTML-safe escapes.

    Go sorts map keys and keeps struct field order: pass ``sort_keys=True`` for maps, or build
    dictionaries in struct order.

    Raises:
        UnicodeEncodeError: a string holds a lone surrogate.
    """
    text = json.dumps(obj, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    for char, escaped in _GO_ESCAPES:
        text = text.replace(char, escaped)
    return text.encode("utf-8")
