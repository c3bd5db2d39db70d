"""C2SP signed notes (``c2sp.org/signed-note``): keys, signing and verification. Pure, no I/O.

A note is UTF-8 text ending in a newline, a blank line, then one or more signature lines
``— <key name> <base64(4-byte key ID || signature)>``. The signed message is the text including its
final newline. A key is identified by (name, key ID); the key ID is
``SHA-256(name || 0x0A || signature type || public key)[:4]``.

Signature types implemented here:

* ``0x01`` Ed25519 (:class:`Signer`, :class:`Ed25519Verifier`): the log's own checkpoint signatures.
* ``0x04`` timestamped Ed25519 witness cosignatures ``cosignature/v1`` (c2sp.org/tlog-cosignature;
  :class:`Cosigner`, :class:`CosignatureVerifier`).

Signatures of any other type are parsed and, having no verifier, ignored as unknown keys.

Key encodings:

* verifier key (*vkey*): ``<name>+<8 hex digits key ID>+<base64(type || public key)>``;
* Go ``golang.org/x/mod/sumdb/note`` private key (*skey*):
  ``PRIVATE+KEY+<name>+<key ID>+<base64(0x01 || 32-byte Ed25519 seed)>`` (:meth:`Signer.skey`);
* PKCS#8 PEM (:meth:`Signer.private_key_pem`, optionally password-encrypted with the ``cryptography``
  package's best available encryption) or the raw 32-byte RFC 8032 seed (:meth:`Signer.seed`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tlog.errors import FormatError, InvalidSignatureError, SignatureError, UnverifiedNoteError

#: Signature type byte of Ed25519 note signatures.
SIG_TYPE_ED25519 = 0x01
#: Signature type byte of timestamped Ed25519 witness cosignatures (c2sp.org/tlog-cosignature).
SIG_TYPE_COSIGNATURE_V1 = 0x04

#: Largest note :func:`open_note` accepts by default (the spec asks for at least 16 signatures of
#: up to ~5 kB each; checkpoints are a few hundred bytes).
MAX_NOTE_SIZE = 1 << 20
#: Most signature lines :func:`open_note` accepts by default (the spec requires at least 16).
MAX_SIGNATURES = 100

_EM_DASH_PREFIX = "\u2014 "
_ED25519_KEY_SIZE = 32
_ED25519_SIG_SIZE = 64
_MAX_TIMESTAMP = (1 << 63) - 1


# --- helpers ------------------------------------------------------------------------------------


def b64decode_strict(text: str, what: str) -> bytes:
    """Decode standard padded base64 (RFC 4648 §4), accepting only the canonical encoding."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise FormatError(f"{what} is not valid base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise FormatError(f"{what} is not canonical base64")
    return raw


def b64encode(data: bytes) -> str:
    """Standard padded base64 as ``str``."""
    return base64.b64encode(data).decode("ascii")


def _has_control_chars(text: str) -> bool:
    return any(ord(ch) < 0x20 and ch != "\n" for ch in text)


def check_key_name(name: str) -> None:
    """Raise :class:`FormatError` unless ``name`` is a valid key name.

    Non-empty, no Unicode white space, no ``+``, no control characters (signed-note "Format").
    """
    if not isinstance(name, str) or not name:
        raise FormatError("key name must be a non-empty string")
    if "+" in name or any(ch.isspace() for ch in name) or _has_control_chars(name):
        raise FormatError(f"key name {name!r} must not contain spaces, '+' or control characters")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise FormatError(f"key name {name!r} is not valid UTF-8") from exc


