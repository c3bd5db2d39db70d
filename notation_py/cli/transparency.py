"""Transparency log plumbing of the CLI: ``sign --tlog``, ``verify --tlog-online`` and ``tlog proof``.

Where ``sign`` records signatures: ``--tlog URL`` or, by default, ``config.json``'s
``transparencyLog.url``. The bearer token comes from ``--tlog-token-file``, else
``transparencyLog.tokenFile``, else ``$NOTATION_TLOG_TOKEN`` (never from the command line).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from notation_py.cli.context import config_dir, out, warn
from notation_py.cli.render import StoredProof
from notation_py.config.files import NotationConfig
from notation_py.errors import ConfigError, DeadlineExceededError, NotationError, TransparencyError, UsageError

if TYPE_CHECKING:
    from notation_py.oci.descriptor import Descriptor
    from notation_py.oci.store import ArtifactStore
    from notation_py.policy.document import TrustPolicyStatement
    from notation_py.sign import SignedArtifact
    from notation_py.transparency import LogClient, Recorded, TransparencyVerifier

#: Environment variable holding the log's bearer token.
TOKEN_ENV = "NOTATION_TLOG_TOKEN"  # noqa: S105 - the variable's name, not a token
_MAX_TOKEN_FILE = 4096


@dataclass(frozen=True)
class LogTarget:
    """Where and how ``sign`` records signatures."""

    url: str
    token: str | None
    optional: bool


def _read_token(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_TOKEN_FILE + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read the transparency log token file {path}: {exc.strerror}") from None
    if len(data) > _MAX_TOKEN_FILE:
        raise ConfigError(f"transparency log token file {path} is larger than {_MAX_TOKEN_FILE} bytes")
    try:
        token = data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"transparency log token file {path} is not ASCII text") from None
    if not token or any(c.isspace() for c in token):
        raise ConfigError(f"transparency log token file {path} must hold one token (no spaces)")
    return token


def log_target(url: str | None, token_file: Path | None, optional: bool) -> LogTarget | None:
    """The log ``sign`` records to, from the flags and ``config.json``; None when none is configured.

    Raises:
        UsageError: ``--tlog`` is not an http(s) URL, or token/optional flags without a log.
        ConfigError: the token file cannot be read, or ``config.json`` is malformed.
    """
    cfg = config_dir()
    settings = NotationConfig.load(cfg.config_json).transparency_log
    if url is None and settings is not None:
        url = settings.url
    if url is None:
        if token_file is not None or optional:
            raise UsageError("--tlog-token-file and --tlog-optional need a transparency log (--tlog URL)")
        return None
    if not url.startswith(("https://", "http://")):
        raise UsageError(f'--tlog must be an http(s) URL, got "{url}"')
    token: str | None = None
    if token_file is not None:
        token = _read_token(token_file)
    elif settings is not None and settings.token_file is not None:
        path = Path(settings.token_file)
        token = _read_token(path if path.is_absolute() else cfg.root / path)
    elif os.environ.get(TOKEN_ENV):
        token = os.environ[TOKEN_ENV].strip()
    return LogTarget(url=url, token=token, optional=optional or (settings is not None and settings.optional))


@contextmanager
def log_client(target: LogTarget) -> Iterator[LogClient]:
    """An HTTP client for the log (closed on exit)."""
    from notation_py.transparency import LogClient

    client = LogClient(target.url, token=target.token)
    try:
        yield client
    finally:
        client.close()


def _report(recorded: Recorded) -> None:
    inclusion = recorded.inclusion
    out(
        f"Recorded in transparency log {inclusion.origin} at index {inclusion.index} "
        f"(checkpoint size {inclusion.tree_size}); proof stored as {recorded.proof_location}"
    )


def _failed(target: LogTarget, exc: TransparencyError | DeadlineExceededError, stored: str) -> None:
    if not target.optional:
        message = (
            f"{stored}, but it was not recorded in the transparency log {target.url}: {exc.message} "
            "(sign again once the log is reachable, or pass --tlog-optional to keep unlogged signatures)"
        )
        # Same class as the cause: a passed deadline stays a DeadlineExceededError for callers.
        if isinstance(exc, DeadlineExceededError):
            raise DeadlineExceededError(message, exc.operation, exc.seconds) from None
        raise TransparencyError(message) from None
    warn(f"{stored} without a transparency log record (--tlog-optional): {exc.message}")


def record_artifact(
    target: LogTarget, store: ArtifactStore, signed: SignedArtifact, envelope_media_type: str, repository: str | None
) -> Recorded | None:
    """Log a pushed OCI signature and store its proof; failure messages say the signature is already stored.

    Returns what was recorded, or None when the log failed and ``--tlog-optional`` kept the signature.
    """
    from notation_py.transparency import record_artifact_signature

    stored = f"The signature was stored as {signed.signature_manifest.digest}"
    try:
        with log_client(target) as client:
            recorded = record_artifact_signature(client, store, signed, envelope_media_type, repository)
    except (TransparencyError, DeadlineExceededError) as exc:
        _failed(target, exc, stored)
        return None
    _report(recorded)
    return recorded


def record_blob(target: LogTarget, signature_path: Path, envelope: bytes, envelope_media_type: str) -> Recorded | None:
    """Log a written blob signature and write ``<signature>.tlog-proof`` beside it (see :func:`record_artifact`)."""
    from notation_py.transparency import record_blob_signature

    stored = f"The signature was written to {signature_path}"
    try:
        with log_client(target) as client:
            recorded = record_blob_signature(client, signature_path, envelope, envelope_media_type)
    except (TransparencyError, DeadlineExceededError) as exc:
        _failed(target, exc, stored)
        return None
    _report(recorded)
    return recorded


def summarize_proof(location: str, data: bytes) -> StoredProof:
    """What a stored proof claims (log origin, index, checkpoint size), read without verifying it."""
    from tlog.checkpoint import Checkpoint
    from tlog.errors import TlogError
    from tlog.proof import TlogProof

    try:
        proof = TlogProof.from_bytes(data)
        body, separator, _signatures = proof.checkpoint_note.partition(b"\n\n")
        if not separator:
            return StoredProof(location, error="the proof's checkpoint is not a signed note")
        # Display only: the signature over this text is checked by verify, not here.
        checkpoint = Checkpoint.from_body(body + b"\n")
    except TlogError as exc:
        return StoredProof(location, error=f"malformed proof: {exc}")
    return StoredProof(location, checkpoint.origin, proof.index, checkpoint.size)


def stored_proofs(store: ArtifactStore, signature_manifest: Descriptor) -> tuple[StoredProof, ...]:
    """The proofs stored as referrers of a signature manifest, summarized for ``inspect``."""
    from notation_py.transparency import find_proof_referrers

    unreadable: list[TransparencyError] = []
    try:
        found = find_proof_referrers(store, signature_manifest, errors=unreadable)
    except DeadlineExceededError:
        raise  # ends the command; it says nothing about the proofs
    except NotationError as exc:
        return (StoredProof(str(signature_manifest.digest), error=f"cannot list proofs: {exc.message}"),)
    summaries = [summarize_proof(str(desc.digest), data) for desc, data in found]
    summaries.extend(StoredProof(str(signature_manifest.digest), error=e.message) for e in unreadable)
    return tuple(summaries)


def transparency_verifier(
    statement: TrustPolicyStatement, online: bool, url: str | None
) -> TransparencyVerifier | None:
    """The ``transparency`` check of ``statement``; None when it has no ``transparencyLog`` member.

    Raises:
        UsageError: ``--tlog-online`` or ``--tlog`` for a statement without ``transparencyLog``, or
            online checking without a log URL.
        TrustPolicyError: a malformed ``transparencyLog`` member.
    """
    policy = statement.transparency_log
    if policy is None:
        if online or url:
            raise UsageError(
                f'--tlog-online/--tlog: trust policy statement "{statement.name}" has no transparencyLog member '
                "naming the log's keys, so there is nothing to check the log against"
            )
        return None
    if url is not None and not url.startswith(("https://", "http://")):
        raise UsageError(f'--tlog must be an http(s) URL, got "{url}"')
    from notation_py.transparency import TransparencyVerifier

    return TransparencyVerifier(policy, online=online, url=url)


__all__ = [
    "TOKEN_ENV",
    "LogTarget",
    "log_client",
    "log_target",
    "record_artifact",
    "record_blob",
    "stored_proofs",
    "summarize_proof",
    "transparency_verifier",
]
