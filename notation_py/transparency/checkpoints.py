"""When a signed checkpoint is trusted: the one rule every proof check goes through.

A checkpoint (C2SP signed note) is trusted when

1. one of the log keys signed it (every signature by a known key must verify; unknown ones are
   ignored, as C2SP signed-note requires),
2. its origin line equals the *name of a log key that signed it*, so a checkpoint of another log
   signed with a key we trust for a different log name is refused, and one policy can trust
   several logs, and
3. at least ``quorum`` distinct witness keys cosigned it.

Parsing and signature checks are :func:`tlog.checkpoint.open_checkpoint_note`'s; this module turns
its errors into :class:`~notation_py.errors.TransparencyError` messages a user can act on.
"""

from __future__ import annotations

from collections.abc import Sequence

from notation_py.errors import TransparencyError
from tlog.checkpoint import Checkpoint, open_checkpoint_note
from tlog.errors import FormatError, InvalidSignatureError, SignatureError, UnverifiedNoteError
from tlog.note import Verifier


def open_trusted_checkpoint(
    note: bytes,
    log_keys: Sequence[Verifier],
    *,
    witnesses: Sequence[Verifier] = (),
    quorum: int = 0,
    what: str = "the checkpoint",
) -> tuple[Checkpoint, Verifier]:
    """Verify a signed checkpoint note; return it with the log key that signed it under its origin.

    Args:
        note: The signed checkpoint note.
        log_keys: Trusted log keys.
        witnesses: Trusted witness keys.
        quorum: How many distinct ``witnesses`` must have cosigned.
        what: Names the checkpoint in messages (``"the checkpoint of the transparency proof"``, …).

    Raises:
        TransparencyError: no trusted log key signed it, a known key's signature is invalid, its
            origin is not the name of the key that signed it, the witness quorum is not met, or it
            is malformed.
    """
    if not log_keys:
        raise TransparencyError(f"cannot verify {what}: no transparency log verifier key is configured")
    try:
        checkpoint, opened = open_checkpoint_note(note, log_keys, cosigners=witnesses, quorum=quorum)
    except UnverifiedNoteError as exc:
        trusted = ", ".join(f"{k.name}+{k.key_id.hex()}" for k in log_keys)
        raise TransparencyError(
            f"{what} is not signed by a trusted transparency log key (trusted: {trusted}): {exc.message}"
        ) from None
    except InvalidSignatureError as exc:
        raise TransparencyError(f"{what} does not verify: {exc.message}") from None
    except SignatureError as exc:  # the only other SignatureError: too few cosignatures
        raise TransparencyError(f"{what} does not meet the witness quorum: {exc.message}") from None
    except FormatError as exc:
        raise TransparencyError(f"{what} is malformed: {exc.message}") from None
    except ValueError as exc:  # an impossible quorum: a policy error that validation should have caught
        raise TransparencyError(f"cannot verify {what}: {exc}") from None
    trusted_keys = set(log_keys)
    signers = [v for v in opened.verified_by if v in trusted_keys]
    for key in signers:
        if key.name == checkpoint.origin:
            return checkpoint, key
    names = ", ".join(repr(k.name) for k in signers)
    raise TransparencyError(
        f"{what} has origin {checkpoint.origin!r} but is signed by the log key {names}: "
        "a checkpoint of another log (a log's origin must be the name of its key)"
    )


__all__ = ["open_trusted_checkpoint"]
