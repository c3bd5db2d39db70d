"""docs/python-api.md runs as written: its set-up commands, then every Python block in order."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "python-api.md"


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text("utf-8"), flags=re.DOTALL)


def _run_setup(line: str, cwd: Path, env: dict[str, str]) -> None:
    argv = shlex.split(line)
    if argv[0] == "notation-py":
        argv = [sys.executable, "-m", "notation_py", *argv[1:]]
    elif argv[0] == "python":
        argv = [sys.executable, str(ROOT / argv[1]), *argv[2:]]
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"


def test_every_example_of_the_python_api_page_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "notation-config"
    env = {**os.environ, "NOTATION_CONFIG": str(config), "NOTATION_CACHE": str(tmp_path / "cache")}
    (setup,) = _blocks("console")
    for line in setup.splitlines():
        if line.startswith("$ "):
            _run_setup(line[2:], tmp_path, env)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NOTATION_CONFIG", str(config))
    monkeypatch.setenv("NOTATION_CACHE", str(tmp_path / "cache"))
    namespace: dict[str, object] = {"__name__": "python_api_docs"}
    blocks = _blocks("python")
    assert len(blocks) >= 7
    for number, block in enumerate(blocks):
        try:
            exec(compile(block, f"{DOC.name} block {number}", "exec"), namespace)
        except SystemExit as exc:  # an example's own failure check
            pytest.fail(f"block {number}: {exc}")
    printed = capsys.readouterr().out
    assert "signed sha256:" in printed
    assert "verified under images by sha256:" in printed
    assert "32 verifications by one verifier" in printed
    assert "blob verified under files" in printed
    assert "rejected:" in printed
