"""Copy an image from an OCI layout into a registry with notation-py's registry client.

Usage: python scripts/demo_push.py LAYOUT_DIR TAG REGISTRY_HOST/REPOSITORY
(plain HTTP: the registry host is treated as insecure; for the local demo registry only)
"""

from __future__ import annotations

import sys

from notation_py.oci.layout import OCILayout
from notation_py.oci.manifest import ImageManifest
from notation_py.oci.reference import RegistryReference
from notation_py.oci.registry import RegistryClient, RegistryOptions


def main(argv: list[str]) -> int:
    """Push blobs, then the manifest under the same tag; print the digest."""
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    layout = OCILayout(argv[0])
    tag = argv[1]
    target = RegistryReference.parse(f"{argv[2]}:{tag}")
    desc = layout.resolve(tag)
    data = layout.fetch_manifest(desc)
    manifest = ImageManifest.from_bytes(data, desc.media_type)
    with RegistryClient(RegistryOptions(insecure_registries=(target.registry,))) as client:
        repo = client.repository(target)
        for blob in (manifest.config, *manifest.layers):
            repo.push_blob(blob.media_type, layout.fetch_blob(blob, blob.size))
        pushed = repo.push_manifest(desc.media_type, data, tag=tag)
    print(pushed.digest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
