"""Check a running tlog with an independent C2SP implementation (aics-tlog), not with tlog's own code.

Run by tests/tlog/test_independent_verifier.py in a separate interpreter (aics-tlog needs Python
3.12 or newer; scripts/test.sh makes .venv-verifier for it). Reads a JSON request on stdin:

    {"url": ..., "vkey": ..., "origin": ...,
     "receipts": [{"index": N, "entry": b64, "proof": "<c2sp.org/tlog-proof@v1 text>"}],
     "consistency": [{"old": N, "new": M, "hashes": [b64, ...]}],
     "tampered_receipt": {...}}

and writes a JSON report on stdout. Everything cryptographic is done by aics-tlog: signed-note and
checkpoint verification, tile and bundle authentication (audit_tiles over HTTP, gzip included),
RFC 9162 inclusion and consistency verification.
"""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

from aics_tlog import (  # type: ignore[import-not-found, unused-ignore]
    HttpTileReader,
    VerifiedTileReader,
    audit_tiles,
    parse_note,
    parse_vkey,
    verify_checkpoint,
    verify_consistency,
    verify_leaf_inclusion,
)
from aics_tlog.checkpoint import checkpoint_from_note  # type: ignore[import-not-found, unused-ignore]


def split_proof(text: str) -> tuple[int, list[bytes], str]:
    """(index, audit path, checkpoint note) from a c2sp.org/tlog-proof@v1 file."""
    head, sep, note = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or lines[0] != "c2sp.org/tlog-proof@v1" or not lines[1].startswith("index "):
        raise ValueError("not a c2sp.org/tlog-proof@v1 file")
    index = int(lines[1].removeprefix("index "))
    hashes = [base64.b64decode(line, validate=True) for line in lines[2:]]
    return index, hashes, note


def checked_checkpoint(note_text: str, vkey: Any, origin: str) -> tuple[int, bytes]:
    """Verify a signed checkpoint with the log's key; return (size, root)."""
    result = verify_checkpoint(parse_note(note_text), vkey, expected_origin=origin)
    if not result.log_ok:
        raise ValueError(f"checkpoint does not verify: {result.error}")
    checkpoint, _ = checkpoint_from_note(note_text)
    return int(checkpoint.size), bytes(checkpoint.root)


def check_receipt(receipt: dict[str, Any], vkey: Any, origin: str, reader: Any) -> None:
    index, path, note = split_proof(receipt["proof"])
    if index != receipt["index"]:
        raise ValueError("proof index differs from the receipt index")
    size, root = checked_checkpoint(note, vkey, origin)
    entry = base64.b64decode(receipt["entry"])
    if not verify_leaf_inclusion(entry, index, size, path, root):
        raise ValueError(f"inclusion proof of entry {index} does not verify")
    if VerifiedTileReader(reader, size, root).entry(index) != entry:
        raise ValueError(f"entry {index} served in the bundles differs from the receipt")


def main() -> int:
    request = json.load(sys.stdin)
    vkey = parse_vkey(request["vkey"])
    origin = request["origin"]
    reader = HttpTileReader(request["url"], timeout=30)
    report: dict[str, Any] = {}

    note = reader.read_checkpoint().decode("utf-8")
    size, root = checked_checkpoint(note, vkey, origin)
    report["size"] = size
    audit = audit_tiles(reader, size, root, entries=True)
    report["audit"] = {"tiles": audit.tiles, "bundles": audit.bundles}

    for receipt in request["receipts"]:
        check_receipt(receipt, vkey, origin, reader)
    report["receipts"] = len(request["receipts"])

    consistent = 0
    for item in request["consistency"]:
        old_size, old_root = checked_checkpoint(item["old_checkpoint"], vkey, origin)
        new_size, new_root = checked_checkpoint(item["new_checkpoint"], vkey, origin)
        proof = [base64.b64decode(h) for h in item["hashes"]]
        if not verify_consistency(old_size, new_size, old_root, new_root, proof):
            raise ValueError(f"consistency proof {old_size} -> {new_size} does not verify")
        consistent += 1
    report["consistency"] = consistent

    # The same checks must fail on altered input, or they prove nothing.
    tampered = request["tampered_receipt"]
    try:
        check_receipt(tampered, vkey, origin, reader)
    except Exception as exc:  # any refusal is the expected outcome
        report["tampered_refused"] = type(exc).__name__
    forged = note.replace(f"\n{size}\n", f"\n{size + 1}\n", 1)
    report["forged_checkpoint_refused"] = not verify_checkpoint(parse_note(forged), vkey).log_ok
    json.dump(report, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
