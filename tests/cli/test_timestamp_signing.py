"""``sign --timestamp-url/--timestamp-root-cert`` end to end: OpenSSL's TSA (``openssl ts -reply``) on
loopback, then ``verify`` with a ``tsa`` trust store runs the authentic-timestamp step on the token."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from notation_py.oci.layout import OCILayout
from notation_py.oci.signatures import list_signature_manifests
from tests.cli.conftest import SCOPE, Cli, Layout, oci_statement
from tests.timestamp.tsa import NOW, TSAFixture, make_tsa
from tests.timestamp.tsa_server import TSAServer

pytestmark = pytest.mark.real_server


@pytest.fixture(scope="module")
def tsa() -> TSAFixture:
    return make_tsa(key="ec", intermediate=True, leaf_not_before=NOW - dt.timedelta(days=30))


@pytest.fixture
def server(tsa: TSAFixture, tmp_path: Path) -> Iterator[TSAServer]:
    with TSAServer(tsa, tmp_path / "tsa") as running:
        yield running


def root_file(tsa: TSAFixture, tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "tsa-root.pem"
    path.write_bytes(tsa.root.public_bytes(Encoding.PEM))
    return path


def signatures(layout: Layout) -> int:
    store = OCILayout(layout.path)
    return len(list(list_signature_manifests(store, store.resolve(layout.digest), 100)))


def test_timestamped_signature_verifies_with_a_tsa_trust_store(
    cli: Cli, layout: Layout, tsa: TSAFixture, server: TSAServer, tmp_path: Path
) -> None:
    root = root_file(tsa, tmp_path)
    # The "old" key: its certificate became valid before the TSA's clock reads (with its accuracy).
    cli.ok(
        "sign",
        "-k",
        "old",
        "--oci-layout",
        "--timestamp-url",
        server.url,
        "--timestamp-root-cert",
        root,
        layout.by_digest,
    )
    assert len(server.requests) == 1
    assert "timestamp signature" in cli.ok("inspect", "--oci-layout", layout.by_digest).out

    cli.ok("certificate", "add", "--type", "tsa", "--store", "timestamps", root)
    statement = oci_statement(stores=("ca:old", "tsa:timestamps"))
    cli.write_oci_policy(statement)
    cli.ok("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest)

    blob = tmp_path / "notes.txt"
    blob.write_text("notes\n")
    cli.ok("blob", "sign", "--timestamp-url", server.url, "--timestamp-root-cert", root, blob)
    assert len(server.requests) == 2


def test_bad_timestamp_flags_and_answers_sign_nothing(
    cli: Cli, layout: Layout, tsa: TSAFixture, server: TSAServer, tmp_path: Path
) -> None:
    root = root_file(tsa, tmp_path)
    alone = cli("sign", "--oci-layout", "--timestamp-url", server.url, layout.by_digest)
    assert alone.code == 2
    assert "--timestamp-url and --timestamp-root-cert must be given together" in alone.err

    server.mode = "other-message"
    refused = cli(
        "sign", "--oci-layout", "--timestamp-url", server.url, "--timestamp-root-cert", root, layout.by_digest
    )
    assert refused.code == 1
    assert refused.err.startswith("Error: ")
    assert signatures(layout) == 0

    other = make_tsa(key="ec", name="Other TSA")
    untrusted = cli(
        "sign",
        "--oci-layout",
        "--timestamp-url",
        server.url,
        "--timestamp-root-cert",
        root_file(other, tmp_path / "o"),
        layout.by_digest,
    )
    assert untrusted.code == 1
    assert signatures(layout) == 0
