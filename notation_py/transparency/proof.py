"""Offline verification of a ``c2sp.org/tlog-proof@v1`` proof for a signature.

The proof file (see :mod:`tlog.proof`) is an entry index, its audit path and a signed checkpoint.
It does not carry the entry: the verifier recomputes the leaf from what it holds
(:class:`~notation_py.transparency.signature.LoggedSignature`) and the one input it cannot derive,
the repository the signer logged, which travels in the proof's ``extra`` line as canonical JSON::

    extra base64('{"repository":"registry.example.com/team/app"}')

There is no ``extra`` line when the entry has no repository (OCI layouts, blobs). The ``extra``
line is not authenticated, and need not be: a wrong repository gives another leaf, which the
signed tree does not contain.

:func:`verify_proof_offline` checks, in order: the proof parses; its checkpoint is trusted
(:mod:`~notation_py.transparency.checkpoints`: a policy log key signed it under its own name,
witness quorum met); the ``extra`` line is well formed; the signature's leaf can be recomputed
(the envelope signs the subject being verified); and the inclusion proof leads from that leaf to
the checkpoint's root. Any failure is a :class:`~notation_py.errors.TransparencyError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import rfc8785

from notation_py.errors import TransparencyError, UsageError
from notation_py.jsonutil import JSONFormatError, strict_loads
from notation_py.oci.reference import RegistryReference
from notation_py.transparency.checkpoints import open_trusted_checkpoint
from notation_py.transparency.policy import TransparencyPolicy
from notation_py.transparency.signature import LoggedSignature
from tlog.errors import FormatError, ProofError
from tlog.merkle import leaf_hash, verify_inclusion
from tlog.proof import TlogProof

#: Largest ``extra`` payload accepted (a repository name is at most a few hundred bytes).
MAX_EXTRA_SIZE: Final = 1024
_EXTRA_KEY: Final = "repository"


@dataclass(frozen=True)
class Inclusion:
    """A verified inclusion of a signature's entry in a log.

    Attributes:
        origin: The log's origin (the checkpoint's first line; the name of the key that signed it).
        index: The entry's index.
        tree_size: The size of the tree the proof leads to.
        root_hash: That tree's root hash (from the verified checkpoint).
        checkpoint_note: The signed checkpoint note.
        proof: The ``c2sp.org/tlog-proof@v1`` bytes (with the ``extra`` line for a repository).
        repository: The repository the entry names, ``None`` if none.
    """

    origin: str
    index: int
    tree_size: int
    root_hash: bytes = field(repr=False)
    checkpoint_note: bytes = field(repr=False)
    proof: bytes = field(repr=False)
    repository: str | None


def check_repository(value: object) -> str:
    """``registry/repository`` without tag or digest, as log entries name it.

    Raises:
        UsageError: anything else.
    """
    if not isinstance(value, str) or not value:
        raise UsageError("a repository must be a non-empty string such as 'registry.example.com/app'")
    ref = RegistryReference.parse(value)
    if ref.tag is not None or ref.digest is not None or ref.repository_path != value:
        raise UsageError(f"repository {value!r} must be 'registry/repository' without a tag or digest")
    return value


def encode_proof_extra(repository: str | None) -> bytes | None:
    """The proof's ``extra`` data for an entry naming ``repository``: ``None`` for no repository.

    Raises:
        UsageError: ``repository`` is not ``registry/repository``.
    """
    if repository is None:
        return None
    return bytes(rfc8785.dumps({_EXTRA_KEY: check_repository(repository)}))


def decode_proof_extra(extra: bytes | None) -> str | None:
    """The repository carried by a proof's ``extra`` data (``None`` when there is none).

    Only the exact bytes :func:`encode_proof_extra` writes are accepted.

    Raises:
        TransparencyError: anything else.
    """
    if extra is None:
        return None
    problem = f"it is larger than {MAX_EXTRA_SIZE} bytes"
    if len(extra) <= MAX_EXTRA_SIZE:
        try:
            doc = strict_loads(bytes(extra))
        except JSONFormatError as exc:
            problem = f"not JSON: {exc.message}"
        else:
            problem = _extra_problem(doc, bytes(extra))
            if not problem:
                return str(doc[_EXTRA_KEY])
    raise TransparencyError(
        f'malformed transparency proof: the extra line must hold canonical JSON {{"repository": "<registry>/<repository>"}}: {problem}'
    )


def _extra_problem(doc: object, extra: bytes) -> str:
    if not isinstance(doc, dict) or set(doc) != {_EXTRA_KEY}:
        return 'not an object with exactly the member "repository"'
    try:
        if encode_proof_extra(doc[_EXTRA_KEY]) != extra:
            return "not in canonical form"
    except UsageError as exc:
        return exc.message
    return ""


def verify_proof_offline(proof: bytes, signature: LoggedSignature, policy: TransparencyPolicy) -> Inclusion:
    """Verify that ``proof`` proves ``signature`` is in a log the ``policy`` trusts.

    Args:
        proof: The ``c2sp.org/tlog-proof@v1`` bytes (from a proof referrer or a ``.tlog-proof`` file).
        signature: What the verifier holds: envelope, subject being verified, signature manifest digest.
        policy: Trusted log keys, witness keys and quorum.

    Returns:
        The verified inclusion (``proof`` kept as given).

    Raises:
        TransparencyError: the proof is malformed, its checkpoint is not trusted (unknown key, other
            origin, quorum not met), or its inclusion proof does not lead from this signature's leaf
            to the checkpoint's root (a proof for another entry, another subject or repository, or
            altered bytes).
    """
    try:
        parsed = TlogProof.from_bytes(bytes(proof))
    except FormatError as exc:
        raise TransparencyError(f"malformed transparency proof: {exc.message}") from None
    checkpoint, _key = open_trusted_checkpoint(
        parsed.checkpoint_note,
        policy.verifiers(),
        witnesses=policy.witness_verifiers(),
        quorum=policy.witness_quorum,
        what="the checkpoint of the transparency proof",
    )
    repository = decode_proof_extra(parsed.extra)
    leaf = signature.leaf(repository)
    try:
        # The checkpoint (parsed from these very note bytes) is trusted: only the inclusion remains.
        # Not tlog.proof.verify_proof, which would verify the checkpoint's signature a second time.
        verify_inclusion(parsed.index, checkpoint.size, leaf_hash(leaf), parsed.audit_path, checkpoint.root_hash)
    except ProofError as exc:
        named = f"repository {repository!r}" if repository is not None else "no repository"
        raise TransparencyError(
            f"transparency proof does not match this signature: the inclusion proof of entry {parsed.index} in "
            f"{checkpoint.origin} (tree size {checkpoint.size}) does not lead from this signature's entry "
            f"(subject {signature.subject_digest}, {named}) to the checkpoint's root; the proof is for another "
            f"entry or subject, or was altered ({exc.message})"
        ) from None
    return Inclusion(
        origin=checkpoint.origin,
        index=parsed.index,
        tree_size=checkpoint.size,
        root_hash=checkpoint.root_hash,
        checkpoint_note=parsed.checkpoint_note,
        proof=bytes(proof),
        repository=repository,
    )


def build_proof(
    index: int, audit_path: tuple[bytes, ...] | list[bytes], checkpoint_note: bytes, repository: str | None
) -> bytes:
    """The ``c2sp.org/tlog-proof@v1`` bytes for an entry, with the ``extra`` line for ``repository``.

    Raises:
        TransparencyError: the parts do not form a proof (a malformed audit path, say).
    """
    try:
        return TlogProof(index, tuple(audit_path), checkpoint_note, encode_proof_extra(repository)).to_bytes()
    except FormatError as exc:
        raise TransparencyError(f"cannot build the transparency proof: {exc.message}") from None


__all__ = [
    "MAX_EXTRA_SIZE",
    "Inclusion",
    "build_proof",
    "check_repository",
    "decode_proof_extra",
    "encode_proof_extra",
    "verify_proof_offline",
]
