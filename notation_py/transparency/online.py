"""Talking to a log: log a signature and keep its proof, check a proof against the log today, and
find a signature's entry when its proof was not stored.

* :func:`submit_and_prove` (signing): submit, then verify the receipt against the leaf recomputed
  from the signature before anything is stored. A log that logged other bytes, or whose proof does
  not verify, is an error, never a stored proof. The server's proof has no ``extra`` line, so the
  proof is rebuilt from its parts with the repository in ``extra``.
* :func:`check_consistency_online` (verification, ``online``): the log's latest checkpoint must be
  trusted like the proof's and extend the proof's tree (RFC 6962 consistency). Smaller than the
  proof's tree: the log rolled back; same size, other root: it forked; a consistency proof that
  does not verify: it forked or rewrote history.
* :func:`find_in_log` (verification, no proof referrer): search the log by subject digest, keep
  the entry whose bytes equal the leaf recomputed from the signature (with that entry's repository),
  and prove it against the latest trusted checkpoint.

The log's own answers are never trusted: every checkpoint is verified with the policy's keys and
every proof against a leaf this side computed.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from notation_py.errors import TransparencyError, UsageError
from notation_py.transparency.checkpoints import open_trusted_checkpoint
from notation_py.transparency.client import MAX_SEARCH_RESULTS, LogClient
from notation_py.transparency.policy import TransparencyPolicy
from notation_py.transparency.proof import Inclusion, build_proof, encode_proof_extra, verify_proof_offline
from notation_py.transparency.signature import LoggedSignature
from tlog.checkpoint import Checkpoint
from tlog.entry import Entry
from tlog.errors import FormatError, InvalidEntryError, ProofError
from tlog.merkle import leaf_hash, verify_consistency, verify_inclusion
from tlog.note import Ed25519Verifier, Verifier
from tlog.proof import TlogProof


def submit_and_prove(
    client: LogClient,
    signature: LoggedSignature,
    repository: str | None,
    policy_keys: Sequence[str] | None = None,
) -> Inclusion:
    """Log ``signature`` under ``repository`` and return its verified inclusion, proof included.

    Args:
        client: The log.
        signature: The signature just made (envelope, subject, signature manifest digest).
        repository: ``registry/repository`` for registry artifacts, ``None`` for layouts and blobs.
        policy_keys: The log verifier keys to check the checkpoint with. ``None`` trusts the key the
            log publishes in ``/v1/log-info`` (trust on first use: fine for catching a broken log
            at signing time; verifiers pin keys in their policy).

    Returns:
        The inclusion, whose ``proof`` verifies offline with :func:`verify_proof_offline`.

    Raises:
        TransparencyError: the log refused the signature or is unreachable, logged other entry
            bytes, or answered a proof that does not verify.
        UsageError: ``repository`` is not ``registry/repository``, or ``policy_keys`` is empty or
            holds something else than a log verifier key.
    """
    # Everything that can fail here fails before anything is logged.
    encode_proof_extra(repository)
    leaf = signature.leaf(repository)
    keys = _log_keys(client, policy_keys)
    result = client.submit(signature.submission(repository))
    where = f"transparency log {client.url}"
    if result.entry != leaf:
        repository = _logged_repository(result.entry, result.duplicate, signature, where)
    try:
        proof = TlogProof.from_bytes(result.proof)
    except FormatError as exc:
        raise TransparencyError(f"{where} answered a malformed proof: {exc.message}") from None
    if proof.index != result.index or proof.checkpoint_note != result.checkpoint_note:
        raise TransparencyError(f"{where} answered a proof for another index or checkpoint than its receipt")
    _, key = open_trusted_checkpoint(proof.checkpoint_note, keys, what=f"the checkpoint answered by {where}")
    rebuilt = build_proof(proof.index, proof.audit_path, proof.checkpoint_note, repository)
    # The same check a verifier makes, with the key that signed: what is stored is what verifies.
    return verify_proof_offline(rebuilt, signature, TransparencyPolicy(required=True, verifier_keys=(key.vkey,)))


def _log_keys(client: LogClient, policy_keys: Sequence[str] | None) -> list[Verifier]:
    if policy_keys is not None:
        if not policy_keys:
            raise UsageError("no transparency log verifier key to check the log's answer with")
        keys: list[Verifier] = []
        for vkey in policy_keys:
            try:
                keys.append(Ed25519Verifier.from_vkey(vkey))
            except FormatError as exc:
                raise UsageError(f"invalid transparency log verifier key {vkey!r}: {exc.message}") from None
        return keys
    info = client.log_info()
    try:
        key = Ed25519Verifier.from_vkey(info["verifierKey"])
    except FormatError as exc:
        raise TransparencyError(
            f"transparency log {client.url} publishes a malformed verifier key: {exc.message}"
        ) from None
    if key.name != info["origin"]:
        raise TransparencyError(
            f"transparency log {client.url} publishes origin {info['origin']!r} with a key named {key.name!r}"
        )
    return [key]


def _logged_repository(entry: bytes, duplicate: bool, signature: LoggedSignature, where: str) -> str | None:
    """The repository of the entry the log already held for this envelope, if it is this signature's.

    The log keeps one entry per envelope: resubmitting under another repository returns the first
    entry. It proves this signature just as well, with that entry's repository in the proof.
    """
    if not duplicate:
        raise TransparencyError(f"{where} logged other entry bytes than this signature's entry")
    try:
        logged = Entry.from_bytes(entry)
    except InvalidEntryError as exc:
        raise TransparencyError(f"{where} answered a malformed entry: {exc.message}") from None
    if logged.envelope != signature.envelope:
        raise TransparencyError(f"{where} answered the entry of another envelope as this one's")
    if signature.leaf(logged.subject.repository) != entry:
        raise TransparencyError(
            f"{where} already holds this envelope in an entry for signature manifest "
            f"{logged.signature_manifest_digest or '(none)'} and subject {logged.subject.digest}, "
            f"not for signature manifest {signature.signature_manifest_digest or '(none)'} "
            f"and subject {signature.subject_digest}"
        )
    return logged.subject.repository


def check_consistency_online(inclusion: Inclusion, client: LogClient, policy: TransparencyPolicy) -> Checkpoint:
    """Check that the log still contains the tree ``inclusion`` was proven in; return its latest checkpoint.

    ``inclusion`` must come from :func:`verify_proof_offline` (its root hash is trusted).

    Raises:
        TransparencyError: the latest checkpoint is not trusted (keys, origin, quorum) or of another
            log; the log rolled back (smaller tree), forked (same size, other root) or rewrote
            history (the consistency proof does not verify); or the log cannot be read.
    """
    where = f"transparency log {client.url}"
    latest = _latest_checkpoint(client, policy)
    if latest.origin != inclusion.origin:
        raise TransparencyError(f"{where} serves the log {latest.origin!r}, but the proof is from {inclusion.origin!r}")
    if latest.size < inclusion.tree_size:
        raise TransparencyError(
            f"log rolled back: {where} ({latest.origin}) now has {latest.size} entries, "
            f"but the proof's checkpoint has {inclusion.tree_size}"
        )
    if latest.size == inclusion.tree_size:
        if latest.root_hash != inclusion.root_hash:
            raise TransparencyError(
                f"log forked: {where} ({latest.origin}) signed two different trees of size {latest.size}"
            )
        return latest
    path = client.consistency_proof(inclusion.tree_size, latest.size)
    try:
        verify_consistency(inclusion.tree_size, latest.size, inclusion.root_hash, latest.root_hash, path)
    except ProofError as exc:
        raise TransparencyError(
            f"the latest checkpoint of {where} ({latest.origin}, size {latest.size}) is not consistent with the "
            f"proof's checkpoint (size {inclusion.tree_size}): the log forked or rewrote history ({exc.message})"
        ) from None
    return latest


def find_in_log(
    client: LogClient,
    signature: LoggedSignature,
    policy: TransparencyPolicy,
    *,
    max_candidates: int = MAX_SEARCH_RESULTS,
) -> Inclusion:
    """Find ``signature``'s entry in the log by subject digest and prove it against the latest checkpoint.

    Returns:
        The verified inclusion, with a proof that can be stored.

    Raises:
        TransparencyError: no entry of the first ``max_candidates`` for the subject is this
            signature's, the latest checkpoint is not trusted, the proof does not verify, or the log
            cannot be read.
    """
    # A cheap filter before the exact comparison: canonical entries hold the envelope as base64.
    needle = b'"envelope":"' + base64.b64encode(signature.envelope) + b'"'
    searched = 0
    for index, data in client.iter_search_digest(signature.subject_digest, max_results=max_candidates):
        searched += 1
        if needle not in data:
            continue
        try:
            logged = Entry.from_bytes(data)
        except InvalidEntryError:
            continue  # not an entry this log could have written: certainly not ours
        repository = logged.subject.repository
        if signature.leaf(repository) == data:
            return _prove(client, signature, policy, index=index, data=data, repository=repository)
    raise TransparencyError(
        f"no entry for this signature in log {client.url}: none of the {searched} entries for "
        f"{signature.subject_digest} holds this envelope for this subject and signature manifest"
    )


def _prove(
    client: LogClient,
    signature: LoggedSignature,
    policy: TransparencyPolicy,
    *,
    index: int,
    data: bytes,
    repository: str | None,
) -> Inclusion:
    note = client.checkpoint()
    checkpoint = _open(note, client, policy)
    if index >= checkpoint.size:
        raise TransparencyError(
            f"entry {index} of transparency log {client.url} is not covered by its latest checkpoint (size {checkpoint.size})"
        )
    path = client.inclusion_proof(index, checkpoint.size)
    try:
        verify_inclusion(index, checkpoint.size, leaf_hash(data), path, checkpoint.root_hash)
    except ProofError as exc:
        raise TransparencyError(
            f"transparency log {client.url} answered an inclusion proof for entry {index} that does not verify: {exc.message}"
        ) from None
    return verify_proof_offline(build_proof(index, path, note, repository), signature, policy)


def _latest_checkpoint(client: LogClient, policy: TransparencyPolicy) -> Checkpoint:
    return _open(client.checkpoint(), client, policy)


def _open(note: bytes, client: LogClient, policy: TransparencyPolicy) -> Checkpoint:
    checkpoint, _ = open_trusted_checkpoint(
        note,
        policy.verifiers(),
        witnesses=policy.witness_verifiers(),
        quorum=policy.witness_quorum,
        what=f"the latest checkpoint of transparency log {client.url}",
    )
    return checkpoint


__all__ = ["check_consistency_online", "find_in_log", "submit_and_prove"]