def key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    """Recommended 4-byte key ID: ``SHA-256(name || 0x0A || sig_type || public_key)[:4]``."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key).digest()[:4]


def format_vkey(name: str, key_id_bytes: bytes, sig_type: int, public_key: bytes) -> str:
    """Verifier key string ``<name>+<hex key ID>+<base64(type || public key)>``."""
    return f"{name}+{key_id_bytes.hex()}+{b64encode(bytes([sig_type]) + public_key)}"


def check_text(text: bytes) -> str:
    """Validate note text (UTF-8, ends with a newline, no control characters but newline); return it decoded."""
    try:
        decoded = bytes(text).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError("note text is not valid UTF-8") from exc
    if not decoded.endswith("\n"):
        raise FormatError("note text must end with a newline")
    if _has_control_chars(decoded):
        raise FormatError("note text must not contain control characters other than newline")
    return decoded


# --- verifiers ----------------------------------------------------------------------------------


class Verifier(ABC):
    """A trusted public key that checks note signatures for one (key name, key ID) pair."""

    __slots__ = ()

    @property
    @abstractmethod
    def name(self) -> str:
        """Key name as it appears on signature lines."""

    @property
    @abstractmethod
    def key_id(self) -> bytes:
        """The 4-byte key ID."""

    @property
    @abstractmethod
    def vkey(self) -> str:
        """Verifier key string ``<name>+<hex key ID>+<base64(type || public key)>``."""

    @abstractmethod
    def verify(self, text: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (the bytes after the key ID) is valid for the note ``text``."""

    @classmethod
    def from_vkey(cls, vkey: str) -> Verifier:
        """Parse a verifier key; type 0x01 gives an :class:`Ed25519Verifier`, 0x04 a :class:`CosignatureVerifier`.

        The string is split on its first two ``+`` (the base64 part may contain ``+``). The key ID
        must match the one computed from name, type and key. Called on a subclass, the key must be
        of that subclass's type. Raises :class:`FormatError`.
        """
        if not isinstance(vkey, str):
            raise FormatError("verifier key must be a string")
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise FormatError("verifier key must look like <name>+<hex key ID>+<base64 key>")
        name, id_hex, key_b64 = parts
        check_key_name(name)
        if len(id_hex) != 8 or any(ch not in "0123456789abcdefABCDEF" for ch in id_hex):
            raise FormatError(f"verifier key ID {id_hex!r} is not 8 hexadecimal digits")
        raw = b64decode_strict(key_b64, "verifier key")
        if len(raw) < 2:
            raise FormatError("verifier key is too short")
        sig_type, public_key = raw[0], raw[1:]
        verifier: Verifier
        if sig_type == SIG_TYPE_ED25519:
            verifier = Ed25519Verifier(name, public_key)
        elif sig_type == SIG_TYPE_COSIGNATURE_V1:
            verifier = CosignatureVerifier(name, public_key)
        else:
            raise FormatError(f"unsupported verifier key signature type 0x{sig_type:02x}")
        if bytes.fromhex(id_hex) != verifier.key_id:
            raise FormatError(f"verifier key ID {id_hex} does not match the key (expected {verifier.key_id.hex()})")
        if cls is not Verifier and not isinstance(verifier, cls):
            raise FormatError(f"verifier key of type 0x{sig_type:02x} is not a {cls.__name__} key")
        return verifier

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Verifier):
            return NotImplemented
        return type(self) is type(other) and self.vkey == other.vkey

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.vkey))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.vkey!r})"


class _Ed25519KeyIdentity:
    """Name, key ID, public key and verifier key string of an Ed25519-based key (signer or verifier)."""

    __slots__ = ()
    SIG_TYPE: int = SIG_TYPE_ED25519
    _name: str
    _key_id: bytes
    _public_key: bytes

    @property
    def name(self) -> str:
        """Key name."""
        return self._name

    @property
    def key_id(self) -> bytes:
        """4-byte key ID."""
        return self._key_id

    @property
    def public_key(self) -> bytes:
        """Raw 32-byte Ed25519 public key."""
        return self._public_key

    @property
    def vkey(self) -> str:
        """Verifier key string ``<name>+<hex key ID>+<base64(type || public key)>``."""
        return format_vkey(self._name, self._key_id, self.SIG_TYPE, self._public_key)


class _Ed25519KeyVerifier(_Ed25519KeyIdentity, Verifier):
    """Shared code of the two Ed25519-based verifiers."""

    __slots__ = ("_key", "_key_id", "_name", "_public_key")

    def __init__(self, name: str, public_key: bytes) -> None:
        check_key_name(name)
        public_key = bytes(public_key)
        if len(public_key) != _ED25519_KEY_SIZE:
            raise FormatError(f"Ed25519 public key is {len(public_key)} bytes, not {_ED25519_KEY_SIZE}")
        try:
            self._key = Ed25519PublicKey.from_public_bytes(public_key)
        except ValueError as exc:
            raise FormatError("invalid Ed25519 public key") from exc
        self._name = name
        self._public_key = public_key
        self._key_id = key_id(name, self.SIG_TYPE, public_key)

    def _check(self, message: bytes, signature: bytes) -> bool:
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


class Ed25519Verifier(_Ed25519KeyVerifier):
    """Verifier of Ed25519 (type 0x01) note signatures."""

    __slots__ = ()
    SIG_TYPE = SIG_TYPE_ED25519

    def verify(self, text: bytes, signature: bytes) -> bool:
        """RFC 8032 Ed25519 over the note text."""
        return len(signature) == _ED25519_SIG_SIZE and self._check(bytes(text), bytes(signature))


