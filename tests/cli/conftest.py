"""Fixtures for the CLI end-to-end tests.

Every test gets its own ``NOTATION_CONFIG`` (a copy of one prepared per session, so RSA keys are
generated once) and ``NOTATION_CACHE``, and a :class:`Cli` that runs ``notation_py.cli.main.run``
in-process and captures its exit code, standard output and standard error.

The prepared configuration holds:

* ``test``: RSA-2048 key from ``cert generate-test --default`` (default key, trust store ``ca:test``);
* ``other``: EC P-256 key from ``cert generate-test`` (trust store ``ca:other``, which the default
  policies below do not trust);
* ``old``: EC P-256 key whose certificate became valid two days ago (added with ``key add`` and
  ``cert add``, trust store ``ca:old``), to sign with a signing time in the past.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from notation_py.cli.main import run
from notation_py.keys.generate import issue_signing_certificate, notary_test_subject
from notation_py.oci.descriptor import Descriptor
from notation_py.oci.layout import OCILayout
from notation_py.oci.manifest import MEDIA_TYPE_OCI_MANIFEST

#: Trust policy scope used for test layouts.
SCOPE = "local/app"


@dataclass(frozen=True)
class Result:
    """What one CLI run produced."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        """Standard output and standard error together."""
        return self.out + self.err


class Cli:
    """Runs ``notation-py`` in-process with a private configuration and cache directory."""

    def __init__(self, config: Path, cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.config = config
        self.cache = cache
        self._capsys = capsys

    def __call__(self, *args: str | Path, input_text: str = "") -> Result:
        """Run the CLI with ``input_text`` on standard input; never lets a traceback through."""
        self._capsys.readouterr()
        saved = sys.stdin
        sys.stdin = io.StringIO(input_text)
        try:
            code = run([str(a) for a in args])
        finally:
            sys.stdin = saved
        captured = self._capsys.readouterr()
        assert "Traceback" not in captured.err, captured.err
        assert "Traceback" not in captured.out, captured.out
        return Result(code, captured.out, captured.err)

    def ok(self, *args: str | Path) -> Result:
        """Run and require exit code 0."""
        result = self(*args)
        assert result.code == 0, f"exit {result.code}\nstdout: {result.out}\nstderr: {result.err}"
        return result

    # --- configuration helpers ----------------------------------------------------------------

    def write_oci_policy(self, *statements: dict[str, Any]) -> None:
        """Write ``trustpolicy.oci.json`` directly (bypassing ``policy import``)."""
        doc = {"version": "1.0", "trustPolicies": list(statements)}
        (self.config / "trustpolicy.oci.json").write_text(json.dumps(doc))

    def write_blob_policy(self, *statements: dict[str, Any]) -> None:
        """Write ``trustpolicy.blob.json`` directly."""
        doc = {"version": "1.0", "trustPolicies": list(statements)}
        (self.config / "trustpolicy.blob.json").write_text(json.dumps(doc))


def oci_statement(
    name: str = "app",
    *,
    level: str = "strict",
    stores: Sequence[str] = ("ca:test",),
    identities: Sequence[str] = ("*",),
    scopes: Sequence[str] = (SCOPE,),
) -> dict[str, Any]:
    """One OCI trust policy statement."""
    statement: dict[str, Any] = {
        "name": name,
        "registryScopes": list(scopes),
        "signatureVerification": {"level": level},
    }
    if level != "skip":
        statement["trustStores"] = list(stores)
        statement["trustedIdentities"] = list(identities)
    return statement


def blob_statement(
    name: str = "blob",
    *,
    level: str = "strict",
    stores: Sequence[str] = ("ca:test",),
    identities: Sequence[str] = ("*",),
    global_policy: bool = True,
) -> dict[str, Any]:
    """One blob trust policy statement."""
    statement: dict[str, Any] = {"name": name, "signatureVerification": {"level": level}}
    if level != "skip":
        statement["trustStores"] = list(stores)
        statement["trustedIdentities"] = list(identities)
    if global_policy:
        statement["globalPolicy"] = True
    return statement


@dataclass(frozen=True)
class Layout:
    """A test OCI layout holding one tagged image."""

    path: Path
    digest: str
    tag: str = "v1"

    @property
    def by_tag(self) -> str:
        """``DIR:TAG``."""
        return f"{self.path}:{self.tag}"

    @property
    def by_digest(self) -> str:
        """``DIR@sha256:...``."""
        return f"{self.path}@{self.digest}"

    @property
    def store(self) -> OCILayout:
        """The layout opened as a store."""
        return OCILayout(self.path)

    @property
    def descriptor(self) -> Descriptor:
        """Plain descriptor of the tagged image manifest."""
        return self.store.resolve(self.digest)


def make_layout(path: Path, layer: bytes = b"hello layer", tag: str = "v1") -> Layout:
    """Create an OCI layout at ``path`` with a small image manifest (config + one layer) tagged ``tag``."""
    store = OCILayout.create(path)
    config = store.push_blob("application/vnd.oci.image.config.v1+json", b'{"architecture":"amd64","os":"linux"}')
    blob = store.push_blob("application/vnd.oci.image.layer.v1.tar", layer)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_OCI_MANIFEST,
        "config": config.to_dict(),
        "layers": [blob.to_dict()],
    }
    desc = store.push_manifest(MEDIA_TYPE_OCI_MANIFEST, json.dumps(manifest).encode(), tag=tag)
    return Layout(path, str(desc.digest), tag)


def _prepare_config(root: Path) -> Path:
    config = root / "config"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NOTATION_CONFIG", str(config))
        mp.setenv("NOTATION_CACHE", str(root / "cache"))
        assert run(["cert", "generate-test", "--default", "test"]) == 0
        assert run(["cert", "generate-test", "--key-type", "ec-256", "other"]) == 0
        issued = issue_signing_certificate(
            None,
            notary_test_subject("old"),
            key_type="ec-256",
            validity=timedelta(days=30),
            not_before=datetime.now(UTC) - timedelta(days=2),
        )
        material = root / "material"
        material.mkdir()
        (material / "old.key").write_bytes(
            issued.key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        (material / "old.crt").write_bytes(issued.certificate.public_bytes(serialization.Encoding.PEM))
        local = config / "localkeys"
        shutil.copy(material / "old.key", local / "old.key")
        shutil.copy(material / "old.crt", local / "old.crt")
        assert (
            run(["key", "add", "old", "--key-path", str(local / "old.key"), "--cert-path", str(local / "old.crt")]) == 0
        )
        assert run(["cert", "add", "--type", "ca", "--store", "old", str(local / "old.crt")]) == 0
    return config


@pytest.fixture(scope="session")
def prepared_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A configuration directory with the keys described in the module docstring (do not modify)."""
    return _prepare_config(tmp_path_factory.mktemp("prepared"))


@pytest.fixture
def cli(
    prepared_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Cli]:
    """A :class:`Cli` on a private copy of the prepared configuration; the working directory is ``tmp_path``."""
    config = tmp_path / "notation-config"
    shutil.copytree(prepared_config, config)
    keys = config / "signingkeys.json"
    keys.write_text(keys.read_text().replace(str(prepared_config), str(config)))
    cache = tmp_path / "notation-cache"
    monkeypatch.setenv("NOTATION_CONFIG", str(config))
    monkeypatch.setenv("NOTATION_CACHE", str(cache))
    monkeypatch.delenv("NOTATION_PY_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)
    yield Cli(config, cache, capsys)


@pytest.fixture
def empty_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Cli]:
    """A :class:`Cli` on an empty (nonexistent) configuration directory."""
    config = tmp_path / "empty-config"
    cache = tmp_path / "empty-cache"
    monkeypatch.setenv("NOTATION_CONFIG", str(config))
    monkeypatch.setenv("NOTATION_CACHE", str(cache))
    monkeypatch.delenv("NOTATION_PY_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)
    yield Cli(config, cache, capsys)


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    """A fresh OCI layout with one image tagged ``v1``."""
    return make_layout(tmp_path / "app")
