"""C2SP checkpoints (``c2sp.org/tlog-checkpoint``): the signed tree head as a signed note. Pure, no I/O.

Body (every line ends with a newline)::

    <origin>
    <tree size, ASCII decimal, no leading zeros>
    <base64 RFC 6962 root hash>
    [<extension line>...]

Parsing is strict: at least three lines, no empty line, canonical base64 of exactly 32 bytes, size in
``[0, 2^64)``. Two choices go beyond the letter of the spec and are documented here: the origin must
not contain Unicode white space (the spec only says SHOULD; a space-separated origin is refused so
origin and log key name can always be equal), and a size-0 checkpoint must carry the empty-tree root
``SHA-256("")`` (no other root exists for that size; tlog-witness rejects it too).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tlog.errors import FormatError, SignatureError, UnverifiedNoteError
from tlog.merkle import EMPTY_ROOT, HASH_SIZE, MAX_TREE_SIZE
from tlog.note import (
    MAX_NOTE_SIZE,
    MAX_SIGNATURES,
    Note,
    NoteSigner,
    Verifier,
    b64decode_strict,
    b64encode,
    open_note,
    sign_note,
)

_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}", re.ASCII)


def parse_decimal(text: str, what: str) -> int:
    """An ASCII decimal without leading zeros in ``[0, 2^64)``; raises :class:`FormatError`."""
    if not _DECIMAL.fullmatch(text):
        raise FormatError(f"{what} {text!r} is not a decimal number without leading zeros")
    value = int(text)
    if value > MAX_TREE_SIZE:
        raise FormatError(f"{what} {text} does not fit in 64 bits")
    return value


def _check_line(line: str, what: str) -> None:
    if not line:
        raise FormatError(f"checkpoint {what} must not be empty")
    if any(ord(ch) < 0x20 for ch in line):
        raise FormatError(f"checkpoint {what} must not contain newlines or control characters")


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: log ``origin``, tree ``size``, 32-byte RFC 6962 ``root_hash`` and ``extensions`` lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str):
            raise FormatError("checkpoint origin must be a string")
        _check_line(self.origin, "origin")
        if any(ch.isspace() for ch in self.origin):
            raise FormatError(f"checkpoint origin {self.origin!r} must not contain spaces")
        if not isinstance(self.size, int) or isinstance(self.size, bool) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise FormatError(f"checkpoint tree size {self.size!r} is not an integer in [0, 2^64)")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise FormatError(f"checkpoint root hash must be {HASH_SIZE} bytes")
        if self.size == 0 and self.root_hash != EMPTY_ROOT:
            raise FormatError("a checkpoint of size 0 must carry the empty-tree root hash SHA-256('')")
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for line in self.extensions:
            if not isinstance(line, str):
                raise FormatError("checkpoint extension lines must be strings")
            _check_line(line, "extension line")

    def to_body(self) -> bytes:
        """The note text: origin, size, base64 root and extension lines, each ending in a newline."""
        lines = [self.origin, str(self.size), b64encode(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines).encode("utf-8")

    @classmethod
    def from_body(cls, body: bytes) -> Checkpoint:
        """Parse and validate a checkpoint note text; raises :class:`FormatError`.

        Only call this on text whose signature has been verified (:func:`open_checkpoint` does both).
        """
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError("checkpoint is not valid UTF-8") from exc
        if not text.endswith("\n"):
            raise FormatError("checkpoint must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise FormatError("checkpoint must have at least three lines: origin, tree size and root hash")
        origin, size_text, root_text, *extensions = lines
        _check_line(size_text, "tree size")
        _check_line(root_text, "root hash")
        size = parse_decimal(size_text, "checkpoint tree size")
        root = b64decode_strict(root_text, "checkpoint root hash")
        if len(root) != HASH_SIZE:
            raise FormatError(f"checkpoint root hash is {len(root)} bytes, not {HASH_SIZE}")
        return cls(origin, size, root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner, *others: NoteSigner) -> bytes:
    """The signed note for ``checkpoint``: signed by ``signer`` (the log key), then by ``others``."""
    return sign_note(checkpoint.to_body(), [signer, *others])


def open_checkpoint_note(
    note: bytes,
    verifiers: Sequence[Verifier],
    origin: str | None = None,
    *,
    cosigners: Sequence[Verifier] = (),
    quorum: int = 0,
    max_size: int = MAX_NOTE_SIZE,
    max_signatures: int = MAX_SIGNATURES,
) -> tuple[Checkpoint, Note]:
    """Verify a signed checkpoint; return it with the opened :class:`~tlog.note.Note`.

    * ``verifiers`` are the log's keys: at least one of them must have signed
      (:class:`~tlog.errors.UnverifiedNoteError` otherwise).
    * ``cosigners`` are trusted witness keys: at least ``quorum`` distinct ones must have signed.
    * Any signature by a known key (log or cosigner) that fails rejects the checkpoint
      (:class:`~tlog.errors.InvalidSignatureError`); unknown signatures are ignored.
    * ``origin``, when given, must equal the checkpoint's origin line (:class:`~tlog.errors.SignatureError`).
    * The body is parsed only after a signature verified (:class:`~tlog.errors.FormatError` if malformed).
    """
    if quorum < 0 or quorum > len(cosigners):
        raise ValueError(f"quorum {quorum} is impossible with {len(cosigners)} cosigners")
    opened = open_note(note, [*verifiers, *cosigners], max_size=max_size, max_signatures=max_signatures)
    log_keys = set(verifiers)
    if not any(v in log_keys for v in opened.verified_by):
        raise UnverifiedNoteError("checkpoint is not signed by the log's key (only by cosigners)")
    checkpoint = Checkpoint.from_body(opened.text)
    if origin is not None and checkpoint.origin != origin:
        raise SignatureError(f"checkpoint origin {checkpoint.origin!r} is not the expected {origin!r}")
    if quorum:
        witness_keys = set(cosigners) - log_keys
        count = sum(1 for v in opened.verified_by if v in witness_keys)
        if count < quorum:
            raise SignatureError(f"checkpoint has {count} valid cosignature(s), {quorum} required")
    return checkpoint, opened


def open_checkpoint(
    note: bytes,
    verifiers: Sequence[Verifier],
    origin: str | None = None,
    *,
    cosigners: Sequence[Verifier] = (),
    quorum: int = 0,
) -> Checkpoint:
    """Verify a signed checkpoint and return it; see :func:`open_checkpoint_note` for the rules."""
    return open_checkpoint_note(note, verifiers, origin, cosigners=cosigners, quorum=quorum)[0]


__all__ = [
    "Checkpoint",
    "open_checkpoint",
    "open_checkpoint_note",
    "parse_decimal",
    "sign_checkpoint",
]
