"""Extensions and values revocation checking reads itself, decoded with ``asn1crypto``.

``cryptography`` refuses a certificate's whole extension list when one extension is malformed, and
it does not expose the ``singleExtensions`` of every OCSP single response. Revocation checking must
also mirror the exact URL-extraction semantics of Go's ``crypto/x509`` (and notation-core-go's
Freshest CRL parser). So extension lists are decoded here to OID, criticality and encoded value,
and each value is decoded on its own by the caller that needs it: a malformed extension only fails
that caller. asn1crypto's own ``Extension`` decodes ``extnValue`` with the type its OID names as
soon as the extension is read, so the structures holding extensions are declared again below (as
asn1crypto schema subclasses) with the value typed as a plain OCTET STRING.

Every decoding failure is reported as :class:`Asn1Error`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from asn1crypto import core as a_core
from asn1crypto import crl as a_crl
from asn1crypto import keys as a_keys
from asn1crypto import ocsp as a_ocsp
from asn1crypto import x509 as a_x509

OID_AIA = "1.3.6.1.5.5.7.1.1"
OID_AD_OCSP = "1.3.6.1.5.5.7.48.1"
OID_CRL_DISTRIBUTION_POINTS = "2.5.29.31"
OID_FRESHEST_CRL = "2.5.29.46"
OID_INVALIDITY_DATE = "2.5.29.24"

_URI = "uniform_resource_identifier"

#: What asn1crypto raises on malformed input.
_DECODE_ERRORS = (ValueError, TypeError, KeyError, IndexError)  # asn1crypto raises all four


class _Extension(a_core.Sequence):  # type: ignore[misc]
    """``Extension`` with ``extnValue`` left encoded."""

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("extn_id", a_core.ObjectIdentifier),
        ("critical", a_core.Boolean, {"default": False}),
        ("extn_value", a_core.OctetString),
    ]


class _Extensions(a_core.SequenceOf):  # type: ignore[misc]
    _child_spec = _Extension


def _retyped(fields: list[tuple[Any, ...]], name: str, spec: type) -> list[tuple[Any, ...]]:
    """A copy of an asn1crypto ``_fields`` list with field ``name`` declared as ``spec``."""
    assert any(field[0] == name for field in fields)
    return [(name, spec, *field[2:]) if field[0] == name else field for field in fields]


class _TbsCertificate(a_x509.TbsCertificate):  # type: ignore[misc]
    _fields = _retyped(a_x509.TbsCertificate._fields, "extensions", _Extensions)


class _TbsCertList(a_crl.TbsCertList):  # type: ignore[misc]
    _fields = _retyped(a_crl.TbsCertList._fields, "crl_extensions", _Extensions)


class _SingleResponse(a_ocsp.SingleResponse):  # type: ignore[misc]
    _fields = _retyped(a_ocsp.SingleResponse._fields, "single_extensions", _Extensions)


class _Responses(a_ocsp.Responses):  # type: ignore[misc]
    _child_spec = _SingleResponse


class _ResponseData(a_ocsp.ResponseData):  # type: ignore[misc]
    _fields = _retyped(a_ocsp.ResponseData._fields, "responses", _Responses)


class Asn1Error(ValueError):
    """Malformed ASN.1 input."""


def _reason(exc: Exception) -> str:
    """First line of an asn1crypto error (it appends a ``while parsing ...`` line per nesting level)."""
    return str(exc).partition("\n")[0]


@dataclass(frozen=True)
class RawExtension:
    """An X.509 extension with its value left encoded."""

    oid: str
    critical: bool
    value: bytes


def _dotted(oid: Any) -> str:
    """Dotted form of an asn1crypto ``ObjectIdentifier``, which must be in DER form.

    asn1crypto reads a truncated or padded encoding as some other identifier (or ``""``); like
    Go's ``cryptobyte``, such an encoding is an error here.
    """
    dotted: str = oid.dotted
    if not dotted or a_core.ObjectIdentifier(dotted).contents != oid.contents:
        raise Asn1Error("invalid object identifier")
    return dotted


def _extension_list(extensions: Any) -> list[RawExtension]:
    """OID, criticality and encoded value of each element of an ``Extensions`` (:class:`_Extensions`)."""
    result: list[RawExtension] = []
    for extension in extensions:
        flag: Any = extension["critical"]
        critical: bool = flag.native
        if a_core.Boolean(critical).contents != flag.contents:  # DER allows only 0x00 and 0xFF
            raise Asn1Error("invalid extension criticality")
        value: bytes = bytes(extension["extn_value"])
        result.append(RawExtension(_dotted(extension["extn_id"]), critical, value))
    return result


def certificate_extensions(tbs_certificate: bytes) -> list[RawExtension]:
    """Extensions of a certificate, from its ``TBSCertificate`` encoding.

    Raises:
        Asn1Error: The extension list (not a value in it) is malformed.
    """
    try:
        tbs: Any = _TbsCertificate.load(tbs_certificate)
        return _extension_list(tbs["extensions"])
    except _DECODE_ERRORS as exc:
        raise Asn1Error(_reason(exc)) from exc


def crl_extensions(tbs_certlist: bytes) -> list[RawExtension]:
    """``crlExtensions`` of a CRL, from its ``TBSCertList`` encoding.

    Raises:
        Asn1Error: The extension list (not a value in it) is malformed.
    """
    try:
        tbs: Any = _TbsCertList.load(tbs_certlist)
        return _extension_list(tbs["crl_extensions"])
    except _DECODE_ERRORS as exc:
        raise Asn1Error(_reason(exc)) from exc


def ocsp_single_extensions(tbs_response_data: bytes, index: int) -> list[RawExtension]:
    """``singleExtensions`` of the ``index``-th ``SingleResponse`` of an OCSP ``ResponseData``.

    Raises:
        Asn1Error: The response data is malformed or has no such single response.
    """
    try:
        data: Any = _ResponseData.load(tbs_response_data)
        responses: Any = data["responses"]
        if not 0 <= index < len(responses):
            raise Asn1Error("no such OCSP single response")
        return _extension_list(responses[index]["single_extensions"])
    except _DECODE_ERRORS as exc:
        raise Asn1Error("invalid OCSP single response") from exc


def find_extension(extensions: list[RawExtension], oid: str) -> RawExtension | None:
    """The first extension with ``oid``, or ``None``."""
    for extension in extensions:
        if extension.oid == oid:
            return extension
    return None


def _uri(general_name: Any) -> str:
    """The URI of a ``uniformResourceIdentifier`` GeneralName, verbatim (asn1crypto's ``native`` maps it to an IRI)."""
    contents: bytes = general_name.chosen.contents
    return contents.decode("ascii")  # UnicodeDecodeError is a ValueError


def _leading_uris(general_names: Any) -> list[str]:
    """URIs of a ``GeneralNames`` up to its first name that is not a URI (Go ``crypto/x509``)."""
    uris: list[str] = []
    for index in range(len(general_names)):
        try:
            general_name: Any = general_names[index]
        except _DECODE_ERRORS:
            break  # a name asn1crypto cannot decode is not a URI (any [6] primitive element decodes)
        if general_name.name != _URI:
            break
        uris.append(_uri(general_name))
    return uris


def distribution_point_uris(value: bytes) -> list[list[str]]:
    """URIs of a ``CRLDistributionPoints`` (or ``FreshestCRL``) value, grouped per distribution point.

    Mirrors Go's ``crypto/x509`` (and notation-core-go's Freshest CRL parser): only ``fullName``
    is read; within a ``GeneralNames`` reading stops at the first name that is not a URI; a
    distribution point without a name contributes an empty group; ``nameRelativeToCRLIssuer`` is
    an error.

    Raises:
        Asn1Error: ``invalid CRL distribution points`` / ``invalid CRL distribution point``.
    """
    try:
        points: Any = a_x509.CRLDistributionPoints.load(value)
    except _DECODE_ERRORS as exc:
        raise Asn1Error("invalid CRL distribution points") from exc
    groups: list[list[str]] = []
    try:
        for point in points:
            name: Any = point["distribution_point"]
            if isinstance(name, a_core.Void):
                groups.append([])
            elif name.name == "full_name":
                groups.append(_leading_uris(name.chosen))
            else:
                raise Asn1Error("nameRelativeToCRLIssuer is not supported")
    except _DECODE_ERRORS as exc:
        raise Asn1Error("invalid CRL distribution point") from exc
    return groups


def ocsp_uris(value: bytes) -> list[str]:
    """OCSP responder URIs of an ``AuthorityInfoAccessSyntax`` value (Go ``OCSPServer``).

    Access descriptions of other methods, and OCSP locations that are not URIs, are skipped.

    Raises:
        Asn1Error: Malformed input.
    """
    urls: list[str] = []
    try:
        descriptions: Any = a_x509.AuthorityInfoAccessSyntax.load(value)
        for description in descriptions:
            if _dotted(description["access_method"]) != OID_AD_OCSP:
                continue
            try:
                location: Any = description["access_location"]
            except _DECODE_ERRORS:
                continue  # not a name asn1crypto can decode, so not a URI
            if location.name == _URI:
                urls.append(_uri(location))
    except _DECODE_ERRORS as exc:
        raise Asn1Error("invalid authority info access") from exc
    return urls


def decode_integer(value: bytes) -> int:
    """The INTEGER encoded by ``value`` (trailing bytes are ignored).

    Raises:
        Asn1Error: ``value`` does not start with a non-empty INTEGER.
    """
    try:
        integer: Any = a_core.Integer.load(value)
        if not integer.contents:
            raise Asn1Error("empty integer")
        number: int = integer.native
    except _DECODE_ERRORS as exc:
        raise Asn1Error("invalid integer") from exc
    return number


def decode_generalized_time(value: bytes) -> datetime:
    """The aware UTC datetime of the DER ``GeneralizedTime`` encoded by ``value``.

    Only the DER form ``YYYYMMDDHHMMSS[.f]Z`` is accepted: like Go's ``encoding/asn1``, the time
    must encode back to the same text.

    Raises:
        Asn1Error: Any other value.
    """
    try:
        time: Any = a_core.GeneralizedTime.load(value)
        stamp: Any = time.native
        canonical = isinstance(stamp, datetime) and stamp.tzinfo is not None
        if not canonical or a_core.GeneralizedTime(stamp).contents != time.contents:
            raise Asn1Error("GeneralizedTime is not in DER form")
    except _DECODE_ERRORS as exc:
        raise Asn1Error("invalid GeneralizedTime") from exc
    assert isinstance(stamp, datetime)
    return stamp.astimezone(UTC)


def subject_public_key_bits(spki: bytes) -> bytes:
    """The ``subjectPublicKey`` bits of a ``SubjectPublicKeyInfo`` (what OCSP ``issuerKeyHash`` hashes).

    Raises:
        Asn1Error: Malformed input.
    """
    try:
        info: Any = a_keys.PublicKeyInfo.load(spki)
        bits: bytes = bytes(info["public_key"])
    except _DECODE_ERRORS as exc:
        raise Asn1Error("invalid subject public key info") from exc
    return bits
