"""Trusted identities of a trust policy statement, and X.509 subject matching.

A statement's ``trustedIdentities`` is either ``["*"]`` (any identity the trust store vouches for) or
a list of ``<prefix>:<value>`` items. notation natively understands one prefix, ``x509.subject``,
whose value is an RFC 4514 distinguished name; other prefixes are kept for verification plugins.
Matching is a subset match against the *leaf* certificate's subject: every attribute of the policy
DN must be present with the same value in the subject.

Behaviour follows notation-go (``internal/pkix``, ``verifier.verifyX509TrustedIdentities``):

* A DN must contain ``C``, ``ST`` (``S`` is accepted as an alias) and ``O``; multi-valued RDNs,
  duplicate attribute types and the sequence ``=#`` (hex-encoded BER values) are rejected.
* The leaf subject is compared the way Go does it: rendered with ``pkix.Name.String()``
  (:func:`notation_py.x509.names.format_name`) and parsed with the same DN rules. So a subject Go
  cannot parse (no ``ST``, two ``OU`` values, an attribute type Go has no name for) matches no
  ``x509.subject`` identity, with Go's error.
* Error messages are notation-go's, so logs and scripts written against notation keep working.

Deliberate difference: attribute types are matched case-insensitively (RFC 4514 §3) and normalised
to upper case; Go compares them as written, so ``o=Org`` fails there and works here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from cryptography import x509

from notation_py.errors import TrustPolicyError, VerificationError
from notation_py.x509.names import format_name, go_quote

__all__ = [
    "WILDCARD",
    "X509_SUBJECT",
    "IdentityMismatchError",
    "TrustedIdentities",
    "format_distinguished_name",
    "format_go_dn_maps",
    "identity_mismatch_message",
    "is_subset_dn",
    "leaf_subject_dn",
    "match_trusted_identity",
    "parse_distinguished_name",
    "verify_trusted_identity",
]

WILDCARD = "*"
X509_SUBJECT = "x509.subject"

_MANDATORY = ("C", "ST", "O")
_ALIASES = {"S": "ST"}
# RFC 4514 attributeType: a descriptor (keystring) or a numeric OID.
_ATTRIBUTE_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*")
# Characters a backslash may escape literally (go-ldap accepts exactly these; '=' added for RFC 4514).
_ESCAPABLE = frozenset(' "#+,;<=>\\')


class IdentityMismatchError(VerificationError):
    """The signing certificate's subject matches none of the statement's X.509 trusted identities.

    Also raised when the subject cannot be compared at all (Go cannot parse it as a policy DN).
    Verifiers report it as an *authenticity* failure, like notation.
    """


# ------------------------------------------------------------------------------------------------
# Distinguished names
# ------------------------------------------------------------------------------------------------


class _DnSyntaxError(ValueError):
    """Low-level RFC 4514 syntax error; the text mirrors go-ldap's where go-ldap has one."""


