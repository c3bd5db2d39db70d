"""Offline proof verification: the extra line, success, and the tamper matrix, on logs built with tlog's pure core."""

from __future__ import annotations

import base64
import re
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notation_py.errors import TransparencyError, UsageError
from notation_py.transparency import (
    LoggedSignature,
    TransparencyPolicy,
    build_proof,
    decode_proof_extra,
    encode_proof_extra,
    verify_proof_offline,
)
from tests.transparency.helpers import (
    LOG_SIGNER,
    OTHER_SIGNER,
    REPOSITORY,
    WITNESS,
    WITNESS2,
    PureLog,
    log_with,
    logged_signature,
    policy,
    second_envelope,
)
from tlog.note import Signer
from tlog.proof import TlogProof

# --- the extra line ---------------------------------------------------------------------------------

_COMPONENT = st.from_regex(r"[a-z0-9]+(?:[._-][a-z0-9]+)?", fullmatch=True)
REPOSITORIES = st.builds(
    lambda host, port, path: f"{host}{port}/{'/'.join(path)}",
    st.from_regex(r"[a-z0-9]+(?:\.[a-z0-9]+){0,2}", fullmatch=True),
    st.sampled_from(["", ":5000", ":443"]),
    st.lists(_COMPONENT, min_size=1, max_size=3),
).filter(lambda r: len(r) <= 255)


@given(REPOSITORIES)
def test_extra_round_trips(repository: str) -> None:
    extra = encode_proof_extra(repository)
    assert extra == b'{"repository":"' + repository.encode() + b'"}'
    assert decode_proof_extra(extra) == repository


def test_no_repository_no_extra() -> None:
    assert encode_proof_extra(None) is None
    assert decode_proof_extra(None) is None


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (b"\xff", "not JSON"),
        (b"[]", 'not an object with exactly the member "repository"'),
        (b'{"repository":"a.io/b","x":1}', 'not an object with exactly the member "repository"'),
        (b'{"repository":7}', "must be a non-empty string"),
        (b'{"repository":""}', "must be a non-empty string"),
        (b'{ "repository":"a.io/b"}', "not in canonical form"),
        (b'{"repository":"a.io/B"}', "a.io/B"),
        (b'{"repository":"a.io/b:v1"}', "without a tag or digest"),
        (b'{"repository":"a.io/b","repository":"a.io/b"}', "duplicate key"),
        (b" " * 1025, "larger than 1024 bytes"),
    ],
)
def test_extra_is_strict(extra: bytes, problem: str) -> None:
    with pytest.raises(TransparencyError, match="malformed transparency proof: the extra line") as info:
        decode_proof_extra(extra)
    assert problem in info.value.message


def test_encoding_a_bad_repository_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        encode_proof_extra("registry.example.com/app:v1")


# --- success ----------------------------------------------------------------------------------------


def test_verifies_with_repository_and_reports_the_inclusion() -> None:
    signature = logged_signature("proof-ok")
    log, index = log_with(signature)
    proof = log.proof(index)
    inclusion = verify_proof_offline(proof, signature, policy())
    assert (inclusion.origin, inclusion.index, inclusion.tree_size) == (LOG_SIGNER.name, index, len(log.entries))
    assert inclusion.repository == REPOSITORY
    assert inclusion.proof == proof
    assert inclusion.checkpoint_note == TlogProof.from_bytes(proof).checkpoint_note
    assert build_proof(index, TlogProof.from_bytes(proof).audit_path, inclusion.checkpoint_note, REPOSITORY) == proof


def test_verifies_without_repository_or_signature_manifest() -> None:
    """OCI layouts log no repository; blobs neither, and have no signature manifest."""
    for signature in (logged_signature("proof-layout"), logged_signature("proof-blob", manifest_digest=None)):
        log, index = log_with(signature, None)
        proof = log.proof(index, None)
        assert b"extra" not in proof
        assert verify_proof_offline(proof, signature, policy()).repository is None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 40), st.integers(0, 40), st.data())
