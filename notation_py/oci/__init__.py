"""OCI content: digests, descriptors, manifests, references, stores and signature storage.

Everything here works on exact bytes: manifests are stored and hashed as given and never
re-serialised after reading, and every read is checked against its descriptor's digest and size.
"""

from notation_py.oci.descriptor import Descriptor
from notation_py.oci.digest import Digest, compute, verify
from notation_py.oci.layout import OCILayout
from notation_py.oci.manifest import (
    ARTIFACT_TYPE_NOTARY,
    MAX_ENVELOPE_SIZE,
    MAX_MANIFEST_SIZE,
    MEDIA_TYPE_EMPTY_JSON,
    MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_OCI_MANIFEST,
    ImageIndex,
    ImageManifest,
    SignatureManifest,
    parse_signature_manifest,
)
from notation_py.oci.reference import LayoutReference, RegistryReference
from notation_py.oci.signatures import (
    FetchedSignature,
    fetch_signature,
    list_signature_manifests,
    push_signature,
)
from notation_py.oci.store import ArtifactStore

__all__ = [
    "ARTIFACT_TYPE_NOTARY",
    "MAX_ENVELOPE_SIZE",
    "MAX_MANIFEST_SIZE",
    "MEDIA_TYPE_EMPTY_JSON",
    "MEDIA_TYPE_OCI_INDEX",
    "MEDIA_TYPE_OCI_MANIFEST",
    "ArtifactStore",
    "Descriptor",
    "Digest",
    "FetchedSignature",
    "ImageIndex",
    "ImageManifest",
    "LayoutReference",
    "OCILayout",
    "RegistryReference",
    "SignatureManifest",
    "compute",
    "fetch_signature",
    "list_signature_manifests",
    "parse_signature_manifest",
    "push_signature",
    "verify",
]
