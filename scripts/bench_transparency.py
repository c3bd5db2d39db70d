"""Benchmark: what requiring a transparency log proof adds to cold verification of a registry image.

The setup is real: a ``tlog serve`` started from a new ``tlog init`` directory (loopback, free port,
bearer token), Debian's ``docker-registry`` (distribution 2.8.2, plain HTTP on loopback, started as
``bench_registry.py`` starts it; or ``--url`` of one already running). The log is first filled with
``--log-entries`` really signed submissions (posted over HTTP as in ``bench_tlog.py``, verified by the
log), then one image is pushed, signed with ``sign_artifact`` and logged with
``record_artifact_signature`` (what ``notation-py sign --tlog`` does): the proof is stored as a
referrer of the signature manifest, through the referrers tag schema since 2.8.2 has no referrers
API. The signature's entry is the last of a tree of ``--log-entries + 1`` entries, so its audit path
has popcount(``--log-entries``) hashes: the default 4,095 gives 12, the most a 4,096-entry tree has
(the proof grows with log2 of the tree size; each hash costs about a microsecond to fold).
``--entries-after`` more entries are logged after it (only online checking sees them).

Measured, interleaved in one process (each round runs every variant once, the order rotating from
round to round, so drift in machine load hits all variants alike), ``--runs`` rounds:

* **(a) without**: cold verification (as ``bench_registry.py``'s: a new registry client and
  revocation checker each run, so no connection, token or referrers-mode reuse; resolve, signature
  listing, signature manifest and envelope, integrity, chain, trust policy) under a statement
  without ``transparencyLog``;
* **(b) with**: the same under the same statement plus
  ``"transparencyLog": {"required": true, "verifierKeys": [<the log's key>]}`` (offline: list the
  signature manifest's referrers, read the proof manifest and layer, verify the checkpoint's
  signature and the inclusion of the leaf recomputed from the envelope and the image);
* **(c) online** (``--online``, reported separately, no target): (b) with ``"online": true`` and the
  log's URL: a new log client per run also fetches the latest checkpoint and a consistency proof.

Reported: p50 and p95 of each, the difference of the medians (the image has one signature, so it
is the overhead per signature) and the median of the per-round differences (b − a); the HTTP
requests each variant sends (counted in an untimed warm-up run with request hooks); where the time
of (b) and (c) goes, request by request (``--breakdown`` more runs with hooks timing each request
from sending to its response headers, not part of the figures above; the requests after the ones
(a) sends are the proof lookup); and the pure offline check alone, ``verify_proof_offline`` on
proof bytes already in memory (``--pure`` calls, no I/O). The last line is
``transparency overhead per signature: X ms (p50 with Y ms, without Z ms)``.

Usage: python scripts/bench_transparency.py [--runs 200] [--log-entries 4095] [--entries-after 1000]
    [--pure 2000] [--breakdown 50] [--online] [--url http://127.0.0.1:5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import queue
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from bench_registry import _push_image, _registry
from bench_tlog import post_all, sign_submissions
from bench_tlog_client import Target
from cryptography.hazmat.primitives.serialization import Encoding

from notation_py.envelope import MEDIA_TYPE_JWS
from notation_py.keys.generate import create_root_ca, issue_signing_certificate, notary_test_subject
from notation_py.keys.local import LocalSigner
from notation_py.oci.reference import RegistryReference
from notation_py.oci.registry import RegistryClient, RegistryOptions
from notation_py.oci.signatures import fetch_signature, list_signature_manifests
from notation_py.policy.document import OCITrustPolicy, TrustPolicyStatement
from notation_py.policy.truststore import StoreType, X509TrustStore
from notation_py.revocation import RevocationChecker
from notation_py.sign import SignOptions, sign_artifact
from notation_py.transparency import (
    LogClient,
    LoggedSignature,
    TransparencyVerifier,
    find_proof_referrers,
    record_artifact_signature,
    verify_proof_offline,
)
from notation_py.trust import PolicyTrustAnchors
from notation_py.verify import verify_artifact
from tlog.proof import TlogProof

ORIGIN = "bench.example.com/notary"
TOKEN = "bench-transparency-token-0123456789"  # a throwaway token of the temporary log
TLOG_COMMAND = [sys.executable, "-c", "import sys; from tlog.cli import run; sys.exit(run())"]
REPOSITORY = "bench"


# --- the log ------------------------------------------------------------------------------------


@dataclass
class ServedLog:
    """A running ``tlog serve``: its URL and verifier key."""

    url: str
    vkey: str
    process: subprocess.Popen[str]
    stderr: list[str] = field(default_factory=list)


@contextmanager
def _tlog(directory: Path) -> Iterator[ServedLog]:
    """``tlog init`` then ``tlog serve`` on a free loopback port with a write token; stopped on exit."""
    init = subprocess.run(
        [*TLOG_COMMAND, "init", "--dir", str(directory / "log"), "--origin", ORIGIN],
        capture_output=True,
        text=True,
        check=False,
    )
    if init.returncode != 0:
        raise SystemExit(f"tlog init failed: {init.stderr}")
    vkey = init.stdout.strip()
    token_file = directory / "token"
    token_file.write_text(TOKEN + "\n")
    process = subprocess.Popen(
        [
            *TLOG_COMMAND,
            "serve",
            "--dir",
            str(directory / "log"),
            "--listen",
            "127.0.0.1:0",
            "--token-file",
            str(token_file),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    stream = process.stderr
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []

    def drain() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=drain, daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        url = None
        while url is None:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise SystemExit(f"tlog serve did not start: {''.join(seen)}") from None
            seen.append(line)
            match = re.search(r"serving \S+ on (http://\S+)", line)
            url = match[1] if match else None
        yield ServedLog(url, vkey, process, seen)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _fill(log: ServedLog, n: int) -> float:
    """Log ``n`` really signed submissions (signed in worker processes first); return the seconds spent."""
    if n <= 0:
        return 0.0
    started = time.perf_counter()
    target = Target.parse(log.url)
    headers = [("Content-Type", "application/json"), ("Authorization", f"Bearer {TOKEN}")]
    requests = [target.request("POST", "/v1/entries", body, headers) for body in sign_submissions(n)]
    _result, counts, _sizes = asyncio.run(post_all(target, requests, 16, None))
    if counts[201] != n:
        raise SystemExit(f"prefill: {counts[201]} of {n} entries created ({counts[200]} duplicates)")
    return time.perf_counter() - started


# --- measurements ---------------------------------------------------------------------------------


def _percentile95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


@dataclass
class Variant:
    """One way of verifying: a trust policy statement; times of its runs."""

    name: str
    statement: TrustPolicyStatement
    times: list[float] = field(default_factory=list)
    registry_requests: int = 0
    log_requests: int = 0


def _policy(host: str, member: dict[str, Any] | None) -> TrustPolicyStatement:
    statement: dict[str, Any] = {
        "name": "bench",
        "registryScopes": [f"{host}/{REPOSITORY}"],
        "signatureVerification": {"level": "strict"},
        "trustStores": ["ca:bench"],
        "trustedIdentities": ["*"],
    }
    if member is not None:
        statement["transparencyLog"] = member
    document = {"version": "1.0", "trustPolicies": [statement]}
    return OCITrustPolicy.from_bytes(json.dumps(document).encode()).statement_for(f"{host}/{REPOSITORY}")


def _kind(request: httpx.Request) -> str:
    path = request.url.path
    if "/blobs/" in path:
        what = "blob"
    elif "/referrers/" in path:
        what = "referrers API"
    elif "/manifests/sha256-" in path:
        what = "referrers tag index"
    elif "/manifests/" in path:
        what = "manifest"
    else:
        what = path
    return f"{request.method} {what}"


@dataclass
class Trace:
    """The requests of one verification, in order: (method and kind, seconds from sending to the response headers)."""

    registry: list[tuple[str, float]] = field(default_factory=list)
    log: list[tuple[str, float]] = field(default_factory=list)

    @staticmethod
    def attach(http: httpx.Client, into: list[tuple[str, float]]) -> None:
        """Record the requests of ``http`` (sequential: one in flight at a time) into ``into``."""
        sent = [0.0]

        def on_request(_request: httpx.Request) -> None:
            sent[0] = time.perf_counter()

        def on_response(response: httpx.Response) -> None:
            into.append((_kind(response.request), time.perf_counter() - sent[0]))

        http.event_hooks["request"].append(on_request)
        http.event_hooks["response"].append(on_response)


def _cold_verify(
    variant: Variant, host: str, ref: RegistryReference, store_dir: Path, trace: Trace | None = None
) -> float:
    """One cold verification (new registry client, revocation checker and log client); its seconds."""
    start = time.perf_counter()
    with RegistryClient(RegistryOptions(insecure_registries=(host,))) as client, RevocationChecker() as rc:
        if trace is not None:
            Trace.attach(client._http, trace.registry)
        repo = client.repository(ref)
        subject = repo.resolve(str(ref.digest))
        anchors = PolicyTrustAnchors(variant.statement, X509TrustStore(store_dir), revocation=rc)
        policy = variant.statement.transparency_log
        transparency = TransparencyVerifier(policy) if policy is not None else None
        if trace is not None and transparency is not None and transparency.online:
            Trace.attach(transparency._log()._http, trace.log)
        try:
            result = verify_artifact(repo, subject, anchors, display=str(ref), transparency=transparency)
        finally:
            if transparency is not None:
                transparency.close()
    elapsed = time.perf_counter() - start
    if (policy is not None) != (result.inclusion is not None):
        raise SystemExit(f"{variant.name}: unexpected transparency outcome {result.inclusion}")
    return elapsed


def _breakdown(variant: Variant, traces: list[Trace]) -> None:
    """Median time of each request position over ``traces`` (the proof lookup runs beside the signature fetch,
    so its position varies between runs)."""
    print(f"requests of cold verify {variant.name} ({len(traces)} traced runs, median sent → response headers):")
    for position, (what, _) in enumerate(traces[0].registry):
        median = statistics.median(t.registry[position][1] for t in traces)
        print(f"  {position + 1}. registry {what}: {_ms(median)}")
    for position, (what, _) in enumerate(traces[0].log):
        median = statistics.median(t.log[position][1] for t in traces)
        print(f"  {position + 1}. log {what}: {_ms(median)}")


def _pure_check(host: str, ref: RegistryReference, statement: TrustPolicyStatement, calls: int) -> list[float]:
    """Times of ``verify_proof_offline`` alone, on the stored proof already in memory."""
    policy = statement.transparency_log
    assert policy is not None
    with RegistryClient(RegistryOptions(insecure_registries=(host,))) as client:
        repo = client.repository(ref)
        subject = repo.resolve(str(ref.digest))
        (manifest,) = list_signature_manifests(repo, subject, 10)
        signature = fetch_signature(repo, manifest, subject)
        ((_desc, proof),) = find_proof_referrers(repo, manifest)
    logged = LoggedSignature.for_artifact(signature.envelope, signature.envelope_media_type, subject, manifest)
    clock = time.perf_counter
    times = []
    for _ in range(calls):
        start = clock()
        verify_proof_offline(proof, logged, policy)
        times.append(clock() - start)
    return times


def main() -> None:
    """Set up log and registry, sign, measure, print the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200, help="cold verifications per variant (interleaved)")
    parser.add_argument("--log-entries", type=int, default=4095, help="entries logged before the signature")
    parser.add_argument("--entries-after", type=int, default=1000, help="entries logged after the signature")
    parser.add_argument("--pure", type=int, default=2000, help="calls of verify_proof_offline alone")
    parser.add_argument("--breakdown", type=int, default=50, help="extra traced runs timing each request")
    parser.add_argument("--online", action="store_true", help="also measure online checking (consistency)")
    parser.add_argument("--url", help="plain-HTTP registry to use instead of starting docker-registry")
    args = parser.parse_args()

    load = os.getloadavg()
    print(
        f"# Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
        f"load average before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    root = create_root_ca(notary_test_subject("bench root"), key_type="ec-256")
    leaf = issue_signing_certificate(root, notary_test_subject("bench"), key_type="ec-256")
    signer = LocalSigner(leaf.key, [leaf.certificate, root.certificate])

    with tempfile.TemporaryDirectory() as tmp_name, _tlog(Path(tmp_name)) as log, _registry(args.url) as base:
        tmp = Path(tmp_name)
        host = httpx.URL(base).netloc.decode()
        print(f"# registry {base} (distribution 2.8.2 unless --url), log {log.url}")
        seconds = _fill(log, args.log_entries)
        print(f"# logged {args.log_entries} signed submissions before the signature in {seconds:.1f} s")

        with httpx.Client(base_url=base, timeout=30) as http:
            digest = _push_image(http, REPOSITORY, 0)
        with (
            RegistryClient(RegistryOptions(insecure_registries=(host,), referrers_settle=0.0)) as client,
            LogClient(log.url, token=TOKEN) as log_client,
        ):
            repo = client.repository(RegistryReference(host, REPOSITORY))
            signed = sign_artifact(repo, digest, signer, SignOptions(MEDIA_TYPE_JWS))
            recorded = record_artifact_signature(
                log_client, repo, signed, MEDIA_TYPE_JWS, f"{host}/{REPOSITORY}", log_keys=[log.vkey]
            )
        inclusion = recorded.inclusion
        path_length = len(TlogProof.from_bytes(inclusion.proof).audit_path)
        print(
            f"# signature logged at index {inclusion.index}, checkpoint size {inclusion.tree_size}; "
            f"proof {len(inclusion.proof)} bytes, audit path {path_length} hashes; "
            f"proof referrer {recorded.proof_location}"
        )
        seconds = _fill(log, args.entries_after)
        print(f"# logged {args.entries_after} more entries after it in {seconds:.1f} s")

        pem = tmp / "root.pem"
        pem.write_bytes(root.certificate.public_bytes(Encoding.PEM))
        store_dir = tmp / "truststore"
        X509TrustStore(store_dir).add_certificates(StoreType.CA, "bench", [pem])
        offline_member = {"required": True, "verifierKeys": [log.vkey]}
        variants = [
            Variant("without", _policy(host, None)),
            Variant("with (offline)", _policy(host, offline_member)),
        ]
        if args.online:
            online_member = {**offline_member, "online": True, "url": log.url}
            variants.append(Variant("online", _policy(host, online_member)))
        ref = RegistryReference.parse(f"{host}/{REPOSITORY}@{digest}")

        for variant in variants:  # warm-up, and the request count
            trace = Trace()
            _cold_verify(variant, host, ref, store_dir, trace)
            variant.registry_requests, variant.log_requests = len(trace.registry), len(trace.log)
        for i in range(args.runs):
            for k in range(len(variants)):
                variant = variants[(i + k) % len(variants)]
                variant.times.append(_cold_verify(variant, host, ref, store_dir))
        traces: dict[str, list[Trace]] = {v.name: [] for v in variants[1:]}
        for _ in range(args.breakdown):  # untimed: the request hooks stay out of the figures above
            for variant in variants[1:]:
                traces[variant.name].append(Trace())
                _cold_verify(variant, host, ref, store_dir, traces[variant.name][-1])
        pure = _pure_check(host, ref, variants[1].statement, args.pure)

    load = os.getloadavg()
    print(f"# load average after {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for variant in variants:
        log_part = f" + {variant.log_requests} to the log" if variant.name == "online" else ""
        print(
            f"cold verify {variant.name} ({len(variant.times)} runs): p50 {_ms(statistics.median(variant.times))}, "
            f"p95 {_ms(_percentile95(variant.times))}; {variant.registry_requests} registry requests{log_part}"
        )
    without, with_ = variants[0], variants[1]
    p50_without, p50_with = statistics.median(without.times), statistics.median(with_.times)
    paired = statistics.median(b - a for a, b in zip(without.times, with_.times, strict=True))
    extra = with_.registry_requests - without.registry_requests
    print(
        f"offline proof lookup: {extra} extra registry request(s) per signature "
        "(0: the proof is announced in the image's referrers listing, read anyway; "
        "1: the signature manifest's referrers listing, read in the background)"
    )
    for variant in variants[1:]:
        if traces[variant.name]:
            _breakdown(variant, traces[variant.name])
    print(f"median of per-round differences (with − without): {_ms(paired)}")
    print(
        f"pure verify_proof_offline ({len(pure)} calls): p50 {_ms(statistics.median(pure))}, p95 {_ms(_percentile95(pure))}"
    )
    if args.online:
        online = variants[2]
        print(
            f"online overhead per signature (no target): {_ms(statistics.median(online.times) - p50_without)} "
            f"over without, {_ms(statistics.median(online.times) - p50_with)} over offline "
            f"({online.log_requests} log requests)"
        )
    print(
        f"transparency overhead per signature: {_ms(p50_with - p50_without)} "
        f"(p50 with {_ms(p50_with)}, without {_ms(p50_without)})"
    )


if __name__ == "__main__":
    main()
