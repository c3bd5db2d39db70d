"""Signing with a plugin key: ``SIGNATURE_GENERATOR.RAW`` and ``SIGNATURE_GENERATOR.ENVELOPE``.

:class:`PluginSigner` is a :class:`~notation_py.envelope.model.PrimitiveSigner`: for a plugin with
``SIGNATURE_GENERATOR.RAW`` it can be handed to :func:`notation_py.sign.sign_artifact`,
:func:`notation_py.sign.sign_blob` or :func:`notation_py.envelope.sign_envelope` like a local key.
``describe-key`` gives the key spec (hence the algorithm); ``generate-signature`` returns the
signature and the certificate chain, which are checked as notation-go and the specification require
before anything is built from them.

For a plugin with only ``SIGNATURE_GENERATOR.ENVELOPE``, :meth:`PluginSigner.generate_envelope`
asks the plugin for the whole envelope and verifies it (integrity, certificate rules, the payload
is the one asked for). :mod:`notation_py.plugins.signing` chooses between the two paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography import x509

from notation_py import SIGNING_AGENT
from notation_py.envelope import ENVELOPE_MEDIA_TYPES, verify_envelope
from notation_py.envelope.algorithms import Algorithm, verify_with_key
from notation_py.envelope.encoding import b64std_encode
from notation_py.envelope.model import EnvelopeContent
from notation_py.envelope.payload import TargetArtifact, build_payload
from notation_py.errors import (
    CertificateError,
    EnvelopeError,
    NotationError,
    PayloadError,
    PluginError,
    SignatureIntegrityError,
    SigningError,
    TimestampError,
    UnsupportedEnvelopeError,
    UsageError,
)
from notation_py.jsonutil import JSONFormatError, strict_loads
from notation_py.plugins.manager import Plugin, load_plugin
from notation_py.plugins.process import DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT
from notation_py.plugins.protocol import (
    Capability,
    PluginMetadata,
    algorithm_from_key_spec,
    algorithm_from_signing_algorithm,
    decode_b64,
    decode_certificate_chain,
    require_str,
)
from notation_py.sign import KeySigner, SignedEnvelope, Signer, SignOptions
from notation_py.x509.chain import validate_code_signing_chain
from notation_py.x509.names import go_quote

__all__ = ["GeneratedEnvelope", "PluginSigner", "merge_plugin_config"]

# Descriptor members notation-go lets a plugin leave in the signed targetArtifact.
_KNOWN_DESCRIPTOR_MEMBERS = frozenset(
    {"mediaType", "digest", "size", "urls", "annotations", "data", "platform", "artifactType"}
)


def merge_plugin_config(base: Mapping[str, str] | None, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """``pluginConfig`` of the key, with ``--plugin-config`` values set or replacing entries (as notation)."""
    merged = dict(base or {})
    merged.update(overrides or {})
    return merged


@dataclass(frozen=True)
class GeneratedEnvelope:
    """An envelope produced by a ``generate-envelope`` plugin, already verified.

    Attributes:
        envelope: The envelope's exact bytes.
        media_type: ``application/jose+json`` or ``application/cose``.
        content: The verified content (certificate chain, signed attributes, ...).
        annotations: Annotations the plugin asks to add to the signature manifest.
    """

    envelope: bytes = field(repr=False)
    media_type: str
    content: EnvelopeContent = field(repr=False)
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def certificate_chain(self) -> tuple[x509.Certificate, ...]:
        """The envelope's certificate chain, leaf first."""
        return self.content.unsigned.certificate_chain

    @property
    def signing_time(self) -> datetime | None:
        """Signing time (``notary.x509``) or authentic signing time (signing authority)."""
        return self.content.signed.time


