"""C2SP signed notes: spec and Go reference vectors, verification rules, malformed notes, key formats."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tlog.errors import FormatError, InvalidSignatureError, SignatureError, TlogError, UnverifiedNoteError
from tlog.note import (
    CosignatureVerifier,
    Cosigner,
    Ed25519Verifier,
    Signature,
    Signer,
    Verifier,
    cosignature_timestamp,
    generate_signer,
    key_id,
    open_note,
    parse_note,
    sign_note,
)

# The signed-note spec's example verifier key.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"

# golang.org/x/mod/sumdb/note's documented example: key pair, text and the exact signed note.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = b"If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = (
    GO_TEXT
    + b"\n"
    + "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n".encode()
)

TEXT = b"example.com/log\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"


def _seeded(name: str, n: int) -> Signer:
    return Signer.from_seed(name, hashlib.sha256(f"{name}/{n}".encode()).digest())


# --- keys ---------------------------------------------------------------------------------------


def test_spec_vkey_parses_and_key_id_matches() -> None:
    v = Verifier.from_vkey(SPEC_VKEY)
    assert isinstance(v, Ed25519Verifier)
    assert v.name == "example.com/foo"
    raw = base64.b64decode(SPEC_VKEY.split("+", 2)[2])
    assert raw[0] == 0x01
    assert v.public_key == raw[1:]
    # independent computation of SHA-256(name || 0x0A || 0x01 || key)[:4]
    assert hashlib.sha256(b"example.com/foo\n\x01" + raw[1:]).digest()[:4].hex() == "530d903a"
    assert v.key_id.hex() == "530d903a"
    assert v.vkey == SPEC_VKEY
    assert Ed25519Verifier.from_vkey(SPEC_VKEY) == v


def test_go_reference_vector_byte_for_byte() -> None:
    signer = Signer.from_skey(GO_SKEY)
    assert signer.name == "PeterNeumann"
    assert signer.key_id.hex() == "c74f20a3"
    assert signer.vkey == GO_VKEY
    assert signer.skey == GO_SKEY
    assert signer.sign(GO_TEXT) == GO_NOTE  # Ed25519 is deterministic
    note = open_note(GO_NOTE, [Verifier.from_vkey(GO_VKEY)])
    assert note.text == GO_TEXT
    assert note.verified_by == (signer.verifier(),)
    assert [s.name for s in note.verified_signatures()] == ["PeterNeumann"]


@pytest.mark.parametrize(
    "vkey",
    [
        "",
        "PeterNeumann",
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong key ID
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # 7 hex digits
        "PeterNeumann+c74f20g3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # not hex
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",  # bad base64
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW==",  # bad padding
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space in name
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # empty name
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # unknown type
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",  # wrong length
    ],
)
def test_bad_vkeys(vkey: str) -> None:
    with pytest.raises(FormatError):
        Verifier.from_vkey(vkey)


def test_vkey_manglings_are_rejected() -> None:
    for i in range(len(GO_VKEY)):
        mangled = GO_VKEY[:i] + chr(ord(GO_VKEY[i]) + 1) + GO_VKEY[i + 1 :]
        with pytest.raises(FormatError):
            Verifier.from_vkey(mangled)


def test_vkey_type_must_match_class() -> None:
    cosigner = Cosigner("witness.example/w1", Ed25519PrivateKey.generate())
    v = Verifier.from_vkey(cosigner.vkey)
    assert isinstance(v, CosignatureVerifier)
    assert CosignatureVerifier.from_vkey(cosigner.vkey) == v
    with pytest.raises(FormatError):
        Ed25519Verifier.from_vkey(cosigner.vkey)
    with pytest.raises(FormatError):
        CosignatureVerifier.from_vkey(GO_VKEY)


def test_private_key_formats_round_trip() -> None:
    signer, vkey = generate_signer("example.com/log")
    assert signer.vkey == vkey
    pem = signer.private_key_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert Signer.from_private_key_pem("example.com/log", pem).vkey == vkey
    encrypted = signer.private_key_pem(b"hunter2")
    assert b"ENCRYPTED" in encrypted
    assert Signer.from_private_key_pem("example.com/log", encrypted, b"hunter2").vkey == vkey
    with pytest.raises(FormatError):
        Signer.from_private_key_pem("example.com/log", encrypted, b"wrong")
    with pytest.raises(FormatError):
        Signer.from_private_key_pem("example.com/log", b"not a key")
    assert Signer.from_seed("example.com/log", signer.seed).vkey == vkey
    assert Signer.from_skey(signer.skey).vkey == vkey
    with pytest.raises(FormatError):  # key ID not matching
        Signer.from_skey(GO_SKEY.replace("c74f20a3", "c74f20a4"))
    with pytest.raises(FormatError):
        Signer.from_skey("PRIVATE+KEY+PeterNeumann+c74f20a3")
    with pytest.raises(FormatError):
        Signer("bad name", Ed25519PrivateKey.generate())
    with pytest.raises(FormatError):
        Signer("a+b", Ed25519PrivateKey.generate())


def test_key_id_domain_separates_signature_types() -> None:
    key = Ed25519PrivateKey.generate()
    assert Signer("w", key).key_id != Cosigner("w", key).key_id
    assert Cosigner("w", key).key_id == key_id("w", 0x04, Cosigner("w", key).public_key)


# --- sign / open --------------------------------------------------------------------------------


def test_sign_open_round_trip_with_several_signers() -> None:
    a, b = _seeded("a.example", 1), _seeded("b.example", 2)
    note = sign_note(TEXT, [a, b])
    assert note.startswith(TEXT + b"\n\xe2\x80\x94 a.example ")
    opened = open_note(note, [a.verifier(), b.verifier()])
    assert opened.text == TEXT
    assert opened.verified_by == (a.verifier(), b.verifier())
    assert [s.name for s in opened.signatures] == ["a.example", "b.example"]
    # one known key suffices; the other signature is ignored
    assert open_note(note, [b.verifier()]).verified_by == (b.verifier(),)


def test_text_may_contain_blank_lines_split_at_last() -> None:
    text = b"line one\n\nline three\n\n"
    signer = _seeded("a.example", 1)
    opened = open_note(signer.sign(text), [signer.verifier()])
    assert opened.text == text


def test_unknown_keys_are_ignored_even_sharing_name_or_id() -> None:
    known = _seeded("log.example", 1)
    same_name = _seeded("log.example", 2)  # same name, different key (ID)
    other = _seeded("other.example", 3)
    note = sign_note(TEXT, [same_name, other, known])
    # a signature with the known key ID under another name is an unknown key too
    forged = Signature("impostor.example", known.key_id, b"\x00" * 64)
    note = sign_note(TEXT, [known], existing=[forged, *parse_note(note)[1]])
    opened = open_note(note, [known.verifier()])
    assert opened.verified_by == (known.verifier(),)
    assert len(opened.signatures) == 4


def test_bad_signature_by_known_key_rejects_the_note() -> None:
    known = _seeded("log.example", 1)
    good = known.sign(TEXT)
    bad = sign_note(TEXT, [], existing=[Signature("log.example", known.key_id, bytes(64))])
    with pytest.raises(InvalidSignatureError):
        open_note(bad, [known.verifier()])
    # a valid signature does not rescue a failing one by the same key
    both = good + bad.split(b"\n\n")[-1]
    with pytest.raises(InvalidSignatureError):
        open_note(both, [known.verifier()])
    # the text changed after signing
    with pytest.raises(InvalidSignatureError):
        open_note(good.replace(b"42", b"43"), [known.verifier()])


def test_no_verified_signature_is_rejected() -> None:
    note = _seeded("log.example", 1).sign(TEXT)
    with pytest.raises(UnverifiedNoteError):
        open_note(note, [_seeded("log.example", 2).verifier()])
    with pytest.raises(UnverifiedNoteError):
        open_note(note, [])


def test_sixteen_and_more_signatures_accepted_up_to_the_limit() -> None:
    signers = [_seeded(f"w{i}.example", i) for i in range(20)]
    note = sign_note(TEXT, signers)
    assert open_note(note, [signers[17].verifier()]).verified_by == (signers[17].verifier(),)
    # post-quantum sized signatures (~2.4 kB each) from 16 unknown cosigners
    big = [Signature(f"pq{i}.example", i.to_bytes(4, "big"), bytes([i]) * 2420) for i in range(16)]
    note = sign_note(TEXT, [signers[0]], existing=big)
    assert len(open_note(note, [signers[0].verifier()]).signatures) == 17
    many = [Signature(f"x{i}.example", i.to_bytes(4, "big"), b"s") for i in range(101)]
    with pytest.raises(FormatError, match="signatures"):
        open_note(sign_note(TEXT, [signers[0]], existing=many), [signers[0].verifier()])
    with pytest.raises(FormatError, match="bytes"):
        open_note(note, [signers[0].verifier()], max_size=1000)


def test_duplicate_identical_lines_are_dropped() -> None:
    signer = _seeded("log.example", 1)
    note = signer.sign(TEXT)
    line = note.split(b"\n\n")[-1]
    opened = open_note(note + line, [signer.verifier()])
    assert len(opened.signatures) == 1


def test_ambiguous_verifiers_are_refused() -> None:
    signer = _seeded("log.example", 1)
    v = signer.verifier()
    assert open_note(signer.sign(TEXT), [v, Ed25519Verifier(v.name, v.public_key)]).verified_by == (v,)

    class Clash(Ed25519Verifier):
        @property
        def vkey(self) -> str:
            return "clash"

    with pytest.raises(SignatureError, match="share"):
        open_note(signer.sign(TEXT), [v, Clash(v.name, v.public_key)])


_SIG = "— log.example AAAAAXNpZw==\n"  # key ID 00000001, signature b"sig"


@pytest.mark.parametrize(
    ("note", "reason"),
    [
        (b"", "blank line"),
        (b"text\n", "blank line"),
        (b"text\n\n", "no signature"),
        (("text\n\n" + _SIG.rstrip("\n")).encode(), "end with a newline"),
        (("text\n\n" + _SIG.replace("—", "-")).encode(), "em dash"),
        (("text\n\n" + _SIG.replace("— ", "—")).encode(), "em dash"),
        (("text\n\n" + _SIG.replace(" AAAAAXNpZw==", "AAAAAXNpZw==")).encode(), "signature line"),
        (("text\n\n" + "— log.example\n").encode(), "signature line"),
        (("text\n\n" + _SIG.replace("AAAAAXNpZw==", "AAAAAXNpZw")).encode(), "base64"),  # no padding
        (("text\n\n" + _SIG.replace("AAAAAXNpZw==", "AAAAAXNpZx==")).encode(), "canonical"),
        (("text\n\n" + _SIG.replace("AAAAAXNpZw==", "AAAAAQ==")).encode(), "too short"),
        (("text\n\n" + _SIG.replace("AAAAAXNpZw==", "AAAAAXNpZw== ")).encode(), "base64"),
        (("text\n\n" + _SIG.replace("AAAAAXNpZw==", "")).encode(), "too short"),
        (("text\n\n" + _SIG.replace("log.example", "log+example")).encode(), "key name"),
        (("text\r\n\n" + _SIG).encode(), "control"),
        (("te\txt\n\n" + _SIG).encode(), "control"),
        (b"te\xffxt\n\n" + _SIG.encode(), "UTF-8"),
        (("text\n\n" + _SIG + "\n").encode(), "no signature"),  # trailing blank line: empty signature block
        (("text\n\n" + _SIG + "junk\n").encode(), "em dash"),
    ],
)
def test_malformed_notes(note: bytes, reason: str) -> None:
    text, sigs = parse_note(("text\n\n" + _SIG).encode())  # the unmangled note is well formed
    assert (text, sigs) == (b"text\n", [Signature("log.example", b"\x00\x00\x00\x01", b"sig")])
    with pytest.raises(FormatError, match=reason):
        open_note(note, [_seeded("log.example", 1).verifier()])


def test_sign_refuses_bad_text() -> None:
    signer = _seeded("log.example", 1)
    for text in (b"", b"no newline", b"tab\there\n", b"\xff\n"):
        with pytest.raises(FormatError):
            signer.sign(text)
    with pytest.raises(FormatError):
        sign_note(TEXT, [])


def test_existing_signature_by_same_key_is_replaced() -> None:
    signer = _seeded("log.example", 1)
    stale = Signature("log.example", signer.key_id, bytes(64))
    other = Signature("other.example", b"\x01\x02\x03\x04", b"sig")
    note = sign_note(TEXT, [signer], existing=[stale, other])
    _, sigs = parse_note(note)
    assert [s.name for s in sigs] == ["other.example", "log.example"]
    open_note(note, [signer.verifier()])


# --- cosignatures (type 0x04) -------------------------------------------------------------------


def test_cosignature_round_trip_and_message_format() -> None:
    key = Ed25519PrivateKey.generate()
    cosigner = Cosigner("witness.example/w1", key, clock=lambda: 1679315147)
    log = _seeded("example.com/log", 1)
    note = sign_note(TEXT, [log, cosigner])
    opened = open_note(note, [log.verifier(), cosigner.verifier()])
    assert opened.verified_by == (log.verifier(), cosigner.verifier())
    sig = opened.signatures[1]
    assert cosignature_timestamp(sig.signature) == 1679315147
    # independent check of the signed message: header, time line, whole checkpoint body
    Ed25519PublicKey.from_public_bytes(cosigner.public_key).verify(
        sig.signature[8:], b"cosignature/v1\ntime 1679315147\n" + TEXT
    )
    # the Ed25519 (0x01) verifier of the same key does not accept a cosignature (different key ID)
    with pytest.raises(UnverifiedNoteError):
        open_note(sign_note(TEXT, [cosigner]), [Ed25519Verifier("witness.example/w1", cosigner.public_key)])
    # a tampered timestamp breaks the cosignature
    tampered = Signature(sig.name, sig.key_id, (1679315148).to_bytes(8, "big") + sig.signature[8:])
    with pytest.raises(InvalidSignatureError):
        open_note(sign_note(TEXT, [log], existing=[tampered]), [log.verifier(), cosigner.verifier()])


def test_errors_share_the_root() -> None:
    assert issubclass(FormatError, TlogError)
    assert issubclass(FormatError, ValueError)
    assert issubclass(InvalidSignatureError, SignatureError)
    assert issubclass(UnverifiedNoteError, SignatureError)