def _split_rdns(text: str) -> list[list[tuple[str, str]]]:
    """Split an RFC 4514 string into RDNs of (type, value) pairs, unescaping values.

    Whitespace handling follows go-ldap ``ParseDN``: unescaped spaces before a type or value and
    after a value are dropped; an escaped space is kept.
    """
    rdns: list[list[tuple[str, str]]] = []
    rdn: list[tuple[str, str]] = []
    attr_type: str | None = None
    buf = bytearray()
    trailing_spaces = 0  # unescaped spaces at the end of buf
    i = 0

    def take() -> str:
        nonlocal trailing_spaces
        raw = bytes(buf[: len(buf) - trailing_spaces])
        buf.clear()
        trailing_spaces = 0
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _DnSyntaxError("invalid UTF-8 in escaped characters") from None

    def finish_type() -> str:
        value = take()
        if not value:
            raise _DnSyntaxError("incomplete type, value pair")
        if not _ATTRIBUTE_TYPE.fullmatch(value):
            raise _DnSyntaxError(f"invalid attribute type {value!r}")
        return value

    while i < len(text):
        ch = text[i]
        if ch == "\\":
            trailing_spaces = 0
            if i + 1 >= len(text):
                raise _DnSyntaxError("got corrupted escaped character")
            nxt = text[i + 1]
            if nxt in _ESCAPABLE:
                buf += nxt.encode()
                i += 2
                continue
            pair = text[i + 1 : i + 3]
            if len(pair) < 2 or not all(c in "0123456789abcdefABCDEF" for c in pair):
                raise _DnSyntaxError(f"failed to decode escaped character {chr(92) + pair!r}")
            buf.append(int(pair, 16))
            i += 3
            continue
        if ch == "=" and attr_type is None:
            attr_type = finish_type()
        elif ch in ",;+":
            if attr_type is None:
                raise _DnSyntaxError("incomplete type, value pair")
            rdn.append((attr_type, take()))
            attr_type = None
            if ch != "+":
                rdns.append(rdn)
                rdn = []
        elif ch == " " and not buf:
            pass  # leading space of a type or value
        else:
            trailing_spaces = trailing_spaces + 1 if ch == " " else 0
            buf += ch.encode("utf-8", "surrogatepass")
        i += 1

    if attr_type is not None:
        rdn.append((attr_type, take()))
        rdns.append(rdn)
    elif buf or rdn:  # a type without '=', or a '+' at the very end
        raise _DnSyntaxError("DN ended with incomplete type, value pair")
    return rdns


def _normalise_type(attr_type: str) -> str:
    upper = attr_type.upper()
    return _ALIASES.get(upper, upper)


def parse_distinguished_name(name: str) -> dict[str, str]:
    """Parse an ``x509.subject`` DN into ``{attribute type: value}`` under the Notary Project rules.

    Types are upper-cased and ``S`` becomes ``ST``. Values are unescaped (``\\,``, ``\\2C``, ...).

    Args:
        name: The DN, e.g. ``C=US, ST=WA, O=wabbit-networks.io, CN=SecureBuilder``.

    Returns:
        The attributes in DN order.

    Raises:
        TrustPolicyError: With notation-go's message when the DN contains ``=#``, is not valid RFC
            4514, has a multi-valued RDN or a duplicate type, or lacks ``C``, ``ST`` or ``O``.
    """
    quoted = go_quote(name)
    if "=#" in name:
        # Go refuses hex-encoded values outright (they made its BER decoder allocate unboundedly).
        raise TrustPolicyError(
            f"unsupported distinguished name (DN) {quoted}: notation does not support x509.subject "
            'identities containing "=#"'
        )
    try:
        rdns = _split_rdns(name)
    except _DnSyntaxError as exc:
        raise TrustPolicyError(
            f"parsing distinguished name (DN) {quoted} failed with err: {exc}. A valid DN must contain "
            "'C', 'ST' or 'S', and 'O' RDN attributes at a minimum, and follow RFC 4514 standard"
        ) from None
    attributes: dict[str, str] = {}
    for rdn in rdns:
        if len(rdn) > 1:
            raise TrustPolicyError(
                f"distinguished name (DN) {quoted} has multi-valued RDN attributes, remove multi-valued "
                "RDN attributes as they are not supported"
            )
        for attr_type, value in rdn:
            key = _normalise_type(attr_type)
            if key in attributes:
                raise TrustPolicyError(
                    f"distinguished name (DN) {quoted} has duplicate RDN attribute for {go_quote(key)}, "
                    "DN can only have unique RDN attributes"
                )
            attributes[key] = value
    for field in _MANDATORY:
        if not attributes.get(field):
            raise TrustPolicyError(
                f"distinguished name (DN) {quoted} has no mandatory RDN attribute for {go_quote(field)}, "
                "it must contain 'C', 'ST' or 'S', and 'O' RDN attributes at a minimum"
            )
    return attributes


