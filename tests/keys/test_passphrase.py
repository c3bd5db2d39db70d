"""Where passphrases and PINs come from: file, environment variable, terminal, never the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from notation_py.errors import SigningKeyError, UsageError
from notation_py.keys.passphrase import obtain_secret, read_secret_file

ENV = "NOTATION_TEST_SECRET"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)


def _get(**kwargs: object) -> bytes:
    args: dict[str, object] = {"what": "test passphrase", "file": None, "env": ENV, "file_flag": "--secret-file FILE"}
    args.update(kwargs)
    return obtain_secret(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("content", "secret"), [(b"pass phrase\n", b"pass phrase"), (b"x\r\n", b"x"), (b"a\n\n", b"a\n")]
)
def test_file_content_without_one_trailing_newline(tmp_path: Path, content: bytes, secret: bytes) -> None:
    path = tmp_path / "secret"
    path.write_bytes(content)
    assert read_secret_file(path, "secret") == secret


def test_file_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"\n")
    with pytest.raises(UsageError, match=r"is empty"):
        read_secret_file(empty, "secret")
    with pytest.raises(SigningKeyError, match=r"cannot read the secret file"):
        read_secret_file(tmp_path / "missing", "secret", SigningKeyError)


def test_order_file_then_environment_then_prompt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret"
    path.write_text("from-file-123\n")
    monkeypatch.setenv(ENV, "from-env-1234")
    assert _get(file=path) == b"from-file-123"
    assert _get() == b"from-env-1234"
    monkeypatch.delenv(ENV)
    assert _get(prompt=lambda _: "from-prompt") == b"from-prompt"


def test_missing_secret_names_every_source() -> None:
    with pytest.raises(
        SigningKeyError,
        match=f"the test passphrase is needed: give --secret-file FILE, set {ENV}, or run on a terminal",
    ):
        _get(error=SigningKeyError)


def test_new_secret_is_confirmed_and_long_enough() -> None:
    answers = iter(["first-answer", "second-answer"])
    with pytest.raises(UsageError, match=r"the two entries of the test passphrase differ"):
        _get(new=True, prompt=lambda _: next(answers))
    with pytest.raises(UsageError, match=r"at least 8 characters"):
        _get(new=True, prompt=lambda _: "short")
    assert _get(new=True, prompt=lambda _: "long enough") == b"long enough"


def test_interrupted_prompt() -> None:
    def interrupted(_: str) -> str:
        raise EOFError

    with pytest.raises(UsageError, match=r"no test passphrase was entered"):
        _get(prompt=interrupted)
