"""Benchmark: envelope signing and verification cost over the bare cryptographic operation.

For each key type and envelope format, times ``sign_envelope`` and ``verify_envelope`` (which
include parsing, attribute rules and certificate-chain rules) against a baseline of the bare
cryptographic work the same operation cannot avoid, done with ``cryptography`` in the same process:

* sign baseline: one primitive signature plus its verification (``sign_envelope`` re-verifies
  what it produced, chain included, before returning it);
* verify baseline: the primitive signature verification plus the chain's signature checks
  (leaf issued by root, root self-signed).

The ratio is the overhead the envelope layer adds over that minimum.

Usage: python scripts/bench_envelope.py [--iterations N]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from notation_py.envelope import MEDIA_TYPE_COSE, MEDIA_TYPE_JWS, sign_envelope, verify_envelope
from notation_py.envelope.algorithms import sign_with_key, verify_with_key
from notation_py.envelope.model import SignRequest
from notation_py.envelope.payload import TargetArtifact, build_payload
from notation_py.keys.generate import create_root_ca, issue_signing_certificate, notary_test_subject
from notation_py.keys.local import LocalSigner


def _median_seconds(fn: Callable[[], object], iterations: int) -> float:
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args()
    payload = build_payload(
        TargetArtifact("application/vnd.oci.image.manifest.v1+json", "sha256:" + "ab" * 32, 1234, {"build": "42"})
    )
    print(f"# python {platform.python_version()}, {platform.machine()}, {args.iterations} iterations per cell")
    print("| key | format | sign ms | bare sign ms | sign ratio | verify ms | bare verify ms | verify ratio |")
    print("|---|---|---|---|---|---|---|---|")
    root = create_root_ca(notary_test_subject("bench root"), key_type="ec-384")
    for key_type in ("rsa-2048", "rsa-3072", "ec-256", "ec-384"):
        leaf = issue_signing_certificate(root, notary_test_subject("bench"), key_type=key_type)
        signer = LocalSigner(leaf.key, [leaf.certificate, root.certificate])
        alg = signer.algorithm
        for media_type, name in ((MEDIA_TYPE_JWS, "JWS"), (MEDIA_TYPE_COSE, "COSE")):
            request = SignRequest(payload=payload, signer=signer, signing_time=datetime.now(UTC))
            envelope = sign_envelope(media_type, request)
            raw_sig = sign_with_key(leaf.key, alg, payload)
            public = leaf.certificate.public_key()
            # sign_envelope verifies what it produced, so its bare baseline is one sign + one verify.
            sign_t = _median_seconds(lambda: sign_envelope(media_type, request), args.iterations)  # noqa: B023

            def bare_sign() -> None:
                verify_with_key(public, alg, payload, sign_with_key(leaf.key, alg, payload))  # type: ignore[arg-type]  # noqa: B023
                leaf.certificate.verify_directly_issued_by(root.certificate)  # noqa: B023
                root.certificate.verify_directly_issued_by(root.certificate)

            bare_sign_t = _median_seconds(bare_sign, args.iterations)
            verify_t = _median_seconds(lambda: verify_envelope(media_type, envelope), args.iterations)  # noqa: B023

            def bare_verify() -> None:
                verify_with_key(public, alg, payload, raw_sig)  # type: ignore[arg-type]  # noqa: B023
                leaf.certificate.verify_directly_issued_by(root.certificate)  # noqa: B023
                root.certificate.verify_directly_issued_by(root.certificate)

            bare_verify_t = _median_seconds(bare_verify, args.iterations)
            print(
                f"| {key_type} | {name} | {sign_t * 1e3:.3f} | {bare_sign_t * 1e3:.3f} | {sign_t / bare_sign_t:.2f}x "
                f"| {verify_t * 1e3:.3f} | {bare_verify_t * 1e3:.3f} | {verify_t / bare_verify_t:.2f}x |"
            )


if __name__ == "__main__":
    main()
