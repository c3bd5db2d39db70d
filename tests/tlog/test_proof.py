"""c2sp.org/tlog-proof@v1: exact grammar, round trips, offline verification and tampering."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tlog.checkpoint import Checkpoint, sign_checkpoint
from tlog.errors import FormatError, InvalidSignatureError, ProofError, SignatureError, UnverifiedNoteError
from tlog.merkle import inclusion_proof_from_leaves, leaf_hash, root_from_leaf_hashes
from tlog.note import Cosigner, Signer
from tlog.proof import HEADER, TlogProof, verify_proof

ORIGIN = "example.com/log"
LOG = Signer.from_seed(ORIGIN, hashlib.sha256(b"log key").digest())
WITNESS = Cosigner("w1.example", Ed25519PrivateKey.from_private_bytes(bytes(32)), clock=lambda: 1_700_000_000)
ENTRIES = [b"entry %d" % i for i in range(11)]
LEAVES = [leaf_hash(e) for e in ENTRIES]
CHECKPOINT = Checkpoint(ORIGIN, len(LEAVES), root_from_leaf_hashes(LEAVES))
NOTE = sign_checkpoint(CHECKPOINT, LOG, WITNESS)

# The spec's example, up to the (elided) signatures: parsing does not verify anything.
SPEC_EXAMPLE = """c2sp.org/tlog-proof@v1
extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ
index 73894
gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=
B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=
EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=
RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=
AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=

example.com/fancylog
109482
sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=

