"""Helpers for the CLI tests against real registries (``tests/cli/test_registry.py``)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from tests.cli.conftest import Cli, oci_statement
from tests.registry.servers import ManifestContent, push_content, tiny_image

#: The artifact type of Notary Project signature manifests.
SIGNATURE_ARTIFACT_TYPE = "application/vnd.cncf.notary.signature"
MEDIA_TYPE_JWS = "application/jose+json"
MEDIA_TYPE_COSE = "application/cose"
MEDIA_TYPE_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_TYPE_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

REPO = "repo"

_DIGEST_LINE = re.compile(r"(sha256:[0-9a-f]{64})\s*$")

_SCRIPT = Path(sys.executable).parent / "notation-py"
#: The installed console script (``python -m notation_py`` when it is missing).
NOTATION_COMMAND = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "notation_py"]


class Server(Protocol):
    """What both :class:`RunningRegistry` and :class:`RunningOCIRegistry` offer."""

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        ...

    def client(self, *, authenticated: bool = True, **kwargs: Any) -> httpx.Client:
        """An httpx client on the server (authenticated as it requires)."""
        ...


@dataclass(frozen=True)
class Pushed:
    """An image pushed to ``host/repo:tag``."""

    host: str
    image: ManifestContent
    repo: str = REPO
    tag: str = "v1"

    @property
    def digest(self) -> str:
        """The image manifest digest."""
        return self.image.digest

    @property
    def hex(self) -> str:
        """The hex part of :attr:`digest`."""
        return self.digest.removeprefix("sha256:")

    @property
    def by_tag(self) -> str:
        """``host/repo:tag``."""
        return f"{self.host}/{self.repo}:{self.tag}"

    @property
    def by_digest(self) -> str:
        """``host/repo@sha256:...``."""
        return f"{self.host}/{self.repo}@{self.digest}"

    @property
    def scope(self) -> str:
        """``host/repo``: the trust policy scope."""
        return f"{self.host}/{self.repo}"

    @property
    def referrers_tag(self) -> str:
        """The referrers tag schema tag of the image: ``sha256-<hex>``."""
        return f"sha256-{self.hex}"


def seed(server: Server, text: str = "hello\n", *, repo: str = REPO, tag: str = "v1") -> Pushed:
    """Push :func:`tiny_image` (holding ``text``) to ``server`` as ``repo:tag``."""
    image = tiny_image(text)
    with server.client() as http:
        push_content(http, repo, image, tag)
    return Pushed(server.host, image, repo, tag)


def trust(cli: Cli, *scopes: str) -> None:
    """A strict policy trusting ``ca:test`` for ``scopes``."""
    cli.write_oci_policy(oci_statement("registry", scopes=scopes))


def signed_digest(output: str, pushed: Pushed) -> None:
    """Assert ``sign`` said it signed the image by digest."""
    assert f"Successfully signed {pushed.by_digest}" in output, output


def signature_manifest(output: str) -> str:
    """The digest from ``sign --verbose``'s ``Signature manifest: sha256:...`` line."""
    found = re.search(r"Signature manifest: (sha256:[0-9a-f]{64})", output)
    assert found, output
    return found.group(1)


def listed_signatures(output: str) -> list[str]:
    """The signature manifest digests of ``list`` output (tree leaves under the artifact type)."""
    lines = output.splitlines()
    assert any(SIGNATURE_ARTIFACT_TYPE in line for line in lines), output
    return [m.group(1) for line in lines[1:] if (m := _DIGEST_LINE.search(line))]


@dataclass(frozen=True)
class Fetched:
    """A manifest read over plain HTTP."""

    status: int
    media_type: str
    served_digest: str | None
    body: bytes

    @property
    def document(self) -> dict[str, Any]:
        """The parsed JSON body."""
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


def get_manifest(server: Server, repo: str, reference: str, accept: str = MEDIA_TYPE_OCI_INDEX) -> Fetched:
    """``GET /v2/<repo>/manifests/<reference>`` (independent of notation-py's client)."""
    with server.client() as http:
        response = http.get(f"/v2/{repo}/manifests/{reference}", headers={"Accept": accept})
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    return Fetched(response.status_code, media_type, response.headers.get("docker-content-digest"), response.content)


def sha256(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def subprocess_env(cli: Cli, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the ``cli`` fixture (its NOTATION_CONFIG and NOTATION_CACHE) for a child process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTATION")}
    env |= {"NOTATION_CONFIG": str(cli.config), "NOTATION_CACHE": str(cli.cache)}
    return env | dict(extra or {})


def run_notation(cli: Cli, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real ``notation-py`` console script on ``cli``'s configuration; asserts no traceback."""
    proc = subprocess.run(
        [*NOTATION_COMMAND, *args],
        env=subprocess_env(cli),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def start_notation(cli: Cli, *args: str) -> subprocess.Popen[str]:
    """Start the real ``notation-py`` console script on ``cli``'s configuration."""
    return subprocess.Popen(
        [*NOTATION_COMMAND, *args],
        env=subprocess_env(cli),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