def cosignature_message(text: bytes, timestamp: int) -> bytes:
    """What a ``cosignature/v1`` Ed25519 cosigner signs: header, ``time <ts>`` line, checkpoint body."""
    return b"cosignature/v1\ntime " + str(timestamp).encode("ascii") + b"\n" + bytes(text)


def cosignature_timestamp(signature: bytes) -> int:
    """The POSIX timestamp (seconds) carried by a ``cosignature/v1`` signature (bytes after the key ID)."""
    if len(signature) != 8 + _ED25519_SIG_SIZE:
        raise FormatError(f"cosignature is {len(signature)} bytes, not {8 + _ED25519_SIG_SIZE}")
    return int.from_bytes(signature[:8], "big")


class CosignatureVerifier(_Ed25519KeyVerifier):
    """Verifier of timestamped Ed25519 witness cosignatures (type 0x04, c2sp.org/tlog-cosignature)."""

    __slots__ = ()
    SIG_TYPE = SIG_TYPE_COSIGNATURE_V1

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Signature = 8-byte big-endian timestamp || Ed25519 over :func:`cosignature_message`."""
        if len(signature) != 8 + _ED25519_SIG_SIZE:
            return False
        timestamp = int.from_bytes(signature[:8], "big")
        if timestamp > _MAX_TIMESTAMP:
            return False
        return self._check(cosignature_message(text, timestamp), bytes(signature[8:]))


# --- signers ------------------------------------------------------------------------------------


class NoteSigner(Protocol):
    """Anything that can add a signature line to a note."""

    @property
    def name(self) -> str:
        """Key name."""
        ...

    @property
    def key_id(self) -> bytes:
        """4-byte key ID."""
        ...

    @property
    def vkey(self) -> str:
        """The verifier key string that checks this signer's signatures."""
        ...

    def signature_bytes(self, text: bytes) -> bytes:
        """The signature over ``text`` (without the key ID)."""
        ...


def _private_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    seed = bytes(seed)
    if len(seed) != _ED25519_KEY_SIZE:
        raise FormatError(f"Ed25519 seed is {len(seed)} bytes, not {_ED25519_KEY_SIZE}")
    return Ed25519PrivateKey.from_private_bytes(seed)


class _Ed25519KeySigner(_Ed25519KeyIdentity, ABC):
    """Shared code of the two Ed25519-based signers."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        check_key_name(name)
        if not isinstance(private_key, Ed25519PrivateKey):
            raise FormatError("signing key must be an Ed25519 private key")
        self._name = name
        self._private_key = private_key
        self._public_key = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self._key_id = key_id(name, self.SIG_TYPE, self._public_key)

    @property
    def seed(self) -> bytes:
        """The raw 32-byte RFC 8032 private key (seed). Secret."""
        return self._private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )

    def private_key_pem(self, password: bytes | None = None) -> bytes:
        """PKCS#8 PEM of the private key; encrypted with ``password`` when given. Secret."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return self._private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    @abstractmethod
    def signature_bytes(self, text: bytes) -> bytes:
        """The signature over ``text`` (without the key ID)."""

    def sign(self, text: bytes) -> bytes:
        """A complete signed note: ``text``, a blank line and this key's signature line."""
        return sign_note(text, [self])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.vkey!r})"


