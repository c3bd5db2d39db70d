"""Benchmark: transparency-log appends and tile reads over HTTP, and in-process appends against SQLite.

Every mode prints a machine line first (python, CPU count, SQLite version) and the load average, since
the numbers depend on what else the machine runs.

**HTTP appends** (``--url``): posts really signed submissions (ECDSA P-256 test certificates from
``notation_py.keys.generate`` under 20 signer subjects, 50 repositories, distinct artifact digests),
all signed before timing starts in worker processes on every core, to a running ``tlog serve``. The
timed phase uses a lean asyncio HTTP/1.1 keep-alive client (``bench_tlog_client.py``, a few tens of
µs of CPU per request, where httpx needs ~0.4 ms that the server would lose on a shared machine):
C connections, each sending one pre-built request at a time. ``201`` (created) and ``200``
(duplicate) count as acknowledged; any other status aborts the run and prints the status and body.
A ``201`` means the entry was verified and durably committed under a signed checkpoint, so
``appends/s`` = acknowledged submissions / seconds from the first request to the last response.
Also printed: latency p50/p95/p99, the rate per ``--window`` seconds (default 10), how many
checkpoints the responses came back under, and the CPU seconds of this client (and of the server
with ``--server-pid``).

A closed loop of C clients cannot go faster than C / (batch wait + commit time): start the server
with a ``--checkpoint-interval`` well below C / target rate (e.g. 0.02 s for 64 clients and 1,500/s).

**Sustained** (``--url … --duration S``): the same, but no request is started after S seconds. The
run stops when either the duration is reached or the pre-signed bodies run out, and says which; only
the first is a sustained figure. ``--entries`` sets how many bodies are pre-signed; by default
``S × --target-rate`` (default 2,000/s, above the 1,500/s goal; it only sizes the pre-signing, the
client never throttles). Watch the per-window rates for sagging throughput.

**Server memory** (``--server-pid PID``, with ``--url``): after the run, reads ``VmRSS`` and
``VmHWM`` from ``/proc/PID/status`` and adds those of all its descendant processes (verification
worker processes, multiprocessing's resource tracker), printing ``server rss MB: X (peak Y)``; the peak
is the sum of each process's own peak, an upper bound of the tree's peak. Also prints the server's
CPU seconds during the run (``/proc/PID/stat``, same process tree).

**Tile reads** (``--url … --reads N``): reads ``/checkpoint``, then issues N GETs of random full hash
tiles (level 0; level 1 too when the tree has ≥ 65,536 entries; with ``--bundles`` full entry
bundles too) over C keep-alive connections. Non-200 responses and hash tiles that are not 8,192
bytes abort the run. Needs a log with at least 256 entries. Ends with ``tile GETs/s: X``.

**Core** (``--core``): measures without HTTP. Entries are built and verified with
``tlog.entry.build_entry`` before timing, then appended to a :class:`tlog.log.Log` over SQLite storage
in a temporary directory (all submitted at once, so the sequencer forms full batches); only the
appends are timed. The baseline, in the same run, is the floor for durable storage of the same data:
plain ``sqlite3`` ``executemany`` of the same rows (index, entry bytes, dedup key, leaf hash) into one
table, in transactions of the same size as the log's batches, WAL and ``synchronous=FULL``. The ratio
is log throughput over baseline throughput (1.0 = as fast as bare SQLite inserts).

**Flat cost** (``--flat``): a fresh ``Log`` over SQLite in a temporary directory (or ``--dir``, to keep
the database; it must not hold a ``log.db`` yet). M = ``--entries`` (default 20,000) real entries,
built and verified before timing, are appended at tree size ~10,000 (the log is first filled with
synthetic entries up to 10,000 − M/2 when M < 20,000), then the log is prefilled up to ``--prefill``
entries (default 1,000,000) with cheap synthetic records (``NewEntry``: random dedup keys and digests,
~3.3 KB of data, the same 50 repositories and 20 signer subjects; not timed, progress on stderr) and
M more real entries are appended at that size. Before each measured phase the script calls
``os.sync()`` and waits for the kernel's dirty and writeback pages to drain. Prints both rates, their
ratio, the database size and this process's peak RSS (which includes the M pre-built entries), and
ends with ``flat: rate at 10k X/s, at 1M Y/s (Z%)``, Z being the change of the second rate relative to
the first (the sizes in the line follow ``--prefill``).

Usage:
    tlog serve --dir D --listen 127.0.0.1:PORT --checkpoint-interval 0.02 &
    python scripts/bench_tlog.py --url http://127.0.0.1:PORT [--token T] --entries N --concurrency C
        [--server-pid PID]
    python scripts/bench_tlog.py --url http://127.0.0.1:PORT --duration 60 [--entries N | --target-rate R]
        --concurrency 64 [--window 10] [--server-pid PID]
    python scripts/bench_tlog.py --url http://127.0.0.1:PORT --reads N --concurrency C [--bundles]
        [--server-pid PID]
    python scripts/bench_tlog.py --core --entries N
    python scripts/bench_tlog.py --flat [--prefill 1000000] [--entries 20000] [--dir D]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import hashlib
import importlib.util
import json
import math
import os
import platform
import random
import re
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Coroutine, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from bench_tlog_client import (
    ClientError,
    Connection,
    LoadResult,
    Response,
    StatusError,
    Target,
    percentile,
    run_load,
    window_rates,
)

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
from tlog.storage.base import NewEntry
from tlog.tiles import entries_path, tile_path

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
ORIGIN = "bench.example.com/log"
_CHUNK = 200  # submissions signed per worker task
_SIGNERS = 20  # signer subjects (one test CA and leaf certificate each, per worker process)
_REPOSITORIES = 50
_FULL_TILE = 256  # entries (or hashes) in a full tile
_FULL_TILE_BYTES = _FULL_TILE * merkle.HASH_SIZE
_FLAT_SMALL = 10_000  # tree size of the first flat-cost measurement
_SYNTHETIC_SIZE = 3300  # bytes of a synthetic entry (real ones are ~3.3 KB)
_TREE_SIZE = re.compile(rb"[0-9]+")
_T = TypeVar("_T")


def _subject(slot: int) -> str:
    return f"bench signer {slot}"


def _repository(i: int) -> str:
    return f"registry.example.com/bench/app{i % _REPOSITORIES}"


@functools.cache
def _signer(slot: int) -> LocalSigner:
    """A test CA and ECDSA P-256 signing certificate for signer subject ``slot`` (one per worker process)."""
    root = create_root_ca(notary_test_subject(f"bench root {slot}"), key_type="ec-256")
    leaf = issue_signing_certificate(root, notary_test_subject(_subject(slot)), key_type="ec-256")
    return LocalSigner(leaf.key, [leaf.certificate, root.certificate])


def _sign_chunk(run: str, start: int, end: int) -> list[bytes]:
    """Submission bodies ``start..end-1``: distinct artifact digests over 50 repositories, 20 signers."""
    signer = _signer(start // _CHUNK % _SIGNERS)
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
                "repository": _repository(i),
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


def _build_record_chunk(run: str, start: int, end: int) -> list[NewEntry]:
    """Like :func:`_build_chunk`, as storage records (what the log keeps; far smaller to hold in memory)."""
    return [entry.to_record() for entry in _build_chunk(run, start, end)]


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


def build_records(pool: Executor, n: int) -> list[NewEntry]:
    """``n`` verified entries as storage records, built in ``pool``."""
    run = os.urandom(8).hex()
    futures = [pool.submit(_build_record_chunk, run, s, e) for s, e in _chunks(n)]
    return [record for f in futures for record in f.result()]


def _run_async(coro: Coroutine[Any, Any, _T], loop: str) -> _T:
    """Run ``coro`` on a new event loop of kind ``loop`` (``uvloop`` or ``asyncio``)."""
    if loop == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coro)
    return asyncio.run(coro)


def _rss_mb() -> float:
    """This process's current resident set size in MB."""
    return _proc_status(os.getpid()).get("VmRSS", 0) / 1024


