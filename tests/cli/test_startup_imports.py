"""What ``notation-py`` imports at start-up: the structure that keeps a new process fast (not a timing test).

Importing the CLI and showing help load typer and the command signatures only; the signing,
verification, envelope, OCI, trust policy, revocation (httpx) and transparency modules are imported
by the commands that use them. A verification of an OCI layout whose chain names no OCSP or CRL
server loads no HTTP stack. Each check runs in a new interpreter, since this one has imported
everything already. ``scripts/bench_startup.py`` measures the times (docs/performance.md).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main

import notation_py.cli.main  # noqa: F401 - registers the commands on ``app``
from notation_py.cli.app import app
from tests.cli.conftest import Cli, Layout, oci_statement

#: Packages and modules neither ``import notation_py.cli.main`` nor ``--help`` may load.
NOT_AT_START_UP = (
    "httpx",
    "cbor2",
    "asn1crypto",
    "cryptography",
    "tlog",
    "notation_py.envelope",
    "notation_py.oci",
    "notation_py.policy",
    "notation_py.revocation",
    "notation_py.timestamp",
    "notation_py.transparency",
    "notation_py.plugins",
    "notation_py.keys.generate",
    "notation_py.verifier",
    "notation_py.verify",
    "notation_py.trust",
)

#: What a verification of an OCI layout (no OCSP/CRL URLs, no transparency log, no plugin) may not load.
NOT_FOR_LAYOUT_VERIFY = (
    "httpx",
    "tlog",
    "notation_py.oci.registry",
    "notation_py.transparency",
    "notation_py.plugins",
    "notation_py.deadline_http",
    "notation_py.tls",
)

#: Runs the CLI in a new interpreter, then writes its exit code and ``sys.modules`` to the file ``argv[1]``.
_PROBE = """
import json, sys
from notation_py.cli.main import run
code = run(sys.argv[2:])
with open(sys.argv[1], "w") as report:
    json.dump({"code": code, "modules": sorted(sys.modules)}, report)
"""


def _loaded(modules: Iterable[str], forbidden: Iterable[str]) -> list[str]:
    names = tuple(forbidden)
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def _run_probe(tmp_path: Path, *args: str) -> tuple[int, list[str]]:
    report = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(report), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    data = json.loads(report.read_text())
    return int(data["code"]), list(data["modules"])


def test_importing_the_cli_loads_no_command_machinery(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import notation_py.cli.main, sys; print(sorted(sys.modules))"],
        cwd=tmp_path,  # -c puts the working directory first on sys.path
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    modules = ast.literal_eval(proc.stdout)
    assert "notation_py.cli.main" in modules
    assert _loaded(modules, NOT_AT_START_UP) == []


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["verify", "--help"],
        ["sign", "--help"],
        ["blob", "sign", "--help"],
        ["certificate", "generate-test", "--help"],
        ["tlog", "proof", "--help"],
        ["version"],
    ],
    ids=" ".join,
)
def test_help_and_version_load_no_command_machinery(empty_cli: Cli, tmp_path: Path, args: list[str]) -> None:
    code, modules = _run_probe(tmp_path, *args)
    assert code == 0
    assert _loaded(modules, NOT_AT_START_UP) == []


def test_verify_of_a_layout_loads_no_http_stack(cli: Cli, layout: Layout, tmp_path: Path) -> None:
    cli.ok("sign", "--oci-layout", layout.by_digest)
    cli.write_oci_policy(oci_statement())
    code, modules = _run_probe(tmp_path, "verify", "--oci-layout", "--scope", "local/app", layout.by_digest)
    assert code == 0
    assert "notation_py.verifier" in modules  # it did verify
    assert _loaded(modules, NOT_FOR_LAYOUT_VERIFY) == []


def _command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in (getattr(command, "commands", None) or {}).items():  # a group's sub-commands
        yield from _command_paths(sub, (*path, name))


def test_every_command_builds_and_shows_help(empty_cli: Cli) -> None:
    """Every name a command's signature uses resolves at run time (the imports moved into the bodies)."""
    paths = list(_command_paths(typer.main.get_command(app)))
    assert ("verify",) in paths
    assert ("blob", "policy", "init") in paths
    for path in paths:
        result = empty_cli(*path, "--help")
        assert result.code == 0, (path, result.err)
        assert "Usage:" in result.out


def _callbacks(typer_app: typer.Typer) -> Iterator[Callable[..., Any]]:
    for command in typer_app.registered_commands:
        if command.callback is not None:
            yield command.callback
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            yield from _callbacks(group.typer_instance)


def test_command_annotations_are_evaluated_once() -> None:
    """No ``from __future__ import annotations`` in the command modules.

    typer reads every command's annotations each time the CLI starts; kept as strings, each is
    evaluated (compiled) again at every start-up, which made building the CLI three times slower.
    """
    callbacks = list(_callbacks(app))
    assert len(callbacks) > 40
    as_strings = sorted(
        f"{f.__module__}.{f.__qualname__}"
        for f in callbacks
        if any(isinstance(a, str) for a in f.__annotations__.values())
    )
    assert as_strings == []
