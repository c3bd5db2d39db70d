"""Build a small, deterministic OCI image (one layer holding hello.txt) in an OCI image layout.

Usage: python scripts/demo_image.py LAYOUT_DIR TAG
Prints the manifest digest.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
import tarfile

from notation_py.errors import LayoutError
from notation_py.oci.layout import OCILayout


def _layer() -> tuple[bytes, bytes]:
    """(gzip layer, uncompressed tar) with fixed timestamps so the digest is reproducible."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        data = b"hello from notation-py\n"
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o644
        tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    return gzip.compress(tar_bytes, mtime=0), tar_bytes


def main(argv: list[str]) -> int:
    """Create (or reuse) the layout and tag a new image in it."""
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    path, tag = argv
    try:
        layout = OCILayout(path)
    except LayoutError:  # not a layout yet
        layout = OCILayout.create(path)
    layer, tar_bytes = _layer()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["cat", "/hello.txt"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar_bytes).hexdigest()]},
    }
    config_desc = layout.push_blob(
        "application/vnd.oci.image.config.v1+json", json.dumps(config, separators=(",", ":")).encode()
    )
    layer_desc = layout.push_blob("application/vnd.oci.image.layer.v1.tar+gzip", layer)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc.plain().to_dict(),
        "layers": [layer_desc.plain().to_dict()],
        # One image per tag (same layer): signatures of different tags are of different artifacts.
        "annotations": {"org.opencontainers.image.version": tag},
    }
    desc = layout.push_manifest(
        "application/vnd.oci.image.manifest.v1+json", json.dumps(manifest, separators=(",", ":")).encode(), tag=tag
    )
    print(desc.digest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
