"""Signing artifacts and blobs with a plugin key, whichever signing capability the plugin has.

* ``SIGNATURE_GENERATOR.RAW``: :func:`notation_py.sign.sign_artifact` / :func:`~notation_py.sign.sign_blob`
  with the :class:`~notation_py.plugins.signer.PluginSigner` as the primitive signer; the signing agent
  becomes ``notation-py/<version> <plugin>/<plugin version>`` as notation does it.
* ``SIGNATURE_GENERATOR.ENVELOPE``: the plugin builds the envelope (``generate-envelope``), which is
  verified and then stored like any other, with the plugin's manifest annotations.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from notation_py.envelope.payload import TargetArtifact
from notation_py.errors import SigningError, UsageError
from notation_py.oci.descriptor import Descriptor
from notation_py.oci.signatures import push_signature
from notation_py.oci.store import ArtifactStore
from notation_py.plugins.signer import PluginSigner
from notation_py.sign import DEFAULT_BLOB_MEDIA_TYPE, SignedArtifact, SignOptions, blob_target, sign_artifact, sign_blob
from notation_py.x509.certs import thumbprint_sha256

__all__ = ["sign_artifact_with_plugin", "sign_blob_with_plugin"]


def _check_envelope_options(signer: PluginSigner, options: SignOptions) -> None:
    if options.timestamper is not None:
        raise SigningError(
            f'plugin "{signer.plugin.name}" generates the whole signature envelope, so notation-py cannot add an '
            "RFC 3161 timestamp to it; timestamping is the plugin's business (drop --timestamp-url)"
        )
    if options.expiry is not None and options.expiry < timedelta(seconds=1):
        raise UsageError("expiry duration must be at least 1 second")


def sign_artifact_with_plugin(
    store: ArtifactStore,
    reference: str,
    signer: PluginSigner,
    options: SignOptions,
    *,
    now: datetime | None = None,
) -> SignedArtifact:
    """Sign the manifest ``reference`` in ``store`` with a plugin key and store the signature.

    Raises:
        PluginError: the plugin failed or answered something that does not pass the checks.
        NotFoundError: the artifact does not exist.
        SigningError, UsageError: the envelope could not be produced (see :func:`notation_py.sign.sign_artifact`).
        ArtifactError: the signature could not be stored.
    """
    if not signer.generates_envelope:
        raw_options = replace(options, signing_agent=signer.signing_agent(options.signing_agent))
        return sign_artifact(store, reference, signer, raw_options, now=now)
    _check_envelope_options(signer, options)
    subject = store.resolve(reference)
    target = TargetArtifact(
        media_type=subject.media_type,
        digest=str(subject.digest),
        size=subject.size,
        annotations=dict(options.user_metadata),
    )
    generated = signer.generate_envelope(target, options.envelope_media_type, expiry=options.expiry)
    created = generated.signing_time or now or datetime.now(UTC)
    manifest = push_signature(
        store,
        Descriptor(media_type=subject.media_type, digest=subject.digest, size=subject.size),
        options.envelope_media_type,
        generated.envelope,
        [thumbprint_sha256(c) for c in generated.certificate_chain],
        created.astimezone(UTC).replace(microsecond=0),
        generated.annotations,
    )
    return SignedArtifact(subject=subject, signature_manifest=manifest, envelope=generated.envelope)


def sign_blob_with_plugin(
    blob: Path,
    signer: PluginSigner,
    options: SignOptions,
    *,
    blob_media_type: str = DEFAULT_BLOB_MEDIA_TYPE,
    now: datetime | None = None,
) -> bytes:
    """Sign a file with a plugin key; the digest algorithm follows the key spec (``describe-key``).

    Returns:
        The envelope bytes (the caller writes ``<blob>.<jws|cose>.sig``).

    Raises:
        PluginError, SigningError, UsageError: as :func:`sign_artifact_with_plugin`; ``UsageError``
            also for an unreadable blob or an invalid media type.
    """
    if not signer.generates_envelope:
        raw_options = replace(options, signing_agent=signer.signing_agent(options.signing_agent))
        return sign_blob(blob, signer, raw_options, blob_media_type=blob_media_type, now=now)
    _check_envelope_options(signer, options)
    # notation-go runs describe-key for blobs whatever the capability: the key's hash digests the blob.
    target = blob_target(blob, signer.algorithm, blob_media_type, options.user_metadata)
    return signer.generate_envelope(target, options.envelope_media_type, expiry=options.expiry).envelope
