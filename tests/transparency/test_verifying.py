"""The transparency check's decisions (TransparencyVerifier.prove), offline, on pure logs."""

from __future__ import annotations

import pytest

from notation_py.errors import TransparencyError, UsageError
from notation_py.transparency import TransparencyPolicy, TransparencyVerifier
from tests.transparency.helpers import LOG_SIGNER, OTHER_SIGNER, REPOSITORY, log_with, logged_signature, policy


def optional_policy() -> TransparencyPolicy:
    return TransparencyPolicy(required=False, verifier_keys=(LOG_SIGNER.vkey,))


def test_a_good_proof_proves_the_signature() -> None:
    signature = logged_signature("good")
    log, index = log_with(signature)
    inclusion = TransparencyVerifier(policy()).prove(signature, [log.proof(index)])
    assert inclusion is not None
    assert (inclusion.index, inclusion.tree_size, inclusion.repository) == (index, 6, REPOSITORY)


def test_first_good_proof_wins_over_bad_ones() -> None:
    signature = logged_signature("mixed")
    log, index = log_with(signature)
    forged = log.proof(index).replace(b"index 3", b"index 4")
    inclusion = TransparencyVerifier(policy()).prove(signature, [forged, log.proof(index)], ["junk referrer"])
    assert inclusion is not None
    assert inclusion.index == index


def test_missing_proof_fails_only_when_required() -> None:
    signature = logged_signature("missing")
    with pytest.raises(TransparencyError, match="no transparency log proof and the trust policy requires one"):
        TransparencyVerifier(policy()).prove(signature, [])
    assert TransparencyVerifier(optional_policy()).prove(signature, []) is None


def test_a_bad_proof_fails_even_when_not_required() -> None:
    """A forged proof is evidence of tampering, not an absence of evidence."""
    signature = logged_signature("bad")
    log, index = log_with(signature)
    with pytest.raises(TransparencyError, match="transparency log proof rejected"):
        TransparencyVerifier(optional_policy()).prove(signature, [log.proof(index).replace(b"index 3", b"index 2")])
    with pytest.raises(TransparencyError, match="transparency log proof rejected: junk referrer"):
        TransparencyVerifier(optional_policy()).prove(signature, [], ["junk referrer"])
    other_key = TransparencyPolicy(required=False, verifier_keys=(OTHER_SIGNER.vkey,))
    with pytest.raises(TransparencyError, match="transparency log proof rejected"):
        TransparencyVerifier(other_key).prove(signature, [log.proof(index)])


def test_online_needs_a_url() -> None:
    with pytest.raises(UsageError, match=r"set transparencyLog\.url in the trust policy or pass --tlog URL"):
        TransparencyVerifier(policy(online=True))
    with pytest.raises(UsageError, match="--tlog URL"):
        TransparencyVerifier(policy(), online=True)
    TransparencyVerifier(policy(), online=True, url="http://127.0.0.1:9").close()  # no connection until used