class Signer(_Ed25519KeySigner):
    """An Ed25519 (type 0x01) note signer: an Ed25519 private key and a key name."""

    SIG_TYPE = SIG_TYPE_ED25519

    def verifier(self) -> Ed25519Verifier:
        """The matching verifier."""
        return Ed25519Verifier(self._name, self._public_key)

    def signature_bytes(self, text: bytes) -> bytes:
        """Ed25519 signature over ``text``."""
        return self._private_key.sign(bytes(text))

    @property
    def skey(self) -> str:
        """Go ``sumdb/note`` private key string ``PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>``. Secret."""
        return f"PRIVATE+KEY+{self._name}+{self._key_id.hex()}+{b64encode(bytes([SIG_TYPE_ED25519]) + self.seed)}"

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> Signer:
        """Signer from a raw 32-byte Ed25519 seed."""
        return cls(name, _private_key_from_seed(seed))

    @classmethod
    def from_private_key_pem(cls, name: str, pem: bytes, password: bytes | None = None) -> Signer:
        """Signer from a PKCS#8 PEM Ed25519 private key (as written by :meth:`private_key_pem`)."""
        try:
            key = serialization.load_pem_private_key(bytes(pem), password=password)
        except (ValueError, TypeError) as exc:
            raise FormatError(f"cannot load the private key: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise FormatError("the private key is not an Ed25519 key")
        return cls(name, key)

    @classmethod
    def from_skey(cls, skey: str) -> Signer:
        """Signer from a Go ``sumdb/note`` private key string; the key ID must match."""
        parts = skey.split("+", 4) if isinstance(skey, str) else []
        if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
            raise FormatError("signer key must look like PRIVATE+KEY+<name>+<hex key ID>+<base64 key>")
        _, _, name, id_hex, key_b64 = parts
        raw = b64decode_strict(key_b64, "signer key")
        if len(raw) != 1 + _ED25519_KEY_SIZE or raw[0] != SIG_TYPE_ED25519:
            raise FormatError("signer key is not an Ed25519 (type 0x01) key")
        signer = cls.from_seed(name, raw[1:])
        if id_hex != signer.key_id.hex():
            raise FormatError(f"signer key ID {id_hex} does not match the key")
        return signer


class Cosigner(_Ed25519KeySigner):
    """A ``cosignature/v1`` (type 0x04) witness cosigner; signs checkpoint bodies with a timestamp."""

    SIG_TYPE = SIG_TYPE_COSIGNATURE_V1

    def __init__(
        self, name: str, private_key: Ed25519PrivateKey, clock: Callable[[], int] = lambda: int(time.time())
    ) -> None:
        """``clock`` returns the POSIX time in seconds to put in each cosignature."""
        super().__init__(name, private_key)
        self._clock = clock

    def verifier(self) -> CosignatureVerifier:
        """The matching verifier."""
        return CosignatureVerifier(self._name, self._public_key)

    def signature_bytes(self, text: bytes) -> bytes:
        """8-byte big-endian timestamp || Ed25519 signature over :func:`cosignature_message`."""
        timestamp = self._clock()
        if not 0 <= timestamp <= _MAX_TIMESTAMP:
            raise FormatError(f"cosignature timestamp {timestamp} is out of range")
        return timestamp.to_bytes(8, "big") + self._private_key.sign(cosignature_message(text, timestamp))


def generate_signer(name: str) -> tuple[Signer, str]:
    """A new random Ed25519 :class:`Signer` for key ``name`` and its verifier key string."""
    signer = Signer(name, Ed25519PrivateKey.generate())
    return signer, signer.vkey


# --- notes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    """One signature line: key ``name``, 4-byte ``key_id`` and the ``signature`` bytes after the ID."""

    name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if len(self.key_id) != 4:
            raise FormatError("signature key ID must be 4 bytes")
        if not self.signature:
            raise FormatError("empty signature")

    def line(self) -> str:
        """The signature line, newline included."""
        return f"{_EM_DASH_PREFIX}{self.name} {b64encode(self.key_id + self.signature)}\n"


@dataclass(frozen=True)
class Note:
    """An opened note: its ``text`` (final newline included), every parsed signature (in order, exact
    duplicates dropped) and the verifiers whose signatures verified (each once, in order)."""

    text: bytes
    signatures: tuple[Signature, ...]
    verified_by: tuple[Verifier, ...]

    @property
    def text_str(self) -> str:
        """The text as ``str``."""
        return self.text.decode("utf-8")

    def verified_signatures(self) -> list[Signature]:
        """Signatures made by one of :attr:`verified_by`."""
        known = {(v.name, v.key_id) for v in self.verified_by}
        return [s for s in self.signatures if (s.name, s.key_id) in known]


def sign_note(text: bytes, signers: Sequence[NoteSigner], existing: Sequence[Signature] = ()) -> bytes:
    """Encode ``text`` with ``existing`` signature lines followed by new ones from ``signers``.

    An existing signature with the same (name, key ID) as one of the signers is replaced.
    """
    text = bytes(text)
    check_text(text)
    if not signers and not existing:
        raise FormatError("a note needs at least one signature")
    new_lines: list[str] = []
    replaced: set[tuple[str, bytes]] = set()
    for signer in signers:
        check_key_name(signer.name)
        new_lines.append(Signature(signer.name, bytes(signer.key_id), signer.signature_bytes(text)).line())
        replaced.add((signer.name, bytes(signer.key_id)))
    old_lines = [s.line() for s in existing if (s.name, s.key_id) not in replaced]
    return text + b"\n" + "".join(old_lines + new_lines).encode("utf-8")


def _verifier_map(verifiers: Sequence[Verifier]) -> dict[tuple[str, bytes], Verifier]:
    known: dict[tuple[str, bytes], Verifier] = {}
    for v in verifiers:
        if not isinstance(v, Verifier):
            raise TypeError(f"not a Verifier: {v!r}")
        ident = (v.name, v.key_id)
        if ident in known and known[ident] != v:
            raise SignatureError(f"two different trusted keys share the name and key ID {v.name}+{v.key_id.hex()}")
        known[ident] = v
    return known


def parse_note(
    note: bytes, *, max_size: int = MAX_NOTE_SIZE, max_signatures: int = MAX_SIGNATURES
) -> tuple[bytes, list[Signature]]:
    """Split a note into its text and signature lines without verifying anything.

    The text is everything up to and including the newline before the *last* blank line. Raises
    :class:`FormatError`. The text MUST NOT be trusted before a signature over it is verified.
    """
    if not isinstance(note, bytes | bytearray | memoryview):
        raise FormatError("a note must be bytes")
    note = bytes(note)
    if len(note) > max_size:
        raise FormatError(f"note is {len(note)} bytes, more than the {max_size} accepted")
    try:
        decoded = note.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError("note is not valid UTF-8") from exc
    if _has_control_chars(decoded):
        raise FormatError("note must not contain control characters other than newline")
    split = note.rfind(b"\n\n")
    if split < 0:
        raise FormatError("note has no blank line between text and signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block:
        raise FormatError("note has no signature lines")
    if not block.endswith(b"\n"):
        raise FormatError("note must end with a newline")
    signatures: list[Signature] = []
    seen_lines: set[bytes] = set()
    lines = block[:-1].split(b"\n")
    if len(lines) > max_signatures:
        raise FormatError(f"note has {len(lines)} signatures, more than the {max_signatures} accepted")
    for raw_line in lines:
        line = raw_line.decode("utf-8")
        if not line.startswith(_EM_DASH_PREFIX):
            raise FormatError("signature line must start with an em dash and a space")
        name, sep, sig_b64 = line[len(_EM_DASH_PREFIX) :].partition(" ")
        if not sep:
            raise FormatError("signature line must be '— <key name> <base64 signature>'")
        check_key_name(name)
        raw = b64decode_strict(sig_b64, f"signature by {name}")
        if len(raw) < 5:
            raise FormatError(f"signature by {name} is too short")
        if raw_line in seen_lines:
            continue
        seen_lines.add(raw_line)
        signatures.append(Signature(name, raw[:4], raw[4:]))
    return text, signatures


def open_note(
    note: bytes,
    verifiers: Sequence[Verifier],
    *,
    max_size: int = MAX_NOTE_SIZE,
    max_signatures: int = MAX_SIGNATURES,
) -> Note:
    """Parse ``note`` and verify its signatures against the trusted ``verifiers``.

    Rules (signed-note "Signatures"): a signature whose (name, key ID) matches no verifier is ignored
    (:attr:`Note.signatures` still lists it); every signature by a known key is verified and one
    failure rejects the note (:class:`~tlog.errors.InvalidSignatureError`); a note without any
    verified signature is rejected (:class:`~tlog.errors.UnverifiedNoteError`). Malformed notes raise
    :class:`~tlog.errors.FormatError`. Limits: ``max_size`` bytes and ``max_signatures`` lines.
    """
    known = _verifier_map(verifiers)
    text, signatures = parse_note(note, max_size=max_size, max_signatures=max_signatures)
    verified: list[Verifier] = []
    for sig in signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue
        if not verifier.verify(text, sig.signature):
            raise InvalidSignatureError(f"signature by {sig.name}+{sig.key_id.hex()} does not verify")
        if verifier not in verified:
            verified.append(verifier)
    if not verified:
        names = ", ".join(sorted({f"{s.name}+{s.key_id.hex()}" for s in signatures}))
        raise UnverifiedNoteError(f"note has no signature by a trusted key (signed by: {names})")
    return Note(text, tuple(signatures), tuple(verified))


__all__ = [
    "MAX_NOTE_SIZE",
    "MAX_SIGNATURES",
    "SIG_TYPE_COSIGNATURE_V1",
    "SIG_TYPE_ED25519",
    "CosignatureVerifier",
    "Cosigner",
    "Ed25519Verifier",
    "Note",
    "NoteSigner",
    "Signature",
    "Signer",
    "Verifier",
    "check_key_name",
    "check_text",
    "cosignature_message",
    "cosignature_timestamp",
    "generate_signer",
    "key_id",
    "open_note",
    "parse_note",
    "sign_note",
]
