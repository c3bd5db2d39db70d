"""The installed ``notation-py`` console script as a real process: exit codes, stderr, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Layout, make_layout, oci_statement

_SCRIPT = Path(sys.executable).parent / "notation-py"
_COMMAND = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "notation_py"]

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def notation(tmp_path: Path) -> Run:
    """Run the console script with private NOTATION_CONFIG/NOTATION_CACHE; asserts no traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTATION")}
    env |= {"NOTATION_CONFIG": str(tmp_path / "config"), "NOTATION_CACHE": str(tmp_path / "cache")}

    def run(*args: str | Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [*_COMMAND, *map(str, args)],
            env=env | (extra_env or {}),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stdout, proc.stdout
        return proc

    return run


@pytest.fixture
def signed_layout(notation: Run, tmp_path: Path) -> Layout:
    """A layout signed with a fresh EC key ``proc`` under a strict policy for ``local/app``."""
    assert notation("cert", "generate-test", "--key-type", "ec-256", "--default", "proc").returncode == 0
    layout = make_layout(tmp_path / "app")
    proc = notation("sign", "--oci-layout", layout.by_tag)
    assert proc.returncode == 0, proc.stderr
    assert "Warning: Always sign the artifact using digest(@sha256:...)" in proc.stderr
    assert f"Successfully signed {layout.path}@{layout.digest}" in proc.stdout
    policy = tmp_path / "policy.json"
    policy.write_text(
        json.dumps({"version": "1.0", "trustPolicies": [oci_statement(stores=("ca:proc",), scopes=("local/app",))]})
    )
    assert notation("policy", "import", policy).returncode == 0
    return layout


def test_sign_verify_round_trip(notation: Run, signed_layout: Layout) -> None:
    proc = notation("verify", "--oci-layout", "--scope", "local/app", signed_layout.by_digest)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"Successfully verified signature for {signed_layout.path}@{signed_layout.digest}"
    assert proc.stderr == ""


def test_verification_failure_exit_1(notation: Run, signed_layout: Layout) -> None:
    proc = notation("verify", "--oci-layout", "--scope", "local/app", signed_layout.by_digest, "-m", "k=v")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.startswith("Error: signature verification failed for all the signatures associated with ")
    assert 'unable to find specified metadata "k=v"' in proc.stderr


def test_corrupt_index_json(notation: Run, signed_layout: Layout) -> None:
    (signed_layout.path / "index.json").write_bytes(b"\x00garbage")
    for args in (
        ("verify", "--oci-layout", "--scope", "local/app", signed_layout.by_digest),
        ("list", "--oci-layout", signed_layout.by_digest),
        ("inspect", "--oci-layout", signed_layout.by_digest),
        ("sign", "--oci-layout", signed_layout.by_digest),
    ):
        proc = notation(*args)
        assert proc.returncode == 1, args
        assert proc.stderr.startswith("Error: ")
        assert "invalid index.json" in proc.stderr
        assert proc.stderr.count("\n") == 1


def test_usage_errors_exit_2(notation: Run, tmp_path: Path) -> None:
    registry = notation("sign", "localhost:5000/net-monitor")
    assert registry.returncode == 2
    assert "a tag or a digest is required" in registry.stderr
    no_policy = notation("verify", "--oci-layout", "--scope", "local/app", f"{tmp_path}:v1")
    assert no_policy.returncode == 2
    assert "trust policy is not present" in no_policy.stderr
    bad_flag = notation("list", "--no-such-flag")
    assert bad_flag.returncode == 2
    assert "No such option" in bad_flag.stderr


def test_unusable_config_dir(notation: Run, tmp_path: Path) -> None:
    """NOTATION_CONFIG naming a regular file gives one error line, not a traceback."""
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    env = {"NOTATION_CONFIG": str(not_a_dir)}
    for args in (("key", "list"), ("cert", "generate-test", "--key-type", "ec-256", "x"), ("policy", "show")):
        proc = notation(*args, extra_env=env)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.startswith("Error: ")


def test_python_dash_m(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "notation_py", "version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("notation-py ")