class PluginSigner(Signer):
    """A signing key held by a plugin (``signingkeys.json`` ``pluginName``/``id`` or ``--plugin``/``--id``).

    A :class:`~notation_py.sign.Signer` whichever signing capability the plugin has:
    ``SIGNATURE_GENERATOR.RAW`` plugins return raw signatures (this object is then also the
    primitive signer, and the signing agent becomes ``notation-py/<version> <plugin>/<version>`` as
    notation does it); ``SIGNATURE_GENERATOR.ENVELOPE`` plugins build the whole envelope, which is
    verified before it is used.

    Every plugin command gets the same ``pluginConfig`` (the key's, merged with the command line's by
    the caller, see :func:`merge_plugin_config`). Metadata and the key spec are fetched on first use
    and kept for the life of the object (one signing operation).

    Args:
        plugin: The plugin (see :func:`~notation_py.plugins.manager.load_plugin`).
        key_id: The key identifier the plugin knows.
        plugin_config: ``pluginConfig`` passed to every command.
        now: Clock for the certificate-validity check of returned chains (tests).
    """

    def __init__(
        self,
        plugin: Plugin,
        key_id: str,
        plugin_config: Mapping[str, str] | None = None,
        *,
        now: datetime | None = None,
    ) -> None:
        if not key_id:
            raise PluginError("the plugin key id is empty")
        self.plugin = plugin
        self.key_id = key_id
        self.plugin_config: dict[str, str] = dict(plugin_config or {})
        self._now = now
        self._chain: tuple[x509.Certificate, ...] | None = None

    @classmethod
    def open(
        cls,
        plugin_name: str,
        key_id: str,
        plugin_config: Mapping[str, str] | None = None,
        *,
        directory: Path | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_output: int = DEFAULT_MAX_OUTPUT,
    ) -> PluginSigner:
        """The key ``key_id`` of the installed plugin ``plugin_name`` (``--plugin``/``--id``).

        Raises:
            PluginError: the plugin is not installed or its executable is unusable.
        """
        plugin = load_plugin(plugin_name, directory, timeout=timeout, max_output=max_output)
        return cls(plugin, key_id, plugin_config)

    # --- discovery --------------------------------------------------------------------------------

    @cached_property
    def metadata(self) -> PluginMetadata:
        """``get-plugin-metadata`` (run once)."""
        return self.plugin.get_metadata(self.plugin_config)

    @property
    def generates_envelope(self) -> bool:
        """True when signing must go through ``generate-envelope``.

        As notation-go, ``SIGNATURE_GENERATOR.RAW`` wins when a plugin declares both.

        Raises:
            PluginError: ``plugin does not have signing capabilities``.
        """
        meta = self.metadata
        if meta.has(Capability.SIGNATURE_GENERATOR_RAW):
            return False
        if meta.has(Capability.SIGNATURE_GENERATOR_ENVELOPE):
            return True
        raise PluginError(f'plugin "{self.plugin.name}" does not have signing capabilities')

    def signing_agent(self, base: str = SIGNING_AGENT) -> str:
        """The signing agent of signatures made through this plugin: ``<base> <name>/<version>``."""
        return f"{base} {self.metadata.name}/{self.metadata.version}"

    @cached_property
    def key_spec(self) -> str:
        """``describe-key`` key spec (``RSA-2048`` ... ``EC-521``), checked (run once).

        Raises:
            PluginError: the command failed, the key id differs, or the key spec is unsupported.
        """
        doc = self.plugin.describe_key(self.key_id, self.plugin_config)
        what = f'plugin "{self.plugin.name}" describe-key response'
        key_id = require_str(doc, "keyId", what)
        if key_id != self.key_id:
            raise PluginError(
                f"keyID in describeKey response {go_quote(key_id)} does not match request {go_quote(self.key_id)}"
            )
        spec = require_str(doc, "keySpec", what)
        algorithm_from_key_spec(spec)
        return spec

    # --- PrimitiveSigner --------------------------------------------------------------------------

    @property
    def algorithm(self) -> Algorithm:
        """The algorithm the key spec requires (runs ``describe-key`` on first use)."""
        return algorithm_from_key_spec(self.key_spec)

    @property
    def certificate_chain(self) -> tuple[x509.Certificate, ...]:
        """The chain the plugin returned with the last signature (leaf first, root last).

        Raises:
            PluginError: nothing was signed yet (a plugin reveals its chain only with a signature).
        """
        if self._chain is None:
            raise PluginError(
                f'the certificate chain of plugin key "{self.key_id}" is only known after generate-signature'
            )
        return self._chain

    def sign(self, data: bytes) -> bytes:
        """``generate-signature`` over ``data``; the response is checked before it is returned.

        Checks (plugin-extensibility.md "Signing workflow using plugin", notation-go): the key id is
        the one asked for; ``signingAlgorithm`` is supported and is the key spec's; the leaf
        certificate's key is of that spec; the signature verifies over ``data`` with the leaf key;
        the chain meets the Notary Project certificate requirements (ordered, ending in a root,
        valid now).

        Raises:
            PluginError: the plugin lacks ``SIGNATURE_GENERATOR.RAW``, failed, or returned something
                that does not pass the checks.
        """
        if not self.metadata.has(Capability.SIGNATURE_GENERATOR_RAW):
            raise PluginError(
                f'plugin "{self.plugin.name}" does not have the {Capability.SIGNATURE_GENERATOR_RAW.value} '
                "capability, so it cannot generate raw signatures"
            )
        algorithm = self.algorithm
        request: dict[str, Any] = {
            "keyId": self.key_id,
            "keySpec": self.key_spec,
            "hashAlgorithm": algorithm.hash_name,
            "payload": b64std_encode(data),
        }
        if self.plugin_config:
            request["pluginConfig"] = self.plugin_config
        doc = self.plugin.generate_signature(request)
        what = f'plugin "{self.plugin.name}" generate-signature response'
        key_id = require_str(doc, "keyId", what)
        if key_id != self.key_id:
            raise PluginError(
                f"keyID in generateSignature response {go_quote(key_id)} does not match request {go_quote(self.key_id)}"
            )
        signature = decode_b64(doc.get("signature"), "signature", what)
        signing_algorithm = algorithm_from_signing_algorithm(require_str(doc, "signingAlgorithm", what))
        if signing_algorithm is not algorithm:
            raise PluginError(
                f'{what}: signing algorithm "{signing_algorithm.display_name}" does not match the key spec '
                f'"{self.key_spec}" of describe-key, which requires "{algorithm.display_name}"'
            )
        chain = decode_certificate_chain(doc.get("certificateChain"), what)
        leaf_key = chain[0].public_key()
        try:
            leaf_algorithm = Algorithm.for_key(leaf_key)
        except UnsupportedEnvelopeError as exc:
            raise PluginError(f"{what}: the signing certificate's key is not supported: {exc.message}") from None
        if leaf_algorithm is not algorithm:
            raise PluginError(
                f'{what}: the signing certificate\'s key is "{leaf_algorithm.key_spec}", '
                f'but describe-key reported "{self.key_spec}"'
            )
        try:
            verify_with_key(leaf_key, algorithm, data, signature)  # type: ignore[arg-type]  # checked above
        except SignatureIntegrityError as exc:
            raise PluginError(
                f"{what}: the signature does not verify with the signing certificate: {exc.message}"
            ) from None
        try:
            validate_code_signing_chain(chain, self._now or datetime.now(UTC))
        except CertificateError as exc:
            raise PluginError(
                f"{what}: the certificate chain does not meet the certificate requirements: {exc.message}"
            ) from None
        self._chain = chain
        return signature

    # --- SIGNATURE_GENERATOR.ENVELOPE -----------------------------------------------------------------

    def sign_target(
        self, target: TargetArtifact, options: SignOptions, *, now: datetime | None = None
    ) -> SignedEnvelope:
        """See :meth:`notation_py.sign.Signer.sign_target`: raw signatures or a plugin-built envelope."""
        if not self.generates_envelope:
            raw = KeySigner(self, signing_agent=self.signing_agent(options.signing_agent))
            return raw.sign_target(target, options, now=now)
        if options.timestamper is not None:
            raise SigningError(
                f'plugin "{self.plugin.name}" generates the whole signature envelope, so notation-py cannot add an '
                "RFC 3161 timestamp to it; timestamping is the plugin's business (drop --timestamp-url)"
            )
        if options.expiry is not None and options.expiry < timedelta(seconds=1):
            raise UsageError("expiry duration must be at least 1 second")
        generated = self.generate_envelope(target, options.envelope_media_type, expiry=options.expiry)
        created = generated.signing_time or now or datetime.now(UTC)
        return SignedEnvelope(generated.envelope, tuple(generated.certificate_chain), created, generated.annotations)

    def generate_envelope(
        self,
        target: TargetArtifact,
        envelope_media_type: str,
        *,
        expiry: timedelta | None = None,
    ) -> GeneratedEnvelope:
        """``generate-envelope`` for the payload describing ``target``, verified as notation-go does.

        Checks: the envelope type is the requested one; the envelope parses and its signature
        verifies with its leaf certificate, with a supported algorithm and a chain meeting the
        certificate requirements (:func:`~notation_py.envelope.verify_envelope`); the payload
        content type is the Notary payload; the signed ``targetArtifact`` has the requested media
        type, digest and size, keeps every requested annotation (the plugin may add, not change)
        and carries no member notation does not know; a timestamp countersignature, if the plugin
        added one, is a token over this envelope's signature.

        Raises:
            UnsupportedEnvelopeError: ``envelope_media_type`` is not JWS or COSE.
            UsageError: an annotation of ``target`` uses the reserved ``io.cncf.notary`` prefix.
            PluginError: the plugin failed or its envelope does not pass the checks.
        """
        if envelope_media_type not in ENVELOPE_MEDIA_TYPES:
            raise UnsupportedEnvelopeError(
                f'signature envelope format with media type "{envelope_media_type}" is not supported'
            )
        try:
            payload = build_payload(target)
        except PayloadError as exc:
            raise UsageError(exc.message) from None
        request: dict[str, Any] = {
            "keyId": self.key_id,
            "payloadType": "application/vnd.cncf.notary.payload.v1+json",
            "signatureEnvelopeType": envelope_media_type,
            "payload": b64std_encode(payload),
        }
        if expiry is not None:
            request["expiryDurationInSeconds"] = int(expiry.total_seconds())
        if self.plugin_config:
            request["pluginConfig"] = self.plugin_config
        doc = self.plugin.generate_envelope(request)
        what = f'plugin "{self.plugin.name}" generate-envelope response'
        returned_type = doc.get("signatureEnvelopeType")
        if returned_type != envelope_media_type:
            raise PluginError(
                f"signatureEnvelopeType in generateEnvelope response {go_quote(str(returned_type))} "
                f"does not match request {go_quote(envelope_media_type)}"
            )
        envelope = decode_b64(doc.get("signatureEnvelope"), "signatureEnvelope", what)
        annotations = doc.get("annotations") or {}
        if not isinstance(annotations, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()
        ):
            raise PluginError(f'{what}: "annotations" must map strings to strings')
        try:
            content = verify_envelope(envelope_media_type, envelope)
        except EnvelopeError as exc:
            raise PluginError(f"generated signature failed verification: {exc.message}") from None
        _check_signed_target(content.payload, target)
        if content.unsigned.timestamp_signature:
            _check_timestamp(content)
        return GeneratedEnvelope(envelope, envelope_media_type, content, dict(annotations))


