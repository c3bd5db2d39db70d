"""The Verifier front door: configuration errors, skip statements, a closed verifier, the result's context."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from notation_py import Verifier, VerifierConfig
from notation_py.errors import ConfigError, UsageError, VerificationError

ROOT = Path(__file__).resolve().parents[2]
IDENTITY = "x509.subject: CN=api-signer,O=Notary,L=Seattle,ST=WA,C=US"


def cli(tmp_path: Path, *args: str) -> None:
    env = {"NOTATION_CONFIG": str(tmp_path / "config"), "NOTATION_CACHE": str(tmp_path / "cache"), "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-m", "notation_py", *args], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture
def configured(tmp_path: Path) -> Path:
    """A config with a test key, an image in ./image signed by it, and OCI policies for local/app and local/skipped."""
    cli(tmp_path, "cert", "generate-test", "--default", "api-signer")
    policy = {
        "version": "1.0",
        "trustPolicies": [
            {
                "name": "app",
                "registryScopes": ["local/app"],
                "signatureVerification": {"level": "strict"},
                "trustStores": ["ca:api-signer"],
                "trustedIdentities": [IDENTITY],
            },
            {
                "name": "skipped",
                "registryScopes": ["local/skipped"],
                "signatureVerification": {"level": "skip"},
                "trustStores": [],
                "trustedIdentities": [],
            },
        ],
    }
    (tmp_path / "config" / "trustpolicy.oci.json").write_text(json.dumps(policy))
    subprocess.run([sys.executable, str(ROOT / "scripts/demo_image.py"), str(tmp_path / "image"), "v1"], check=True)
    return tmp_path


def test_config_is_validated() -> None:
    with pytest.raises(UsageError, match="timeout"):
        VerifierConfig(timeout=0)
    with pytest.raises(UsageError, match="max_signatures"):
        VerifierConfig(max_signatures=0)
    with pytest.raises(UsageError, match="http"):
        VerifierConfig(tlog_url="ftp://log")


def test_a_directory_without_trust_policy_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="trust policy is not present"):
        Verifier.from_config(tmp_path)


def test_unsigned_artifact_fails_and_a_closed_verifier_refuses(configured: Path) -> None:
    verifier = Verifier.from_config(configured / "config")
    with verifier:
        with pytest.raises(VerificationError, match="no signature is associated"):
            verifier.verify_artifact("v1", oci_layout=configured / "image", scope="local/app")
        with pytest.raises(UsageError, match="scope"):
            verifier.verify_artifact("v1", oci_layout=configured / "image")
    with pytest.raises(UsageError, match="closed"):
        verifier.verify_artifact("registry.example.com/app@sha256:" + "0" * 64)


def test_a_skip_statement_reports_skipped_never_verified(configured: Path) -> None:
    with Verifier.from_config(configured / "config") as verifier:
        result = verifier.verify_artifact("v1", oci_layout=configured / "image", scope="local/skipped")
    assert result.skipped and result.verified is None and result.statement == "skipped"
    assert result.outcomes == ()
