"""When a checkpoint is trusted: a policy log key signed it under its own name, with the witness quorum."""

from __future__ import annotations

import re

import pytest

from notation_py.errors import TransparencyError
from notation_py.transparency import open_trusted_checkpoint
from tests.transparency.helpers import LOG_SIGNER, OTHER_SIGNER, WITNESS, WITNESS2, PureLog, filler
from tlog import merkle
from tlog.checkpoint import Checkpoint, sign_checkpoint
from tlog.note import Signer

KEYS = [LOG_SIGNER.verifier()]


def small_log(signer: Signer = LOG_SIGNER, origin: str | None = None) -> PureLog:
    log = PureLog(signer, origin)
    for i in range(3):
        log.append(filler(i))
    return log


def test_signed_by_a_trusted_key_under_its_name() -> None:
    note = small_log().checkpoint()
    checkpoint, key = open_trusted_checkpoint(note, KEYS)
    assert (checkpoint.origin, checkpoint.size, key) == (LOG_SIGNER.name, 3, LOG_SIGNER.verifier())


def test_several_logs_in_one_policy_each_under_its_own_name() -> None:
    other_log = Signer.from_seed("other.example.com/log", bytes(32))
    keys = [LOG_SIGNER.verifier(), other_log.verifier()]
    for signer in (LOG_SIGNER, other_log):
        checkpoint, key = open_trusted_checkpoint(small_log(signer).checkpoint(), keys)
        assert checkpoint.origin == key.name == signer.name
    # The other log's key signing a checkpoint that claims to be ours: refused.
    forged = small_log(other_log, origin=LOG_SIGNER.name).checkpoint()
    with pytest.raises(
        TransparencyError, match=re.escape("has origin 'log.example.com/transparency-test' but is signed by")
    ):
        open_trusted_checkpoint(forged, keys)


def test_unknown_key_other_origin_bad_signature_and_garbage() -> None:
    with pytest.raises(TransparencyError, match="is not signed by a trusted transparency log key"):
        open_trusted_checkpoint(small_log(OTHER_SIGNER).checkpoint(), KEYS, what="checkpoint X")
    with pytest.raises(
        TransparencyError, match=re.escape("checkpoint has origin 'elsewhere.example.com' but is signed by")
    ):
        open_trusted_checkpoint(small_log(origin="elsewhere.example.com").checkpoint(), KEYS)
    note = bytearray(small_log().checkpoint())
    note[note.index(b"\n") + 1] ^= 1  # the tree size line: the signature no longer matches
    with pytest.raises(TransparencyError, match="checkpoint does not verify: signature by"):
        open_trusted_checkpoint(bytes(note), KEYS)
    with pytest.raises(TransparencyError, match="checkpoint is malformed"):
        open_trusted_checkpoint(b"not a note", KEYS)
    with pytest.raises(TransparencyError, match="no transparency log verifier key is configured"):
        open_trusted_checkpoint(small_log().checkpoint(), [])


def test_witness_quorum() -> None:
    log = small_log()
    witnesses = [WITNESS.verifier(), WITNESS2.verifier()]
    both = log.checkpoint(WITNESS, WITNESS2)
    assert open_trusted_checkpoint(both, KEYS, witnesses=witnesses, quorum=2)[0].size == 3
    one = log.checkpoint(WITNESS)
    assert open_trusted_checkpoint(one, KEYS, witnesses=witnesses, quorum=1)[0].size == 3
    with pytest.raises(TransparencyError, match="does not meet the witness quorum: checkpoint has 1 valid cosignature"):
        open_trusted_checkpoint(one, KEYS, witnesses=witnesses, quorum=2)
    unknown_witness = Signer.from_seed("witness3.example.com", bytes(range(3, 35)))
    with pytest.raises(TransparencyError, match="has 0 valid cosignature"):
        open_trusted_checkpoint(log.checkpoint(unknown_witness), KEYS, witnesses=witnesses, quorum=1)
    # Cosigned only, not signed by the log: not a checkpoint of the log.
    body = Checkpoint(LOG_SIGNER.name, 1, merkle.root_from_leaf_hashes([merkle.leaf_hash(b"x")]))
    with pytest.raises(TransparencyError, match="not signed by a trusted transparency log key"):
        open_trusted_checkpoint(sign_checkpoint(body, WITNESS2), KEYS, witnesses=witnesses, quorum=1)
