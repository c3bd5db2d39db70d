"""Shared pytest fixtures.

Every test runs with its own ``NOTATION_CONFIG``, ``NOTATION_CACHE``, ``DOCKER_CONFIG`` and
``XDG_CONFIG_HOME``/``XDG_CACHE_HOME``/``XDG_STATE_HOME`` (paths under its ``tmp_path``, not created)
and without the credential, passphrase, token and debug variables of the environment it was started
from: nothing a test does lands in the user's notation, docker or tlog (audit state) directories, and
tests running at the same time (``pytest -n``) or one after another never share such state.
Fixtures and tests that need other values set their own with ``monkeypatch``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conformance import conformance_root
from tests.keys.softhsm import SoftHsm, start_softhsm

#: Registry fixtures (distribution 2.8.2, token server, in-process OCI 1.1 registry) for every test directory.
pytest_plugins = ["tests.registry.servers"]

#: Variables the code under test reads that must not leak in from the environment running the tests.
_UNSET = (
    "NOTATION_USERNAME",
    "NOTATION_PASSWORD",
    "NOTATION_KEY_PASSPHRASE",
    "NOTATION_CA_PASSPHRASE",
    "NOTATION_BACKUP_PASSPHRASE",
    "NOTATION_PKCS11_PIN",
    "NOTATION_PKCS11_MODULE",
    "NOTATION_LIBEXEC",
    "NOTATION_TLOG_TOKEN",
    "NOTATION_PY_DEBUG",
    "TLOG_TOKENS",
    "TLOG_AUDIT_STATE",
)


@pytest.fixture(autouse=True)
def _private_user_directories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point notation's and docker's per-user directories into this test's ``tmp_path``."""
    user = tmp_path / ".user"
    monkeypatch.setenv("NOTATION_CONFIG", str(user / "notation-config"))
    monkeypatch.setenv("NOTATION_CACHE", str(user / "notation-cache"))
    monkeypatch.setenv("DOCKER_CONFIG", str(user / "docker"))
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):  # e.g. tlog audit's state file
        monkeypatch.setenv(name, str(user / name.lower()))
    for name in _UNSET:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    """Root of the Notary Project conformance vectors."""
    return conformance_root()


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """This process's SoftHSM2 token, with RSA and EC keys generated inside it (see ``tests.keys.softhsm``).

    ``SOFTHSM2_CONF`` is set for the rest of the session (SoftHSM reads it once per process) and
    restored afterwards. Under ``pytest -n`` every worker that runs a test needing it makes its own
    token in its own temporary directory; the ``softhsm`` xdist group keeps those tests on one worker.
    """
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield start_softhsm(tmp_path_factory.mktemp("softhsm"), monkeypatch)
