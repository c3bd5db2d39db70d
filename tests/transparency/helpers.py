"""Shared test data: real signed envelopes, policies, and logs built with tlog's pure core."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from notation_py.envelope import MEDIA_TYPE_JWS
from notation_py.envelope.payload import TargetArtifact, build_payload
from notation_py.transparency import LoggedSignature, TransparencyPolicy, encode_proof_extra
from tests.envelope.helpers import sign
from tests.pki import chain_signer
from tests.tlog.test_server import MANIFEST_MEDIA_TYPE, REPOSITORY, digest_for, envelope_for
from tlog import merkle
from tlog.checkpoint import Checkpoint, sign_checkpoint
from tlog.note import Cosigner, NoteSigner, Signer
from tlog.proof import TlogProof

ORIGIN = "log.example.com/transparency-test"
LOG_SIGNER = Signer.from_seed(ORIGIN, bytes(range(32, 64)))
OTHER_SIGNER = Signer.from_seed(ORIGIN, bytes(range(64, 96)))  # same name, another key
#: Witnesses: a cosignature/v1 key, and a plain Ed25519 note key (both are accepted as witnesses).
WITNESS = Cosigner(
    "witness.example.com", Ed25519PrivateKey.from_private_bytes(bytes(range(7, 39))), lambda: 1_767_225_600
)
WITNESS2 = Signer.from_seed("witness2.example.com", bytes(range(9, 41)))
SIGNATURE_MANIFEST = "sha256:" + "cd" * 32
SUBJECT_SIZE = 1234

__all__ = ["MANIFEST_MEDIA_TYPE", "REPOSITORY", "digest_for"]


def logged_signature(name: str, manifest_digest: str | None = SIGNATURE_MANIFEST) -> LoggedSignature:
    """A real JWS signature of a fresh artifact ``name``, as a verifier holds it."""
    digest = digest_for(name)
    return LoggedSignature(
        envelope_for(digest), MEDIA_TYPE_JWS, digest, MANIFEST_MEDIA_TYPE, SUBJECT_SIZE, manifest_digest
    )


def second_envelope(signature: LoggedSignature) -> LoggedSignature:
    """Another envelope signing the same subject (ECDSA signatures differ each time)."""
    payload = build_payload(
        TargetArtifact(media_type=MANIFEST_MEDIA_TYPE, digest=signature.subject_digest, size=SUBJECT_SIZE)
    )
    envelope = sign(MEDIA_TYPE_JWS, chain_signer("ec-256"), payload=payload)
    assert envelope != signature.envelope
    return LoggedSignature(
        envelope,
        signature.envelope_media_type,
        signature.subject_digest,
        signature.subject_media_type,
        signature.subject_size,
        signature.signature_manifest_digest,
    )


def policy(
    *log_keys: NoteSigner, witnesses: Sequence[NoteSigner] = (), quorum: int = 0, online: bool = False
) -> TransparencyPolicy:
    """A required policy trusting ``log_keys`` (default: :data:`LOG_SIGNER`)."""
    keys = log_keys or (LOG_SIGNER,)
    return TransparencyPolicy(
        required=True,
        verifier_keys=tuple(k.vkey for k in keys),
        online=online,
        witness_quorum=quorum,
        witness_keys=tuple(w.vkey for w in witnesses),
    )


def filler(i: int) -> bytes:
    """Bytes of an unrelated entry (a Merkle tree takes any leaf bytes)."""
    return b"filler entry %d " % i + hashlib.sha256(b"%d" % i).digest()


@dataclass
class PureLog:
    """A log kept in memory with tlog's pure Merkle and checkpoint code."""

    signer: Signer = LOG_SIGNER
    origin: str | None = None
    entries: list[bytes] = field(default_factory=list)

    def append(self, data: bytes) -> int:
        """Append one entry; its index."""
        self.entries.append(data)
        return len(self.entries) - 1

    def leaves(self) -> list[bytes]:
        """Every leaf hash."""
        return [merkle.leaf_hash(e) for e in self.entries]

    def checkpoint(self, *cosigners: NoteSigner) -> bytes:
        """The signed checkpoint of the current tree, cosigned by ``cosigners``."""
        leaves = self.leaves()
        body = Checkpoint(self.origin or self.signer.name, len(leaves), merkle.root_from_leaf_hashes(leaves))
        return sign_checkpoint(body, self.signer, *cosigners)

    def proof(self, index: int, repository: str | None = REPOSITORY, *, cosigners: Sequence[NoteSigner] = ()) -> bytes:
        """The tlog-proof of entry ``index`` with ``repository`` in its extra line."""
        path = merkle.inclusion_proof_from_leaves(index, self.leaves())
        return TlogProof(index, tuple(path), self.checkpoint(*cosigners), encode_proof_extra(repository)).to_bytes()


def log_with(
    signature: LoggedSignature, repository: str | None = REPOSITORY, *, before: int = 3, after: int = 2
) -> tuple[PureLog, int]:
    """A pure log holding ``signature``'s entry among fillers; the log and the entry's index."""
    log = PureLog()
    for i in range(before):
        log.append(filler(i))
    index = log.append(signature.leaf(repository))
    for i in range(after):
        log.append(filler(100 + i))
    return log, index
