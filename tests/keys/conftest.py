"""Fixtures of the key tests: the session's SoftHSM2 token."""

from __future__ import annotations

import pytest

from notation_py.keys import backup, encrypted
from tests.keys.softhsm import SoftHsm, softhsm_token


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> SoftHsm:
    """A SoftHSM2 token with RSA and EC keys generated inside it (see :data:`tests.keys.softhsm.TOKEN_KEYS`)."""
    return softhsm_token(tmp_path_factory)


@pytest.fixture
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap PBKDF2 for tests that do not check the key-file and backup strength (checked separately)."""
    monkeypatch.setattr(encrypted, "PBKDF2_ITERATIONS", 1000)
    monkeypatch.setattr(backup, "KDF_ROUNDS", 1000)
