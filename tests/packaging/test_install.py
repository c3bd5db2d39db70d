"""The wheel, built from the working tree and installed offline into fresh virtual environments.

The base install (no extras) must sign and verify with transparency proofs and audit a log; serving
a log and PKCS#11 keys are extras, and without them the commands say what to install. The log
server itself runs from the development environment (``tests.tlog.live``): only the client side is
under test here.
"""

from __future__ import annotations

import json
import signal
import zipfile
from email.parser import HeaderParser
from pathlib import Path

import pytest

from tests.cli.conftest import SCOPE, make_layout, oci_statement
from tests.packaging.venvs import (
    ROOT,
    BuiltWheel,
    Venv,
    build_warnings,
    build_wheel,
    install,
    pip_check,
    project_version,
)
from tests.tlog.live import serve, tlog

pytestmark = [pytest.mark.slow, pytest.mark.real_server, pytest.mark.timeout(600)]

ORIGIN = "packaging.test.example/log"
TOKEN = "packaging-test-token-0123456789abcdef"

#: Modules of the extras' distributions: none may be importable in a base install.
SERVER_MODULES = ("starlette", "uvicorn", "aiosqlite", "prometheus_client", "uvloop", "httptools")
PKCS11_MODULE = "pkcs11"

#: Imports each module named in argv; prints ``NAME: imported`` or the ModuleNotFoundError.
IMPORT_EACH = """
import importlib, sys
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        print(f"{name}: {exc}")
    else:
        print(f"{name}: imported")
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> BuiltWheel:
    """The wheel of the working tree (built once per module and worker)."""
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def base_venv(wheel: BuiltWheel, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A fresh environment with the wheel and only its base dependencies."""
    return install(wheel.path, tmp_path_factory.mktemp("base") / "venv")


def _metadata(wheel: Path) -> tuple[dict[str, list[str]], list[str]]:
    """The wheel's METADATA as header -> values, and the names of its files."""
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        headers = HeaderParser().parsestr(z.read(metadata_name).decode())
    fields: dict[str, list[str]] = {}
    for key, value in headers.items():
        fields.setdefault(key, []).append(value)
    return fields, names


