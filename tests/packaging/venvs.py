"""Build the wheel from the working tree and install it into fresh virtual environments, offline.

Everything comes from ``.wheelhouse/``, which ``scripts/test.sh`` fills from PyPI (the build backend
and the base dependencies with theirs, for this Python): pip runs with ``--no-index``, no
configuration file and no ``PIP_*`` variables, so nothing is fetched and a dependency missing from
the wheelhouse is an error instead of a download.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = ROOT / ".wheelhouse"

#: What the wheel is built from (the sdist-free equivalent of the repository's tracked sources).
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "notation_py", "tlog")


def pyproject() -> dict[str, object]:
    """The repository's ``pyproject.toml``."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def project_version() -> str:
    """``[project].version``: the one written copy of the version."""
    project = pyproject()["project"]
    assert isinstance(project, dict)
    version = project["version"]
    assert isinstance(version, str)
    return version


def wheelhouse() -> Path:
    """The wheelhouse; fails (never skips) when ``scripts/test.sh`` has not filled it."""
    if not any(WHEELHOUSE.glob("setuptools-*.whl")) or not any(WHEELHOUSE.glob("cryptography-*.whl")):
        pytest.fail(
            f"{WHEELHOUSE} is missing or incomplete: run scripts/test.sh, which fills it from PyPI "
            "(the packaging tests install offline from it)"
        )
    return WHEELHOUSE


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without pip's settings, ``PYTHONPATH`` and the byte-code switch, plus ``extra``.

    ``PIP_CONFIG_FILE=/dev/null`` keeps pip from reading any configuration (indexes, find-links,
    constraints). ``PYTHONDONTWRITEBYTECODE`` is dropped because it makes setuptools print a
    warning of its own about byte-compiling, which is not the project's.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "NOTATION_"))
        and k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV")
    }
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    env.update(extra)
    return env


def _pip(*args: str | Path, python: Path | None = None, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    target = ["--python", str(python)] if python is not None else []
    return subprocess.run(
        [sys.executable, "-m", "pip", *target, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=clean_env(),
    )


@dataclass(frozen=True)
class BuiltWheel:
    """The wheel built from the working tree and everything the build printed."""

    path: Path
    output: str


def build_wheel(workdir: Path) -> BuiltWheel:
    """Copy the sources to ``workdir`` and build the wheel there (build isolation, backend from the wheelhouse)."""
    house = wheelhouse()
    source = workdir / "src"
    source.mkdir(parents=True)
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, source / name)
    out = workdir / "dist"
    result = _pip("wheel", "-v", "--no-deps", "--no-index", "--find-links", house, "-w", out, source)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"building the wheel failed (is {house} filled by scripts/test.sh?):\n{output}"
    (wheel,) = out.glob("notation_py-*.whl")
    return BuiltWheel(wheel, output)


def build_warnings(output: str) -> list[str]:
    """Lines of a verbose build that warn or announce a deprecation (file names copied are not warnings)."""
    return [
        line
        for line in output.splitlines()
        if re.search(r"(?i)warn|deprecat", line) and not re.match(r"\s*(copying|adding|creating|writing) ", line)
    ]


@dataclass(frozen=True)
class Venv:
    """A virtual environment holding the built wheel."""

    root: Path

    @property
    def python(self) -> Path:
        """Its interpreter."""
        return self.root / "bin" / "python"

    def bin(self, name: str) -> Path:
        """One of its console scripts."""
        return self.root / "bin" / name

    def run(
        self, command: str, *args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run ``bin/COMMAND ARGS`` (``python`` included) in ``cwd``; never lets a traceback through."""
        result = subprocess.run(
            [str(self.bin(command)), *map(str, args)],
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=timeout,
            check=False,
            env=clean_env(**(env or {})),
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result


def install(wheel: Path, root: Path, *, extras: str = "") -> Venv:
    """A new virtual environment at ``root`` with ``wheel`` (and ``extras``) installed offline.

    The environment gets no pip of its own: this interpreter's pip installs into it (``--python``).
    """
    created = subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    venv = Venv(root)
    requirement = f"notation-py{extras} @ {wheel.as_uri()}"
    result = _pip("install", "--no-index", "--find-links", wheelhouse(), requirement, python=venv.python)
    assert result.returncode == 0, (
        f"offline install failed: the wheelhouse {WHEELHOUSE} lacks a dependency; run scripts/test.sh\n"
        f"{result.stdout}{result.stderr}"
    )
    return venv


def pip_check(venv: Venv) -> subprocess.CompletedProcess[str]:
    """``pip check`` of ``venv`` (every installed distribution's requirements are installed)."""
    return _pip("check", python=venv.python)
