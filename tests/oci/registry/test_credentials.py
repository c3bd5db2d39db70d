"""Credential sources: order, config files, docker credential helpers, login/logout storage."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from notation_py.config.dirs import ConfigDir
from notation_py.errors import CredentialError
from notation_py.oci.registry import Credential, DefaultCredentials, explicit_credential, server_address

HOST = "registry.example:5000"
DOCKER_HUB = "https://index.docker.io/v1/"

HELPER = """#!{python}
import json, os, sys, time
db_path = os.environ["TEST_HELPER_DB"]
mode = os.environ.get("TEST_HELPER_MODE", "ok")
action = sys.argv[1]
data = sys.stdin.read()
with open(db_path + ".log", "a") as log:
    log.write(action + " " + (data if action != "store" else json.loads(data)["ServerURL"]) + "\\n")
if mode == "sleep":
    time.sleep(30)
if mode == "garbage":
    print("this is not json")
    sys.exit(0)
if mode == "fail":
    print("keychain locked", file=sys.stderr)
    sys.exit(3)
db = json.load(open(db_path)) if os.path.exists(db_path) else {{}}
if action == "get":
    if data not in db:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps({{"ServerURL": data, **db[data]}}))
elif action == "store":
    item = json.loads(data)
    db[item["ServerURL"]] = {{"Username": item["Username"], "Secret": item["Secret"]}}
    json.dump(db, open(db_path, "w"))
elif action == "erase":
    if data not in db:
        print("credentials not found in native keychain")
        sys.exit(1)
    del db[data]
    json.dump(db, open(db_path, "w"))
