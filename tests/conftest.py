"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance import conformance_root


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    """Root of the Notary Project conformance vectors."""
    return conformance_root()