def test_wheel_builds_without_warnings_and_carries_license_and_metadata(wheel: BuiltWheel) -> None:
    assert build_warnings(wheel.output) == [], "\n".join(build_warnings(wheel.output))
    version = project_version()
    assert wheel.path.name == f"notation_py-{version}-py3-none-any.whl"
    fields, names = _metadata(wheel.path)
    assert fields["Version"] == [version]
    assert fields["License-Expression"] == ["Apache-2.0"]
    assert fields["License-File"] == ["LICENSE"]
    assert "License" not in fields  # the deprecated free-text field
    assert fields["Requires-Python"] == [">=3.11"]
    with zipfile.ZipFile(wheel.path) as z:
        assert z.read(f"notation_py-{version}.dist-info/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
    assert {"notation_py/py.typed", "tlog/py.typed"} <= set(names)
    assert not [n for n in names if n.startswith("tests/")]

    requires = fields["Requires-Dist"]
    base = sorted(r.split(">")[0].split(";")[0] for r in requires if "extra ==" not in r)
    assert base == ["asn1crypto", "cbor2", "cryptography", "httpx", "rfc8785", "typer"]
    assert sorted(fields["Provides-Extra"]) == ["pkcs11", "server", "test"]
    for dist in ("starlette", "uvicorn", "aiosqlite", "prometheus-client", "uvloop", "httptools"):
        (line,) = [r for r in requires if r.startswith(dist + ">")]
        assert 'extra == "server"' in line, line
    (pkcs11,) = [r for r in requires if r.startswith("python-pkcs11")]
    assert 'extra == "pkcs11"' in pkcs11
    assert not [r for r in requires if r.startswith(("rich", "rfc3161-client", "ruff", "mypy", "pycose"))]
    classifiers = fields["Classifier"]
    for wanted in (
        "Operating System :: POSIX",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Topic :: Security",
    ):
        assert wanted in classifiers
    assert any(c.startswith("Development Status :: ") for c in classifiers)


def test_fresh_install_reports_the_project_version(base_venv: Venv, tmp_path: Path) -> None:
    version = project_version()
    assert base_venv.run("notation-py", "version", cwd=tmp_path).stdout == f"notation-py {version}\n"
    assert base_venv.run("tlog", "version", cwd=tmp_path).stdout == f"tlog {version}\n"
    assert base_venv.run("tlog", "--version", cwd=tmp_path).stdout == f"tlog {version}\n"
    shown = base_venv.run(
        "python",
        "-c",
        "import notation_py, tlog; print(notation_py.__file__); print(notation_py.SIGNING_AGENT, tlog.__version__)",
        cwd=tmp_path,
    )
    where, agent = shown.stdout.splitlines()
    assert Path(where).is_relative_to(base_venv.root), where  # the installed wheel, not the working tree
    assert agent == f"notation-py/{version} {version}"
    checked = pip_check(base_venv)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.fixture
def tokens(tmp_path: Path) -> Path:
    path = tmp_path / "tokens"
    path.write_text(TOKEN + "\n")
    return path


def _trust_policy(config: Path, vkey: str) -> None:
    statement = oci_statement()
    statement["transparencyLog"] = {"required": True, "verifierKeys": [vkey]}
    (config / "trustpolicy.oci.json").write_text(json.dumps({"version": "1.0", "trustPolicies": [statement]}))


def test_base_install_signs_verifies_proofs_offline_and_audits_without_the_extras(
    base_venv: Venv, tmp_path: Path, tokens: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    modules = (*SERVER_MODULES, PKCS11_MODULE)
    imported = base_venv.run("python", "-c", IMPORT_EACH, *modules, cwd=work)
    assert imported.stdout.splitlines() == [f"{m}: No module named '{m}'" for m in modules]

    env = {"NOTATION_CONFIG": str(tmp_path / "config"), "NOTATION_CACHE": str(tmp_path / "cache")}

    def notation(*args: str | Path, code: int = 0) -> str:
        result = base_venv.run("notation-py", *args, cwd=work, env=env)
        assert result.returncode == code, (
            f"notation-py {args}: exit {result.returncode}\n{result.stdout}{result.stderr}"
        )
        return result.stdout + result.stderr

    def base_tlog(*args: str | Path, code: int = 0) -> str:
        result = base_venv.run("tlog", *args, cwd=work)
        assert result.returncode == code, f"tlog {args}: exit {result.returncode}\n{result.stdout}{result.stderr}"
        return result.stdout + result.stderr

    notation("cert", "generate-test", "--default", "test")
    logged = make_layout(tmp_path / "logged")
    unlogged = make_layout(tmp_path / "unlogged", b"another layer")

    directory = tmp_path / "log"
    initialised = tlog("init", "--dir", directory, "--origin", ORIGIN)  # the server side: development environment
    assert initialised.returncode == 0, initialised.stderr
    vkey = initialised.stdout.strip()
    with serve(directory, "--token-file", tokens, "--verify-workers", "0") as served:
        out = notation("sign", "--tlog", served.url, "--tlog-token-file", tokens, "--oci-layout", logged.by_digest)
        assert f"Recorded in transparency log {ORIGIN} at index 0" in out
        notation("sign", "--oci-layout", unlogged.by_digest)

        assert f"OK: {ORIGIN} at size 1:" in base_tlog("audit", served.url, "--vkey", vkey)
        proof, entry = tmp_path / "entry.tlog-proof", tmp_path / "entry"
        base_tlog("prove", "--url", served.url, "--index", "0", "--vkey", vkey, "--out", proof, "--entry-out", entry)
        assert f"OK: entry 0 is in {ORIGIN} at tree size 1" in base_tlog(
            "verify-proof", "--vkey", vkey, "--proof", proof, "--entry", entry
        )
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(30) == 0, served.stderr()

    # Offline (the log is stopped) under a policy that requires a proof from this log.
    _trust_policy(tmp_path / "config", vkey)
    verified = notation("verify", "--oci-layout", "--scope", SCOPE, logged.by_digest)
    assert f"Successfully verified signature for {logged.path}@{logged.digest}" in verified
    assert f"Recorded in transparency log {ORIGIN} at index 0 (proven under checkpoint size 1)" in verified
    refused = notation("verify", "--oci-layout", "--scope", SCOPE, unlogged.by_digest, code=1)
    assert "has no transparency log proof and the trust policy requires one" in refused

    # The extras' commands say what to install, on one line, with a non-zero exit.
    served_without = base_venv.run("tlog", "serve", "--dir", directory, "--listen", "127.0.0.1:0", cwd=work)
    assert served_without.returncode == 2
    assert "pip install 'notation-py[server]'" in served_without.stderr
    assert len(served_without.stderr.splitlines()) == 1, served_without.stderr
    hsm = base_venv.run(
        "notation-py", "key", "add", "hsm", "--pkcs11-uri", "pkcs11:token=t;object=k", cwd=work, env=env
    )
    assert hsm.returncode != 0
    assert hsm.stderr == "Error: PKCS#11 keys need python-pkcs11: pip install 'notation-py[pkcs11]'\n"
