"""Offline inclusion proofs in the ``c2sp.org/tlog-proof@v1`` format ("spicy signatures"). Pure, no I/O.

::

    c2sp.org/tlog-proof@v1
    extra <base64>                 optional, opaque, NOT authenticated
    index <decimal, no leading zeros>
    <base64 hash>                  0..64 audit-path hashes, leaf's sibling first
    <empty line>
    <checkpoint note, verbatim>

Proofs SHOULD be stored with the extension ``.tlog-proof``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tlog.checkpoint import Checkpoint, open_checkpoint, parse_decimal
from tlog.errors import FormatError
from tlog.merkle import HASH_SIZE, verify_inclusion
from tlog.note import Verifier, b64decode_strict, b64encode

#: First line of every proof.
HEADER = "c2sp.org/tlog-proof@v1"
#: Suggested file extension.
FILE_EXTENSION = ".tlog-proof"
#: Most audit-path lines accepted (a tree of fewer than 2^64 leaves has paths of at most 64 hashes).
MAX_AUDIT_PATH = 64
#: Largest proof file accepted (the checkpoint note dominates).
MAX_PROOF_SIZE = (1 << 20) + 8192


@dataclass(frozen=True)
class TlogProof:
    """An entry ``index``, its ``audit_path`` and the signed ``checkpoint_note`` it leads to, plus
    optional unauthenticated ``extra`` data (``None`` when absent; it cannot be empty)."""

    index: int
    audit_path: tuple[bytes, ...]
    checkpoint_note: bytes
    extra: bytes | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.index, int) or isinstance(self.index, bool) or not 0 <= self.index < 1 << 64:
            raise FormatError(f"proof index {self.index!r} is not a 64-bit unsigned integer")
        object.__setattr__(self, "audit_path", tuple(bytes(h) for h in self.audit_path))
        if len(self.audit_path) > MAX_AUDIT_PATH:
            raise FormatError(f"audit path has {len(self.audit_path)} hashes, at most {MAX_AUDIT_PATH} possible")
        for i, h in enumerate(self.audit_path):
            if len(h) != HASH_SIZE:
                raise FormatError(f"audit path hash {i} is {len(h)} bytes, not {HASH_SIZE}")
        if not isinstance(self.checkpoint_note, bytes) or not self.checkpoint_note:
            raise FormatError("proof needs a checkpoint note")
        if self.extra is not None and not self.extra:
            raise FormatError("empty extra data: use None (the extra line is then omitted)")

    def to_bytes(self) -> bytes:
        """The ``.tlog-proof`` encoding."""
        lines = [HEADER]
        if self.extra is not None:
            lines.append(f"extra {b64encode(self.extra)}")
        lines.append(f"index {self.index}")
        lines.extend(b64encode(h) for h in self.audit_path)
        return ("\n".join(lines) + "\n\n").encode("ascii") + self.checkpoint_note

    @classmethod
    def from_bytes(cls, data: bytes) -> TlogProof:
        """Parse a ``.tlog-proof``; raises :class:`FormatError`. Nothing is verified here."""
        data = bytes(data)
        if len(data) > MAX_PROOF_SIZE:
            raise FormatError(f"proof is {len(data)} bytes, more than the {MAX_PROOF_SIZE} accepted")
        position = 0

        def next_line() -> str:
            nonlocal position
            end = data.find(b"\n", position)
            if end < 0:
                raise FormatError("proof ends before the checkpoint")
            raw = data[position:end]
            position = end + 1
            try:
                return raw.decode("ascii")
            except UnicodeDecodeError as exc:
                raise FormatError("proof header lines must be ASCII") from exc

        if next_line() != HEADER:
            raise FormatError(f"proof does not start with {HEADER!r}")
        line = next_line()
        extra = None
        if line.startswith("extra "):
            extra = b64decode_strict(line[len("extra ") :], "proof extra data")
            if not extra:
                raise FormatError("proof extra line carries no data")
            line = next_line()
        if not line.startswith("index "):
            raise FormatError("proof must have an 'index <N>' line after the header (and optional extra line)")
        index = parse_decimal(line[len("index ") :], "proof index")
        path: list[bytes] = []
        while (line := next_line()) != "":
            if len(path) == MAX_AUDIT_PATH:
                raise FormatError(f"audit path has more than {MAX_AUDIT_PATH} hashes")
            digest = b64decode_strict(line, f"audit path hash {len(path)}")
            if len(digest) != HASH_SIZE:
                raise FormatError(f"audit path hash {len(path)} is {len(digest)} bytes, not {HASH_SIZE}")
            path.append(digest)
        note = data[position:]
        if not note:
            raise FormatError("proof has no checkpoint after the empty line")
        return cls(index, tuple(path), note, extra)


def verify_proof(
    proof: TlogProof,
    leaf_hash: bytes,
    verifiers: Sequence[Verifier],
    origin: str | None = None,
    *,
    cosigners: Sequence[Verifier] = (),
    quorum: int = 0,
) -> Checkpoint:
    """Verify ``proof`` for an entry whose RFC 6962 leaf hash is ``leaf_hash``; return the checkpoint.

    First the checkpoint (signed by one of the log keys ``verifiers``, origin equal to ``origin``
    when given, at least ``quorum`` of ``cosigners``; see :func:`tlog.checkpoint.open_checkpoint`),
    then the inclusion of ``leaf_hash`` at ``proof.index`` under its root. Raises
    :class:`~tlog.errors.SignatureError`, :class:`~tlog.errors.FormatError` or
    :class:`~tlog.errors.ProofError`. ``proof.extra`` is not authenticated by any of this.
    """
    checkpoint = open_checkpoint(proof.checkpoint_note, verifiers, origin, cosigners=cosigners, quorum=quorum)
    verify_inclusion(proof.index, checkpoint.size, leaf_hash, proof.audit_path, checkpoint.root_hash)
    return checkpoint


__all__ = ["FILE_EXTENSION", "HEADER", "MAX_AUDIT_PATH", "TlogProof", "verify_proof"]
