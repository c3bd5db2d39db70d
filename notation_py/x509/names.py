"""Go-compatible rendering of distinguished names and quoted strings.

notation-go and notation-core-go print certificate subjects with Go's ``pkix.Name.String()`` inside
``%q``. Users and scripts match on these messages, so both are reproduced here exactly:

* :func:`format_name` is ``pkix.Name.String()``: the name is first regrouped the way Go parses it
  into ``pkix.Name`` (C, ST, L, STREET, POSTALCODE, O, OU as lists, CN and SERIALNUMBER keeping the
  last value, any other attribute kept as-is), then rendered per RFC 4514 in reverse order; several
  values of one attribute type become one multi-valued RDN joined with ``+``.
* :func:`go_quote` is ``strconv.Quote`` (what ``%q`` does with a string).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from cryptography import x509

__all__ = ["format_name", "go_quote"]

_OID_CN = "2.5.4.3"
_OID_SERIALNUMBER = "2.5.4.5"

# Go's attributeTypeNames: the only attribute types rendered by short name.
_SHORT_NAMES = {
    "2.5.4.6": "C",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    _OID_CN: "CN",
    _OID_SERIALNUMBER: "SERIALNUMBER",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.9": "STREET",
    "2.5.4.17": "POSTALCODE",
}
# Multi-valued pkix.Name fields in ToRDNSequence order.
_LIST_FIELDS = ("2.5.4.6", "2.5.4.8", "2.5.4.7", "2.5.4.9", "2.5.4.17", "2.5.4.10", "2.5.4.11")

_Atv = tuple[str, "str | bytes"]


def format_name(name: x509.Name) -> str:
    """Render ``name`` as Go's ``pkix.Name.String()`` does for a parsed certificate name.

    Example: ``CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US``.

    Args:
        name: A subject or issuer name.

    Returns:
        The RFC 4514 string, most specific attribute first.
    """
    atvs = tuple((a.oid.dotted_string, a.value) for rdn in name.rdns for a in rdn)
    key = _cache_key(atvs)
    return _format_atvs(atvs) if key is None else _format_cached(key)


# Longer names are formatted every time, so the cache holds at most ~4 MiB of name text.
_MAX_CACHED_NAME = 4096

_Key = tuple[tuple[str, bool, "str | bytes"], ...]


def _cache_key(atvs: tuple[_Atv, ...]) -> _Key | None:
    """The memo key for ``atvs``: each value's type comes before the value, so a str value is never
    compared with a bytes one; None (do not cache) for long names and str/bytes subclasses."""
    key = []
    size = 0
    for oid, value in atvs:
        kind = type(value)
        if kind is not str and kind is not bytes:
            return None
        size += len(value)
        key.append((oid, kind is str, value))
    return tuple(key) if size <= _MAX_CACHED_NAME else None


@functools.lru_cache(maxsize=1024)
def _format_cached(key: _Key) -> str:
    # Safe to memoise: the rendering reads nothing but the (OID, value) sequence, which the key
    # holds exactly and in order (format_name ignores how attributes are grouped into RDNs).
    return _format_atvs(tuple((oid, value) for oid, _, value in key))


def _format_atvs(atvs: tuple[_Atv, ...]) -> str:
    """:func:`format_name` of the name whose attributes, in order, are ``atvs``."""
    # pkix.Name.FillFromRDNSequence: standard attributes go to named fields.
    lists: dict[str, list[str]] = {oid: [] for oid in _LIST_FIELDS}
    single: dict[str, str] = {_OID_CN: "", _OID_SERIALNUMBER: ""}
    for oid, value in atvs:
        if not isinstance(value, str):
            continue
        if oid in lists:
            lists[oid].append(value)
        elif oid in single:
            single[oid] = value  # Go keeps the last CN / serialNumber

    # pkix.Name.String: other attributes first (so they print last), then ToRDNSequence.
    rdns: list[list[_Atv]] = [[atv] for atv in atvs if atv[0] not in _SHORT_NAMES]
    for oid in _LIST_FIELDS:
        if lists[oid]:
            rdns.append([(oid, v) for v in lists[oid]])
    for oid in (_OID_CN, _OID_SERIALNUMBER):
        if single[oid]:
            rdns.append([(oid, single[oid])])
    return ",".join(_format_rdn(rdn) for rdn in reversed(rdns))


def _format_rdn(rdn: Sequence[_Atv]) -> str:
    parts = []
    for oid, value in rdn:
        short = _SHORT_NAMES.get(oid)
        if short is None:
            # Unknown types print as OID=#hex of the value re-encoded by Go's asn1.Marshal.
            parts.append(f"{oid}=#{_go_marshal_value(value).hex()}")
        else:
            parts.append(f"{short}={_escape_value(value if isinstance(value, str) else value.hex())}")
    return "+".join(parts)


def _escape_value(value: str) -> str:
    """RFC 4514 escaping exactly as Go's RDNSequence.String (byte offsets decide first/last)."""
    last = len(value.encode("utf-8")) - 1
    out = []
    offset = 0
    for ch in value:
        if ch in ',+"\\<>;' or (ch == " " and offset in (0, last)) or (ch == "#" and offset == 0):
            out.append("\\")
        out.append(ch)
        offset += len(ch.encode("utf-8", "surrogatepass"))
    return "".join(out)


def _is_go_printable_byte(b: int) -> bool:
    """encoding/asn1 isPrintable with asterisk and ampersand rejected (as asn1.Marshal uses it)."""
    return (
        0x61 <= b <= 0x7A  # a-z
        or 0x41 <= b <= 0x5A  # A-Z
        or 0x30 <= b <= 0x39  # 0-9
        or 0x27 <= b <= 0x29  # ' ( )
        or 0x2B <= b <= 0x2F  # + , - . /
        or b in (0x20, 0x3A, 0x3D, 0x3F)  # space : = ?
    )


def _go_marshal_value(value: str | bytes) -> bytes:
    """DER of ``asn1.Marshal(value)`` for a Go string: PrintableString if possible, else UTF8String."""
    if isinstance(value, bytes):
        # Go cannot parse non-string attribute values into a certificate name; render the octets.
        tag, content = 0x04, value
    else:
        content = value.encode("utf-8", "surrogatepass")
        printable = all(ord(c) < 0x80 and _is_go_printable_byte(ord(c)) for c in value)
        tag = 0x13 if printable else 0x0C
    return bytes([tag]) + _der_length(len(content)) + content


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def go_quote(text: str) -> str:
    """Quote ``text`` like Go's ``strconv.Quote`` (``%q``).

    Printable characters stay as they are; quotes, backslashes and control characters are escaped
    with Go's escape sequences. Surrogate-escaped bytes (from ``errors="surrogateescape"``) print as
    ``\\xNN`` like Go prints invalid UTF-8.
    """
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch == " " or (ch.isprintable() and not 0xD800 <= code <= 0xDFFF):
            out.append(ch)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)
