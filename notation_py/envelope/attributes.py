"""Validation of signed attributes common to JWS and COSE (signature-specification.md, "Signed Attributes").

Each envelope format decodes its protected header into plain values (times as aware datetimes) and
hands them here, so the rules live in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from notation_py.envelope.model import (
    ATTR_AUTHENTIC_SIGNING_TIME,
    ATTR_EXPIRY,
    ATTR_SIGNING_SCHEME,
    ATTR_SIGNING_TIME,
    ATTR_VERIFICATION_PLUGIN,
    ATTR_VERIFICATION_PLUGIN_MIN_VERSION,
    RESERVED_SIGNED_NAMES,
    ExtendedAttribute,
    SignedAttributes,
    SigningScheme,
)
from notation_py.errors import EnvelopeError


def build_signed_attributes(
    headers: Mapping[str | int, Any],
    crit: Sequence[str | int],
    content_type: str,
    registered: frozenset[str | int],
) -> SignedAttributes:
    """Validate decoded protected headers and return typed signed attributes.

    Args:
        headers: every protected header except the format's registered ones (``alg``, ``cty``, ``crit``...).
        crit: the ``crit`` list as found in the envelope.
        content_type: the payload content type (``cty``).
        registered: header names the format defines itself; they must not be listed in ``crit``.

    Raises:
        EnvelopeError: a rule of the specification is violated.
    """
    if len(set(crit)) != len(crit):
        raise EnvelopeError("crit header contains duplicate entries")
    for name in crit:
        if name in registered:
            raise EnvelopeError(f'crit header must not list the registered header "{name}"')
        if name not in headers:
            raise EnvelopeError(f'header "{name}" is marked critical but not present in the protected header')
    scheme_value = headers.get(ATTR_SIGNING_SCHEME)
    if scheme_value is None:
        raise EnvelopeError(f'missing required header "{ATTR_SIGNING_SCHEME}"')
    if ATTR_SIGNING_SCHEME not in crit:
        raise EnvelopeError(f'header "{ATTR_SIGNING_SCHEME}" must be marked critical')
    try:
        scheme = SigningScheme(scheme_value)
    except ValueError:
        raise EnvelopeError(f'signing scheme "{scheme_value}" is not supported') from None

    signing_time = _time(headers, ATTR_SIGNING_TIME)
    authentic_time = _time(headers, ATTR_AUTHENTIC_SIGNING_TIME)
    expiry = _time(headers, ATTR_EXPIRY)
    if scheme is SigningScheme.X509:
        if signing_time is None:
            raise EnvelopeError(f'missing required header "{ATTR_SIGNING_TIME}" for signing scheme "{scheme}"')
        if authentic_time is not None:
            raise EnvelopeError(f'header "{ATTR_AUTHENTIC_SIGNING_TIME}" is not allowed for signing scheme "{scheme}"')
    else:
        if authentic_time is None:
            raise EnvelopeError(
                f'missing required header "{ATTR_AUTHENTIC_SIGNING_TIME}" for signing scheme "{scheme}"'
            )
        if ATTR_AUTHENTIC_SIGNING_TIME not in crit:
            raise EnvelopeError(f'header "{ATTR_AUTHENTIC_SIGNING_TIME}" must be marked critical')
        if signing_time is not None:
            raise EnvelopeError(f'header "{ATTR_SIGNING_TIME}" is not allowed for signing scheme "{scheme}"')
    if expiry is not None:
        if ATTR_EXPIRY not in crit:
            raise EnvelopeError(f'header "{ATTR_EXPIRY}" must be marked critical')
        signed_at = signing_time or authentic_time
        if signed_at is not None and expiry <= signed_at:
            raise EnvelopeError("expiry time must be after the signing time")

    plugin = _optional_str(headers, ATTR_VERIFICATION_PLUGIN)
    plugin_min = _optional_str(headers, ATTR_VERIFICATION_PLUGIN_MIN_VERSION)
    for name, value in (
        (ATTR_VERIFICATION_PLUGIN, plugin),
        (ATTR_VERIFICATION_PLUGIN_MIN_VERSION, plugin_min),
    ):
        if value is not None and name not in crit:
            raise EnvelopeError(f'header "{name}" must be marked critical')
    if plugin_min is not None and plugin is None:
        raise EnvelopeError(f'header "{ATTR_VERIFICATION_PLUGIN_MIN_VERSION}" requires "{ATTR_VERIFICATION_PLUGIN}"')

    extended = tuple(
        ExtendedAttribute(key=str(key), value=value, critical=key in crit)
        for key, value in headers.items()
        if key not in RESERVED_SIGNED_NAMES
    )
    return SignedAttributes(
        signing_scheme=scheme,
        signing_time=signing_time,
        authentic_signing_time=authentic_time,
        expiry=expiry,
        content_type=content_type,
        verification_plugin=plugin,
        verification_plugin_min_version=plugin_min,
        extended=extended,
    )


def _time(headers: Mapping[str | int, Any], name: str) -> datetime | None:
    value = headers.get(name)
    if value is None:
        return None
    if not isinstance(value, datetime):  # formats convert their encodings before calling us
        raise EnvelopeError(f'header "{name}" is not a valid time')
    return value


def _optional_str(headers: Mapping[str | int, Any], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise EnvelopeError(f'header "{name}" must be a non-empty string')
    return value


def critical_order(signed: SignedAttributes, *, extended_first: bool) -> list[str]:
    """The ``crit`` list in notation-go's order for the format.

    JWS: scheme, critical extended attributes, authentic signing time, expiry.
    COSE: scheme, authentic signing time, expiry, critical extended attributes.
    """
    head = [ATTR_SIGNING_SCHEME]
    extended = [a.key for a in signed.extended if a.critical]
    times = []
    if signed.signing_scheme is SigningScheme.X509_SIGNING_AUTHORITY:
        times.append(ATTR_AUTHENTIC_SIGNING_TIME)
    if signed.expiry is not None:
        times.append(ATTR_EXPIRY)
    plugin = []
    if signed.verification_plugin is not None:
        plugin.append(ATTR_VERIFICATION_PLUGIN)
    if signed.verification_plugin_min_version is not None:
        plugin.append(ATTR_VERIFICATION_PLUGIN_MIN_VERSION)
    if extended_first:
        return head + extended + times + plugin
    return head + times + extended + plugin
