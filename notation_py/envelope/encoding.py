"""Strict base64 and RFC 3339 helpers shared by the envelope formats.

Decoding is strict on purpose: base64url without padding for JWS members (RFC 7515 §2; notation-go
rejects ``=``), standard base64 for ``x5c`` (RFC 7515 §4.1.6) and the timestamp token. Error texts
follow Go's ``illegal base64 data at input byte N`` so users see what notation would print.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime

from notation_py.errors import EnvelopeError

_URL_ILLEGAL = re.compile(rb"[^A-Za-z0-9_-]")
_STD_ILLEGAL = re.compile(rb"[^A-Za-z0-9+/]")


def _first_illegal(data: bytes, illegal: re.Pattern[bytes]) -> int | None:
    found = illegal.search(data)
    return found.start() if found else None


def b64url_encode(data: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url without padding; raise :class:`EnvelopeError` on any non-alphabet byte."""
    raw = text.encode("utf-8")
    bad = _first_illegal(raw, _URL_ILLEGAL)
    if bad is None and len(raw) % 4 == 1:
        bad = len(raw) - 1  # a lone trailing sextet cannot encode a byte
    if bad is not None:
        raise EnvelopeError(f"illegal base64 data at input byte {bad}")
    return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))


def b64std_decode(text: str) -> bytes:
    """Decode padded standard base64; raise :class:`EnvelopeError` on malformed input."""
    raw = text.encode("utf-8")
    body = raw.rstrip(b"=")
    bad = _first_illegal(body, _STD_ILLEGAL)
    if bad is not None:
        raise EnvelopeError(f"illegal base64 data at input byte {bad}")
    try:
        return base64.b64decode(raw, validate=True)
    except binascii.Error:
        raise EnvelopeError(f"illegal base64 data at input byte {len(body)}") from None


def b64std_encode(data: bytes) -> str:
    """Padded standard base64."""
    return base64.b64encode(data).decode("ascii")


# RFC 3339 date-time (section 5.6): a time zone is mandatory, fractional seconds optional.
_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


def parse_rfc3339(value: object, name: str) -> datetime:
    """Parse an RFC 3339 timestamp string (timezone required) into an aware datetime."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise EnvelopeError(f'"{name}" must be an RFC 3339 date-time string, got {value!r}')
    text = value.upper()
    frac = ""
    m = _RFC3339.match(text)
    assert m is not None  # matched above
    if m.group(7):
        frac = (m.group(7) + "000000")[:7]  # Python keeps microseconds only
    base = f"{m.group(1)}-{m.group(2)}-{m.group(3)}T{m.group(4)}:{m.group(5)}:{m.group(6)}{frac}"
    tz = "+00:00" if m.group(8) == "Z" else m.group(8)
    try:
        return datetime.fromisoformat(base + tz)
    except ValueError:
        raise EnvelopeError(f'"{name}" is not a valid date-time: {value!r}') from None


def format_rfc3339(value: datetime) -> str:
    """Format as RFC 3339 in UTC with whole seconds, e.g. ``2022-04-06T07:01:20Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_rfc1123z(value: datetime) -> str:
    """Go's ``time.RFC1123Z`` in UTC, e.g. ``Fri, 29 Jul 2022 23:59:00 +0000`` (used in messages)."""
    return value.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
