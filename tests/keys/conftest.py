"""Fixtures of the key tests (the session's SoftHSM2 token, ``softhsm``, is in ``tests/conftest.py``)."""

from __future__ import annotations

import pytest

from notation_py.keys import backup, encrypted


@pytest.fixture
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap PBKDF2 for tests that do not check the key-file and backup strength (checked separately)."""
    monkeypatch.setattr(encrypted, "PBKDF2_ITERATIONS", 1000)
    monkeypatch.setattr(backup, "KDF_ROUNDS", 1000)
