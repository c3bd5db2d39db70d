"""Benchmark: signing into a registry, and cold verification, against Debian's distribution 2.8.2.

Two measurements, both on loopback against a ``docker-registry`` this script starts (or ``--url``
of one already running, plain HTTP):

1. **Sign + push** of N signatures (one per image) with ``sign_artifact`` over our registry client,
   as a ratio to a *bare httpx loop issuing the same HTTP requests* in the same run. The requests
   our client made are recorded per signature (method, URL path, body bytes) and the bare loop
   replays the equivalent sequence for fresh images with a plain ``httpx.Client``: same number of
   requests, same bodies, no parsing, no checks. The client's deliberate wait between pushing the
   referrers tag index and reading it again (``referrers_settle``, a guard against concurrent
   signers on registries without ``If-Match``) is reported separately: the ratio is measured with
   it off (a single signer), and the default-settings time is printed too.
2. **Cold verify** of one signed image: a new client each time (no token, mode or connection
   reuse), resolve, referrers, manifest, envelope, chain, trust policy. Reports p50 and p95.

Usage: python scripts/bench_registry.py [--signatures 200] [--verifies 50] [--url http://127.0.0.1:5000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from notation_py.envelope import MEDIA_TYPE_JWS
from notation_py.keys.generate import create_root_ca, issue_signing_certificate, notary_test_subject
from notation_py.keys.local import LocalSigner
from notation_py.oci.reference import RegistryReference
from notation_py.oci.registry import RegistryClient, RegistryOptions
from notation_py.policy.document import OCITrustPolicy
from notation_py.policy.truststore import StoreType, X509TrustStore
from notation_py.revocation import RevocationChecker
from notation_py.sign import SignOptions, sign_artifact
from notation_py.trust import PolicyTrustAnchors
from notation_py.verify import verify_artifact


@contextmanager
def _registry(url: str | None) -> Iterator[str]:
    """Yield the base URL of a plain-HTTP registry, starting docker-registry when no URL is given."""
    if url:
        yield url.rstrip("/")
        return
    binary = shutil.which("docker-registry")
    if binary is None:
        raise SystemExit("docker-registry is not installed (apt-get install docker-registry) and no --url given")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yml"
        config.write_text(
            "version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\n"
            f"storage: {{filesystem: {{rootdirectory: {tmp}/data}}, delete: {{enabled: true}}}}\n"
            f"http: {{addr: 127.0.0.1:{port}}}\n"
        )
        proc = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    if httpx.get(f"{base}/v2/", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("docker-registry did not start")
                time.sleep(0.02)
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _push_image(http: httpx.Client, repo: str, n: int) -> str:
    """Push a small distinct image; return its manifest digest."""
    import hashlib

    def blob(data: bytes) -> dict[str, object]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        loc = http.post(f"/v2/{repo}/blobs/uploads/").headers["location"]
        url = (
            httpx.URL(loc).copy_merge_params({"digest": digest})
            if "://" in loc
            else http.base_url.join(loc).copy_merge_params({"digest": digest})
        )
        http.put(url, content=data, headers={"Content-Type": "application/octet-stream"}).raise_for_status()
        return {"digest": digest, "size": len(data)}

    config = blob(json.dumps({"architecture": "amd64", "os": "linux", "n": n}).encode())
    layer = blob(f"layer {n}".encode())
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}],
        },
        separators=(",", ":"),
    ).encode()
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    http.put(
        f"/v2/{repo}/manifests/{digest}",
        content=manifest,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    ).raise_for_status()
    return digest


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    body: bytes
    headers: dict[str, str]


def _record(client: RegistryClient) -> list[_Request]:
    """Attach a request recorder to the client's httpx session."""
    seen: list[_Request] = []

    def hook(request: httpx.Request) -> None:
        keep = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "accept")}
        seen.append(_Request(request.method, request.url.raw_path.decode(), request.read(), keep))

    client._http.event_hooks["request"].append(hook)
    return seen


def _replay(http: httpx.Client, sequence: list[_Request]) -> None:
    """Issue the same requests; an upload PUT goes to the Location the preceding POST returned."""
    location: str | None = None
    for r in sequence:
        target: str | httpx.URL = r.path
        if r.method == "PUT" and "/blobs/uploads/" in r.path and location is not None:
            digest = httpx.URL(r.path).params["digest"]
            target = http.base_url.join(location).copy_merge_params({"digest": digest})
        response = http.request(r.method, target, content=r.body or None, headers=r.headers)
        response.read()
        # A failing replay would be cheaper than the real thing and flatter the ratio: refuse it.
        if response.status_code >= 400 and not (r.method in ("GET", "HEAD") and response.status_code == 404):
            raise SystemExit(f"bare replay failed: {r.method} {target} -> {response.status_code} {response.text[:200]}")
        if r.method == "POST" and "/blobs/uploads/" in r.path:
            location = response.headers["location"]


