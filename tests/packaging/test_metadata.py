"""Packaging metadata, the single version source and the optional extras (fast: no wheel is built).

The installs themselves are in ``test_install.py``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import notation_py
import tlog
from notation_py.cli.main import run
from tests.cli.conftest import make_layout
from tests.packaging.venvs import ROOT, clean_env, project_version, pyproject
from tlog.cli import main as tlog_main

#: sha256 of the Apache License 2.0 as published (https://www.apache.org/licenses/LICENSE-2.0.txt).
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"

#: The base dependencies and the module each is imported as.
BASE_IMPORTS = {
    "cryptography": "cryptography",
    "cbor2": "cbor2",
    "rfc8785": "rfc8785",
    "httpx": "httpx",
    "typer": "typer",
    "asn1crypto": "asn1crypto",
}

#: Modules that need an extra (``tlog.server`` with its submodules), and nothing else: the rest of both
#: packages, everything ``notation-py`` and the client side of ``tlog`` run, imports without them.
NEEDS_AN_EXTRA = ("notation_py.keys.pkcs11", "tlog.recovery", "tlog.server", "tlog.storage.sqlite")
EXTRA_MODULES = ("starlette", "uvicorn", "aiosqlite", "prometheus_client", "uvloop", "httptools", "pkcs11")

PKCS11_MISSING = "PKCS#11 keys need python-pkcs11: pip install 'notation-py[pkcs11]'"


def _project() -> dict[str, Any]:
    project = pyproject()["project"]
    assert isinstance(project, dict)
    return project


def _names(requirements: list[str]) -> list[str]:
    return [re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower() for r in requirements]


def _sources() -> dict[Path, str]:
    return {p: p.read_text() for package in ("notation_py", "tlog") for p in (ROOT / package).rglob("*.py")}


# --- license -------------------------------------------------------------------------------------------


def test_license_is_the_spdx_expression_with_the_full_apache_text() -> None:
    project = _project()
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_bytes()
    assert hashlib.sha256(text).hexdigest() == APACHE_2_SHA256
    requires = pyproject()["build-system"]
    assert isinstance(requires, dict)
    (setuptools,) = [r for r in requires["requires"] if r.startswith("setuptools")]
    minimum = re.fullmatch(r"setuptools>=(\d+)(\.\d+)*", setuptools)
    assert minimum is not None and int(minimum[1]) >= 77  # SPDX license expressions (PEP 639)


# --- dependencies ----------------------------------------------------------------------------------------


def test_every_base_dependency_is_imported_and_no_unused_one_is_declared() -> None:
    project = _project()
    assert sorted(_names(project["dependencies"])) == sorted(BASE_IMPORTS)
    sources = _sources()
    for dist, module in BASE_IMPORTS.items():
        pattern = re.compile(rf"^\s*(import|from) {module}\b", re.MULTILINE)
        assert any(pattern.search(text) for text in sources.values()), f"{dist} is declared but never imported"
    declared = set(_names(project["dependencies"]))
    for extra in project["optional-dependencies"].values():
        declared |= set(_names(extra))
    assert not declared & {"rich", "rfc3161-client", "pycose"}


def test_server_and_pkcs11_are_extras_and_lint_tools_a_dependency_group() -> None:
    project = _project()
    extras = project["optional-dependencies"]
    assert sorted(_names(extras["server"])) == sorted(
        ["starlette", "uvicorn", "uvloop", "httptools", "aiosqlite", "prometheus-client"]
    )
    assert _names(extras["pkcs11"]) == ["python-pkcs11"]
    assert "notation-py[pkcs11,server]" in extras["test"]  # the suite runs log servers and SoftHSM keys
    test_names = set(_names(extras["test"]))
    assert {"pytest", "pytest-timeout", "pytest-xdist"} <= test_names
    assert not test_names & {"ruff", "mypy"}
    groups = pyproject()["dependency-groups"]
    assert isinstance(groups, dict)
    assert sorted(_names(groups["lint"])) == ["mypy", "ruff"]
    test_sh = (ROOT / "scripts" / "test.sh").read_text()
    assert "pip install -q -e '.[test]' --group lint" in test_sh


def test_only_the_extras_modules_need_the_extras() -> None:
    """Import every module of both packages with the extras' modules blocked: only the known ones fail."""
    script = f"""
import importlib, pkgutil, sys
for name in {EXTRA_MODULES!r}:
    sys.modules[name] = None  # as if not installed
import notation_py, tlog
for package in (notation_py, tlog):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if info.name.endswith(".__main__"):
            continue
        try:
            importlib.import_module(info.name)
        except Exception as exc:
            print(info.name, type(exc).__name__, exc, sep="|")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    failed = {line.split("|")[0]: line for line in result.stdout.splitlines()}
    unexpected = [name for name in failed if not name.startswith(tuple(f"{m}." for m in NEEDS_AN_EXTRA))]
    assert set(unexpected) <= set(NEEDS_AN_EXTRA), result.stdout
    assert {"notation_py.keys.pkcs11", "tlog.storage.sqlite", "tlog.recovery"} <= set(failed), result.stdout
    assert [name for name in failed if name.startswith("tlog.server")], result.stdout
    assert failed["notation_py.keys.pkcs11"] == f"notation_py.keys.pkcs11|SigningKeyError|{PKCS11_MISSING}"


# --- the extras' messages ------------------------------------------------------------------------------


@pytest.fixture
def without_pkcs11(monkeypatch: pytest.MonkeyPatch) -> None:
    """python-pkcs11 not installed: ``import pkcs11`` fails and our module is imported afresh."""
    monkeypatch.setitem(sys.modules, "pkcs11", None)
    monkeypatch.delitem(sys.modules, "notation_py.keys.pkcs11", raising=False)


def _notation(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    capsys.readouterr()
    code = run([str(a) for a in args])
    return code, capsys.readouterr().err


@pytest.mark.usefixtures("without_pkcs11")
def test_pkcs11_key_without_python_pkcs11_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "signingkeys.json").write_text(
        '{"default": "hsm", "keys": [{"name": "hsm", "pkcs11": {"uri": "pkcs11:token=t;object=k"}}]}'
    )
    monkeypatch.setenv("NOTATION_CONFIG", str(config))
    monkeypatch.setenv("NOTATION_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NOTATION_PY_DEBUG", raising=False)
    layout = make_layout(tmp_path / "image")
    blob = tmp_path / "release.tar.gz"
    blob.write_bytes(b"release")
    for args in (
        ("sign", "--oci-layout", layout.by_digest),  # the configured default key
        ("blob", "sign", "--key", "hsm", blob),
        ("key", "add", "token", "--pkcs11-uri", "pkcs11:token=t;object=k"),
    ):
        code, err = _notation(capsys, *args)
        assert code == 2, (args, err)
        assert err == f"Error: {PKCS11_MISSING}\n", (args, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config", "image", "release.tar.gz"]  # nothing signed


def test_a_broken_python_pkcs11_is_not_reported_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only python-pkcs11 itself being absent gets the install hint; a missing part of it is a real error."""
    monkeypatch.setitem(sys.modules, "pkcs11.util.ec", None)
    monkeypatch.delitem(sys.modules, "notation_py.keys.pkcs11", raising=False)
    with pytest.raises(ModuleNotFoundError, match=r"pkcs11\.util\.ec"):
        importlib.import_module("notation_py.keys.pkcs11")


