"""``/healthz``, ``/readyz`` and ``/metrics``, in process: readiness follows storage, sequencer and
checkpoint freshness; the Prometheus exposition counts submissions, batches, tiles and requests."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.tlog.test_server import ORIGIN, SIGNER, VERIFIER, assert_json_error, submission
from tests.tlog.test_server_input import Harness
from tlog.checkpoint import Checkpoint, sign_checkpoint
from tlog.errors import StorageError
from tlog.log import Log
from tlog.published import PUBLISHED_FILE, PublishedCheckpoint
from tlog.server import create_app

OPERATIONS = ("/healthz", "/readyz", "/metrics")


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    """A log of 3 entries served in process (anonymous submissions allowed)."""
    with Harness(tmp_path, prefill=3) as h:
        yield h


def samples(response: httpx.Response) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text exposition, by name and labels."""
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(table: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """One sample's value (0 when the labelled child was never used)."""
    return table.get((name, frozenset(labels.items())), 0.0)


def wait_until(check: Any, what: str, timeout: float = 15) -> Any:
    """Poll ``check()`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)
    return result


# --- /healthz and /readyz ----------------------------------------------------------------------------


def test_healthz_answers_ok_and_is_never_cached(harness: Harness) -> None:
    response = harness.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["cache-control"] == "no-store"


def test_readyz_is_ready_on_an_idle_log(harness: Harness) -> None:
    response = harness.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "checks": {"storage": "ok", "sequencer": "ok", "checkpoint": "ok"},
        "treeSize": 3,
    }
    assert response.headers["cache-control"] == "no-store"


def test_readyz_fails_when_the_storage_is_closed(harness: Harness) -> None:
    harness.run(harness.storage.close())
    response = harness.get("/readyz")
    assert response.status_code == 503
    doc = response.json()
    assert doc["status"] == "not_ready" and doc["failing"] == ["storage"], doc
    assert "closed" in doc["checks"]["storage"]
    assert response.headers["cache-control"] == "no-store"
    assert harness.get("/healthz").status_code == 200  # the process itself is fine


def test_readyz_fails_when_the_sequencer_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real stop path: a commit fails, and the re-read state is behind the published record."""
    record = PublishedCheckpoint(tmp_path / PUBLISHED_FILE, VERIFIER, ORIGIN)
    with Harness(tmp_path, prefill=3, published=record) as harness:
        assert harness.get("/readyz").status_code == 200

        async def full_disk(*args: object, **kwargs: object) -> range:
            raise StorageError("database or disk is full")

        monkeypatch.setattr(harness.storage, "append_batch", full_disk)
        # Someone else's checkpoint of this log at size 50: the storage lost entries meanwhile.
        record.write(sign_checkpoint(Checkpoint(ORIGIN, 50, bytes(32)), SIGNER))
        refused = harness.request("POST", "/v1/entries", json=submission("health-stopped"))
        assert_json_error(refused, 503, "storage_unavailable")
        wait_until(lambda: harness.log.stopped is not None, "the sequencer to stop")

        response = harness.get("/readyz")
        assert response.status_code == 503
        doc = response.json()
        assert "sequencer" in doc["failing"] and doc["checks"]["storage"] == "ok", doc
        assert (
            doc["checks"]["sequencer"].startswith("the sequencer stopped: ")
            and "were lost" in doc["checks"]["sequencer"]
        )
        # The failed commit is recent too: the published checkpoint does not keep up.
        assert "checkpoint" in doc["failing"] and "database or disk is full" in doc["checks"]["checkpoint"]
        assert harness.get("/healthz").status_code == 200


def test_readyz_fails_while_a_submission_waits_on_a_stalled_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Harness(tmp_path, prefill=3, stale_after=0.3) as harness:
        original = harness.storage.append_batch
        release = asyncio.Event()

        async def stalled(*args: Any, **kwargs: Any) -> range:
            await release.wait()
            return await original(*args, **kwargs)

        monkeypatch.setattr(harness.storage, "append_batch", stalled)
        posted = asyncio.run_coroutine_threadsafe(
            harness.arequest("POST", "/v1/entries", json=submission("health-stalled")), harness.loop
        )
        stale = wait_until(lambda: (r := harness.get("/readyz")).status_code == 503 and r, "readyz to fail")
        doc = stale.json()
        assert doc["failing"] == ["checkpoint"], doc
        assert "a submission has waited" in doc["checks"]["checkpoint"]

        harness.loop.call_soon_threadsafe(release.set)
        assert posted.result(30).status_code == 201
        ready = harness.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["treeSize"] == 4
        table = samples(harness.get("/metrics"))
        assert value(table, "tlog_commit_latency_seconds_count") == 1
        assert value(table, "tlog_commit_latency_seconds_sum") >= 0.3  # the stall is in the latency


def test_readyz_fails_for_a_log_that_is_not_started(harness: Harness) -> None:
    async def unstarted_app() -> Any:
        return create_app(Log(harness.storage, SIGNER, ORIGIN), tokens=frozenset(), allow_anonymous_writes=True)

    harness.app = harness.run(unstarted_app())
    response = harness.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["sequencer"]
    assert response.json()["checks"]["sequencer"] == "the log is not started"
    table = samples(harness.get("/metrics"))
    assert value(table, "tlog_tree_size") != value(table, "tlog_tree_size")  # NaN: no published checkpoint


# --- /metrics -------------------------------------------------------------------------------------------


def test_metrics_count_submissions_batches_tiles_and_requests(tmp_path: Path) -> None:
    with Harness(tmp_path, prefill=300) as harness:
        first, second = submission("metrics-1"), submission("metrics-2")
        assert harness.request("POST", "/v1/entries", json=first).status_code == 201
        assert harness.request("POST", "/v1/entries", json=first).status_code == 200  # duplicate
        assert harness.request("POST", "/v1/entries", json=second).status_code == 201
        assert_json_error(harness.request("POST", "/v1/entries", content=b"not json"), 400, "invalid_entry")
        assert_json_error(harness.request("POST", "/v1/entries", content=b" " * 80_000), 413, "body_too_large")
        for path in ("/tile/0/000", "/tile/0/001.p/46", "/tile/entries/000", "/tile/entries/001.p/46"):
            assert harness.get(path).status_code == 200, path
        assert_json_error(harness.get("/tile/0/999"), 404)
        assert harness.get("/checkpoint").status_code == 200
        assert_json_error(harness.get("/no/such/route"), 404)
        assert_json_error(harness.request("BREW", "/checkpoint"), 405)

        response = harness.get("/metrics")
        assert response.headers["content-type"].startswith("text/plain")
        assert response.headers["cache-control"] == "no-store"
        table = samples(response)

    assert value(table, "tlog_appends_total", outcome="created") == 2
    assert value(table, "tlog_appends_total", outcome="duplicate") == 1
    assert value(table, "tlog_appends_total", outcome="failed") == 2
    # Only the verifier's refusals; the oversized body never reached it.
    reasons = {
        dict(labels)["reason"]: v for (name, labels), v in table.items() if name == "tlog_verification_failures_total"
    }
    assert reasons == {"invalid_entry": 1}
    # Two submissions, one at a time: two batches of one new entry each (the duplicate adds none).
    assert value(table, "tlog_batch_size_count") == 2
    assert value(table, "tlog_batch_size_sum") == 2
    assert value(table, "tlog_batch_size_bucket", le="1.0") == 2
    assert value(table, "tlog_commit_latency_seconds_count") == 3
    assert value(table, "tlog_tree_size") == 302
    assert value(table, "tlog_pending_submissions") == 0
    for kind in ("hash", "entries"):
        for tile in ("full", "partial"):
            assert value(table, "tlog_tile_reads_total", kind=kind, tile=tile) == 1, (kind, tile)
    requests = "tlog_http_requests_total"
    assert value(table, requests, route="/v1/entries", method="POST", status="201") == 2
    assert value(table, requests, route="/v1/entries", method="POST", status="200") == 1
    assert value(table, requests, route="/v1/entries", method="POST", status="400") == 1
    assert value(table, requests, route="/v1/entries", method="POST", status="413") == 1
    assert value(table, requests, route="/tile/{path:path}", method="GET", status="200") == 4
    assert value(table, requests, route="/tile/{path:path}", method="GET", status="404") == 1
    assert value(table, requests, route="/checkpoint", method="GET", status="200") == 1
    assert value(table, requests, route="/checkpoint", method="other", status="405") == 1
    assert value(table, requests, route="unmatched", method="GET", status="404") == 1
    assert value(table, "tlog_http_request_duration_seconds_count", route="/v1/entries") == 5
    routes = {dict(labels).get("route") for (name, labels), _ in table.items() if name == requests}
    assert routes == {"/v1/entries", "/tile/{path:path}", "/checkpoint", "unmatched"}  # templates, never raw paths
    assert any(name.startswith("process_") for name, _ in table)


def test_each_app_has_a_registry_of_its_own(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with Harness(tmp_path / "a", prefill=1) as a, Harness(tmp_path / "b", prefill=1) as b:
        assert a.request("POST", "/v1/entries", json=submission("registry-a")).status_code == 201
        assert value(samples(a.get("/metrics")), "tlog_appends_total", outcome="created") == 1
        assert value(samples(b.get("/metrics")), "tlog_appends_total", outcome="created") == 0
    assert prometheus_client.REGISTRY.get_sample_value("tlog_appends_total", {"outcome": "created"}) is None


# --- under a prefix ---------------------------------------------------------------------------------------


def test_operations_routes_are_served_under_the_prefix_and_at_the_root(tmp_path: Path) -> None:
    with Harness(tmp_path, prefill=1, prefix="/log") as harness:
        for path in OPERATIONS:
            for served in (f"/log{path}", path):
                response = harness.get(served)
                assert response.status_code == 200, (served, response.text)
                assert response.headers["cache-control"] == "no-store"
        assert harness.get("/log/readyz").json()["treeSize"] == 1
        assert harness.get("/log/checkpoint").status_code == 200
        assert_json_error(harness.get("/checkpoint"), 404)  # the API itself stays under the prefix
        table = samples(harness.get("/log/metrics"))
    assert value(table, "tlog_http_requests_total", route="/healthz", method="GET", status="200") == 2
    assert value(table, "tlog_http_requests_total", route="/checkpoint", method="GET", status="200") == 1
    assert value(table, "tlog_http_requests_total", route="unmatched", method="GET", status="404") == 1


# --- the Dockerfile's HEALTHCHECK --------------------------------------------------------------------------


def _healthcheck_command() -> list[str]:
    """The exec-form ``HEALTHCHECK … CMD [...]`` of the Dockerfile."""
    text = (Path(__file__).parents[2] / "Dockerfile").read_text().replace("\\\n", " ")
    match = re.search(r"^HEALTHCHECK .*? CMD (\[.*\])$", text, re.MULTILINE)
    assert match is not None, "the Dockerfile has no exec-form HEALTHCHECK"
    command: list[str] = json.loads(match[1])
    return command


@pytest.mark.real_server
def test_the_dockerfile_healthcheck_probes_healthz(harness: Harness) -> None:
    command = _healthcheck_command()
    assert command[0] == "python"
    probe = [sys.executable, *command[1:]]
    port = harness.serve()
    ok = subprocess.run(
        probe,
        check=False,
        env={**os.environ, "TLOG_HEALTH_URL": f"http://127.0.0.1:{port}/healthz"},
        capture_output=True,
        timeout=30,
    )
    assert ok.returncode == 0, ok.stderr
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    for url in (f"http://127.0.0.1:{port}/no-such-route", f"http://127.0.0.1:{closed}/healthz"):
        failed = subprocess.run(
            probe, check=False, env={**os.environ, "TLOG_HEALTH_URL": url}, capture_output=True, timeout=30
        )
        assert failed.returncode != 0, url
