"""Tamper with every signature of an artifact in an OCI layout, keeping all digests consistent.

Usage: python scripts/demo_tamper.py LAYOUT_DIR SUBJECT_DIGEST

For each signature manifest whose subject is SUBJECT_DIGEST: flip one byte inside the envelope's
signed payload (the artifact size), store the altered envelope as a new blob, point a new signature manifest at it and
replace the old manifest in index.json. Digest checks all pass; only signature verification can
catch the change.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime

from notation_py.envelope.encoding import b64url_decode, b64url_encode
from notation_py.oci.layout import OCILayout
from notation_py.oci.signatures import fetch_signature, list_signature_manifests, push_signature


def _bump_size(payload: bytes) -> bytes:
    """Change the last digit of the signed ``"size"`` value: the payload now describes another artifact."""
    at = payload.index(b'"size":') + len(b'"size":')
    end = at
    while payload[end : end + 1].isdigit():
        end += 1
    last = payload[end - 1 : end]
    return payload[: end - 1] + (b"1" if last != b"1" else b"2") + payload[end:]


def _tamper(media_type: str, envelope: bytes) -> bytes:
    if media_type == "application/jose+json":
        doc = json.loads(envelope)
        doc["payload"] = b64url_encode(_bump_size(b64url_decode(doc["payload"])))
        return json.dumps(doc, separators=(",", ":")).encode()
    # COSE embeds the payload bytes as they are; same length, so the CBOR framing stays valid.
    return _bump_size(envelope)


def main(argv: list[str]) -> int:
    """Tamper and report what was changed."""
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    layout = OCILayout(argv[0])
    subject = layout.resolve(argv[1])
    for manifest in list(list_signature_manifests(layout, subject, 100)):
        sig = fetch_signature(layout, manifest, subject)
        envelope = _tamper(sig.envelope_media_type, sig.envelope)
        thumbprints = json.loads(sig.annotations["io.cncf.notary.x509chain.thumbprint#S256"])
        created = datetime.fromisoformat(sig.annotations["org.opencontainers.image.created"].replace("Z", "+00:00"))
        new = push_signature(layout, subject, sig.envelope_media_type, envelope, thumbprints, created)
        index_path = layout.path / "index.json"
        doc = json.loads(index_path.read_bytes())
        doc["manifests"] = [m for m in doc["manifests"] if m["digest"] != str(manifest.digest)]
        index_path.write_text(json.dumps(doc, separators=(",", ":")))
        print(f"replaced signature {str(manifest.digest)[:19]}... by tampered {str(new.digest)[:19]}...")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
