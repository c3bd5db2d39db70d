"""Signing shared by ``sign`` and ``blob sign``: RFC 3161 timestamping, and dispatch to the key's kind."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from notation_py.cli.context import revocation_checker
from notation_py.envelope.model import PrimitiveSigner, Timestamper
from notation_py.errors import UsageError
from notation_py.oci.store import ArtifactStore
from notation_py.sign import SignedArtifact, SignOptions, sign_artifact, sign_blob

if TYPE_CHECKING:
    from notation_py.plugins import PluginSigner


@contextmanager
def timestamper(url: str | None, root_cert: str | None) -> Iterator[Timestamper | None]:
    """The TSA client for ``--timestamp-url``/``--timestamp-root-cert`` (None without them).

    The TSA's certificate chain must lead to the root certificate in the file and is checked for
    revocation (OCSP, then CRL) as notation does; the checker stays open while signing.

    Raises:
        UsageError: only one of the two flags, a URL that is not http(s), or an unusable root file.
    """
    if url is None and root_cert is None:
        yield None
        return
    if url is None or root_cert is None:
        raise UsageError("--timestamp-url and --timestamp-root-cert must be given together")
    from notation_py.timestamp.client import HTTPTimestamper, tsa_revocation_check

    checker = revocation_checker()
    try:
        yield HTTPTimestamper.from_root_file(url, Path(root_cert), revocation_check=tsa_revocation_check(checker))
    finally:
        checker.close()


def sign_artifact_with(
    store: ArtifactStore, reference: str, signer: PrimitiveSigner | PluginSigner, options: SignOptions
) -> SignedArtifact:
    """Sign with a local, PKCS#11 or plugin key (plugins may build the whole envelope)."""
    from notation_py.plugins import PluginSigner, sign_artifact_with_plugin

    if isinstance(signer, PluginSigner):
        return sign_artifact_with_plugin(store, reference, signer, options)
    return sign_artifact(store, reference, signer, options)


def sign_blob_with(
    blob: Path, signer: PrimitiveSigner | PluginSigner, options: SignOptions, *, blob_media_type: str
) -> bytes:
    """Sign a file with a local, PKCS#11 or plugin key; returns the envelope."""
    from notation_py.plugins import PluginSigner, sign_blob_with_plugin

    if isinstance(signer, PluginSigner):
        return sign_blob_with_plugin(blob, signer, options, blob_media_type=blob_media_type)
    return sign_blob(blob, signer, options, blob_media_type=blob_media_type)


__all__ = ["sign_artifact_with", "sign_blob_with", "timestamper"]