def _escape_dn_value(value: str) -> str:
    out: list[str] = []
    last = len(value) - 1
    for index, ch in enumerate(value):
        if ch in ',+"\\<>;=#' or (ch == " " and index in (0, last)):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\{ord(ch):02X}")
        else:
            out.append(ch)
    return "".join(out)


def format_distinguished_name(attributes: Mapping[str, str]) -> str:
    """Render ``{type: value}`` as an RFC 4514 string that :func:`parse_distinguished_name` reads back.

    Attributes keep their mapping order. ``=`` and ``#`` are escaped wherever they occur, so the
    result never contains the ``=#`` sequence notation rejects.
    """
    return ",".join(f"{attr_type}={_escape_dn_value(value)}" for attr_type, value in attributes.items())


def is_subset_dn(subset: Mapping[str, str], superset: Mapping[str, str]) -> bool:
    """True if every attribute of ``subset`` is in ``superset`` with the same value."""
    return all(superset.get(key) == value for key, value in subset.items())


def format_go_dn_maps(dns: Iterable[Mapping[str, str]]) -> str:
    """Render DN maps as Go's ``%q`` renders a ``[]map[string]string``.

    Example: ``[map["C":"US" "O":"Notary" "ST":"WA"]]`` (keys sorted, as Go's fmt sorts map keys).
    """
    maps = ["map[" + " ".join(f"{go_quote(k)}:{go_quote(dn[k])}" for k in sorted(dn)) + "]" for dn in dns]
    return "[" + " ".join(maps) + "]"


# ------------------------------------------------------------------------------------------------
# Trusted identities
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustedIdentities:
    """The parsed ``trustedIdentities`` of one statement.

    Attributes:
        raw: The identities as written.
        statement_name: Name of the owning statement (used in error messages).
        wildcard: ``"*"`` is present: any identity is trusted.
        x509_subjects: Parsed ``x509.subject`` DNs, in policy order.
        others: Identities with another prefix (for verification plugins), as written.
    """

    raw: tuple[str, ...]
    statement_name: str
    wildcard: bool
    x509_subjects: tuple[Mapping[str, str], ...]
    others: tuple[str, ...]

    @classmethod
    def parse(cls, identities: Sequence[str], statement_name: str = "", *, strict: bool = False) -> TrustedIdentities:
        """Parse ``identities`` of the statement ``statement_name``.

        The default (lenient) mode applies the checks notation-go makes at *verification* time, with
        its messages: a ``*`` anywhere means "trust all" and nothing else is looked at; otherwise
        every item needs a ``:`` separator, and every ``x509.subject`` item a valid DN.
        ``strict=True`` applies the *policy document* rules instead (``policy import``): no empty
        item, ``*`` only alone, no overlapping DNs; DN errors are prefixed with the identity.

        Raises:
            TrustPolicyError: A rule is violated; the message is notation-go's.
        """
        raw = tuple(identities)
        quoted_name = go_quote(statement_name)
        if strict and len(raw) > 1 and WILDCARD in raw:
            raise TrustPolicyError(
                f"trust policy statement {quoted_name} uses a wildcard trusted identity '*', a wildcard "
                "identity cannot be used in conjunction with other values"
            )
        if not strict and WILDCARD in raw:
            return cls(raw, statement_name, True, (), ())

        subjects: list[tuple[str, dict[str, str]]] = []
        others: list[str] = []
        for identity in raw:
            if strict and identity == "":
                raise TrustPolicyError(f"trust policy statement {quoted_name} has an empty trusted identity")
            if identity == WILDCARD:
                continue
            prefix, sep, value = identity.partition(":")
            if not sep:
                raise TrustPolicyError(
                    f"trust policy statement {quoted_name} has trusted identity {go_quote(identity)} missing separator"
                )
            if prefix != X509_SUBJECT:
                others.append(identity)
                continue
            if value == "":
                raise TrustPolicyError(
                    f"trust policy statement {quoted_name} has trusted identity {go_quote(identity)} "
                    "without an identity value"
                )
            try:
                subjects.append((identity, parse_distinguished_name(value)))
            except TrustPolicyError as exc:
                if not strict:
                    raise
                raise TrustPolicyError(
                    f"trust policy statement {quoted_name} has trusted identity {go_quote(identity)} "
                    f"with invalid identity value: {exc.message}"
                ) from None

        if strict:
            for i, (raw1, dn1) in enumerate(subjects):
                for j, (raw2, dn2) in enumerate(subjects):
                    if i != j and is_subset_dn(dn1, dn2):
                        raise TrustPolicyError(
                            f"trust policy statement {quoted_name} has overlapping x509 trustedIdentities, "
                            f"{go_quote(raw1)} overlaps with {go_quote(raw2)}"
                        )
        return cls(
            raw,
            statement_name,
            WILDCARD in raw,
            tuple(MappingProxyType(dn) for _, dn in subjects),
            tuple(others),
        )


