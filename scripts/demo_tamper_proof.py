"""Replace the transparency log proof of every signature of an artifact in an OCI layout by a forged one.

Usage: python scripts/demo_tamper_proof.py LAYOUT_DIR SUBJECT_DIGEST

For each signature whose subject is SUBJECT_DIGEST, the proof referrer is swapped for one whose
audit path has one flipped bit, and the proof announcements beside the signatures are dropped: the
checkpoint is still genuinely signed by the log, the layout's digests all match, and only the
inclusion check can tell. This is what someone who can write to
the registry, but not to the log, can do to pass off a signature the log never recorded.
"""

from __future__ import annotations

import base64
import json
import sys
from datetime import UTC, datetime

from notation_py.oci.layout import OCILayout
from notation_py.oci.signatures import list_signature_manifests
from notation_py.transparency import Inclusion, find_proof_referrers, push_proof_referrer


def _forge(proof: bytes) -> bytes:
    """Flip one bit of the first audit path hash (or of the index line when the path is empty)."""
    lines = proof.split(b"\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(b"index ")) + 1
    if lines[at]:
        digest = bytearray(base64.b64decode(lines[at]))
        digest[0] ^= 1
        lines[at] = base64.b64encode(bytes(digest))
    else:
        lines[at - 1] = b"index " + str(int(lines[at - 1][6:]) + 1).encode()
    return b"\n".join(lines)


def main(argv: list[str]) -> int:
    """Forge and report what was changed."""
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    layout = OCILayout(argv[0])
    subject = layout.resolve(argv[1])
    index_path = layout.path / "index.json"
    for manifest in list(list_signature_manifests(layout, subject, 100)):
        for desc, proof in find_proof_referrers(layout, manifest):
            forged = _forge(proof)
            placeholder = Inclusion("-", 0, 0, b"\0" * 32, b"-", forged, None)  # only .proof is stored
            push_proof_referrer(layout, manifest, placeholder, datetime.now(UTC))
            doc = json.loads(index_path.read_bytes())
            doc["manifests"] = [m for m in doc["manifests"] if m["digest"] != str(desc.digest)]
            index_path.write_text(json.dumps(doc, separators=(",", ":")))
            print(
                f"replaced proof {str(desc.digest)[:19]}... of signature {str(manifest.digest)[:19]}... by a forged one"
            )
    doc = json.loads(index_path.read_bytes())
    kept = [m for m in doc["manifests"] if "io.notation-py.tlog.signature" not in m.get("annotations", {})]
    if len(kept) != len(doc["manifests"]):
        print(f"dropped {len(doc['manifests']) - len(kept)} proof announcement(s) beside the signatures")
        doc["manifests"] = kept
        index_path.write_text(json.dumps(doc, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
