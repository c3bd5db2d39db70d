"""Fixtures shared by the tlog tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_audit_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tlog audit`` remembers what it audited: never in the user's state directory during tests."""
    path = tmp_path / "tlog-audit-state.json"
    monkeypatch.setenv("TLOG_AUDIT_STATE", str(path))
    return path