def _check_signed_target(payload: bytes, requested: TargetArtifact) -> None:
    """notation-go's ``isPayloadDescriptorValid`` and ``areUnknownAttributesAdded``."""
    try:
        doc = strict_loads(payload)
    except JSONFormatError as exc:
        raise PluginError(f"signed envelope payload can't be unmarshalled: {exc.message}") from None
    target = doc.get("targetArtifact") if isinstance(doc, dict) else None
    if not isinstance(target, dict):
        raise PluginError("signed envelope payload can't be unmarshalled: no targetArtifact descriptor")
    signed = (target.get("mediaType"), target.get("digest"), target.get("size"))
    annotations = target.get("annotations") or {}
    same = signed == (requested.media_type, requested.digest, requested.size) and isinstance(annotations, dict)
    if same:
        same = all(annotations.get(k) == v for k, v in requested.annotations.items())
    if not same:
        raise PluginError(
            f"during signing descriptor subject has changed from {_describe(requested.to_dict())} to {_describe(target)}"
        )
    unknown = sorted(set(target) - _KNOWN_DESCRIPTOR_MEMBERS) + sorted(set(doc) - {"targetArtifact"})
    if unknown:
        raise PluginError(
            "during signing, following unknown attributes were added to subject descriptor: "
            f"[{' '.join(go_quote(k) for k in unknown)}]"
        )


def _describe(descriptor: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{k}={descriptor[k]!r}" for k in ("mediaType", "digest", "size", "annotations") if k in descriptor
    )


def _check_timestamp(content: EnvelopeContent) -> None:
    from notation_py.timestamp.token import parse_timestamp_token

    assert content.unsigned.timestamp_signature is not None
    try:
        parse_timestamp_token(content.unsigned.timestamp_signature).validate_message(content.signature)
    except TimestampError as exc:
        raise PluginError(f"generated signature has an invalid timestamp countersignature: {exc.message}") from None
    except NotationError as exc:  # pragma: no cover - defensive: any other parse failure
        raise PluginError(f"generated signature has an invalid timestamp countersignature: {exc.message}") from None