def _peak_rss_mb() -> float:
    """This process's peak resident set size in MB (``ru_maxrss`` is in KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- server process (/proc) ------------------------------------------------------------------------


def _proc_status(pid: int) -> dict[str, int]:
    """The ``kB`` fields of ``/proc/PID/status`` (VmRSS, VmHWM, …) in KB; empty if the process is gone."""
    fields: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return fields
    for line in text.splitlines():
        name, _, value = line.partition(":")
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB":
            fields[name] = int(parts[0])
    return fields


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """``(parent pid, CPU seconds user+system)`` from ``/proc/PID/stat``; None if the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks


def _process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (processes whose parent chain leads to it)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _proc_stat(int(entry.name))) is not None:
            children.setdefault(stat[0], []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


@dataclass(frozen=True)
class ServerSample:
    """A server process tree's memory and CPU at one moment."""

    rss_mb: float
    peak_mb: float
    cpu_seconds: float
    main_cpu_seconds: float
    processes: int


def sample_server(pid: int) -> ServerSample:
    """Memory (sum of VmRSS, sum of VmHWM) and CPU time of ``pid`` and its descendants."""
    rss = peak = 0
    cpu = main_cpu = 0.0
    tree = _process_tree(pid)
    for member in tree:
        status = _proc_status(member)
        rss += status.get("VmRSS", 0)
        peak += status.get("VmHWM", 0)
        stat = _proc_stat(member)
        cpu += stat[1] if stat is not None else 0.0
        main_cpu += stat[1] if stat is not None and member == pid else 0.0
    return ServerSample(rss / 1024, peak / 1024, cpu, main_cpu, len(tree))


def print_server(pid: int, before: ServerSample, elapsed: float, operations: int, what: str) -> None:
    """The server's CPU use during the run and its memory after it."""
    after = sample_server(pid)
    cpu = after.cpu_seconds - before.cpu_seconds
    main_cpu = after.main_cpu_seconds - before.main_cpu_seconds
    per = 1e6 / max(operations, 1)
    print(
        f"server CPU s: {cpu:.2f} ({cpu / elapsed:.2f} cores busy, {cpu * per:.0f} µs per {what}; "
        f"main process {main_cpu:.2f} s = {main_cpu / elapsed:.2f} cores, {main_cpu * per:.0f} µs per {what}; "
        "10 ms ticks, approximate)"
    )
    children = after.processes - 1
    scope = f"pid {pid} and {children} descendant processes, VmRSS and VmHWM summed" if children else f"pid {pid} alone"
    print(f"server processes: {scope}; rss before the run MB: {before.rss_mb:.1f}")
    print(f"server rss MB: {after.rss_mb:.1f} (peak {after.peak_mb:.1f})")


# --- HTTP: appends --------------------------------------------------------------------------------


def _print_latencies(result: LoadResult) -> None:
    ordered = sorted(result.latencies)
    if ordered:
        p50, p95, p99 = (percentile(ordered, q) * 1000 for q in (50, 95, 99))
        print(f"latency ms: p50 {p50:.1f}, p95 {p95:.1f}, p99 {p99:.1f}, max {ordered[-1] * 1000:.1f}")


def _print_windows(result: LoadResult, window: float, unit: str) -> None:
    for first, length, count in window_rates(result.completions, window, result.elapsed):
        print(f"window {first:6.1f}–{first + length:6.1f} s: {count:7d} {unit}, {count / length:8.0f}/s")


def _print_client(result: LoadResult, requests: int) -> None:
    per_request = result.client_cpu / max(requests, 1) * 1e6
    print(
        f"client CPU s: {result.client_cpu:.2f} ({per_request:.0f} µs per request, "
        f"{result.client_cpu / result.elapsed:.2f} cores busy)"
    )
    if result.reconnects:
        print(f"WARNING: the server closed connections {result.reconnects} times (Connection: close); reopened")


async def post_all(
    target: Target,
    requests: Sequence[bytes],
    concurrency: int,
    duration: float | None,
) -> tuple[LoadResult, dict[int, int], set[int]]:
    """Post pre-built requests; returns the load result, counts per status and the tree sizes seen."""
    counts = {201: 0, 200: 0}
    tree_sizes: set[int] = set()

    def check(request: bytes, response: Response) -> None:
        if response.status not in counts:
            raise StatusError("POST /v1/entries", response.status, response.body)
        counts[response.status] += 1
        at = response.body.find(b'"treeSize":')
        if at >= 0 and (match := _TREE_SIZE.match(response.body, at + 11)) is not None:
            tree_sizes.add(int(match[0]))

    result = await run_load(target, requests, concurrency, check, duration=duration)
    return result, counts, tree_sizes


def run_http(args: argparse.Namespace) -> None:
    target = Target.parse(args.url)
    duration: float | None = args.duration
    if duration is not None:
        print(
            f"# {args.entries} bodies last {duration:g} s up to {args.entries / duration:.0f} appends/s",
            file=sys.stderr,
        )
    print(f"# signing {args.entries} submissions ...", file=sys.stderr)
    started = time.perf_counter()
    requests: list[bytes] = sign_submissions(args.entries)
    headers = [("Content-Type", "application/json")]
    if args.token:
        headers.append(("Authorization", f"Bearer {args.token}"))
    for i, body in enumerate(requests):  # in place: bodies become complete requests
        requests[i] = target.request("POST", "/v1/entries", body, headers)
    print(f"# signed in {time.perf_counter() - started:.1f} s; posting ...", file=sys.stderr)
    before = sample_server(args.server_pid) if args.server_pid else None
    result, counts, tree_sizes = _run_async(post_all(target, requests, args.concurrency, duration), args.loop)
    acknowledged = counts[201] + counts[200]
    print(
        f"entries: {acknowledged} posted of {len(requests)} pre-signed (created {counts[201]}, "
        f"duplicates {counts[200]}), concurrency {args.concurrency}, client loop {args.loop}"
    )
    if counts[200]:
        print(f"WARNING: {counts[200]} duplicates: these bodies were logged before")
    if duration is not None:
        if result.deadline_reached:
            print(f"stopped: duration reached ({duration:g} s; requests in flight then were completed)")
        else:
            print(
                f"stopped: the pre-signed bodies ran out after {result.elapsed:.1f} s of {duration:g} s "
                f"(NOT a sustained {duration:g} s figure; pre-sign more with --entries)"
            )
    print(f"seconds: {result.elapsed:.3f}")
    _print_windows(result, args.window, "appends")
    _print_latencies(result)
    if tree_sizes:
        print(
            f"checkpoints: responses came under {len(tree_sizes)} checkpoints "
            f"(mean {counts[201] / len(tree_sizes):.1f} new entries per checkpoint)"
        )
    _print_client(result, acknowledged)
    if args.server_pid and before is not None:
        print_server(args.server_pid, before, result.elapsed, acknowledged, "append")
    print(f"appends/s: {acknowledged / result.elapsed:.0f}")


# --- HTTP: tile reads -----------------------------------------------------------------------------


async def _fetch(target: Target, path: str) -> bytes:
    """One GET over a fresh connection; a non-200 answer or no answer in 60 s is fatal."""
    client = Connection(target)
    try:
        async with asyncio.timeout(60):
            response = await client.send(target.request("GET", path))
    except TimeoutError:
        raise ClientError(f"GET /{path}: no response in 60 s") from None
    finally:
        await client.close()
    if response.status != 200:
        raise StatusError(f"GET /{path}", response.status, response.body)
    return response.body


async def read_tiles(args: argparse.Namespace, before: ServerSample | None) -> None:
    target = Target.parse(args.url)
    note = await _fetch(target, "checkpoint")
    lines = note.split(b"\n")
    if len(lines) < 3 or not lines[1].isdigit():
        raise SystemExit(f"GET /checkpoint: not a checkpoint note: {note[:200]!r}")
    size = int(lines[1])
    level0 = size // _FULL_TILE
    if level0 == 0:
        raise SystemExit(
            f"the log has {size} entries, so no full tile ({_FULL_TILE} entries) to read: "
            f"append at least {_FULL_TILE} first (e.g. --url {args.url} --entries 1000)"
        )
    level1 = size // (_FULL_TILE * _FULL_TILE)
    bundles = level0 if args.bundles else 0
    total = level0 + level1 + bundles
    rng = random.Random()
    kinds = {"level-0 tiles": 0, "level-1 tiles": 0, "entry bundles": 0}
    cache: dict[str, bytes] = {}
    requests: list[bytes] = []
    for _ in range(args.reads):
        pick = rng.randrange(total)
        if pick < level0:
            path, kind = tile_path(0, pick), "level-0 tiles"
        elif pick < level0 + level1:
            path, kind = tile_path(1, pick - level0), "level-1 tiles"
        else:
            path, kind = entries_path(pick - level0 - level1), "entry bundles"
        kinds[kind] += 1
        if path not in cache:
            cache[path] = target.request("GET", path)
        requests.append(cache[path])
    paths = {request: path for path, request in cache.items()}
    received = 0

    def check(request: bytes, response: Response) -> None:
        nonlocal received
        path = paths[request]
        if response.status != 200:
            raise StatusError(f"GET /{path}", response.status, response.body)
        if path.startswith("tile/entries/") and not response.body:
            raise ClientError(f"GET /{path}: an empty entry bundle")
        if not path.startswith("tile/entries/") and len(response.body) != _FULL_TILE_BYTES:
            raise ClientError(f"GET /{path}: {len(response.body)} bytes, a full hash tile has {_FULL_TILE_BYTES}")
        received += len(response.body)

    result = await run_load(target, requests, args.concurrency, check)
    mix = ", ".join(f"{kind} {n}" for kind, n in kinds.items() if n)
    print(f"reads: {len(result.latencies)} ({mix}), tree size {size}, concurrency {args.concurrency}")
    print(
        f"seconds: {result.elapsed:.3f}, received {received / 1e6:.1f} MB ({received / 1e6 / result.elapsed:.0f} MB/s)"
    )
    _print_windows(result, args.window, "GETs")
    _print_latencies(result)
    _print_client(result, len(result.latencies))
    if args.server_pid and before is not None:
        print_server(args.server_pid, before, result.elapsed, len(result.latencies), "GET")
    print(f"tile GETs/s: {len(result.latencies) / result.elapsed:.0f}")


def run_reads(args: argparse.Namespace) -> None:
    before = sample_server(args.server_pid) if args.server_pid else None
    _run_async(read_tiles(args, before), args.loop)


# --- core ------------------------------------------------------------------------------------------


async def time_log(entries: Sequence[Entry], directory: Path) -> tuple[float, int]:
    """Append ``entries`` to a fresh log; returns (seconds, number of batches committed)."""
    storage = await sqlite_storage.open(directory / "log.db")
    try:
        signer = Signer.from_seed(ORIGIN, bytes(32))
        pending = max(DEFAULT_MAX_PENDING, len(entries))  # all submitted at once: let them queue
        log = await Log.open(storage, signer, ORIGIN, checkpoint_interval=0.05, max_pending=pending, create=True)
        records = [e.to_record() for e in entries]  # what verification workers hand the log
        try:
            before = log.size
            start = time.perf_counter()
            # One future per entry, no task: a bulk submitter's view of the sequencer and storage.
            receipts = await asyncio.gather(*[log.submit(r) for r in records])
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


# --- flat cost -------------------------------------------------------------------------------------


class SyntheticEntries:
    """Cheap stand-ins for prefilling: random dedup keys and digests, ~3.3 KB of data, realistic search keys."""

    def __init__(self) -> None:
        """Draw the random filler the entries' data is cut from."""
        self._rng = random.Random(os.urandom(16))
        self._filler = base64.b64encode(self._rng.randbytes(_SYNTHETIC_SIZE * 2))
        self._subjects = [f"CN={_subject(s)},O=Notary,L=Seattle,ST=WA,C=US" for s in range(_SIGNERS)]
        self._count = 0

    def make(self) -> NewEntry:
        """The next synthetic record (distinct data and a fresh random dedup key)."""
        rng = self._rng
        i = self._count
        self._count += 1
        digest = "sha256:" + rng.randbytes(32).hex()
        repository = _repository(i)
        head = b'{"kind":"synthetic","n":%d,"digest":"%s","repository":"%s","filler":"' % (
            i,
            digest.encode(),
            repository.encode(),
        )
        offset = rng.randrange(len(self._filler) - _SYNTHETIC_SIZE)
        data = head + self._filler[offset : offset + _SYNTHETIC_SIZE - len(head) - 2] + b'"}'
        return NewEntry(
            data=data,
            dedup_key=rng.randbytes(32),
            subject_digest=digest,
            signer_subject=self._subjects[rng.randrange(_SIGNERS)],
            repository=repository,
        )


async def prefill(log: Log, target: int, synthetic: SyntheticEntries) -> None:
    """Append synthetic entries through :meth:`Log.submit` until the log holds ``target`` entries (not timed)."""
    step = 4 * DEFAULT_MAX_BATCH  # two steps in flight at most: below the default max_pending
    missing = target - log.size
    if missing <= 0:
        return
    print(f"# prefilling {log.size} -> {target} entries ...", file=sys.stderr)
    started = time.perf_counter()
    report = log.size + 100_000
    previous: asyncio.Future[list[Any]] | None = None
    for first in range(0, missing, step):
        current = asyncio.gather(*(log.submit(synthetic.make()) for _ in range(min(step, missing - first))))
        if previous is not None:
            await previous
        previous = current
        if log.size >= report:
            rate = (log.size - target + missing) / (time.perf_counter() - started)
            print(f"#   {log.size} entries, {rate:.0f}/s, rss {_rss_mb():.0f} MB", file=sys.stderr)
            while report <= log.size:
                report += 100_000
    if previous is not None:
        await previous
    if log.size != target:
        raise SystemExit(f"prefill: the log holds {log.size} entries, expected {target}")
    print(f"# prefilled in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def _dirty_mb() -> float:
    """Dirty + Writeback page cache in MB (``/proc/meminfo``)."""
    total = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("Dirty", "Writeback"):
            total += int(value.split()[0])
    return total / 1024


def settle(limit_mb: float = 16.0, max_wait: float = 60.0) -> str:
    """``os.sync()``, then wait (at most ``max_wait`` s) until dirty+writeback pages are under ``limit_mb``."""
    started = time.perf_counter()
    os.sync()
    synced = time.perf_counter() - started
    while (dirty := _dirty_mb()) > limit_mb and time.perf_counter() - started < max_wait:
        time.sleep(0.5)
    time.sleep(1.0)  # let the device finish what the kernel just handed it
    return f"sync {synced:.1f} s, settled after {time.perf_counter() - started:.1f} s, dirty+writeback {dirty:.0f} MB"


async def timed_append(log: Log, records: Sequence[NewEntry]) -> float:
    """Append ``records`` (all submitted at once); returns the seconds until every receipt arrived."""
    before = log.size
    start = time.perf_counter()
    receipts = await asyncio.gather(*[log.submit(r) for r in records])
    elapsed = time.perf_counter() - start
    if log.size - before != len(records) or any(r.duplicate for r in receipts):
        raise SystemExit(f"flat: expected {len(records)} new entries, the log grew by {log.size - before}")
    return elapsed


def _human(n: int) -> str:
    if n and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def _db_size(path: Path) -> tuple[int, int]:
    """Bytes of the database file and of its WAL (+ shared-memory index)."""
    main = path.stat().st_size
    side = sum(
        p.stat().st_size for p in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")) if p.exists()
    )
    return main, side


async def measured_phase(number: int, log: Log, records: Sequence[NewEntry]) -> float:
    """Let pending writeback settle, append ``records`` and print the phase; returns entries/s."""
    print(f"settle: {settle()}")
    first_size = log.size
    seconds = await timed_append(log, records)
    rate = len(records) / seconds
    print(f"phase {number}: entries {first_size}..{log.size}, {seconds:.3f} s, {rate:.0f}/s, rss {_rss_mb():.0f} MB")
    return rate


async def flat(args: argparse.Namespace, directory: Path, pool: Executor) -> None:
    m: int = args.entries
    target: int = args.prefill
    lead = max(0, _FLAT_SMALL - m // 2)
    path = directory / "log.db"
    synthetic = SyntheticEntries()

    print(f"# building and verifying {m} entries ...", file=sys.stderr)
    records = build_records(pool, m)  # forks the workers before SQLite starts its threads
    storage = await sqlite_storage.open(path)
    try:
        signer = Signer.from_seed(ORIGIN, bytes(32))
        log = await Log.open(
            storage, signer, ORIGIN, checkpoint_interval=0.05, max_pending=max(DEFAULT_MAX_PENDING, m), create=True
        )
        try:
            await prefill(log, lead, synthetic)
            small = await measured_phase(1, log, records)
            del records

            await prefill(log, target, synthetic)
            print(f"# building and verifying {m} entries ...", file=sys.stderr)
            large = await measured_phase(2, log, build_records(pool, m))
            final_size = log.size
            open_main, open_side = _db_size(path)
        finally:
            await log.close()
    finally:
        await storage.close()

    closed = sum(_db_size(path))
    ratio = large / small
    record_mb = m * (_SYNTHETIC_SIZE + 300) / 1e6
    print(
        f"database: {closed / 1e6:.0f} MB after close, {final_size} entries, {closed / final_size:.0f} bytes/entry "
        f"(while open: {open_main / 1e6:.0f} MB log.db + {open_side / 1e6:.0f} MB WAL and shm)"
    )
    print(f"peak rss MB: {_peak_rss_mb():.0f} (this process; includes ~{record_mb:.0f} MB of pre-built entries)")
    print(f"ratio {_human(target)}/{_human(_FLAT_SMALL)}: {ratio:.3f} (target: within 15%)")
    print(
        f"flat: rate at {_human(_FLAT_SMALL)} {small:.0f}/s, at {_human(target)} {large:.0f}/s "
        f"({(ratio - 1) * 100:+.1f}%)"
    )


def run_flat(args: argparse.Namespace) -> None:
    with ProcessPoolExecutor() as pool:
        if args.dir is not None:
            directory = Path(args.dir)
            directory.mkdir(parents=True, exist_ok=True)
            if (directory / "log.db").exists():
                raise SystemExit(f"--dir {directory}: log.db exists; the flat-cost run needs a fresh log")
            print(f"database: {directory / 'log.db'} (kept)")
            asyncio.run(flat(args, directory, pool))
        else:
            with tempfile.TemporaryDirectory(prefix="bench-tlog-flat-") as tmp:
                asyncio.run(flat(args, Path(tmp), pool))


# --- main ------------------------------------------------------------------------------------------


def main() -> None:
    """Parse arguments and run one benchmark."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--core", action="store_true", help="in-process Log + SQLite, no HTTP")
    mode.add_argument("--flat", action="store_true", help="in-process append rate at ~10k and at --prefill entries")
    mode.add_argument("--reads", type=int, metavar="N", help="with --url: N GETs of random full tiles")
    parser.add_argument("--url", help="base URL of a running tlog serve")
    parser.add_argument("--token", help="bearer token for POST /v1/entries")
    parser.add_argument(
        "--entries",
        type=int,
        help="submissions to pre-sign (default 3000, with --duration: duration × --target-rate); --flat: real entries per measured phase (default 20000)",
    )
    parser.add_argument("--concurrency", type=int, default=64, help="connections (default 64)")
    parser.add_argument("--duration", type=float, help="seconds to keep posting (sustained mode)")
    parser.add_argument(
        "--target-rate",
        type=float,
        default=2000.0,
        help="appends/s the pre-signing is sized for with --duration and no --entries (default 2000)",
    )
    parser.add_argument("--window", type=float, default=10.0, help="seconds per reported rate window (default 10)")
    parser.add_argument("--server-pid", type=int, help="the server's pid: report its RSS and CPU (Linux /proc)")
    parser.add_argument("--bundles", action="store_true", help="with --reads: entry bundles as well as hash tiles")
    parser.add_argument("--prefill", type=int, default=1_000_000, help="with --flat: log size of the second phase")
    parser.add_argument("--dir", help="with --flat: keep the database in this directory")
    loops = ["uvloop", "asyncio"] if importlib.util.find_spec("uvloop") else ["asyncio"]
    parser.add_argument("--loop", choices=loops, default=loops[0], help="client event loop (default %(default)s)")
    args = parser.parse_args()

    http = not (args.core or args.flat)
    if http and not args.url:
        parser.error("give --url (appends or --reads), --core or --flat")
    if not http and (args.url or args.token or args.server_pid or args.duration is not None):
        parser.error("--url, --token, --server-pid and --duration are for the HTTP modes")
    if args.reads is not None and (args.duration is not None or args.entries is not None or args.token):
        parser.error("--reads takes no --duration, --entries or --token")
    if args.bundles and args.reads is None:
        parser.error("--bundles goes with --reads")
    if args.dir is not None and not args.flat:
        parser.error("--dir goes with --flat")
    if args.entries is None:
        if args.flat:
            args.entries = 20_000
        elif args.duration is not None:
            args.entries = math.ceil(args.duration * args.target_rate)
        else:
            args.entries = 3000
    if args.entries < 1 or args.concurrency < 1 or (args.reads is not None and args.reads < 1):
        parser.error("--entries, --concurrency and --reads must be positive")
    if (args.duration is not None and args.duration <= 0) or args.window <= 0 or args.target_rate <= 0:
        parser.error("--duration, --window and --target-rate must be positive")
    if args.flat and args.prefill < max(0, _FLAT_SMALL - args.entries // 2) + args.entries:
        parser.error(f"--prefill must be at least {max(0, _FLAT_SMALL - args.entries // 2) + args.entries}")
    if args.server_pid and not Path(f"/proc/{args.server_pid}/status").exists():
        parser.error(f"--server-pid {args.server_pid}: no such process (or no /proc)")
    if args.url:
        try:
            Target.parse(args.url)
        except ValueError as exc:
            parser.error(str(exc))

    print(
        f"# python {platform.python_version()}, {platform.machine()}, nproc {os.cpu_count()}, sqlite {sqlite3.sqlite_version}"
    )
    print("# load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    try:
        if args.core:
            run_core(args)
        elif args.flat:
            run_flat(args)
        elif args.reads is not None:
            run_reads(args)
        else:
            run_http(args)
    except ClientError as exc:
        raise SystemExit(f"ABORTED: {exc}") from None


if __name__ == "__main__":
    main()
