"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance import conformance_root

#: Registry fixtures (distribution 2.8.2, token server, in-process OCI 1.1 registry) for every test directory.
pytest_plugins = ["tests.registry.servers"]


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    """Root of the Notary Project conformance vectors."""
    return conformance_root()
