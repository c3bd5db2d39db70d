"""The ``transparencyLog`` member of a trust policy statement.

::

    "transparencyLog": {
        "required": true,                      // a signature without a valid proof fails verification
        "verifierKeys": ["log.example.com/notary+8c6b2f10+AQ..."],   // the logs' checkpoint keys
        "online": false,                       // also check the proof against the log's latest checkpoint
        "witnessQuorum": 0,                    // cosignatures required on every checkpoint...
        "witnessKeys": [],                     // ...by these witness keys
        "url": "https://log.example.com"       // where the log is, for online checks and lookups
    }

``required`` and ``verifierKeys`` must be present; the others have the defaults shown (``url``
none). Parsing is strict: unknown members, ``null``, wrong types, verifier keys that do not parse,
a key listed twice, a witness key that is also a log key, a quorum below 0 or above the number of
witness keys, ``required`` with no ``verifierKeys`` and a URL that is not ``http(s)://host…`` are
refused with :class:`~notation_py.errors.TrustPolicyError`.

A checkpoint is trusted only when signed by one of ``verifierKeys`` *and* its origin is that key's
name (see :mod:`notation_py.transparency.checkpoints`), so one policy can name several logs.
``verifierKeys`` are Ed25519 note keys (type ``0x01``, what ``tlog init`` prints); ``witnessKeys``
may be Ed25519 note keys or ``cosignature/v1`` keys (type ``0x04``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from notation_py.errors import TrustPolicyError
from tlog.errors import FormatError
from tlog.note import Ed25519Verifier, Verifier

#: The statement member this module parses.
POLICY_MEMBER: Final = "transparencyLog"
_MEMBERS: Final = ("required", "verifierKeys", "online", "witnessQuorum", "witnessKeys", "url")
_REQUIRED_MEMBERS: Final = ("required", "verifierKeys")
#: Most keys of either kind a statement may list (keeps a typo from becoming a huge loop).
MAX_KEYS: Final = 64


class _InvalidMemberError(Exception):
    """Internal: one member is invalid; the caller adds where it is."""


@dataclass(frozen=True)
class TransparencyPolicy:
    """What a trust policy statement requires of transparency log proofs.

    Attributes:
        required: Verification fails when a signature has no proof that verifies.
        verifier_keys: Log checkpoint keys (``name+id+base64`` vkeys); a checkpoint's origin must be
            the name of the key that signed it.
        online: Also check the proof against the log's latest checkpoint (consistency).
        witness_quorum: How many distinct ``witness_keys`` must cosign each checkpoint (0: none).
        witness_keys: Trusted witness keys.
        url: The log's URL, for online checks and for looking a signature up when no proof is stored.

    Constructing one validates it like :meth:`from_extension` (raises
    :class:`~notation_py.errors.TrustPolicyError`) and parses the keys once.
    """

    required: bool
    verifier_keys: tuple[str, ...]
    online: bool = False
    witness_quorum: int = 0
    witness_keys: tuple[str, ...] = ()
    url: str | None = None
    _keys: tuple[tuple[Verifier, ...], tuple[Verifier, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            for name in ("verifier_keys", "witness_keys"):
                value = getattr(self, name)
                if isinstance(value, str | bytes) or not isinstance(value, Sequence):
                    raise _InvalidMemberError(f"{name} must be a sequence of verifier key strings")
                object.__setattr__(self, name, tuple(value))
            keys = _check_values(
                self.required, self.verifier_keys, self.online, self.witness_quorum, self.witness_keys, self.url
            )
        except _InvalidMemberError as exc:
            raise TrustPolicyError(f"invalid transparency log policy: {exc}") from None
        object.__setattr__(self, "_keys", keys)  # parsed once, here

    @classmethod
    def from_extension(cls, value: object, where: str) -> TransparencyPolicy:
        """Parse the JSON value of a statement's ``transparencyLog`` member.

        Args:
            value: The decoded JSON value of the member.
            where: Names the statement in messages, e.g. ``trust policy statement "images"``.

        Raises:
            TrustPolicyError: ``{where} has invalid transparencyLog: <member> <why>``.
        """
        try:
            return _parse(value)
        except _InvalidMemberError as exc:
            raise TrustPolicyError(f"{where} has invalid {POLICY_MEMBER}: {exc}") from None

    def to_extension(self) -> dict[str, Any]:
        """The JSON value of the member (every member written), as :meth:`from_extension` reads it."""
        out: dict[str, Any] = {
            "required": self.required,
            "verifierKeys": list(self.verifier_keys),
            "online": self.online,
            "witnessQuorum": self.witness_quorum,
            "witnessKeys": list(self.witness_keys),
        }
        if self.url is not None:
            out["url"] = self.url
        return out

    def verifiers(self) -> tuple[Verifier, ...]:
        """The parsed log keys (:class:`~tlog.note.Ed25519Verifier`), in policy order."""
        return self._keys[0]

    def witness_verifiers(self) -> tuple[Verifier, ...]:
        """The parsed witness keys, in policy order."""
        return self._keys[1]


def _parse(value: object) -> TransparencyPolicy:
    if not isinstance(value, Mapping):
        raise _InvalidMemberError("it must be a JSON object")
    unknown = sorted(k for k in value if k not in _MEMBERS)
    if unknown:
        raise _InvalidMemberError(f"unknown member(s) {', '.join(repr(k) for k in unknown)}")
    missing = [k for k in _REQUIRED_MEMBERS if k not in value]
    if missing:
        raise _InvalidMemberError(f"missing required member(s) {', '.join(repr(k) for k in missing)}")
    required = _bool(value["required"], "required")
    verifier_keys = _strings(value["verifierKeys"], "verifierKeys")
    online = _bool(value.get("online", False), "online")
    quorum = _int(value.get("witnessQuorum", 0), "witnessQuorum")
    witness_keys = _strings(value.get("witnessKeys", []), "witnessKeys")
    url = _string(value["url"], "url") if "url" in value else None
    # Checked here so the message names the statement; the constructor checks again (cheaply).
    _check_values(required, verifier_keys, online, quorum, witness_keys, url)
    return TransparencyPolicy(required, verifier_keys, online, quorum, witness_keys, url)


def _bool(value: object, member: str) -> bool:
    if not isinstance(value, bool):
        raise _InvalidMemberError(f"{member} must be true or false, got {_json_type(value)}")
    return value


def _int(value: object, member: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _InvalidMemberError(f"{member} must be an integer, got {_json_type(value)}")
    return value


def _string(value: object, member: str) -> str:
    if not isinstance(value, str):
        raise _InvalidMemberError(f"{member} must be a string, got {_json_type(value)}")
    return value


def _strings(value: object, member: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _InvalidMemberError(f"{member} must be an array of verifier key strings, got {_json_type(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise _InvalidMemberError(f"{member}[{i}] must be a verifier key string, got {_json_type(item)}")
    if len(value) > MAX_KEYS:
        raise _InvalidMemberError(f"{member} lists {len(value)} keys, at most {MAX_KEYS} are allowed")
    return tuple(value)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _check_values(  # noqa: PLR0917 - the policy's fields, in order
    required: object,
    verifier_keys: Sequence[object],
    online: object,
    witness_quorum: object,
    witness_keys: Sequence[object],
    url: object,
) -> tuple[tuple[Verifier, ...], tuple[Verifier, ...]]:
    """Check every rule (:class:`_InvalidMemberError` names the member); the parsed log and witness keys."""
    if not isinstance(required, bool):
        raise _InvalidMemberError("required must be true or false")
    if not isinstance(online, bool):
        raise _InvalidMemberError("online must be true or false")
    logs: list[str] = []
    witnesses: list[str] = []
    for member, keys, out in (("verifierKeys", verifier_keys, logs), ("witnessKeys", witness_keys, witnesses)):
        if isinstance(keys, str) or not all(isinstance(k, str) for k in keys):
            raise _InvalidMemberError(f"{member} must hold verifier key strings")
        if len(keys) > MAX_KEYS:
            raise _InvalidMemberError(f"{member} lists {len(keys)} keys, at most {MAX_KEYS} are allowed")
        out.extend(str(k) for k in keys)
    keys = _parse_keys(logs, witnesses)
    if required and not logs:
        raise _InvalidMemberError("verifierKeys is empty but required is true: at least one log verifier key is needed")
    if not isinstance(witness_quorum, int) or isinstance(witness_quorum, bool):
        raise _InvalidMemberError("witnessQuorum must be an integer")
    if not 0 <= witness_quorum <= len(witnesses):
        raise _InvalidMemberError(
            f"witnessQuorum {witness_quorum} must be between 0 and the number of witnessKeys ({len(witnesses)})"
        )
    if url is not None:
        if not isinstance(url, str):
            raise _InvalidMemberError("url must be a string")
        _check_url(url)
    return keys


def _parse_keys(
    log_keys: Sequence[str], witness_keys: Sequence[str]
) -> tuple[tuple[Verifier, ...], tuple[Verifier, ...]]:
    seen: dict[tuple[str, bytes], str] = {}

    def parse(member: str, i: int, vkey: str, log_key: bool) -> Verifier:
        where = f"{member}[{i}]"
        try:
            # Log checkpoints are Ed25519 notes; witnesses may also cosign with cosignature/v1 keys.
            verifier = Ed25519Verifier.from_vkey(vkey) if log_key else Verifier.from_vkey(vkey)
        except FormatError as exc:
            hint = "an Ed25519 log key" if log_key else "a witness key"
            raise _InvalidMemberError(f"{where} is not {hint} <name>+<key ID>+<base64 key>: {exc.message}") from None
        ident = (verifier.name, verifier.key_id)
        if ident in seen:
            raise _InvalidMemberError(f"{where} has the same name and key ID as {seen[ident]}")
        seen[ident] = where
        return verifier

    logs = tuple(parse("verifierKeys", i, k, log_key=True) for i, k in enumerate(log_keys))
    witnesses = tuple(parse("witnessKeys", i, k, log_key=False) for i, k in enumerate(witness_keys))
    return logs, witnesses


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise _InvalidMemberError(f"url {url!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _InvalidMemberError(f"url {url!r} must be an http:// or https:// URL with a host")
    if parts.query or parts.fragment or parts.username is not None:
        raise _InvalidMemberError(f"url {url!r} must not carry credentials, a query or a fragment")


__all__ = ["MAX_KEYS", "POLICY_MEMBER", "TransparencyPolicy"]
