"""The ``tlog`` command line, run as a subprocess: init, serve (with graceful shutdown), version, errors."""

from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.tlog.live import TLOG_COMMAND as _TLOG
from tests.tlog.live import serve as serve  # noqa: PLC0414 - re-exported: other tlog tests import it from here
from tests.tlog.live import tlog
from tests.tlog.test_server import ORIGIN as ORIGIN_SERVER
from tests.tlog.test_server import PREFILL, SIGNER, TOKEN, LiveServer, digest_for, submission
from tlog import __version__, merkle
from tlog.checkpoint import open_checkpoint
from tlog.note import Signer, Verifier
from tlog.proof import TlogProof, verify_proof
from tlog.tiles import entry_bundles_for_size, tiles_for_size

ORIGIN = "log.example.com/cli-test"


def init(directory: Path, origin: str = ORIGIN) -> Verifier:
    """``tlog init`` and the verifier it prints."""
    result = tlog("init", "--dir", directory, "--origin", origin)
    assert result.returncode == 0, result.stderr
    return Verifier.from_vkey(result.stdout.strip())


def test_version() -> None:
    for args in (["version"], ["--version"]):
        result = tlog(*args)
        assert result.returncode == 0
        assert result.stdout.strip() == f"tlog {__version__}"


def test_init_creates_key_config_and_database(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    verifier = init(directory)
    assert verifier.name == ORIGIN
    key = directory / "log-key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert json.loads((directory / "config.json").read_text()) == {
        "origin": ORIGIN,
        "keyFile": "log-key.pem",
        "database": "log.db",
    }
    assert (directory / "log.db").is_file()

    before = key.read_bytes()
    again = tlog("init", "--dir", directory, "--origin", ORIGIN)
    assert again.returncode == 2
    assert "refusing to overwrite" in again.stderr
    assert key.read_bytes() == before


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["init"],
        ["init", "--dir", "x"],
        ["init", "--dir", "{tmp}/bad", "--origin", "has space"],
        ["init", "--dir", "{tmp}/bad", "--origin", "a+b"],
        *(
            pytest.param(args, marks=pytest.mark.real_server)  # a tlog serve subprocess (that refuses to start)
            for args in (
                ["serve"],
                ["serve", "--dir", "{tmp}/missing"],
                ["serve", "--dir", "{tmp}", "--listen", "nowhere"],
                ["serve", "--dir", "{tmp}", "--listen", "127.0.0.1:99999"],
                ["serve", "--dir", "{tmp}", "--checkpoint-interval", "-1"],
                ["serve", "--dir", "{tmp}", "--checkpoint-interval", "x"],
            )
        ),
        ["frobnicate"],
    ],
)
def test_usage_and_config_errors_exit_2_without_traceback(tmp_path: Path, args: list[str]) -> None:
    result = tlog(*(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "error" in result.stderr or "usage" in result.stderr


@pytest.mark.real_server
def test_serve_refuses_unsafe_key_and_bad_token_file(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    init(directory)
    empty = tmp_path / "tokens"
    empty.write_text("# no tokens yet\n\n")
    result = tlog("serve", "--dir", directory, "--token-file", empty)
    assert result.returncode == 2
    assert "holds no token" in result.stderr
    result = tlog("serve", "--dir", directory, "--token-file", tmp_path / "absent")
    assert result.returncode == 2

    (directory / "log-key.pem").chmod(0o644)
    result = tlog("serve", "--dir", directory)
    assert result.returncode == 2
    assert "chmod 600" in result.stderr


@pytest.mark.skipif(os.name != "posix", reason="signals")
@pytest.mark.real_server
def test_serve_logs_with_token_and_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    verifier = init(directory)
    tokens = tmp_path / "tokens"
    tokens.write_text(f"# submitters\n{TOKEN}\n")
    body = submission("cli-serve")
    with serve(directory, "--token-file", tokens, "--checkpoint-interval", "0.05") as served:
        with httpx.Client(base_url=served.url, timeout=30) as client:
            assert client.post("/v1/entries", json=body).status_code == 401
            response = client.post("/v1/entries", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
            assert response.status_code == 201, response.text
            receipt = response.json()
            info = client.get("/v1/log-info").json()
        assert Verifier.from_vkey(info["verifierKey"]) == verifier
        proof = TlogProof.from_bytes(receipt["proof"].encode())
        verify_proof(proof, merkle.leaf_hash(base64.b64decode(receipt["entry"])), [verifier], ORIGIN)
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(30) == 0
        time.sleep(0.1)
        assert "stopped" in served.stderr()

    # Restarted, the log still holds the entry, and the same envelope deduplicates.
    with serve(directory, "--token-file", tokens) as served, httpx.Client(base_url=served.url, timeout=30) as client:
        checkpoint = open_checkpoint(client.get("/checkpoint").content, [verifier], ORIGIN)
        assert checkpoint.size == 1
        again = client.post("/v1/entries", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
        assert again.status_code == 200
        assert again.json()["index"] == receipt["index"] == 0
        served.process.send_signal(signal.SIGINT)
        assert served.process.wait(30) == 0


@pytest.mark.real_server
def test_serve_without_tokens_on_loopback_accepts_anonymous_writes_and_warns(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    verifier = init(directory)
    body = submission("cli-anonymous")
    with serve(directory, "--checkpoint-interval", "0") as served, httpx.Client(base_url=served.url) as client:
        response = client.post("/v1/entries", json=body)
        assert response.status_code == 201, response.text
        doc = response.json()
        assert "anyone who can connect" in served.stderr()
    assert doc["index"] == 0
    proof = TlogProof.from_bytes(doc["proof"].encode())
    assert verify_proof(proof, merkle.leaf_hash(base64.b64decode(doc["entry"])), [verifier], ORIGIN).size == 1


@pytest.mark.real_server
def test_serve_under_a_prefix_with_tokens_from_the_environment(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    verifier = init(directory)
    env = {"TLOG_TOKENS": f"  {TOKEN},another-token-0123456789 "}
    with serve(directory, "--prefix", "/notary/log", env=env) as served:
        assert served.url.endswith("/notary/log")
        root = served.url.removesuffix("/notary/log")
        with httpx.Client(base_url=served.url, timeout=30) as client:
            assert client.post("/v1/entries", json=submission("cli-prefix-anon")).status_code == 401
            response = client.post(
                "/v1/entries",
                json=submission("cli-prefix"),
                headers={"Authorization": "Bearer another-token-0123456789"},
            )
            assert response.status_code == 201, response.text
            assert response.headers["location"] == "/notary/log/v1/entries/0"
            assert open_checkpoint(client.get("/checkpoint").content, [verifier], ORIGIN).size == 1
            assert client.get("/tile/entries/000.p/1").status_code == 200
        assert httpx.get(root + "/checkpoint").status_code == 404
        assert httpx.post(root + "/v1/entries", json={}).status_code == 404
        result = tlog("audit", served.url, "--vkey", verifier.vkey)
        assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--prefix", "notary"], {}, "invalid --prefix"),
        (["--prefix", "/a/../b"], {}, "invalid --prefix"),
        (["--prefix", "/a/"], {}, "invalid --prefix"),
        ([], {"TLOG_TOKENS": "short"}, "at least 16 characters"),
        ([], {"TLOG_TOKENS": " , "}, "holds no token"),
    ],
)
@pytest.mark.real_server
def test_serve_refuses_bad_prefix_and_tokens(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    directory = tmp_path / "log"
    init(directory)
    result = subprocess.run(
        [*_TLOG, "serve", "--dir", str(directory), "--listen", "127.0.0.1:0", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


# --- prove, verify-proof, audit ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A served log with PREFILL synthetic entries followed by two real ones."""
    with LiveServer(tmp_path_factory.mktemp("cli-live"), prefill=PREFILL) as live:
        with httpx.Client(base_url=live.url, timeout=30) as client:
            for name in ("cli-prove-1", "cli-prove-2"):
                assert client.post("/v1/entries", json=submission(name)).status_code == 201
        yield live


@pytest.mark.real_server
@pytest.mark.xdist_group("tlog-cli-live-log")
def test_prove_then_verify_proof_offline(live_log: LiveServer, tmp_path: Path) -> None:
    proof_file, entry_file = tmp_path / "e.tlog-proof", tmp_path / "e.entry"
    result = tlog(
        "prove", "--url", live_log.url, "--index", str(PREFILL + 1), "--vkey", SIGNER.vkey,
        "--out", proof_file, "--entry-out", entry_file,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    entry = json.loads(entry_file.read_bytes())
    assert entry["subject"]["digest"] == digest_for("cli-prove-2")

    vkey_file = tmp_path / "log.vkey"
    vkey_file.write_text(SIGNER.vkey + "\n")
    for vkey in (SIGNER.vkey, str(vkey_file)):
        ok = tlog("verify-proof", "--vkey", vkey, "--proof", proof_file, "--entry", entry_file)
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.startswith(f"OK: entry {PREFILL + 1} is in {ORIGIN_SERVER}")

    # proof to stdout is the same proof (same checkpoint, nothing logged in between)
    stdout = tlog("prove", "--url", live_log.url, "--index", str(PREFILL + 1), "--vkey", vkey_file)
    assert stdout.returncode == 0
    assert stdout.stdout.encode() == proof_file.read_bytes()

    tampered = tmp_path / "tampered.entry"
    tampered.write_bytes(entry_file.read_bytes().replace(b"cli-", b"CLI-", 1) + b" ")
    bad = tlog("verify-proof", "--vkey", SIGNER.vkey, "--proof", proof_file, "--entry", tampered)
    assert bad.returncode == 1
    assert "does NOT verify" in bad.stderr

    other = Signer.from_seed(ORIGIN_SERVER, bytes(32)).vkey
    wrong_key = tlog("verify-proof", "--vkey", other, "--proof", proof_file, "--entry", entry_file)
    assert wrong_key.returncode == 1

    beyond = tlog("prove", "--url", live_log.url, "--index", "100000", "--vkey", SIGNER.vkey)
    assert beyond.returncode == 1
    assert "not in the log" in beyond.stderr
    assert tlog("verify-proof", "--vkey", "garbage", "--proof", proof_file, "--entry", entry_file).returncode == 2


@pytest.mark.real_server
@pytest.mark.xdist_group("tlog-cli-live-log")
def test_audit_recomputes_every_hash(live_log: LiveServer) -> None:
    result = tlog("audit", live_log.url, "--vkey", SIGNER.vkey, "--skip-entries")
    assert result.returncode == 0, result.stderr
    assert f"at size {PREFILL + 2}:" in result.stdout
    # The synthetic entries are not real signing events: the full audit says so (--full: the first
    # audit was remembered, and a later one only checks the entries added since).
    strict = tlog("audit", live_log.url, "--vkey", SIGNER.vkey, "--full")
    assert strict.returncode == 1
    assert "entry 0:" in strict.stderr
    wrong = tlog("audit", live_log.url, "--vkey", Signer.from_seed(ORIGIN_SERVER, bytes(32)).vkey)
    assert wrong.returncode == 1


@pytest.mark.real_server
def test_audit_of_real_entries_and_of_a_lying_mirror(tmp_path: Path) -> None:
    (tmp_path / "log").mkdir()
    with LiveServer(tmp_path / "log") as live, httpx.Client(base_url=live.url, timeout=30) as client:
        for i in range(3):
            assert client.post("/v1/entries", json=submission(f"cli-audit-{i}")).status_code == 201
        result = tlog("audit", live.url, "--vkey", SIGNER.vkey)
        assert result.returncode == 0, result.stderr
        assert "(3 entries)" in result.stdout

        # A static mirror of the log, with one entry changed in its bundle.
        mirror = tmp_path / "mirror"
        files = ["checkpoint", *(t.path for t in tiles_for_size(3)), *(b.path for b in entry_bundles_for_size(3))]
        for name in files:
            (mirror / name).parent.mkdir(parents=True, exist_ok=True)
            (mirror / name).write_bytes(client.get("/" + name).content)
    bundle = mirror / entry_bundles_for_size(3)[0].path
    original = bundle.read_bytes()
    bundle.write_bytes(original.replace(b'"size":1234', b'"size":4321', 1))
    assert bundle.read_bytes() != original
    with static_server(mirror) as url:
        assert tlog("audit", url, "--vkey", SIGNER.vkey, "--skip-entries").returncode == 1
        lying = tlog("audit", url, "--vkey", SIGNER.vkey)
        assert lying.returncode == 1
        assert "do not hash to tile/0/000.p/3" in lying.stderr


@contextmanager
def static_server(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over HTTP on 127.0.0.1 (like a tile mirror on a plain web server)."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """A static file handler that does not log every request."""

    def log_message(self, format: str, *args: object) -> None:
        pass
