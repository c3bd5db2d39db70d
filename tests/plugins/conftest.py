"""Fixtures: a temporary notation configuration with a plugin directory, and a signing PKI."""

from __future__ import annotations

from pathlib import Path

import pytest

from notation_py.keys.generate import Issued
from tests.pki import ca_chain


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``{NOTATION_CONFIG}/plugins`` of a fresh configuration directory (``NOTATION_CONFIG`` points at it)."""
    config = tmp_path / "notation"
    monkeypatch.setenv("NOTATION_CONFIG", str(config))
    monkeypatch.delenv("NOTATION_LIBEXEC", raising=False)
    plugins = config / "plugins"
    plugins.mkdir(parents=True)
    return plugins


@pytest.fixture(scope="session")
def pki() -> tuple[Issued, Issued, Issued]:
    """(root, intermediate, leaf) with an EC P-256 code-signing leaf."""
    return ca_chain("ec-256")