def main() -> None:
    """Run both measurements and print a report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--signatures", type=int, default=200)
    parser.add_argument("--verifies", type=int, default=50)
    parser.add_argument("--url", help="plain-HTTP registry to use instead of starting docker-registry")
    args = parser.parse_args()

    root = create_root_ca(notary_test_subject("bench root"), key_type="ec-256")
    leaf = issue_signing_certificate(root, notary_test_subject("bench"), key_type="ec-256")
    signer = LocalSigner(leaf.key, [leaf.certificate, root.certificate])
    options = SignOptions(MEDIA_TYPE_JWS)

    with _registry(args.url) as base:
        host = httpx.URL(base).netloc.decode()
        http = httpx.Client(base_url=base, timeout=30)
        n = args.signatures
        ours_images = [_push_image(http, "bench", i) for i in range(n)]
        default_images = [_push_image(http, "dflt", i) for i in range(min(n, 20))]

        single = RegistryOptions(insecure_registries=(host,), referrers_settle=0.0)
        with RegistryClient(single) as client:
            recorded = _record(client)
            repo = client.repository(RegistryReference(host, "bench"))
            sequences: list[list[_Request]] = []
            start = time.perf_counter()
            for digest in ours_images:
                before = len(recorded)
                sign_artifact(repo, digest, signer, options)
                sequences.append(recorded[before:])
            ours = time.perf_counter() - start

        # The bare loop replays each recorded sequence against the "bare" repository, so request
        # count and sizes match; paths are rewritten to the other repository.
        replays = [
            [_Request(r.method, r.path.replace("/v2/bench/", "/v2/bare/"), r.body, r.headers) for r in seq]
            for seq in sequences
        ]
        start = time.perf_counter()
        for seq in replays:
            _replay(http, seq)
        bare = time.perf_counter() - start

        with RegistryClient(RegistryOptions(insecure_registries=(host,))) as client:
            repo = client.repository(RegistryReference(host, "dflt"))
            start = time.perf_counter()
            for digest in default_images:
                sign_artifact(repo, digest, signer, options)
            default_per = (time.perf_counter() - start) / len(default_images)

        # Cold verify of one signed image.
        tmp = Path(tempfile.mkdtemp())
        try:
            pem = tmp / "root.pem"
            from cryptography.hazmat.primitives.serialization import Encoding

            pem.write_bytes(root.certificate.public_bytes(Encoding.PEM))
            store = X509TrustStore(tmp / "truststore")
            store.add_certificates(StoreType.CA, "bench", [pem])
            policy = OCITrustPolicy.from_bytes(
                json.dumps(
                    {
                        "version": "1.0",
                        "trustPolicies": [
                            {
                                "name": "bench",
                                "registryScopes": [f"{host}/bench"],
                                "signatureVerification": {"level": "strict"},
                                "trustStores": ["ca:bench"],
                                "trustedIdentities": ["*"],
                            }
                        ],
                    }
                ).encode()
            )
            statement = policy.statement_for(f"{host}/bench")
            ref = RegistryReference.parse(f"{host}/bench@{ours_images[0]}")
            times = []
            for _ in range(args.verifies):
                start = time.perf_counter()
                with RegistryClient(RegistryOptions(insecure_registries=(host,))) as client, RevocationChecker() as rc:
                    repo = client.repository(ref)
                    subject = repo.resolve(str(ref.digest))
                    anchors = PolicyTrustAnchors(statement, X509TrustStore(tmp / "truststore"), revocation=rc)
                    verify_artifact(repo, subject, anchors, display=str(ref))
                times.append(time.perf_counter() - start)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        http.close()

    per_sig_requests = statistics.mean(len(s) for s in sequences)
    times.sort()
    p95 = times[max(0, int(len(times) * 0.95) - 1)]
    print(f"# {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; registry {base}")
    print(f"sign+push {n} signatures: ours {ours:.2f} s, bare httpx replay {bare:.2f} s, ratio {ours / bare:.2f}x")
    print(f"  requests per signature: {per_sig_requests:.1f} (same sequence replayed by the bare loop)")
    print(f"  with default settings (referrers_settle on): {default_per * 1e3:.1f} ms per signature")
    print(f"cold verify ({args.verifies} runs): p50 {statistics.median(times) * 1e3:.1f} ms, p95 {p95 * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
