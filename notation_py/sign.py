"""Signing: one :class:`Signer` interface for every kind of key, and storing what it signs.

A :class:`Signer` turns a target artifact (the payload's ``targetArtifact``) into a signature
envelope. Local keys and PKCS#11 keys (:class:`KeySigner`, over a raw primitive signer) and plugin
keys (:class:`~notation_py.plugins.signer.PluginSigner`, whether the plugin returns raw signatures or
whole envelopes) all implement it, so callers never ask which kind of key they hold:
:meth:`Signer.sign_artifact` and :meth:`Signer.sign_blob` work the same for all.
:meth:`Signer.from_config` picks the key the way ``notation sign`` does (``--key``, the default key,
or ``--plugin``/``--id``).

OCI artifacts are always signed by digest: a tag is resolved first and the signature's subject is
the resolved manifest. The signature manifest is pushed after its blobs, so a store never lists a
signature whose envelope is missing.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from notation_py import SIGNING_AGENT
from notation_py.errors import PayloadError, UsageError

# The envelope, payload, OCI and certificate modules are imported where they are used, so that naming
# this module (``notation-py blob sign``'s default media type, ``SignOptions``) loads no cryptography.
if TYPE_CHECKING:
    from cryptography import x509

    from notation_py.envelope.algorithms import Algorithm
    from notation_py.envelope.model import PrimitiveSigner, SignRequest, Timestamper
    from notation_py.envelope.payload import TargetArtifact
    from notation_py.oci.descriptor import Descriptor
    from notation_py.oci.store import ArtifactStore

#: Default media type of a signed blob (notation's default).
DEFAULT_BLOB_MEDIA_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class SignOptions:
    """What to put in the envelope besides the payload."""

    envelope_media_type: str
    expiry: timedelta | None = None
    user_metadata: Mapping[str, str] = field(default_factory=dict)
    signing_agent: str = SIGNING_AGENT
    timestamper: Timestamper | None = None


@dataclass(frozen=True)
class SignedArtifact:
    """The result of signing an OCI artifact."""

    subject: Descriptor
    signature_manifest: Descriptor
    envelope: bytes


def _request(
    payload: bytes, signer: PrimitiveSigner, options: SignOptions, now: datetime, agent: str | None = None
) -> SignRequest:
    from notation_py.envelope.model import SignRequest

    if options.expiry is not None and options.expiry < timedelta(seconds=1):
        raise UsageError("expiry duration must be at least 1 second")
    signing_time = now.astimezone(UTC).replace(microsecond=0)
    return SignRequest(
        payload=payload,
        signer=signer,
        signing_time=signing_time,
        expiry=signing_time + options.expiry if options.expiry is not None else None,
        signing_agent=agent or options.signing_agent,
        timestamper=options.timestamper,
    )


def _payload(target: TargetArtifact) -> bytes:
    from notation_py.envelope.payload import build_payload

    try:
        return build_payload(target)
    except PayloadError as exc:
        raise UsageError(exc.message) from None


@dataclass(frozen=True)
class SignedEnvelope:
    """What a :class:`Signer` produced for one target.

    Attributes:
        envelope: The envelope bytes, exactly as they are stored.
        certificate_chain: The signing certificate chain, leaf first (its thumbprints go in the manifest).
        signing_time: The signing time (the signature manifest's creation time).
        annotations: Extra signature manifest annotations (plugins that build the envelope may return some).
    """

    envelope: bytes = field(repr=False)
    certificate_chain: tuple[x509.Certificate, ...] = field(repr=False)
    signing_time: datetime
    annotations: Mapping[str, str] = field(default_factory=dict)


class Signer(abc.ABC):
    """A signing key of any kind: turns a target artifact into a signature envelope."""

    @property
    @abc.abstractmethod
    def algorithm(self) -> Algorithm:
        """The key's signature algorithm (a blob is digested with its hash)."""

    @abc.abstractmethod
    def sign_target(
        self, target: TargetArtifact, options: SignOptions, *, now: datetime | None = None
    ) -> SignedEnvelope:
        """Sign ``target`` into an envelope of ``options.envelope_media_type``.

        Raises:
            SigningError, PluginError: the envelope could not be produced.
            UsageError: the options are invalid (an expiry under one second, ...).
        """

    def close(self) -> None:  # noqa: B027 - most signers hold nothing to release
        """Release what the key holds (a PKCS#11 session, ...)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def sign_artifact(
        self, store: ArtifactStore, reference: str, options: SignOptions, *, now: datetime | None = None
    ) -> SignedArtifact:
        """Sign the manifest ``reference`` (tag or digest) in ``store`` and store the signature as its referrer.

        Raises:
            NotFoundError: the artifact does not exist.
            SigningError, PluginError, UsageError: the envelope could not be produced.
            ArtifactError: the signature could not be stored.
        """
        from notation_py.envelope.payload import TargetArtifact
        from notation_py.oci.descriptor import Descriptor
        from notation_py.oci.signatures import push_signature
        from notation_py.x509.certs import thumbprint_sha256

        subject = store.resolve(reference)
        target = TargetArtifact(
            media_type=subject.media_type,
            digest=str(subject.digest),
            size=subject.size,
            annotations=dict(options.user_metadata),
        )
        signed = self.sign_target(target, options, now=now)
        manifest = push_signature(
            store,
            Descriptor(media_type=subject.media_type, digest=subject.digest, size=subject.size),
            options.envelope_media_type,
            signed.envelope,
            [thumbprint_sha256(c) for c in signed.certificate_chain],
            signed.signing_time.astimezone(UTC).replace(microsecond=0),
            signed.annotations,
        )
        return SignedArtifact(subject=subject, signature_manifest=manifest, envelope=signed.envelope)

    def sign_blob(
        self,
        blob: Path,
        options: SignOptions,
        *,
        blob_media_type: str = DEFAULT_BLOB_MEDIA_TYPE,
        now: datetime | None = None,
    ) -> bytes:
        """Sign a file (digested with the hash of :attr:`algorithm`); returns the envelope.

        The caller writes it as ``<blob>.<jws|cose>.sig``.

        Raises:
            UsageError: the blob cannot be read or the media type is invalid.
            SigningError, PluginError: the envelope could not be produced.
        """
        target = blob_target(blob, self.algorithm, blob_media_type, options.user_metadata)
        return self.sign_target(target, options, now=now).envelope

    @classmethod
    def from_config(
        cls,
        config_dir: str | Path | None = None,
        *,
        key: str | None = None,
        plugin: str | None = None,
        key_id: str | None = None,
        passphrase_file: Path | None = None,
        plugin_config: Mapping[str, str] | None = None,
    ) -> Signer:
        """The signer ``notation sign`` would use: ``key`` (or the default key) of ``signingkeys.json``,
        or the key ``key_id`` of the installed plugin ``plugin``.

        Local keys may be passphrase-encrypted (the passphrase comes from ``passphrase_file``, the
        entry's ``passphraseFile``, ``$NOTATION_KEY_PASSPHRASE`` or a terminal prompt); entries with a
        ``pkcs11`` member sign with a key that stays in its PKCS#11 token; plugin keys sign through
        notation's plugin protocol with ``plugin_config`` merged over the entry's ``pluginConfig``.
        Everything is checked (passphrase, PIN, certificate chain, plugin metadata) before anything
        is signed.

        Raises:
            UsageError: ``plugin`` without ``key_id`` (or the reverse), or with ``key``.
            ConfigError, SigningError, PluginError: the key is not configured or unusable.
        """
        from notation_py.config.dirs import ConfigDir
        from notation_py.config.files import SigningKeys
        from notation_py.keys.resolve import signer_for_key
        from notation_py.plugins import PluginSigner, plugin_directory
        from notation_py.plugins import signer_for_key as plugin_signer_for_key

        directory = ConfigDir(Path(config_dir)) if config_dir is not None else ConfigDir.from_env()
        if plugin or key_id:
            if not (plugin and key_id):
                raise UsageError("--id and --plugin must be used together")
            if key:
                raise UsageError("--key is mutually exclusive with --id and --plugin")
            return PluginSigner.open(plugin, key_id, plugin_config, directory=plugin_directory(directory))
        suite = SigningKeys.load(directory.signing_keys).get(key)
        if suite.is_plugin:
            return plugin_signer_for_key(suite, plugin_config, directory=plugin_directory(directory))
        return KeySigner(signer_for_key(suite, directory.root, passphrase_file=passphrase_file))


class KeySigner(Signer):
    """A :class:`Signer` over a raw primitive signer: a local key, a PKCS#11 key, or a plugin's raw signatures."""

    def __init__(self, primitive: PrimitiveSigner, *, signing_agent: str | None = None) -> None:
        """``signing_agent`` replaces :attr:`SignOptions.signing_agent` when given (plugins name themselves)."""
        self.primitive = primitive
        self._agent = signing_agent

    @property
    def algorithm(self) -> Algorithm:
        """See :attr:`Signer.algorithm`."""
        return self.primitive.algorithm

    def sign_target(
        self, target: TargetArtifact, options: SignOptions, *, now: datetime | None = None
    ) -> SignedEnvelope:
        """See :meth:`Signer.sign_target`."""
        from notation_py.envelope import sign_envelope

        request = _request(_payload(target), self.primitive, options, now or datetime.now(UTC), self._agent)
        envelope = sign_envelope(options.envelope_media_type, request)
        return SignedEnvelope(envelope, tuple(self.primitive.certificate_chain), request.signing_time)

    def close(self) -> None:
        """Close the primitive signer when it holds something (a PKCS#11 session)."""
        close = getattr(self.primitive, "close", None)
        if callable(close):
            close()


def as_signer(signer: Signer | PrimitiveSigner) -> Signer:
    """``signer`` as a :class:`Signer` (a raw primitive signer is wrapped in a :class:`KeySigner`)."""
    return signer if isinstance(signer, Signer) else KeySigner(signer)


def sign_artifact(
    store: ArtifactStore,
    reference: str,
    signer: Signer | PrimitiveSigner,
    options: SignOptions,
    *,
    now: datetime | None = None,
) -> SignedArtifact:
    """Sign the manifest ``reference`` in ``store`` with any kind of key (see :meth:`Signer.sign_artifact`)."""
    return as_signer(signer).sign_artifact(store, reference, options, now=now)


def sign_blob(
    blob: Path,
    signer: Signer | PrimitiveSigner,
    options: SignOptions,
    *,
    blob_media_type: str = DEFAULT_BLOB_MEDIA_TYPE,
    now: datetime | None = None,
) -> bytes:
    """Sign a file with any kind of key; returns the envelope (see :meth:`Signer.sign_blob`)."""
    return as_signer(signer).sign_blob(blob, options, blob_media_type=blob_media_type, now=now)


def blob_target(
    blob: Path, algorithm: Algorithm, blob_media_type: str, user_metadata: Mapping[str, str]
) -> TargetArtifact:
    """The payload's target for a file: its digest with the hash the signing key's algorithm uses.

    Raises:
        UsageError: the blob cannot be read or the media type is invalid.
    """
    from notation_py.envelope.payload import TargetArtifact
    from notation_py.fsutil import hash_file

    if not blob_media_type or "/" not in blob_media_type:
        raise UsageError(f'invalid media type "{blob_media_type}"')
    try:
        hex_digest, size = hash_file(blob, algorithm.digest_algorithm)
    except OSError as exc:
        raise UsageError(f"cannot read blob {blob}: {exc.strerror}") from None
    return TargetArtifact(
        media_type=blob_media_type,
        digest=f"{algorithm.digest_algorithm}:{hex_digest}",
        size=size,
        annotations=dict(user_metadata),
    )
