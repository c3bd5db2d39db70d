"""``blob sign``, ``blob verify`` and ``blob inspect``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from notation_py.envelope import MEDIA_TYPE_COSE
from notation_py.keys.local import LocalSigner
from notation_py.sign import SignOptions, sign_blob
from tests.cli.conftest import Cli, blob_statement

MISMATCH = "integrity check failed. signature does not match the given blob"


@pytest.fixture
def blob(tmp_path: Path) -> Path:
    """A small file to sign."""
    path = tmp_path / "artifact.bin"
    path.write_bytes(b"blob content\n" * 100)
    return path


@pytest.mark.parametrize(("fmt", "media_type"), [("jws", "application/jose+json"), ("cose", "application/cose")])
def test_blob_sign_verify_inspect(cli: Cli, blob: Path, fmt: str, media_type: str) -> None:
    cli.write_blob_policy(blob_statement())
    signed = cli.ok("blob", "sign", "--signature-format", fmt, "-m", "k=v", blob)
    signature = Path(f"artifact.bin.{fmt}.sig")  # written to the working directory
    assert signed.out.splitlines() == [f"Successfully signed {blob}", f"Signature file written to {signature}"]
    assert (blob.parent / signature).is_file()

    verified = cli.ok("blob", "verify", "--signature", signature, blob)
    assert verified.out.strip() == f"Successfully verified signature {signature}"
    assert cli.ok("blob", "verify", "-s", signature, "-m", "k=v", blob).code == 0
    wrong_metadata = cli("blob", "verify", "-s", signature, "-m", "k=w", blob)
    assert wrong_metadata.code == 1
    assert 'unable to find specified metadata "k=w"' in wrong_metadata.err

    tree = cli.ok("blob", "inspect", signature).out
    assert tree.splitlines()[0] == str(signature)
    assert f"signature envelope type: {media_type}" in tree
    assert "media type: application/octet-stream" in tree
    doc = json.loads(cli.ok("blob", "inspect", "-o", "json", signature).out)
    assert doc["mediaType"] == media_type
    assert doc["signedAttributes"]["signingScheme"] == "notary.x509"
    assert doc["userDefinedAttributes"] == {"k": "v"}
    assert doc["signedArtifact"]["mediaType"] == "application/octet-stream"
    assert doc["signedArtifact"]["size"] == blob.stat().st_size


def test_blob_signature_directory_and_force(cli: Cli, blob: Path, tmp_path: Path) -> None:
    cli.write_blob_policy(blob_statement())
    sigdir = tmp_path / "sigs"
    sigdir.mkdir()
    cli.ok("blob", "sign", "--signature-directory", sigdir, blob)
    signature = sigdir / "artifact.bin.jws.sig"
    first = signature.read_bytes()
    again = cli("blob", "sign", "--signature-directory", sigdir, blob)
    assert again.code == 2
    assert "already exists, use --force to overwrite it" in again.err
    assert signature.read_bytes() == first
    cli.ok("blob", "sign", "--signature-directory", sigdir, "--force", "--key", "other", blob)
    assert signature.read_bytes() != first
    # Now signed by "other", which the policy does not trust.
    untrusted = cli("blob", "verify", "-s", signature, blob)
    assert untrusted.code == 1
    assert "the signature's certificate chain does not contain any trusted certificate" in untrusted.err
    # Like notation (osutil.WriteFile), a missing signature directory is created.
    cli.ok("blob", "sign", "--signature-directory", tmp_path / "new" / "dir", blob)
    assert (tmp_path / "new" / "dir" / "artifact.bin.jws.sig").is_file()


def test_blob_media_type(cli: Cli, blob: Path) -> None:
    cli.write_blob_policy(blob_statement())
    cli.ok("blob", "sign", "--media-type", "text/plain", blob)
    signature = Path("artifact.bin.jws.sig")
    assert cli.ok("blob", "verify", "-s", signature, "--media-type", "text/plain", blob).code == 0
    mismatch = cli("blob", "verify", "-s", signature, "--media-type", "application/json", blob)
    assert mismatch.code == 1
    assert MISMATCH in mismatch.err
    bad = cli("blob", "sign", "--force", "--media-type", "nonsense", blob)
    assert bad.code == 2


def test_blob_tampered(cli: Cli, blob: Path, tmp_path: Path) -> None:
    cli.write_blob_policy(blob_statement())
    cli.ok("blob", "sign", "--signature-format", "cose", blob)
    signature = Path("artifact.bin.cose.sig")
    blob.write_bytes(blob.read_bytes() + b"x")
    result = cli("blob", "verify", "-s", signature, blob)
    assert result.code == 1
    assert "Successfully verified" not in result.out
    assert MISMATCH in result.err
    other = tmp_path / "other.bin"
    other.write_bytes(b"something else")
    assert MISMATCH in cli("blob", "verify", "-s", signature, other).err


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("artifact.bin.jws", "invalid signature filename artifact.bin.jws. The file extension must be .sig"),
        (
            "artifact.sig",
            "invalid signature filename artifact.sig. A valid signature file name must contain signature format "
            "and .sig file extension",
        ),
        ("artifact.xml.sig", 'signature format "xml" not supported'),
    ],
)
def test_blob_signature_file_names(cli: Cli, blob: Path, name: str, message: str) -> None:
    cli.write_blob_policy(blob_statement())
    cli.ok("blob", "sign", blob)
    Path(name).write_bytes(Path("artifact.bin.jws.sig").read_bytes())
    verify = cli("blob", "verify", "-s", name, blob)
    assert verify.code == 2
    assert message in verify.err
    inspect = cli("blob", "inspect", name)
    assert inspect.code == 2
    assert message in inspect.err


def test_blob_signature_extension_is_case_insensitive(cli: Cli, blob: Path) -> None:
    """notation-go lower-cases the extension and the format (``filepath.Ext`` + ``strings.ToLower``)."""
    cli.write_blob_policy(blob_statement())
    cli.ok("blob", "sign", blob)
    Path("artifact.bin.JWS.SIG").write_bytes(Path("artifact.bin.jws.sig").read_bytes())
    assert cli.ok("blob", "verify", "-s", "artifact.bin.JWS.SIG", blob).code == 0


def test_blob_wrong_format_in_name(cli: Cli, blob: Path) -> None:
    """A JWS envelope named ``.cose.sig`` is parsed as COSE and rejected."""
    cli.write_blob_policy(blob_statement())
    cli.ok("blob", "sign", blob)
    Path("artifact.bin.cose.sig").write_bytes(Path("artifact.bin.jws.sig").read_bytes())
    result = cli("blob", "verify", "-s", "artifact.bin.cose.sig", blob)
    assert result.code == 1
    assert "unable to parse the digital signature" in result.err
    inspect = cli("blob", "inspect", "artifact.bin.cose.sig")
    assert inspect.code == 2
    assert "failed to parse signature" in inspect.err


def test_blob_policy_selection(cli: Cli, blob: Path) -> None:
    cli.ok("blob", "sign", blob)
    signature = "artifact.bin.jws.sig"
    absent = cli("blob", "verify", "-s", signature, blob)
    assert absent.code == 2
    assert "trust policy is not present" in absent.err

    cli.write_blob_policy(blob_statement("named", global_policy=False))
    no_global = cli("blob", "verify", "-s", signature, blob)
    assert no_global.code == 2
    assert "no global blob trust policy" in no_global.err
    assert cli.ok("blob", "verify", "-s", signature, "--policy-name", "named", blob).code == 0
    unknown = cli("blob", "verify", "-s", signature, "--policy-name", "unknown", blob)
    assert unknown.code == 2
    assert "no applicable blob trust policy" in unknown.err

    cli.write_blob_policy(blob_statement(level="skip"))
    skipped = cli.ok("blob", "verify", "-s", signature, blob)
    assert "Trust policy is configured to skip signature verification" in skipped.out


def test_blob_bad_input(cli: Cli, blob: Path, tmp_path: Path) -> None:
    cli.write_blob_policy(blob_statement())
    missing_blob = cli("blob", "sign", tmp_path / "missing.bin")
    assert missing_blob.code == 2
    assert "does not exist" in missing_blob.err
    cli.ok("blob", "sign", blob)
    missing_sig = cli("blob", "verify", "-s", "nothere.jws.sig", blob)
    assert missing_sig.code == 2
    assert "cannot read signature file" in missing_sig.err
    garbage = Path("garbage.jws.sig")
    garbage.write_text("not an envelope")
    assert cli("blob", "inspect", garbage).code == 2
    parse_failure = cli("blob", "verify", "-s", garbage, blob)
    assert parse_failure.code == 1
    assert "unable to parse the digital signature" in parse_failure.err
    missing_flag = cli("blob", "verify", blob)
    assert missing_flag.code == 2
    assert "--signature" in missing_flag.err
    assert not Path("missing.bin.jws.sig").exists()


def test_blob_audit_untrusted_signer_warns(cli: Cli, blob: Path) -> None:
    cli.write_blob_policy(blob_statement(level="audit"))
    cli.ok("blob", "sign", "--key", "other", blob)
    result = cli.ok("blob", "verify", "-s", "artifact.bin.jws.sig", blob)
    assert "Successfully verified signature artifact.bin.jws.sig" in result.out
    assert 'Warning: authenticity was set to "log" and failed with error: ' in result.err
    cli.write_blob_policy(blob_statement(level="permissive"))
    assert cli("blob", "verify", "-s", "artifact.bin.jws.sig", blob).code == 1


def test_blob_expired_signature(cli: Cli, blob: Path) -> None:
    local = cli.config / "localkeys"
    signer = LocalSigner.from_files(local / "old.key", local / "old.crt")
    options = SignOptions(envelope_media_type=MEDIA_TYPE_COSE, expiry=timedelta(hours=1))
    envelope = sign_blob(blob, signer, options, now=datetime.now(UTC) - timedelta(days=1))
    signature = Path("artifact.bin.cose.sig")
    signature.write_bytes(envelope)
    cli.write_blob_policy(blob_statement(stores=("ca:old",)))
    strict = cli("blob", "verify", "-s", signature, blob)
    assert strict.code == 1
    assert "digital signature has expired on" in strict.err
    cli.write_blob_policy(blob_statement(level="permissive", stores=("ca:old",)))
    permissive = cli.ok("blob", "verify", "-s", signature, blob)
    assert 'Warning: expiry was set to "log" and failed with error: digital signature has expired' in permissive.err
