"""Rendering of signatures for ``inspect`` and ``list``: notation's tree layout and JSON shape."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from notation_py.envelope.encoding import format_rfc3339
from notation_py.envelope.model import EnvelopeContent
from notation_py.envelope.payload import TargetArtifact, parse_payload
from notation_py.errors import PayloadError
from notation_py.x509.certs import thumbprint_sha256
from notation_py.x509.names import format_name

Node = tuple[str, list["Node"]]


def ansic(moment: datetime) -> str:
    """Go's ``time.ANSIC`` layout in UTC, as notation's tree output shows times."""
    moment = moment.astimezone(UTC)
    return f"{moment:%a %b} {moment.day:>2} {moment:%H:%M:%S %Y}"


@dataclass(frozen=True)
class StoredProof:
    """A transparency log proof stored beside a signature, as read (not verified: ``verify`` does that)."""

    #: Digest of the proof referrer manifest, or path of the proof file.
    location: str
    origin: str | None = None
    index: int | None = None
    tree_size: int | None = None
    #: Why the proof could not be read.
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``inspect -o json`` object."""
        if self.error is not None:
            return {"location": self.location, "error": self.error}
        return {"location": self.location, "origin": self.origin, "index": self.index, "treeSize": self.tree_size}

    def node(self) -> Node:
        """The tree node."""
        if self.error is not None:
            return (self.location, [(f"error: {self.error}", [])])
        return (
            self.location,
            [(f"log: {self.origin}", []), (f"index: {self.index}", []), (f"checkpoint size: {self.tree_size}", [])],
        )


@dataclass(frozen=True)
class InspectedSignature:
    """One signature as ``inspect`` shows it: parsed content, or why it could not be parsed."""

    digest: str
    media_type: str
    content: EnvelopeContent | None
    error: str | None = None
    #: Transparency log proofs stored beside the signature.
    logged: tuple[StoredProof, ...] = ()

    def target(self) -> TargetArtifact | None:
        """The signed artifact descriptor, if the payload parses."""
        if self.content is None:
            return None
        try:
            return parse_payload(self.content.payload)
        except PayloadError:
            return None


def signature_json(sig: InspectedSignature) -> dict[str, Any]:
    """notation's ``inspect -o json`` object for one signature."""
    out: dict[str, Any] = {"digest": sig.digest, "mediaType": sig.media_type}
    content = sig.content
    if content is None:
        out["error"] = sig.error
        return out
    signed = content.signed
    attrs: dict[str, Any] = {"contentType": signed.content_type, "signingScheme": signed.signing_scheme.value}
    if signed.signing_time:
        attrs["signingTime"] = format_rfc3339(signed.signing_time)
    if signed.authentic_signing_time:
        attrs["authenticSigningTime"] = format_rfc3339(signed.authentic_signing_time)
    if signed.expiry:
        attrs["expiry"] = format_rfc3339(signed.expiry)
    if signed.verification_plugin:
        attrs["io.cncf.notary.verificationPlugin"] = signed.verification_plugin
    if signed.verification_plugin_min_version:
        attrs["io.cncf.notary.verificationPluginMinVersion"] = signed.verification_plugin_min_version
    for ext in signed.extended:
        attrs[ext.key] = ext.value if isinstance(ext.value, str | int | float | bool) else str(ext.value)
    out["signatureAlgorithm"] = content.algorithm.display_name
    out["signedAttributes"] = attrs
    target = sig.target()
    out["userDefinedAttributes"] = dict(target.annotations) if target else {}
    unsigned: dict[str, Any] = {}
    if content.unsigned.timestamp_signature:
        unsigned["io.cncf.notary.timestampSignature"] = base64.b64encode(content.unsigned.timestamp_signature).decode()
    if content.unsigned.signing_agent:
        unsigned["io.cncf.notary.signingAgent"] = content.unsigned.signing_agent
    out["unsignedAttributes"] = unsigned
    out["certificates"] = [
        {
            "SHA256Fingerprint": thumbprint_sha256(c),
            "issuedTo": format_name(c.subject),
            "issuedBy": format_name(c.issuer),
            "expiry": format_rfc3339(c.not_valid_after_utc),
        }
        for c in content.unsigned.certificate_chain
    ]
    out["signedArtifact"] = target.to_dict() if target else None
    if target:
        out["signedArtifact"].pop("annotations", None)
    if sig.logged:
        out["transparencyLog"] = [p.to_dict() for p in sig.logged]
    return out