"""


@pytest.fixture
def helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``docker-credential-test`` helper on PATH backed by a JSON file; returns that file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker-credential-test"
    script.write_text(HELPER.format(python=sys.executable))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    db = tmp_path / "helper-db.json"
    monkeypatch.setenv("TEST_HELPER_DB", str(db))
    monkeypatch.delenv("TEST_HELPER_MODE", raising=False)
    return db


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[ConfigDir, Path]:
    """(notation config dir, docker config.json path), both empty."""
    notation = tmp_path / "notation"
    notation.mkdir()
    docker = tmp_path / "docker"
    docker.mkdir()
    return ConfigDir(notation), docker / "config.json"


def write(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(json.dumps(doc))


def auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def creds(dirs: tuple[ConfigDir, Path], explicit: Credential | None = None, **env: str) -> DefaultCredentials:
    return DefaultCredentials(dirs[0], explicit, environ=env, docker_config=dirs[1], helper_timeout=5.0)


def test_credential_repr_hides_secrets() -> None:
    text = repr(Credential("alice", "hunter2", refresh_token="s3cr3t-idt"))
    assert "alice" in text
    assert "hunter2" not in text
    assert "s3cr3t-idt" not in text


def test_explicit_and_environment() -> None:
    assert explicit_credential(None, None, {}) is None
    assert explicit_credential("u", "p", {}) == Credential("u", "p")
    assert explicit_credential(None, None, {"NOTATION_USERNAME": "eu", "NOTATION_PASSWORD": "ep"}) == Credential(
        "eu", "ep"
    )
    assert explicit_credential("u", None, {"NOTATION_PASSWORD": "ep"}) == Credential("u", "ep")
    assert explicit_credential(None, "tok", {}) == Credential(refresh_token="tok")


def test_source_order(dirs: tuple[ConfigDir, Path]) -> None:
    notation, docker = dirs
    write(docker, {"auths": {HOST: {"auth": auth("docker", "d")}}})
    assert creds(dirs).get(HOST) == Credential("docker", "d")
    write(notation.config_json, {"insecureRegistries": [], "auths": {HOST: {"auth": auth("notation", "n")}}})
    assert creds(dirs).get(HOST) == Credential("notation", "n")
    assert creds(dirs, NOTATION_USERNAME="env", NOTATION_PASSWORD="e").get(HOST) == Credential("env", "e")
    assert creds(dirs, Credential("flag", "f"), NOTATION_USERNAME="env", NOTATION_PASSWORD="e").get(HOST) == (
        Credential("flag", "f")
    )
    assert creds(dirs).get("other.example") is None


def test_docker_config_forms(dirs: tuple[ConfigDir, Path]) -> None:
    _, docker = dirs
    write(
        docker,
        {
            "auths": {
                "https://legacy.example/v1/": {"auth": auth("legacy", "l")},
                "split.example": {"username": "split", "password": "s"},
                "idtoken.example": {"auth": "", "identitytoken": "refresh-me"},
                "regtoken.example": {"registrytoken": "bearer-me"},
                "empty.example": {},
                DOCKER_HUB: {"auth": auth("hub", "h")},
            }
        },
    )
    source = creds(dirs)
    assert source.get("legacy.example") == Credential("legacy", "l")
    assert source.get("split.example") == Credential("split", "s")
    assert source.get("idtoken.example") == Credential(refresh_token="refresh-me")
    assert source.get("regtoken.example") == Credential(access_token="bearer-me")
    assert source.get("empty.example") is None
    assert source.get("docker.io") == Credential("hub", "h")
    assert server_address("docker.io") == DOCKER_HUB


def test_docker_config_env_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docker_dir = tmp_path / "dockercfg"
    docker_dir.mkdir()
    write(docker_dir / "config.json", {"auths": {HOST: {"auth": auth("fromenv", "x")}}})
    notation = tmp_path / "n"
    source = DefaultCredentials(ConfigDir(notation), environ={"DOCKER_CONFIG": str(docker_dir)})
    assert source.get(HOST) == Credential("fromenv", "x")


def test_malformed_config_is_an_error(dirs: tuple[ConfigDir, Path]) -> None:
    notation, docker = dirs
    notation.config_json.write_text("{not json")
    with pytest.raises(CredentialError, match="malformed config file"):
        creds(dirs).get(HOST)
    notation.config_json.unlink()
    write(docker, {"auths": {HOST: {"auth": "!!!"}}})
    with pytest.raises(CredentialError, match="not base64"):
        creds(dirs).get(HOST)
    write(docker, {"credHelpers": {HOST: 42}})
    with pytest.raises(CredentialError, match="credHelpers"):
        creds(dirs).get(HOST)


def test_cred_helpers_and_creds_store(dirs: tuple[ConfigDir, Path], helper: Path) -> None:
    notation, docker = dirs
    write(
        helper, {HOST: {"Username": "helped", "Secret": "s3"}, "tok.example": {"Username": "<token>", "Secret": "idt"}}
    )
    write(docker, {"credHelpers": {HOST: "test"}, "auths": {HOST: {"auth": auth("ignored", "x")}}})
    assert creds(dirs).get(HOST) == Credential("helped", "s3")
    write(docker, {"credsStore": "test"})
    assert creds(dirs).get("tok.example") == Credential(refresh_token="idt")
    # Not found in the helper: anonymous, and the helper's file's auths are not consulted.
    assert creds(dirs).get("unknown.example") is None
    # notation's own helper configuration comes first.
    write(notation.config_json, {"credsStore": "test"})
    assert creds(dirs).get(HOST) == Credential("helped", "s3")
    log = (helper.parent / (helper.name + ".log")).read_text().splitlines()
    assert log[0] == f"get {HOST}"


def test_results_are_cached_per_host(dirs: tuple[ConfigDir, Path], helper: Path) -> None:
    write(helper, {HOST: {"Username": "helped", "Secret": "s3"}})
    write(dirs[1], {"credsStore": "test"})
    source = creds(dirs)
    source.get(HOST)
    source.get(HOST)
    assert len((helper.parent / (helper.name + ".log")).read_text().splitlines()) == 1


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("sleep", "timed out after 0.5 s"),
        ("garbage", "malformed output"),
        ("fail", r"failed \(exit status 3\): keychain locked"),
    ],
)
def test_helper_failures(
    dirs: tuple[ConfigDir, Path], helper: Path, monkeypatch: pytest.MonkeyPatch, mode: str, message: str
) -> None:
    write(dirs[1], {"credsStore": "test"})
    monkeypatch.setenv("TEST_HELPER_MODE", mode)
    source = DefaultCredentials(dirs[0], environ={}, docker_config=dirs[1], helper_timeout=0.5)
    with pytest.raises(CredentialError, match=message):
        source.get(HOST)


def test_missing_or_bad_helper(dirs: tuple[ConfigDir, Path]) -> None:
    write(dirs[1], {"credsStore": "does-not-exist-anywhere"})
    with pytest.raises(CredentialError, match="docker-credential-does-not-exist-anywhere not found in PATH"):
        creds(dirs).get(HOST)
    write(dirs[1], {"credsStore": "../evil"})
    with pytest.raises(CredentialError, match="invalid credential helper name"):
        creds(dirs).get(HOST)


def test_store_plaintext_and_erase(dirs: tuple[ConfigDir, Path]) -> None:
    notation, _ = dirs
    write(notation.config_json, {"insecureRegistries": ["x:5000"], "signatureFormat": "cose"})
    source = creds(dirs)
    assert source.store(HOST, Credential("alice", "pw")) is True
    doc = json.loads(notation.config_json.read_text())
    assert doc["auths"][HOST] == {"auth": auth("alice", "pw")}
    assert doc["insecureRegistries"] == ["x:5000"]
    assert doc["signatureFormat"] == "cose"
    assert stat.S_IMODE(notation.config_json.stat().st_mode) == 0o600
    assert creds(dirs).get(HOST) == Credential("alice", "pw")
    assert source.store("tok.example", Credential(refresh_token="idt")) is True
    assert json.loads(notation.config_json.read_text())["auths"]["tok.example"] == {"identitytoken": "idt"}
    assert source.erase(HOST) is True
    assert source.erase(HOST) is False
    assert HOST not in json.loads(notation.config_json.read_text())["auths"]
    assert creds(dirs).get(HOST) is None
    with pytest.raises(CredentialError):
        source.store(HOST, Credential())


def test_store_and_erase_through_helper(dirs: tuple[ConfigDir, Path], helper: Path) -> None:
    notation, _ = dirs
    write(notation.config_json, {"credHelpers": {HOST: "test"}})
    source = creds(dirs)
    assert source.store(HOST, Credential("alice", "pw")) is False
    assert json.loads(helper.read_text()) == {HOST: {"Username": "alice", "Secret": "pw"}}
    assert "auths" not in json.loads(notation.config_json.read_text())
    assert creds(dirs).get(HOST) == Credential("alice", "pw")
    assert source.erase(HOST) is True
    assert source.erase(HOST) is False
    assert json.loads(helper.read_text()) == {}
