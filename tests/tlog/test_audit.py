"""``tlog audit`` as a library and a command: remembered checkpoints, consistency, rollback and fork, JSON output."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import pytest

from tests.tlog.live import serve, tlog
from tests.tlog.test_cli import ORIGIN, init
from tests.tlog.test_lost_state import FAST, submit
from tlog.audit import AuditState, audit_log
from tlog.note import Verifier
from tlog.published import PUBLISHED_FILE
from tlog.tile_client import HttpTileReader

pytestmark = [pytest.mark.real_server, pytest.mark.xdist_group("tlog-serve")]


def test_audits_remember_the_last_checkpoint_and_prove_the_log_only_grew(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    verifier: Verifier = init(directory)
    state = tmp_path / "state.json"
    with serve(directory, *FAST) as served:
        submit(served, [f"audit-{i}" for i in range(300)])
        first = tlog("audit", served.url, "--vkey", verifier.vkey, "--state", state, "-o", "json")
        assert first.returncode == 0, first.stderr
        doc = json.loads(first.stdout)
        assert (doc["kind"], doc["result"], doc["size"], doc["entries"], doc["previous"]) == (
            "tlog audit",
            "ok",
            300,
            300,
            None,
        )
        submit(served, [f"audit-{i}" for i in range(300, 310)])
        second = tlog("audit", served.url, "--vkey", verifier.vkey, "--state", state)
        assert second.returncode == 0, second.stderr
        assert "at size 310" in second.stdout and "consistent with the checkpoint audited before (size 300)" in (
            second.stdout
        )
        assert "(10 entries)" in second.stdout  # only what was added since
    recorded = AuditState(state).previous(verifier)
    assert recorded is not None and recorded.size == 310


def test_a_log_that_forked_or_rolled_back_since_the_last_audit_fails(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    verifier = init(directory)
    state = tmp_path / "state.json"
    copy = tmp_path / "copy"
    with serve(directory, *FAST) as served:
        submit(served, [f"base-{i}" for i in range(5)])
        served.process.send_signal(signal.SIGTERM)
        served.process.wait(30)
    shutil.copytree(directory, copy)  # the same log, same key, stopped at size 5
    with serve(directory, *FAST) as served:
        submit(served, [f"history-a-{i}" for i in range(5)])
        assert tlog("audit", served.url, "--vkey", verifier.vkey, "--state", state).returncode == 0
    # The copy goes another way from size 5 (an operator restored an old copy and kept serving).
    (copy / PUBLISHED_FILE).unlink()
    assert tlog("init", "--dir", copy, "--adopt").returncode == 0
    with serve(copy, *FAST) as served:
        submit(served, [f"history-b-{i}" for i in range(3)])
        rolled_back = tlog("audit", served.url, "--vkey", verifier.vkey, "--state", state)
        assert rolled_back.returncode == 1
        assert "the log rolled back" in rolled_back.stderr
        submit(served, [f"history-b-{i}" for i in range(3, 10)])
        forked = tlog("audit", served.url, "--vkey", verifier.vkey, "--state", state, "-o", "json")
        assert forked.returncode == 1
        doc = json.loads(forked.stdout)
        assert doc["result"] == "failed"
        assert any("the log forked" in p for p in doc["problems"])
        # A failed audit does not move the remembered checkpoint.
        recorded = AuditState(state).previous(verifier)
        assert recorded is not None and recorded.size == 10
        # The library reports the same.
        reader = HttpTileReader(served.url)
        try:
            report = audit_log(reader, verifier, previous=recorded)
        finally:
            reader.close()
        assert not report.ok and report.previous == recorded


def test_prove_as_json(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    verifier = init(directory)
    with serve(directory, *FAST) as served:
        submit(served, ["prove-0", "prove-1"])
        result = tlog("prove", "--url", served.url, "--index", "1", "--vkey", verifier.vkey, "-o", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["kind"], doc["origin"], doc["index"], doc["treeSize"]) == ("tlog prove", ORIGIN, 1, 2)
    assert doc["proof"].startswith("c2sp.org/tlog-proof@v1\n")
    assert doc["entry"]