— example.com/fancylog hI2DJw[...]1roloI=
""".encode()


def _proof(index: int, extra: bytes | None = None) -> TlogProof:
    return TlogProof(index, tuple(inclusion_proof_from_leaves(index, LEAVES)), NOTE, extra)


def test_spec_example_parses_and_round_trips() -> None:
    proof = TlogProof.from_bytes(SPEC_EXAMPLE)
    assert proof.index == 73894
    assert proof.extra is not None and proof.extra.startswith(b"age-v1.2.1-darwin-arm64.tar.gz")
    assert len(proof.audit_path) == 5
    assert proof.audit_path[0] == base64.b64decode("gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=")
    assert proof.checkpoint_note.startswith(b"example.com/fancylog\n109482\n")
    assert proof.to_bytes() == SPEC_EXAMPLE


@pytest.mark.parametrize("extra", [None, b"\x00opaque\xff"])
def test_round_trip_and_verify(extra: bytes | None) -> None:
    for index in range(len(LEAVES)):
        proof = _proof(index, extra)
        encoded = proof.to_bytes()
        assert encoded.startswith(HEADER.encode() + b"\n" + (b"extra " if extra else b"index "))
        assert encoded.endswith(b"\n\n" + NOTE)
        parsed = TlogProof.from_bytes(encoded)
        assert parsed == proof
        checkpoint = verify_proof(parsed, LEAVES[index], [LOG.verifier()], ORIGIN)
        assert checkpoint == CHECKPOINT
    # with a witness policy
    verify_proof(_proof(3), LEAVES[3], [LOG.verifier()], ORIGIN, cosigners=[WITNESS.verifier()], quorum=1)


def test_single_leaf_tree_has_no_hash_lines() -> None:
    cp = Checkpoint(ORIGIN, 1, LEAVES[0])
    proof = TlogProof(0, (), sign_checkpoint(cp, LOG))
    assert proof.to_bytes().startswith(b"c2sp.org/tlog-proof@v1\nindex 0\n\n" + cp.to_body())
    assert verify_proof(TlogProof.from_bytes(proof.to_bytes()), LEAVES[0], [LOG.verifier()]) == cp


def test_tampering_is_detected() -> None:
    proof = _proof(6)
    verifiers = [LOG.verifier()]
    with pytest.raises(ProofError):  # wrong entry
        verify_proof(proof, LEAVES[5], verifiers)
    with pytest.raises(ProofError):  # wrong index
        verify_proof(TlogProof(7, proof.audit_path, NOTE), LEAVES[6], verifiers)
    with pytest.raises(ProofError):  # index outside the tree
        verify_proof(TlogProof(11, proof.audit_path, NOTE), LEAVES[6], verifiers)
    for j in range(len(proof.audit_path)):  # any path hash
        path = list(proof.audit_path)
        path[j] = bytes([path[j][0] ^ 0x80]) + path[j][1:]
        with pytest.raises(ProofError):
            verify_proof(TlogProof(6, tuple(path), NOTE), LEAVES[6], verifiers)
    with pytest.raises(ProofError):  # dropped hash
        verify_proof(TlogProof(6, proof.audit_path[:-1], NOTE), LEAVES[6], verifiers)
    encoded = proof.to_bytes()
    with pytest.raises(InvalidSignatureError):  # checkpoint text changed
        verify_proof(TlogProof.from_bytes(encoded.replace(b"\n11\n", b"\n12\n")), LEAVES[6], verifiers)
    with pytest.raises(UnverifiedNoteError):  # not our log's key
        verify_proof(proof, LEAVES[6], [Signer.from_seed(ORIGIN, bytes(32)).verifier()])
    with pytest.raises(SignatureError, match="origin"):
        verify_proof(proof, LEAVES[6], verifiers, "example.com/other")
    with pytest.raises(SignatureError, match="cosignature"):
        verify_proof(proof, LEAVES[6], verifiers, cosigners=[WITNESS.verifier(), LOG.verifier()], quorum=2)
    # extra data is not authenticated: changing it does not matter
    verify_proof(TlogProof(6, proof.audit_path, NOTE, b"anything"), LEAVES[6], verifiers)


_H = base64.b64encode(bytes(32)).decode()
_NOTE_TEXT = NOTE.decode()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "ends before"),
        ("c2sp.org/tlog-proof@v2\nindex 0\n\n" + _NOTE_TEXT, "does not start"),
        ("c2sp.org/tlog-proof@v1 \nindex 0\n\n" + _NOTE_TEXT, "does not start"),
        ("\nc2sp.org/tlog-proof@v1\nindex 0\n\n" + _NOTE_TEXT, "does not start"),
        ("c2sp.org/tlog-proof@v1\nindex 01\n\n" + _NOTE_TEXT, "leading zeros"),
        ("c2sp.org/tlog-proof@v1\nindex -1\n\n" + _NOTE_TEXT, "decimal"),
        ("c2sp.org/tlog-proof@v1\nindex  1\n\n" + _NOTE_TEXT, "decimal"),
        ("c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n\n" + _NOTE_TEXT, "64 bits"),
        ("c2sp.org/tlog-proof@v1\nIndex 1\n\n" + _NOTE_TEXT, "index"),
        ("c2sp.org/tlog-proof@v1\n" + _H + "\n\n" + _NOTE_TEXT, "index"),  # index line missing
        ("c2sp.org/tlog-proof@v1\nindex 1\nextra AAAA\n\n" + _NOTE_TEXT, "base64"),  # extra after index
        ("c2sp.org/tlog-proof@v1\nextra \nindex 1\n\n" + _NOTE_TEXT, "no data"),
        ("c2sp.org/tlog-proof@v1\nextra AAA\nindex 1\n\n" + _NOTE_TEXT, "base64"),
        ("c2sp.org/tlog-proof@v1\nextra AAAA\nextra AAAA\nindex 1\n\n" + _NOTE_TEXT, "index"),
        ("c2sp.org/tlog-proof@v1\nindex 1\n" + _H[:-4] + "\n\n" + _NOTE_TEXT, "not 32"),
        ("c2sp.org/tlog-proof@v1\nindex 1\n" + _H + "x\n\n" + _NOTE_TEXT, "base64"),
        ("c2sp.org/tlog-proof@v1\nindex 1\n" + _H, "ends before"),
        ("c2sp.org/tlog-proof@v1\nindex 1\n" + _H + "\n", "ends before"),
        ("c2sp.org/tlog-proof@v1\nindex 1\n" + _H + "\n\n", "no checkpoint"),
        ("c2sp.org/tlog-proof@v1\r\nindex 1\n\n" + _NOTE_TEXT, "does not start"),
        ("c2sp.org/tlog-proof@v1\nindex 1\n" + (_H + "\n") * 65 + "\n" + _NOTE_TEXT, "more than 64"),
        ("c2sp.org/tlog-proof@v1\nindex 1\u00e9\n\n" + _NOTE_TEXT, "ASCII"),
    ],
)
def test_grammar_rejects(text: str, reason: str) -> None:
    with pytest.raises(FormatError, match=reason):
        TlogProof.from_bytes(text.encode())


def test_constructor_validates() -> None:
    with pytest.raises(FormatError):
        TlogProof(-1, (), NOTE)
    with pytest.raises(FormatError):
        TlogProof(0, (b"short",), NOTE)
    with pytest.raises(FormatError):
        TlogProof(0, (), b"")
    with pytest.raises(FormatError):
        TlogProof(0, (), NOTE, b"")
    with pytest.raises(FormatError):
        TlogProof(0, (bytes(32),) * 65, NOTE)