def test_any_position_in_any_tree_and_any_flipped_bit(before: int, after: int, data: st.DataObject) -> None:
    signature = logged_signature("proof-property")
    log, index = log_with(signature, before=before, after=after)
    proof = log.proof(index)
    assert verify_proof_offline(proof, signature, policy()).index == index
    parsed = TlogProof.from_bytes(proof)
    if parsed.audit_path:
        i = data.draw(st.integers(0, len(parsed.audit_path) - 1))
        bit = data.draw(st.integers(0, 255))
        path = list(parsed.audit_path)
        flipped = bytearray(path[i])
        flipped[bit // 8] ^= 1 << bit % 8
        path[i] = bytes(flipped)
        tampered = replace(parsed, audit_path=tuple(path)).to_bytes()
        with pytest.raises(TransparencyError, match="transparency proof does not match this signature"):
            verify_proof_offline(tampered, signature, policy())


# --- the tamper matrix ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signed() -> tuple[LoggedSignature, PureLog, int]:
    signature = logged_signature("proof-tamper")
    log, index = log_with(signature, before=5, after=4)
    return signature, log, index


def mismatch(proof: bytes, signature: LoggedSignature) -> str:
    with pytest.raises(TransparencyError) as info:
        verify_proof_offline(proof, signature, policy())
    return info.value.message


def test_altered_audit_hash(signed: tuple[LoggedSignature, PureLog, int]) -> None:
    signature, log, index = signed
    parsed = TlogProof.from_bytes(log.proof(index))
    path = list(parsed.audit_path)
    path[1] = bytes(32)
    message = mismatch(replace(parsed, audit_path=tuple(path)).to_bytes(), signature)
    assert message.startswith("transparency proof does not match this signature: the inclusion proof of entry 5 in")
    assert "does not lead to the root hash" in message


def test_altered_index(signed: tuple[LoggedSignature, PureLog, int]) -> None:
    signature, log, index = signed
    proof = log.proof(index)
    for other in (index - 1, index + 1, 2**40):
        tampered = proof.replace(f"index {index}\n".encode(), f"index {other}\n".encode())
        assert "transparency proof does not match this signature" in mismatch(tampered, signature)


def test_altered_bytes_anywhere_never_verify(signed: tuple[LoggedSignature, PureLog, int]) -> None:
    signature, log, index = signed
    proof = log.proof(index)
    for position in range(0, len(proof), 7):
        tampered = bytearray(proof)
        tampered[position] ^= 0x01
        with pytest.raises(TransparencyError):
            verify_proof_offline(bytes(tampered), signature, policy())


def test_malformed_proofs(signed: tuple[LoggedSignature, PureLog, int]) -> None:
    signature, log, index = signed
    proof = log.proof(index)
    for garbage in (b"", b"garbage", proof.replace(b"c2sp.org/tlog-proof@v1", b"c2sp.org/tlog-proof@v2"), proof[:60]):
        assert mismatch(garbage, signature).startswith("malformed transparency proof: ")
    bad_extra = proof.replace(b"extra " + base64.b64encode(encode_proof_extra(REPOSITORY) or b""), b"extra bm9wZQ==")
    assert "the extra line must hold canonical JSON" in mismatch(bad_extra, signature)


def test_proof_for_another_entry(signed: tuple[LoggedSignature, PureLog, int]) -> None:
    signature, log, index = signed
    for other in (index - 1, index + 1):
        assert "does not match this signature" in mismatch(log.proof(other), signature)
    # Another signature's valid proof in the same log.
    another = logged_signature("proof-tamper-other")
    log2, index2 = log_with(another, before=1)
    assert verify_proof_offline(log2.proof(index2), another, policy()).index == index2
    assert "does not match this signature" in mismatch(log2.proof(index2), signature)


def test_another_envelope_for_the_same_subject(signed: tuple[LoggedSignature, PureLog, int]) -> None:
    signature, log, index = signed
    other = second_envelope(signature)
    assert "does not match this signature" in mismatch(log.proof(index), other)


def test_entry_naming_another_subject(signed: tuple[LoggedSignature, PureLog, int]) -> None:
    signature, log, index = signed
    # The verifier checks another artifact than the one the logged envelope signs.
    other_subject = replace(signature, subject_digest=logged_signature("proof-other-subject").subject_digest)
    message = mismatch(log.proof(index), other_subject)
    assert message.startswith("cannot recompute the transparency log entry of this signature: the envelope signs")
    other_size = replace(signature, subject_size=99)
    assert "differs from the signed targetArtifact.size" in mismatch(log.proof(index), other_size)
    # The log holds an entry whose subject differs in nothing but the digest: not this signature's.
    logged_for_other = PureLog()
    other = logged_signature("proof-other-subject")
    i = logged_for_other.append(other.leaf(REPOSITORY))
    assert "does not match this signature" in mismatch(logged_for_other.proof(i), signature)


def test_other_signature_manifest(signed: tuple[LoggedSignature, PureLog, int]) -> None:
    signature, log, index = signed
    moved = replace(signature, signature_manifest_digest="sha256:" + "ef" * 32)
    assert "does not match this signature" in mismatch(log.proof(index), moved)
    assert "does not match this signature" in mismatch(
        log.proof(index), replace(signature, signature_manifest_digest=None)
    )


def test_wrong_or_missing_extra_repository(signed: tuple[LoggedSignature, PureLog, int]) -> None:
    signature, log, index = signed
    message = mismatch(log.proof(index, "registry.example.com/team/other"), signature)
    assert "repository 'registry.example.com/team/other'" in message
    assert "with no repository" not in message
    assert "no repository" in mismatch(log.proof(index, None), signature)


def test_checkpoint_signed_by_an_unknown_key(signed: tuple[LoggedSignature, PureLog, int]) -> None:
    signature, log, index = signed
    forged = PureLog(OTHER_SIGNER, entries=log.entries)
    message = mismatch(forged.proof(index), signature)
    assert message.startswith(
        "the checkpoint of the transparency proof is not signed by a trusted transparency log key"
    )
    assert verify_proof_offline(forged.proof(index), signature, policy(OTHER_SIGNER)).index == index


def test_checkpoint_of_another_origin(signed: tuple[LoggedSignature, PureLog, int]) -> None:
    signature, log, index = signed
    renamed = PureLog(LOG_SIGNER, "log.example.com/another-log", entries=log.entries)
    message = mismatch(renamed.proof(index), signature)
    assert "has origin 'log.example.com/another-log' but is signed by the log key" in message
    # A key trusted for another log name cannot vouch for this log either.
    other_log = Signer.from_seed("other.example.com/log", bytes(range(32)))
    impostor = PureLog(other_log, LOG_SIGNER.name, entries=log.entries)
    with pytest.raises(
        TransparencyError, match=re.escape("has origin 'log.example.com/transparency-test' but is signed by")
    ):
        verify_proof_offline(impostor.proof(index), signature, policy(LOG_SIGNER, other_log))


def test_witness_quorum(signed: tuple[LoggedSignature, PureLog, int]) -> None:
    signature, log, index = signed
    required = policy(witnesses=[WITNESS, WITNESS2], quorum=2)
    ok = log.proof(index, cosigners=[WITNESS, WITNESS2])
    assert verify_proof_offline(ok, signature, required).index == index
    for cosigners in ([], [WITNESS], [WITNESS2, Signer.from_seed("witness9.example.com", bytes(range(5, 37)))]):
        with pytest.raises(TransparencyError, match="does not meet the witness quorum"):
            verify_proof_offline(log.proof(index, cosigners=cosigners), signature, required)
    # Without a quorum, cosignatures are optional but, by a trusted witness, must still verify.
    assert verify_proof_offline(log.proof(index), signature, policy(witnesses=[WITNESS])).index == index


def test_a_policy_without_keys_verifies_nothing(signed: tuple[LoggedSignature, PureLog, int]) -> None:
    signature, log, index = signed
    with pytest.raises(TransparencyError, match="no transparency log verifier key is configured"):
        verify_proof_offline(log.proof(index), signature, TransparencyPolicy(required=False, verifier_keys=()))
