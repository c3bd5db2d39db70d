"""The ``transparencyLog`` trust policy member: strict parsing with messages naming statement and member."""

from __future__ import annotations

from typing import Any

import pytest

from notation_py.errors import TrustPolicyError
from notation_py.transparency import TransparencyPolicy
from tests.transparency.helpers import LOG_SIGNER, OTHER_SIGNER, WITNESS, WITNESS2
from tlog.note import Ed25519Verifier

WHERE = 'trust policy statement "images"'
LOG_KEY = LOG_SIGNER.vkey


def parse(**members: Any) -> TransparencyPolicy:
    return TransparencyPolicy.from_extension(members, WHERE)


def test_minimal_member_gets_the_defaults() -> None:
    policy = parse(required=True, verifierKeys=[LOG_KEY])
    assert policy == TransparencyPolicy(required=True, verifier_keys=(LOG_KEY,))
    assert (policy.online, policy.witness_quorum, policy.witness_keys, policy.url) == (False, 0, (), None)
    assert policy.verifiers() == (LOG_SIGNER.verifier(),)
    assert isinstance(policy.verifiers()[0], Ed25519Verifier)
    assert policy.verifiers() is policy.verifiers()  # parsed once
    assert policy.witness_verifiers() == ()


def test_every_member_round_trips() -> None:
    doc = {
        "required": False,
        "verifierKeys": [LOG_KEY, OTHER_SIGNER.vkey],  # a key rotation: two keys of one log
        "online": True,
        "witnessQuorum": 2,
        "witnessKeys": [WITNESS.vkey, WITNESS2.vkey],
        "url": "https://log.example.com/notary-log",
    }
    policy = TransparencyPolicy.from_extension(doc, WHERE)
    assert policy.to_extension() == doc
    assert [w.name for w in policy.witness_verifiers()] == ["witness.example.com", "witness2.example.com"]
    assert TransparencyPolicy.from_extension(policy.to_extension(), WHERE) == policy


def test_not_required_may_trust_no_key() -> None:
    assert parse(required=False, verifierKeys=[]).verifiers() == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yes", "it must be a JSON object"),
        ({"required": True, "verifierKeys": [LOG_KEY], "url2": "x"}, "unknown member(s) 'url2'"),
        ({"verifierKeys": [LOG_KEY]}, "missing required member(s) 'required'"),
        ({"required": True}, "missing required member(s) 'verifierKeys'"),
        ({"required": "true", "verifierKeys": [LOG_KEY]}, "required must be true or false, got a string"),
        ({"required": None, "verifierKeys": [LOG_KEY]}, "required must be true or false, got null"),
        ({"required": True, "verifierKeys": LOG_KEY}, "verifierKeys must be an array of verifier key strings"),
        (
            {"required": True, "verifierKeys": [LOG_KEY, 7]},
            "verifierKeys[1] must be a verifier key string, got a number",
        ),
        ({"required": True, "verifierKeys": ["garbage"]}, "verifierKeys[0] is not an Ed25519 log key"),
        ({"required": True, "verifierKeys": [WITNESS.vkey]}, "verifierKeys[0] is not an Ed25519 log key"),
        ({"required": True, "verifierKeys": [LOG_KEY[:-4] + "AAA="]}, "verifierKeys[0] is not an Ed25519 log key"),
        (
            {"required": True, "verifierKeys": [LOG_KEY, LOG_KEY]},
            "verifierKeys[1] has the same name and key ID as verifierKeys[0]",
        ),
        ({"required": True, "verifierKeys": []}, "verifierKeys is empty but required is true"),
        ({"required": True, "verifierKeys": [LOG_KEY], "online": 1}, "online must be true or false, got a number"),
        (
            {"required": True, "verifierKeys": [LOG_KEY], "witnessQuorum": True},
            "witnessQuorum must be an integer, got a boolean",
        ),
        (
            {"required": True, "verifierKeys": [LOG_KEY], "witnessQuorum": 1.0},
            "witnessQuorum must be an integer, got a number",
        ),
        (
            {"required": True, "verifierKeys": [LOG_KEY], "witnessQuorum": 1},
            "witnessQuorum 1 must be between 0 and the number of witnessKeys (0)",
        ),
        (
            {"required": True, "verifierKeys": [LOG_KEY], "witnessQuorum": -1, "witnessKeys": [WITNESS.vkey]},
            "witnessQuorum -1 must be between 0",
        ),
        (
            {"required": True, "verifierKeys": [LOG_KEY], "witnessKeys": {"a": 1}},
            "witnessKeys must be an array of verifier key strings, got an object",
        ),
        (
            {"required": True, "verifierKeys": [LOG_KEY], "witnessKeys": ["w+00000000+AQ=="]},
            "witnessKeys[0] is not a witness key",
        ),
        (
            {"required": True, "verifierKeys": [LOG_KEY], "witnessKeys": [LOG_KEY]},
            "witnessKeys[0] has the same name and key ID as verifierKeys[0]",
        ),
        ({"required": True, "verifierKeys": [LOG_KEY] * 65}, "verifierKeys lists 65 keys, at most 64"),
        ({"required": True, "verifierKeys": [LOG_KEY], "url": 5}, "url must be a string, got a number"),
        (
            {"required": True, "verifierKeys": [LOG_KEY], "url": "ftp://log.example.com"},
            "must be an http:// or https:// URL with a host",
        ),
        (
            {"required": True, "verifierKeys": [LOG_KEY], "url": "https://"},
            "must be an http:// or https:// URL with a host",
        ),
        (
            {"required": True, "verifierKeys": [LOG_KEY], "url": "log.example.com"},
            "must be an http:// or https:// URL with a host",
        ),
        ({"required": True, "verifierKeys": [LOG_KEY], "url": "https://log.example.com:99999"}, "is not a valid URL"),
        (
            {"required": True, "verifierKeys": [LOG_KEY], "url": "https://u:p@log.example.com"},
            "must not carry credentials",
        ),
        (
            {"required": True, "verifierKeys": [LOG_KEY], "url": "https://log.example.com/?x=1"},
            "must not carry credentials, a query",
        ),
    ],
)
def test_bad_members_name_the_statement_and_member(value: object, message: str) -> None:
    with pytest.raises(TrustPolicyError) as info:
        TransparencyPolicy.from_extension(value, WHERE)
    assert info.value.message.startswith(f"{WHERE} has invalid transparencyLog: ")
    assert message in info.value.message


def test_constructing_directly_is_validated_too() -> None:
    with pytest.raises(TrustPolicyError, match="invalid transparency log policy: verifierKeys\\[0\\] is not"):
        TransparencyPolicy(required=True, verifier_keys=("nope",))
    with pytest.raises(TrustPolicyError, match="witnessQuorum 2 must be between 0 and the number of witnessKeys"):
        TransparencyPolicy(required=True, verifier_keys=(LOG_KEY,), witness_quorum=2, witness_keys=(WITNESS.vkey,))
    with pytest.raises(TrustPolicyError, match="sequence of verifier key strings"):
        TransparencyPolicy(required=True, verifier_keys=LOG_KEY)  # type: ignore[arg-type]
