"""Fixtures for the OCI tests: writable copies of the conformance layout."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conformance import vector

ALPINE_LAYOUT = "notation-go/oci-layout-alpine/layout"
ALPINE_DIGEST = "sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0"


def copy_tree_writable(src: Path, dst: Path) -> Path:
    """Copy ``src`` to ``dst`` with owner-writable permissions (the vectors are read-only)."""
    shutil.copytree(src, dst, copy_function=shutil.copyfile)
    for root, _, files in os.walk(dst):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
    return dst


@pytest.fixture
def alpine_copy(tmp_path: Path) -> Path:
    """A writable copy of the notation-go alpine OCI layout."""
    return copy_tree_writable(vector(ALPINE_LAYOUT), tmp_path / "layout")
