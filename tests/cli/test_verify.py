"""``verify`` on OCI image layouts: trust policy levels, user metadata, policy and trust store errors."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from notation_py.envelope import MEDIA_TYPE_COSE, MEDIA_TYPE_JWS
from notation_py.keys.local import LocalSigner
from notation_py.sign import SignOptions, sign_artifact
from tests.cli.conftest import SCOPE, Cli, Layout, oci_statement

VERIFY_FAILED = "signature verification failed for all the signatures associated with"


def _verify(cli: Cli, layout: Layout, *extra: str) -> tuple[int, str, str]:
    result = cli("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest, *extra)
    assert "Successfully verified" not in result.out or result.code == 0
    return result.code, result.out, result.err


def _success(layout: Layout) -> str:
    return f"Successfully verified signature for {layout.path}@{layout.digest}"


@pytest.mark.parametrize("fmt", ["jws", "cose"])
def test_verify_strict_success(cli: Cli, layout: Layout, fmt: str) -> None:
    cli.write_oci_policy(oci_statement())
    cli.ok("sign", "--oci-layout", layout.by_digest, "--signature-format", fmt)
    code, out, err = _verify(cli, layout)
    assert code == 0, err
    assert out.strip() == _success(layout)
    assert err == ""


def test_verify_by_tag_warns(cli: Cli, layout: Layout) -> None:
    cli.write_oci_policy(oci_statement())
    cli.ok("sign", "--oci-layout", layout.by_digest)
    result = cli.ok("verify", "--oci-layout", "--scope", SCOPE, layout.by_tag)
    assert "Warning: Always verify the artifact using digest(@sha256:...) rather than a tag(:v1)" in result.err
    assert _success(layout) in result.out


def test_verify_user_metadata(cli: Cli, layout: Layout) -> None:
    cli.write_oci_policy(oci_statement())
    cli.ok("sign", "--oci-layout", layout.by_digest, "-m", "env=prod", "-m", "team=core")
    code, out, _ = _verify(cli, layout, "-m", "env=prod")
    assert code == 0
    assert _success(layout) in out
    assert "The artifact was signed with the following user metadata." in out
    rows = [line.split() for line in out.split("user metadata.")[1].strip().splitlines()]
    assert rows == [["KEY", "VALUE"], ["env", "prod"], ["team", "core"]]

    code, out, err = _verify(cli, layout, "-m", "env=dev")
    assert code == 1
    assert "Successfully verified" not in out
    assert VERIFY_FAILED in err
    assert 'unable to find specified metadata "env=dev" in the signature payload annotations' in err
    code, _, err = _verify(cli, layout, "-m", "absent=x")
    assert code == 1
    assert 'unable to find specified metadata "absent=x"' in err


def test_verify_scope_required_with_oci_layout(cli: Cli, layout: Layout) -> None:
    cli.write_oci_policy(oci_statement())
    cli.ok("sign", "--oci-layout", layout.by_digest)
    result = cli("verify", "--oci-layout", layout.by_digest)
    assert result.code == 2
    assert "--scope is required with --oci-layout" in result.err


def test_verify_without_trust_policy(cli: Cli, layout: Layout) -> None:
    cli.ok("sign", "--oci-layout", layout.by_digest)
    code, out, err = _verify(cli, layout)
    assert code == 2
    assert out == ""
    assert "trust policy is not present" in err


def test_verify_no_applicable_statement(cli: Cli, layout: Layout) -> None:
    cli.write_oci_policy(oci_statement(scopes=("local/elsewhere",)))
    cli.ok("sign", "--oci-layout", layout.by_digest)
    code, _, err = _verify(cli, layout)
    assert code == 2
    assert f'artifact "{SCOPE}" has no applicable oci trust policy statement' in err


def test_verify_wildcard_scope_applies(cli: Cli, layout: Layout) -> None:
    cli.write_oci_policy(oci_statement(scopes=("*",)))
    cli.ok("sign", "--oci-layout", layout.by_digest)
    assert _verify(cli, layout)[0] == 0


def test_verify_invalid_trust_policy(cli: Cli, layout: Layout) -> None:
    cli.write_oci_policy(oci_statement("a"), oci_statement("b"))
    code, _, err = _verify(cli, layout)
    assert code == 2
    assert "is present in multiple oci trust policy statements" in err


def test_verify_level_skip(cli: Cli, layout: Layout) -> None:
    cli.write_oci_policy(oci_statement(level="skip"))
    code, out, _ = _verify(cli, layout)  # not even signed
    assert code == 0
    assert out.strip() == (
        f"Trust policy is configured to skip signature verification for {layout.path}@{layout.digest}"
    )


def test_verify_unsigned_artifact(cli: Cli, layout: Layout) -> None:
    cli.write_oci_policy(oci_statement())
    code, out, err = _verify(cli, layout)
    assert code == 1
    assert out == ""
    assert f'no signature is associated with "{layout.path}@{layout.digest}"' in err


def test_verify_audit_untrusted_signer_warns(cli: Cli, layout: Layout) -> None:
    cli.write_oci_policy(oci_statement(level="audit"))
    cli.ok("sign", "--oci-layout", layout.by_digest, "--key", "other")
    code, out, err = _verify(cli, layout)
    assert code == 0, err
    assert _success(layout) in out
    assert 'Warning: authenticity was set to "log" and failed with error: ' in err


@pytest.mark.parametrize("level", ["strict", "permissive"])
def test_verify_untrusted_signer_fails(cli: Cli, layout: Layout, level: str) -> None:
    cli.write_oci_policy(oci_statement(level=level))
    cli.ok("sign", "--oci-layout", layout.by_digest, "--key", "other")
    code, out, err = _verify(cli, layout)
    assert code == 1
    assert out == ""
    assert VERIFY_FAILED in err
    assert "the signature's certificate chain does not contain any trusted certificate" in err


def test_verify_trusted_identity_mismatch(cli: Cli, layout: Layout) -> None:
    cli.write_oci_policy(oci_statement(identities=("x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=someone",)))
    cli.ok("sign", "--oci-layout", layout.by_digest)
    code, _, err = _verify(cli, layout)
    assert code == 1
    assert VERIFY_FAILED in err
    cli.write_oci_policy(oci_statement(identities=("x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=test",)))
    assert _verify(cli, layout)[0] == 0


def test_verify_any_signature_suffices(cli: Cli, layout: Layout) -> None:
    cli.write_oci_policy(oci_statement())
    cli.ok("sign", "--oci-layout", layout.by_digest, "--key", "other")
    cli.ok("sign", "--oci-layout", layout.by_digest, "--key", "test")
    code, out, _ = _verify(cli, layout, "--verbose")
    assert code == 0
    assert _success(layout) in out
    assert "Verified signature manifest sha256:" in out
    code, _, err = _verify(cli, layout, "--max-signatures", "1")
    # Only the first signature (by the untrusted key) is evaluated.
    assert code == 1
    assert VERIFY_FAILED in err


def _sign_expired(cli: Cli, layout: Layout, media_type: str) -> None:
    """Sign with ``old`` (cert valid since two days) a day ago, expiring an hour later."""
    local = cli.config / "localkeys"
    signer = LocalSigner.from_files(local / "old.key", local / "old.crt")
    options = SignOptions(envelope_media_type=media_type, expiry=timedelta(hours=1))
    sign_artifact(layout.store, layout.digest, signer, options, now=datetime.now(UTC) - timedelta(days=1))


@pytest.mark.parametrize("media_type", [MEDIA_TYPE_JWS, MEDIA_TYPE_COSE])
def test_verify_expired_signature(cli: Cli, layout: Layout, media_type: str) -> None:
    _sign_expired(cli, layout, media_type)
    cli.write_oci_policy(oci_statement(stores=("ca:old",)))
    code, out, err = _verify(cli, layout)
    assert code == 1
    assert out == ""
    assert "digital signature has expired on" in err

    cli.write_oci_policy(oci_statement(level="permissive", stores=("ca:old",)))
    code, out, err = _verify(cli, layout)
    assert code == 0, err
    assert _success(layout) in out
    assert 'Warning: expiry was set to "log" and failed with error: digital signature has expired on' in err


def test_verify_expiry_override(cli: Cli, layout: Layout) -> None:
    _sign_expired(cli, layout, MEDIA_TYPE_JWS)
    statement = oci_statement(stores=("ca:old",))
    statement["signatureVerification"]["override"] = {"expiry": "log"}
    cli.write_oci_policy(statement)
    code, _, err = _verify(cli, layout)
    assert code == 0, err
    assert 'Warning: expiry was set to "log"' in err


def test_verify_missing_trust_store(cli: Cli, layout: Layout) -> None:
    cli.write_oci_policy(oci_statement(stores=("ca:invalid_store",)))
    cli.ok("sign", "--oci-layout", layout.by_digest)
    code, out, err = _verify(cli, layout)
    assert code == 1
    assert out == ""
    assert 'the trust store "invalid_store" of type "ca" does not exist' in err


def test_verify_legacy_policy_file(cli: Cli, layout: Layout) -> None:
    cli.write_oci_policy(oci_statement())
    policy = cli.config / "trustpolicy.oci.json"
    policy.rename(cli.config / "trustpolicy.json")
    cli.ok("sign", "--oci-layout", layout.by_digest)
    assert _verify(cli, layout)[0] == 0


def test_debug_turns_on_our_logging_only(cli: Cli, layout: Layout) -> None:
    ours = logging.getLogger("notation_py")
    saved_level, saved_handlers = ours.level, list(ours.handlers)
    try:
        ours.handlers.clear()
        ours.setLevel(logging.NOTSET)
        cli.write_oci_policy(oci_statement())
        cli.ok("sign", "--oci-layout", layout.by_digest)
        assert ours.level != logging.DEBUG
        result = cli.ok("verify", "--oci-layout", "--scope", "local/app", "-d", layout.by_digest)
        assert "Successfully verified" in result.out
        assert ours.level == logging.DEBUG
        # httpx/httpcore would print every request header at DEBUG: they stay quiet.
        assert logging.getLogger("httpx").getEffectiveLevel() > logging.DEBUG
    finally:
        ours.handlers[:] = saved_handlers
        ours.setLevel(saved_level)
