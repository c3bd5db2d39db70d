"""Benchmark: transparency-log append throughput, over HTTP or in-process against a plain SQLite baseline.

HTTP mode posts really signed submissions (ECDSA P-256 leaf certificates from
``notation_py.keys.generate``, varied repositories and digests, all signed before timing starts) to a
running ``tlog serve`` with C concurrent asyncio+httpx clients, and prints ``appends/s: X``
(acknowledged submissions per second of wall-clock time, first request to last response).

``--core`` measures without HTTP: entries are built and verified with ``tlog.entry.build_entry``
before timing, then appended to a :class:`tlog.log.Log` over SQLite storage in a temporary
directory (all submitted at once, so the sequencer forms full batches); only the appends are timed.
The baseline, in the same run, is the floor for durable storage of the same data: plain ``sqlite3``
``executemany`` of the same rows (index, entry bytes, dedup key, leaf hash) into one table, in
transactions of the same size as the log's batches, WAL and ``synchronous=FULL``. The ratio is
log throughput over baseline throughput (1.0 = as fast as bare SQLite inserts).

Usage:
    python scripts/bench_tlog.py --url http://127.0.0.1:PORT [--token T] --entries N --concurrency C
    python scripts/bench_tlog.py --core --entries N
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import hashlib
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx

from notation_py.envelope import MEDIA_TYPE_JWS, sign_envelope
from notation_py.envelope.model import SignRequest
from notation_py.envelope.payload import TargetArtifact, build_payload
from notation_py.keys.generate import create_root_ca, issue_signing_certificate, notary_test_subject
from notation_py.keys.local import LocalSigner
from tlog import merkle
from tlog.entry import Entry, Submission, build_entry
from tlog.log import DEFAULT_MAX_BATCH, DEFAULT_MAX_PENDING, Log
from tlog.note import Signer
from tlog.storage import sqlite as sqlite_storage

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
ORIGIN = "bench.example.com/log"
_CHUNK = 200  # submissions signed per worker task


@functools.cache
def _process_signer() -> LocalSigner:
    """One test CA and ECDSA P-256 signing certificate per worker process (so signers vary too)."""
    root = create_root_ca(notary_test_subject(f"bench root {os.getpid()}"), key_type="ec-256")
    leaf = issue_signing_certificate(root, notary_test_subject(f"bench signer {os.getpid()}"), key_type="ec-256")
    return LocalSigner(leaf.key, [leaf.certificate, root.certificate])


def _sign_chunk(run: str, start: int, end: int) -> list[bytes]:
    """Submission bodies ``start..end-1``: distinct artifact digests over 50 repositories."""
    signer = _process_signer()
    bodies = []
    for i in range(start, end):
        digest = "sha256:" + hashlib.sha256(f"{run}/{i}".encode()).hexdigest()
        size = 1000 + i
        payload = build_payload(TargetArtifact(MANIFEST_MEDIA_TYPE, digest, size))
        envelope = sign_envelope(
            MEDIA_TYPE_JWS, SignRequest(payload=payload, signer=signer, signing_time=datetime.now(UTC))
        )
        submission = {
            "subject": {
                "repository": f"registry.example.com/bench/app{i % 50}",
                "digest": digest,
                "mediaType": MANIFEST_MEDIA_TYPE,
                "size": size,
            },
            "envelopeMediaType": MEDIA_TYPE_JWS,
            "envelope": base64.b64encode(envelope).decode(),
        }
        bodies.append(json.dumps(submission, separators=(",", ":")).encode())
    return bodies


def _build_chunk(run: str, start: int, end: int) -> list[Entry]:
    """Signed and verified entries ``start..end-1`` (``build_entry`` verifies each envelope)."""
    return [build_entry(Submission.from_json(body)) for body in _sign_chunk(run, start, end)]


def _chunks(n: int) -> list[tuple[int, int]]:
    return [(s, min(s + _CHUNK, n)) for s in range(0, n, _CHUNK)]


def sign_submissions(n: int) -> list[bytes]:
    """``n`` submission bodies, signed in parallel worker processes."""
    run = os.urandom(8).hex()
    with ProcessPoolExecutor() as pool:
        futures = [pool.submit(_sign_chunk, run, s, e) for s, e in _chunks(n)]
        return [body for f in futures for body in f.result()]


def build_entries(n: int) -> list[Entry]:
    """``n`` verified entries, built in parallel worker processes."""
    run = os.urandom(8).hex()
    with ProcessPoolExecutor() as pool:
        futures = [pool.submit(_build_chunk, run, s, e) for s, e in _chunks(n)]
        return [entry for f in futures for entry in f.result()]


# --- HTTP ------------------------------------------------------------------------------------------


async def post_all(url: str, token: str | None, bodies: Sequence[bytes], concurrency: int) -> tuple[float, int, int]:
    """Post ``bodies`` with ``concurrency`` workers; returns (seconds, created, duplicates)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    queue = iter(bodies)
    counts = {201: 0, 200: 0}

    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=120) as client:

        async def worker() -> None:
            for body in queue:
                response = await client.post("/v1/entries", content=body)
                if response.status_code not in counts:
                    raise SystemExit(f"POST /v1/entries: {response.status_code} {response.text}")
                counts[response.status_code] += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return elapsed, counts[201], counts[200]


