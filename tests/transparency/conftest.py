"""A real ``tlog serve`` for the client and online tests, and helpers to run more of them."""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from notation_py.transparency import LogClient, TransparencyPolicy
from tests.tlog.live import Served, serve, tlog

LIVE_ORIGIN = "log.example.com/transparency-live"
TOKEN = "transparency-test-token-0123456789"


def init_log(directory: Path, origin: str = LIVE_ORIGIN) -> str:
    """``tlog init``; the verifier key it prints."""
    result = tlog("init", "--dir", directory, "--origin", origin)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def stop(served: Served) -> None:
    """Stop a server gracefully (its database closed), so its directory can be copied."""
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(30) == 0, served.stderr()


def copy_log(source: Path, destination: Path) -> Path:
    """A copy of a stopped log's data directory (key file mode included)."""
    shutil.copytree(source, destination)
    return destination


def live_policy(vkey: str, url: str | None = None) -> TransparencyPolicy:
    """A required, online policy trusting the log key ``vkey``."""
    return TransparencyPolicy(required=True, verifier_keys=(vkey,), online=True, url=url)


@dataclass(frozen=True)
class LiveLog:
    """A served log: its URL, verifier key, data directory and submission token."""

    url: str
    vkey: str
    directory: Path
    token: str = TOKEN

    def client(self, *, token: str | None = TOKEN) -> LogClient:
        """A client of this log (with the submission token by default)."""
        return LogClient(self.url, token=token)

    def policy(self) -> TransparencyPolicy:
        """A policy trusting this log."""
        return live_policy(self.vkey, self.url)


@pytest.fixture(scope="session")
def live_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveLog]:
    """One ``tlog serve`` (token required to submit) shared by the client and online tests."""
    directory = tmp_path_factory.mktemp("transparency") / "log"
    vkey = init_log(directory)
    tokens = directory.parent / "tokens"
    tokens.write_text(f"# test token\n{TOKEN}\n")
    with serve(directory, "--token-file", tokens, "--verify-workers", "0") as served:
        yield LiveLog(served.url, vkey, directory)