@pytest.mark.parametrize("module", ["starlette", "uvicorn", "aiosqlite", "prometheus_client"])
def test_tlog_serve_without_the_server_extra_says_what_to_install(
    module: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    assert tlog_main(["serve", "--dir", str(tmp_path / "log")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tlog: error: 'tlog serve' needs the server extra: pip install 'notation-py[server]' ("), err
    assert module in err
    assert len(err.splitlines()) == 1


# --- version -------------------------------------------------------------------------------------------


def test_the_version_is_read_from_the_installed_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    version = project_version()
    assert importlib.metadata.version("notation-py") == version, (
        "the installed metadata is stale: reinstall (scripts/test.sh, or pip install -e '.[test]')"
    )
    assert notation_py.__version__ == tlog.__version__ == version
    agent = notation_py.SIGNING_AGENT
    assert agent == f"notation-py/{version}"
    assert run(["version"]) == 0
    assert capsys.readouterr().out == f"notation-py {version}\n"
    assert tlog_main(["version"]) == 0
    assert capsys.readouterr().out == f"tlog {version}\n"


def test_no_version_is_written_in_the_packages() -> None:
    version = project_version()
    for path, text in _sources().items():
        written = re.search(r"__version__\s*(:[^=]+)?=\s*[\"'](?!0\+unknown[\"'])", text)  # the fallback only
        assert not written, f"{path} writes a version"
        assert f'"{version}"' not in text and f"'{version}'" not in text, f"{path} holds {version!r}"


def test_a_source_tree_without_metadata_reports_an_unknown_version(tmp_path: Path) -> None:
    """``python -E -s -S``, so no site-packages: no distribution metadata, only the two package roots."""
    for package in ("notation_py", "tlog"):
        (tmp_path / package).mkdir()
        shutil.copy(ROOT / package / "__init__.py", tmp_path / package / "__init__.py")
    result = subprocess.run(
        [
            sys.executable,
            "-E",
            "-s",
            "-S",
            "-c",
            "import notation_py, tlog; print(notation_py.__version__, tlog.__version__, notation_py.SIGNING_AGENT)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env=clean_env(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "0+unknown 0+unknown notation-py/0+unknown\n"
