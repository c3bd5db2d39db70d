"""C2SP checkpoints: strict body grammar, signing and opening with origin and cosigner policy."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tlog.checkpoint import Checkpoint, open_checkpoint, open_checkpoint_note, sign_checkpoint
from tlog.errors import FormatError, InvalidSignatureError, SignatureError, UnverifiedNoteError
from tlog.merkle import EMPTY_ROOT
from tlog.note import Cosigner, Signer, sign_note

# The tlog-checkpoint spec's example body.
SPEC_BODY = b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
ROOT = base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
ROOT_B64 = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="


def _signer(name: str, n: int = 0) -> Signer:
    return Signer.from_seed(name, hashlib.sha256(f"{name}/{n}".encode()).digest())


def _witness(name: str) -> Cosigner:
    seed = hashlib.sha256(name.encode()).digest()
    return Cosigner(name, Ed25519PrivateKey.from_private_bytes(seed), clock=lambda: 1_700_000_000)


def test_spec_example_round_trip() -> None:
    cp = Checkpoint.from_body(SPEC_BODY)
    assert cp == Checkpoint("example.com/behind-the-sofa", 20852163, ROOT)
    assert cp.to_body() == SPEC_BODY


def test_extensions_and_empty_tree() -> None:
    body = SPEC_BODY + b"ext one\n\xe2\x80\x94 two\n"
    cp = Checkpoint.from_body(body)
    assert cp.extensions == ("ext one", "— two")
    assert cp.to_body() == body
    empty = Checkpoint("example.com/log", 0, EMPTY_ROOT)
    assert empty.to_body() == b"example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    assert Checkpoint.from_body(empty.to_body()) == empty
    big = Checkpoint("o", 2**64 - 1, ROOT)
    assert Checkpoint.from_body(big.to_body()) == big


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"example.com/log\n020852163\n" + ROOT_B64.encode() + b"\n", "leading zeros"),
        (b"example.com/log\n00\n" + ROOT_B64.encode() + b"\n", "leading zeros"),
        (b"example.com/log\n-1\n" + ROOT_B64.encode() + b"\n", "decimal"),
        (b"example.com/log\n+1\n" + ROOT_B64.encode() + b"\n", "decimal"),
        (b"example.com/log\n 1\n" + ROOT_B64.encode() + b"\n", "decimal"),
        (b"example.com/log\n1_000\n" + ROOT_B64.encode() + b"\n", "decimal"),
        ("example.com/log\n\u0663\n".encode() + ROOT_B64.encode() + b"\n", "decimal"),  # Arabic-Indic 3
        (b"example.com/log\n18446744073709551616\n" + ROOT_B64.encode() + b"\n", "64 bits"),
        (b"example.com/log\n5\nnot base64!\n", "base64"),
        (b"example.com/log\n5\n" + ROOT_B64.rstrip("=").encode() + b"\n", "base64"),
        (b"example.com/log\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n", "canonical"),
        (b"example.com/log\n5\n" + base64.b64encode(ROOT[:31]) + b"\n", "31 bytes"),
        (b"example.com/log\n5\n" + base64.b64encode(ROOT + b"x") + b"\n", "33 bytes"),
        (b"example com/log\n5\n" + ROOT_B64.encode() + b"\n", "spaces"),
        ("example.com/log\u00a0\n5\n".encode() + ROOT_B64.encode() + b"\n", "spaces"),
        (b"\n5\n" + ROOT_B64.encode() + b"\n", "empty"),
        (b"example.com/log\n5\n", "three lines"),
        (b"example.com/log\n5\n" + ROOT_B64.encode(), "newline"),
        (b"example.com/log\n5\n" + ROOT_B64.encode() + b"\n\n", "empty"),
        (b"example.com/log\n5\n" + ROOT_B64.encode() + b"\next\n\nmore\n", "empty"),
        (b"example.com/log\n5\n" + ROOT_B64.encode() + b"\r\n", "control"),
        (b"example.com/log\n0\n" + ROOT_B64.encode() + b"\n", "empty-tree"),
        (b"example.com/\xfflog\n5\n" + ROOT_B64.encode() + b"\n", "UTF-8"),
        (b"example.com/log\n5\n" + ROOT_B64.encode() + b"\next\tension\n", "control"),
    ],
)
def test_grammar_rejects(body: bytes, reason: str) -> None:
    with pytest.raises(FormatError, match=reason):
        Checkpoint.from_body(body)


def test_constructor_validates() -> None:
    with pytest.raises(FormatError):
        Checkpoint("", 1, ROOT)
    with pytest.raises(FormatError):
        Checkpoint("a\nb", 1, ROOT)
    with pytest.raises(FormatError):
        Checkpoint("o", -1, ROOT)
    with pytest.raises(FormatError):
        Checkpoint("o", 2**64, ROOT)
    with pytest.raises(FormatError):
        Checkpoint("o", 1, ROOT[:5])
    with pytest.raises(FormatError):
        Checkpoint("o", 1, ROOT, ("",))
    with pytest.raises(FormatError):
        Checkpoint("o", 1, ROOT, ("a\nb",))


def test_sign_and_open() -> None:
    log = _signer("example.com/log")
    cp = Checkpoint("example.com/log", 7, ROOT)
    note = sign_checkpoint(cp, log)
    assert note.startswith(cp.to_body() + b"\n\xe2\x80\x94 example.com/log ")
    assert open_checkpoint(note, [log.verifier()]) == cp
    assert open_checkpoint(note, [log.verifier()], origin="example.com/log") == cp
    with pytest.raises(SignatureError, match="origin"):
        open_checkpoint(note, [log.verifier()], origin="example.com/other")
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(note, [_signer("example.com/log", 1).verifier()])
    with pytest.raises(InvalidSignatureError):
        open_checkpoint(note.replace(b"\n7\n", b"\n8\n"), [log.verifier()])


def test_signed_but_malformed_body_is_rejected() -> None:
    log = _signer("example.com/log")
    note = sign_note(b"example.com/log\n07\n" + ROOT_B64.encode() + b"\n", [log])
    with pytest.raises(FormatError, match="leading zeros"):
        open_checkpoint(note, [log.verifier()])


def test_cosigner_quorum() -> None:
    log = _signer("example.com/log")
    w1, w2, w3 = _witness("w1.example"), _witness("w2.example"), _witness("w3.example")
    cp = Checkpoint("example.com/log", 7, ROOT)
    note = sign_checkpoint(cp, log, w1, w2)
    witnesses = [w1.verifier(), w2.verifier(), w3.verifier()]
    checkpoint, opened = open_checkpoint_note(note, [log.verifier()], cosigners=witnesses, quorum=2)
    assert checkpoint == cp
    assert set(opened.verified_by) == {log.verifier(), w1.verifier(), w2.verifier()}
    with pytest.raises(SignatureError, match="2 valid cosignature"):
        open_checkpoint(note, [log.verifier()], cosigners=witnesses, quorum=3)
    # cosignatures alone are not a log signature
    only_witnesses = sign_checkpoint(cp, w1, w2)
    with pytest.raises(UnverifiedNoteError, match="log"):
        open_checkpoint(only_witnesses, [log.verifier()], cosigners=witnesses, quorum=1)
    with pytest.raises(ValueError, match="quorum"):
        open_checkpoint(note, [log.verifier()], cosigners=witnesses, quorum=4)
