"""Without the ``server`` extra the database commands say what to install: no traceback, nothing left behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("command", ["init", "check", "backup", "restore", "recover"])
def test_database_commands_name_the_server_extra(tmp_path: Path, command: str) -> None:
    directory = tmp_path / "log"
    args = {
        "init": ["init", "--dir", str(directory), "--origin", "log.example.com/x"],
        "check": ["check", "--dir", str(directory)],
        "backup": ["backup", "--dir", str(directory), str(tmp_path / "b.db")],
        "restore": ["restore", "--dir", str(directory), str(tmp_path / "b.db")],
        "recover": ["recover", "--dir", str(directory), "--from", "http://127.0.0.1:9"],
    }[command]
    if command != "init":  # a log made with the extra, then used without it
        made = subprocess.run(
            [sys.executable, "-c", "import sys; from tlog.cli import run; sys.exit(run(sys.argv[1:]))", "init",
             "--dir", str(directory), "--origin", "log.example.com/x"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        (tmp_path / "b.db").write_bytes((directory / "log.db").read_bytes())
    code = (
        "import sys\n"
        "for name in ('aiosqlite', 'starlette', 'uvicorn', 'prometheus_client'):\n"
        "    sys.modules[name] = None\n"
        "from tlog.cli import run\n"
        "sys.exit(run(sys.argv[1:]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)
    if command == "backup":  # an online SQLite backup needs no extra
        assert result.returncode == 2 and "already exists" in result.stderr
        return
    assert result.returncode == 2, result.stderr
    assert "needs the server extra: pip install 'notation-py[server]'" in result.stderr
    assert "Traceback" not in result.stderr
    if command == "init":
        assert not (directory / "config.json").exists() and not (directory / "log-key.pem").exists()