def identity_mismatch_message(identities: TrustedIdentities) -> str:
    """notation-go's message when the leaf subject matches none of the ``x509.subject`` identities."""
    return (
        "signing certificate from the digital signature does not match the X.509 trusted identities "
        f"{format_go_dn_maps(identities.x509_subjects)} defined in the trust policy "
        f"{go_quote(identities.statement_name)}"
    )


def leaf_subject_dn(leaf: x509.Certificate) -> dict[str, str]:
    """The leaf certificate's subject as a DN map, exactly as notation-go derives it.

    Raises:
        IdentityMismatchError: Go cannot parse the subject as a policy DN (no ``C``/``ST``/``O``,
            repeated attribute type, attribute type without a Go name); Go's message.
    """
    try:
        return parse_distinguished_name(format_name(leaf.subject))
    except TrustPolicyError as exc:
        raise IdentityMismatchError(
            f"error while parsing the certificate subject from the digital signature. error : {go_quote(exc.message)}"
        ) from None


def _as_identities(identities: TrustedIdentities | Sequence[str]) -> TrustedIdentities:
    if isinstance(identities, TrustedIdentities):
        return identities
    return TrustedIdentities.parse(identities)


def verify_trusted_identity(identities: TrustedIdentities | Sequence[str], leaf: x509.Certificate) -> None:
    """Check the leaf certificate against the trusted identities, like notation-go.

    A wildcard trusts everything. Otherwise at least one ``x509.subject`` identity is required, and
    one of them must be a subset of the leaf subject. Identities with other prefixes are ignored
    here (they are a verification plugin's business).

    Args:
        identities: Parsed identities (or raw strings, parsed leniently).
        leaf: The signing (leaf) certificate.

    Raises:
        TrustPolicyError: Raw identities are malformed, or there is no ``x509.subject`` identity
            (``no x509 trusted identities are configured in the trust policy "<name>"``).
        IdentityMismatchError: No identity matches, or the subject cannot be parsed.
    """
    parsed = _as_identities(identities)
    if parsed.wildcard:
        return
    if not parsed.x509_subjects:
        raise TrustPolicyError(
            f"no x509 trusted identities are configured in the trust policy {go_quote(parsed.statement_name)}"
        )
    subject = leaf_subject_dn(leaf)
    if any(is_subset_dn(dn, subject) for dn in parsed.x509_subjects):
        return
    raise IdentityMismatchError(identity_mismatch_message(parsed))


def match_trusted_identity(identities: TrustedIdentities | Sequence[str], leaf: x509.Certificate) -> bool:
    """True if the leaf certificate satisfies the trusted identities (see :func:`verify_trusted_identity`).

    Raises:
        TrustPolicyError: Raw identities are malformed.
    """
    parsed = _as_identities(identities)
    try:
        verify_trusted_identity(parsed, leaf)
    except (IdentityMismatchError, TrustPolicyError):  # the latter: no x509.subject identity at all
        return False
    return True