def run_http(args: argparse.Namespace) -> None:
    print(f"# signing {args.entries} submissions ...", file=sys.stderr)
    bodies = sign_submissions(args.entries)
    elapsed, created, duplicates = asyncio.run(post_all(args.url, args.token, bodies, args.concurrency))
    print(f"entries: {len(bodies)} (created {created}, duplicates {duplicates}), concurrency {args.concurrency}")
    print(f"seconds: {elapsed:.3f}")
    print(f"appends/s: {len(bodies) / elapsed:.0f}")


# --- core ------------------------------------------------------------------------------------------


async def time_log(entries: Sequence[Entry], directory: Path) -> tuple[float, int]:
    """Append ``entries`` to a fresh log; returns (seconds, number of batches committed)."""
    storage = await sqlite_storage.open(directory / "log.db")
    try:
        signer = Signer.from_seed(ORIGIN, bytes(32))
        pending = max(DEFAULT_MAX_PENDING, len(entries))  # all submitted at once: let them queue
        log = await Log.open(storage, signer, ORIGIN, checkpoint_interval=0.05, max_pending=pending)
        try:
            before = log.size
            start = time.perf_counter()
            receipts = await asyncio.gather(*(log.add(e) for e in entries))
            elapsed = time.perf_counter() - start
            assert log.size - before == len(entries) and not any(r.duplicate for r in receipts)
        finally:
            await log.close()
        batches = len({r.tree_size for r in receipts})
    finally:
        await storage.close()
    return elapsed, batches


def time_baseline(entries: Sequence[Entry], batch: int, path: Path) -> float:
    """Plain SQLite: the same rows, ``executemany`` in transactions of ``batch`` rows, WAL, synchronous=FULL."""
    rows = [(i, e.data, e.dedup_key, merkle.leaf_hash(e.data)) for i, e in enumerate(entries)]
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(
            "CREATE TABLE entries (idx INTEGER PRIMARY KEY, data BLOB NOT NULL,"
            " dedup_key BLOB NOT NULL UNIQUE, leaf_hash BLOB NOT NULL)"
        )
        start = time.perf_counter()
        for first in range(0, len(rows), batch):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO entries VALUES (?, ?, ?, ?)", rows[first : first + batch])
            conn.execute("COMMIT")
        return time.perf_counter() - start
    finally:
        conn.close()


def run_core(args: argparse.Namespace) -> None:
    print(f"# building and verifying {args.entries} entries ...", file=sys.stderr)
    entries = build_entries(args.entries)
    with tempfile.TemporaryDirectory(prefix="bench-tlog-") as tmp:
        log_seconds, batches = asyncio.run(time_log(entries, Path(tmp)))
        batch = -(-len(entries) // batches)
        base_seconds = time_baseline(entries, batch, Path(tmp) / "baseline.db")
    core = len(entries) / log_seconds
    baseline = len(entries) / base_seconds
    print(f"entries: {len(entries)}, log batches: {batches} (max {DEFAULT_MAX_BATCH}), baseline batch: {batch}")
    print(f"log seconds: {log_seconds:.3f}, baseline seconds: {base_seconds:.3f}")
    print(f"core entries/s: {core:.0f} (sqlite baseline {baseline:.0f}, ratio {core / baseline:.2f})")


def main() -> None:
    """Parse arguments and run one benchmark."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="base URL of a running tlog serve")
    parser.add_argument("--token", help="bearer token for POST /v1/entries")
    parser.add_argument("--entries", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--core", action="store_true", help="in-process Log + SQLite, no HTTP")
    args = parser.parse_args()
    if args.entries < 1 or args.concurrency < 1:
        parser.error("--entries and --concurrency must be positive")
    if not args.core and not args.url:
        parser.error("give --url or --core")
    print(
        f"# python {platform.python_version()}, {platform.machine()}, nproc {os.cpu_count()}, sqlite {sqlite3.sqlite_version}"
    )
    if args.core:
        run_core(args)
    else:
        run_http(args)


if __name__ == "__main__":
    main()