def inspect_json(subject_media_type: str, signatures: Sequence[InspectedSignature]) -> dict[str, Any]:
    """The whole ``inspect -o json`` document."""
    return {"mediaType": subject_media_type, "signatures": [signature_json(s) for s in signatures]}


def _signature_node(sig: InspectedSignature) -> Node:
    content = sig.content
    if content is None:
        return (sig.digest, [(f"error: {sig.error}", [])])
    signed = content.signed
    attrs: list[Node] = [
        (f"content type: {signed.content_type}", []),
        (f"signing scheme: {signed.signing_scheme.value}", []),
    ]
    if signed.signing_time:
        attrs.append((f"signing time: {ansic(signed.signing_time)}", []))
    if signed.authentic_signing_time:
        attrs.append((f"authentic signing time: {ansic(signed.authentic_signing_time)}", []))
    if signed.expiry:
        attrs.append((f"expiry: {ansic(signed.expiry)}", []))
    if signed.verification_plugin:
        attrs.append((f"io.cncf.notary.verificationPlugin: {signed.verification_plugin}", []))
    if signed.verification_plugin_min_version:
        attrs.append((f"io.cncf.notary.verificationPluginMinVersion: {signed.verification_plugin_min_version}", []))
    attrs.extend((f"{e.key}: {e.value}", []) for e in signed.extended)
    children: list[Node] = [
        (f"signature algorithm: {content.algorithm.display_name}", []),
        (f"signature envelope type: {sig.media_type}", []),
        ("signed attributes", attrs),
    ]
    target = sig.target()
    if target and target.annotations:
        children.append(("user defined attributes", [(f"{k}: {v}", []) for k, v in target.annotations.items()]))
    unsigned: list[Node] = []
    if content.unsigned.timestamp_signature:
        unsigned.append(("timestamp signature: present (verify with a tsa trust store to check it)", []))
    if content.unsigned.signing_agent:
        unsigned.append((f"signing agent: {content.unsigned.signing_agent}", []))
    if unsigned:
        children.append(("unsigned attributes", unsigned))
    children.append(
        (
            "certificates",
            [
                (
                    f"SHA256 fingerprint: {thumbprint_sha256(c)}",
                    [
                        (f"issued to: {format_name(c.subject)}", []),
                        (f"issued by: {format_name(c.issuer)}", []),
                        (f"expiry: {ansic(c.not_valid_after_utc)}", []),
                    ],
                )
                for c in content.unsigned.certificate_chain
            ],
        )
    )
    if target:
        children.append(
            (
                "signed artifact",
                [
                    (f"media type: {target.media_type}", []),
                    (f"digest: {target.digest}", []),
                    (f"size: {target.size}", []),
                ],
            )
        )
    if sig.logged:
        children.append(("transparency log proofs (verify checks them)", [p.node() for p in sig.logged]))
    return (sig.digest, children)


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]], padding: int = 3) -> str:
    """Left-aligned columns separated by at least ``padding`` spaces (Go's tabwriter, as notation uses)."""
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    lines = [
        "".join(cell.ljust(w + padding) for cell, w in zip(r, widths, strict=True)).rstrip() for r in (header, *rows)
    ]
    return "\n".join(lines)


def render_tree(root: Node) -> str:
    """Render a tree with box-drawing branches, like notation."""
    lines = [root[0]]

    def walk(children: list[Node], prefix: str) -> None:
        for i, (label, grand) in enumerate(children):
            last = i == len(children) - 1
            lines.append(f"{prefix}{'└── ' if last else '├── '}{label}")
            walk(grand, prefix + ("    " if last else "│   "))

    walk(root[1], "")
    return "\n".join(lines)


def inspect_tree(reference: str, signatures: Sequence[InspectedSignature]) -> str:
    """``inspect`` tree output for an artifact and its signatures."""
    return render_tree(
        (reference, [("application/vnd.cncf.notary.signature", [_signature_node(s) for s in signatures])])
    )


def blob_inspect_tree(path: str, sig: InspectedSignature) -> str:
    """``blob inspect`` tree output for one signature file."""
    node = _signature_node(sig)
    return render_tree((path, node[1]))
