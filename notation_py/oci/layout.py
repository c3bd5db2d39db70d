"""An OCI image layout directory as an :class:`~notation_py.oci.store.ArtifactStore`.

Layout (image-spec ``image-layout.md``): an ``oci-layout`` file (``{"imageLayoutVersion":"1.0.0"}``),
``index.json`` (an image index listing the layout's manifests; tags in the
``org.opencontainers.image.ref.name`` annotation) and content under ``blobs/<alg>/<hex>``.

Compatibility with notation (oras-go ``oci.Store``):

* A pushed manifest is listed in ``index.json`` without a tag unless one is given, with its
  ``artifactType`` and annotations, as oras-go's ``PackManifest`` + ``Store.Push`` write it.
  Re-tagging moves the tag; the previously tagged manifest stays listed without a tag.
* Referrers are found by reading every manifest listed in ``index.json`` and, recursively, the
  children of listed indexes, and keeping those whose ``subject`` digest is the target's, which is
  what oras-go's predecessor graph yields for notation.
* A digest resolves when it is listed in ``index.json`` or below a listed index (the media type
  comes from that listing). Like oras-go, a digest that is only a blob also resolves, but only if
  the blob is a manifest whose media type can be read from its own ``mediaType``; oras-go would
  report such a blob as ``application/octet-stream``, which no payload check would accept.

Reads verify digest and size. Writes go to a temporary file in the target directory, are fsynced
and renamed into place, so a crash leaves either the old or the new file, never a partial one;
``index.json`` updates hold an exclusive ``flock`` on the layout directory so concurrent signers
in this implementation do not lose each other's entries.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from notation_py.errors import ArtifactError, DigestError, LayoutError, NotFoundError, UsageError
from notation_py.fsutil import atomic_write
from notation_py.oci.descriptor import Descriptor
from notation_py.oci.digest import Digest, compute, verify
from notation_py.oci.manifest import (
    ANNOTATION_REF_NAME,
    INDEX_MEDIA_TYPES,
    MAX_MANIFEST_SIZE,
    MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_OCI_MANIFEST,
    ImageIndex,
    ImageManifest,
    go_json,
    load_json_object,
    parse_any,
    referrer_descriptor,
)
from notation_py.oci.reference import is_layout_tag
from notation_py.oci.store import check_blob_size, check_manifest_descriptor

if sys.platform != "win32":
    import fcntl

LAYOUT_FILE: Final = "oci-layout"
INDEX_FILE: Final = "index.json"
BLOBS_DIR: Final = "blobs"
LAYOUT_VERSION: Final = "1.0.0"

#: Media types that may carry a ``subject`` and so may be referrers.
_REFERRER_MEDIA_TYPES: Final = (MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_OCI_INDEX)
#: Nesting limit when walking indexes (real layouts nest one or two levels).
_MAX_DEPTH: Final = 16


def _empty_index() -> bytes:
    return go_json({"schemaVersion": 2, "mediaType": MEDIA_TYPE_OCI_INDEX, "manifests": []})


class OCILayout:
    """An OCI image layout directory implementing :class:`~notation_py.oci.store.ArtifactStore`.

    Attributes:
        path: The layout directory.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Open an existing layout.

        Raises:
            LayoutError: The directory, its ``oci-layout`` file or ``index.json`` is missing or invalid.
        """
        self.path = Path(path)
        if not self.path.is_dir():
            raise LayoutError(f"{self.path}: not an OCI image layout: no such directory")
        layout_file = self.path / LAYOUT_FILE
        try:
            raw = layout_file.read_bytes()
        except FileNotFoundError:
            raise LayoutError(f"{self.path}: not an OCI image layout: missing {LAYOUT_FILE} file") from None
        except OSError as e:
            raise LayoutError(f"{self.path}: cannot read {LAYOUT_FILE}: {e}") from e
        try:
            version = load_json_object(raw, LAYOUT_FILE).get("imageLayoutVersion")
        except ArtifactError as e:
            raise LayoutError(f"{self.path}: {e.message}") from e
        if version != LAYOUT_VERSION:
            raise LayoutError(f"{self.path}: unsupported imageLayoutVersion {version!r} (want {LAYOUT_VERSION!r})")
        self._read_index()

    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> OCILayout:
        """Create a layout at ``path`` (directories included), or open it if it already is one.

        Raises:
            LayoutError: The files cannot be written, or an existing layout is invalid.
        """
        root = Path(path)
        try:
            (root / BLOBS_DIR).mkdir(parents=True, exist_ok=True)
            if not (root / LAYOUT_FILE).exists():
                atomic_write(root / LAYOUT_FILE, go_json({"imageLayoutVersion": LAYOUT_VERSION}))
            if not (root / INDEX_FILE).exists():
                atomic_write(root / INDEX_FILE, _empty_index())
        except OSError as e:
            raise LayoutError(f"{root}: cannot create OCI image layout: {e}") from e
        return cls(root)

    #: Alias of :meth:`create`.
    init = create

    # --- reading ------------------------------------------------------------------------------

    def blob_path(self, digest: Digest) -> Path:
        """Where the blob with ``digest`` lives (whether or not it exists)."""
        return self.path / BLOBS_DIR / digest.algorithm / digest.hex

    def _read_index(self) -> tuple[ImageIndex, dict[str, Any]]:
        try:
            raw = (self.path / INDEX_FILE).read_bytes()
        except FileNotFoundError:
            raise LayoutError(f"{self.path}: not an OCI image layout: missing {INDEX_FILE}") from None
        except OSError as e:
            raise LayoutError(f"{self.path}: cannot read {INDEX_FILE}: {e}") from e
        try:
            index = ImageIndex.from_bytes(raw, what=INDEX_FILE)
            obj = load_json_object(raw, INDEX_FILE)
        except ArtifactError as e:
            raise LayoutError(f"{self.path}: invalid {INDEX_FILE}: {e.message}") from e
        except DigestError as e:
            raise LayoutError(f"{self.path}: invalid {INDEX_FILE}: {e.message}") from e
        return index, obj

    def _read_blob(self, desc: Descriptor) -> bytes:
        path = self.blob_path(desc.digest)
        try:
            with path.open("rb") as f:
                actual_size = os.fstat(f.fileno()).st_size
                if actual_size != desc.size:
                    raise DigestError(
                        f"content size mismatch for {desc.digest}: expected {desc.size} bytes, got {actual_size}"
                    )
                data = f.read(desc.size + 1)
        except FileNotFoundError:
            raise NotFoundError(f"{desc.digest}: not found in OCI layout {self.path}") from None
        except IsADirectoryError as e:
            raise LayoutError(f"{path}: is a directory") from e
        except OSError as e:
            raise LayoutError(f"cannot read {path}: {e}") from e
        verify(data, desc.digest, desc.size)
        return data

    def fetch_manifest(self, desc: Descriptor) -> bytes:
        """See :meth:`ArtifactStore.fetch_manifest`.

        Raises:
            NotFoundError: The manifest blob does not exist.
            ArtifactError: ``desc`` is not a manifest or declares more than 4 MiB.
            DigestError: The content does not match ``desc``.
        """
        check_manifest_descriptor(desc)
        return self._read_blob(desc)

    def fetch_blob(self, desc: Descriptor, max_size: int) -> bytes:
        """See :meth:`ArtifactStore.fetch_blob`.

        Raises:
            NotFoundError: The blob does not exist.
            ArtifactError: ``desc.size`` exceeds ``max_size``.
            DigestError: The content does not match ``desc``.
        """
        check_blob_size(desc, max_size)
        return self._read_blob(desc)

    def tags(self) -> list[str]:
        """The tags listed in ``index.json``, sorted.

        Raises:
            LayoutError: ``index.json`` is missing or invalid.
        """
        index, _ = self._read_index()
        return sorted(
            {
                d.annotations[ANNOTATION_REF_NAME]
                for d in index.manifests
                if d.annotations and ANNOTATION_REF_NAME in d.annotations
            }
        )

    def _walk(self, roots: tuple[Descriptor, ...], read_manifests: bool) -> Iterator[tuple[Descriptor, bytes | None]]:
        """Every manifest listed in ``roots`` and below listed indexes, once each.

        Yields the descriptor (as listed) and the verified bytes of indexes and, if
        ``read_manifests``, of OCI image manifests; other content is not read (Docker manifests
        cannot have a subject).
        """
        seen: set[Digest] = set()
        stack: list[tuple[Descriptor, int]] = [(d, 0) for d in reversed(roots)]
        while stack:
            desc, depth = stack.pop()
            if desc.digest in seen:
                continue
            seen.add(desc.digest)
            is_index = desc.media_type in INDEX_MEDIA_TYPES
            if not (is_index or (read_manifests and desc.media_type == MEDIA_TYPE_OCI_MANIFEST)):
                yield desc, None
                continue
            data = self.fetch_manifest(desc)
            yield desc, data
            if is_index and depth < _MAX_DEPTH:
                child = ImageIndex.from_bytes(data, desc.media_type)
                stack.extend((d, depth + 1) for d in reversed(child.manifests))

    def resolve(self, reference: str) -> Descriptor:
        """Resolve a tag or digest to the plain descriptor (media type, digest, size) of a manifest.

        Raises:
            UsageError: ``reference`` is empty.
            NotFoundError: No manifest is known by that reference.
            LayoutError: The tag names several different manifests, or ``index.json`` is invalid.
            DigestError: A manifest read while resolving does not match its descriptor.
        """
        if not reference:
            raise UsageError("missing reference: a tag or digest is required")
        index, _ = self._read_index()
        try:
            digest = Digest.parse(reference)
        except DigestError:
            return self._resolve_tag(index, reference)
        return self._resolve_digest(index, digest)

    def _resolve_tag(self, index: ImageIndex, tag: str) -> Descriptor:
        matches = [d for d in index.manifests if d.annotations and d.annotations.get(ANNOTATION_REF_NAME) == tag]
        if not matches:
            raise NotFoundError(f"{tag}: not found in OCI layout {self.path}")
        if len({(d.media_type, d.digest, d.size) for d in matches}) > 1:
            digests = ", ".join(sorted({str(d.digest) for d in matches}))
            raise LayoutError(f"{self.path}: tag {tag!r} names several manifests: {digests}")
        return matches[0].plain()

    def _resolve_digest(self, index: ImageIndex, digest: Digest) -> Descriptor:
        for desc in index.manifests:
            if desc.digest == digest:
                return desc.plain()
        for desc, _ in self._walk(index.manifests, read_manifests=False):
            if desc.digest == digest:
                return desc.plain()
        return self._resolve_blob(digest)

    def _resolve_blob(self, digest: Digest) -> Descriptor:
        path = self.blob_path(digest)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise NotFoundError(f"{digest}: not found in OCI layout {self.path}") from None
        except OSError as e:
            raise LayoutError(f"cannot read {path}: {e}") from e
        if size > MAX_MANIFEST_SIZE:
            raise NotFoundError(f"{digest}: not a manifest in OCI layout {self.path} (blob too large)")
        probe = Descriptor("application/octet-stream", digest, size)
        data = self._read_blob(probe)
        try:
            media_type = load_json_object(data, str(digest)).get("mediaType")
        except ArtifactError:
            media_type = None
        if not isinstance(media_type, str):
            raise NotFoundError(
                f"{digest}: not a manifest in OCI layout {self.path} "
                "(not listed in index.json and the blob has no mediaType)"
            )
        try:
            parse_any(data, media_type)
        except (ArtifactError, DigestError) as e:
            raise NotFoundError(f"{digest}: not a manifest in OCI layout {self.path}: {e.message}") from e
        return Descriptor(media_type, digest, size)

    def referrers(self, subject: Descriptor, artifact_type: str | None = None) -> Iterator[Descriptor]:
        """Manifests whose ``subject`` digest is ``subject.digest`` (see the module docstring).

        Each is reported with ``artifactType`` (falling back to the config media type) and
        annotations taken from its content.

        Raises:
            LayoutError: ``index.json`` is invalid.
            NotFoundError: A listed manifest is missing.
            DigestError: A listed manifest does not match its descriptor.
            ArtifactError: A listed manifest is malformed.
        """
        index, _ = self._read_index()
        for desc, data in self._walk(index.manifests, read_manifests=True):
            if data is None or desc.media_type not in _REFERRER_MEDIA_TYPES:
                continue
            parsed = parse_any(data, desc.media_type)
            if parsed.subject is None or parsed.subject.digest != subject.digest:
                continue
            referrer = referrer_descriptor(desc.plain(), data)
            if artifact_type is None or referrer.artifact_type == artifact_type:
                yield referrer

    # --- writing ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if sys.platform == "win32":  # pragma: no cover - no advisory locking there
            yield
            return
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _write_blob(self, digest: Digest, data: bytes) -> None:
        path = self.blob_path(digest)
        try:
            if path.is_file():
                existing = path.read_bytes()
                if len(existing) == len(data) and compute(existing, digest.algorithm) == digest:
                    return  # content-addressed: already there
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, data)
        except OSError as e:
            raise LayoutError(f"cannot write {path}: {e}") from e

    def push_blob(self, media_type: str, data: bytes) -> Descriptor:
        """Store ``data`` under ``blobs/sha256/`` (rewriting a corrupt copy) and describe it.

        Raises:
            ArtifactError: ``media_type`` is invalid.
            LayoutError: The blob cannot be written.
        """
        desc = Descriptor.of(media_type, data)
        self._write_blob(desc.digest, data)
        return desc

    def push_manifest(self, media_type: str, data: bytes, tag: str | None = None) -> Descriptor:
        """Store the exact manifest bytes and list them in ``index.json``.

        Every blob and child manifest the manifest references must already be in the layout
        (except descriptors with ``urls``), as a registry requires.

        Returns:
            The manifest's descriptor with ``artifactType`` (falling back to the config media
            type) and annotations from its content.

        Raises:
            UsageError: ``tag`` is not a valid tag.
            ArtifactError: The manifest is invalid, larger than 4 MiB, or references missing content.
            DigestError: A descriptor in the manifest has a malformed digest.
            LayoutError: The layout cannot be written.
        """
        if tag is not None and not is_layout_tag(tag):
            raise UsageError(f"invalid tag {tag!r}")
        if len(data) > MAX_MANIFEST_SIZE:
            raise ArtifactError(f"manifest too large: {len(data)} bytes")
        parsed = parse_any(data, media_type)
        required = [parsed.config, *parsed.layers] if isinstance(parsed, ImageManifest) else list(parsed.manifests)
        for ref in required:
            if not ref.urls and not self.blob_path(ref.digest).is_file():
                raise ArtifactError(
                    f"manifest references {ref.digest} ({ref.media_type}), which is not in the layout; push it first"
                )
        digest = compute(data)
        self._write_blob(digest, data)
        entry = Descriptor(
            media_type, digest, len(data), annotations=parsed.annotations, artifact_type=parsed.artifact_type
        ).to_dict()
        with self._locked():
            _, obj = self._read_index()
            manifests: list[Any] = obj["manifests"]
            obj["manifests"] = _add_entry(manifests, entry, tag)
            try:
                atomic_write(self.path / INDEX_FILE, go_json(obj))
            except OSError as e:
                raise LayoutError(f"cannot write {self.path / INDEX_FILE}: {e}") from e
        return referrer_descriptor(Descriptor(media_type, digest, len(data)), data)


def _ref_name(entry: dict[str, Any]) -> str | None:
    annotations = entry.get("annotations")
    value = annotations.get(ANNOTATION_REF_NAME) if isinstance(annotations, dict) else None
    return value if isinstance(value, str) else None


def _add_entry(manifests: list[dict[str, Any]], entry: dict[str, Any], tag: str | None) -> list[dict[str, Any]]:
    """``index.json`` manifests with ``entry`` listed (and tagged ``tag``), as oras-go would list them."""
    digest = entry["digest"]
    if tag is None:
        if any(m.get("digest") == digest for m in manifests):
            return manifests
        return [*manifests, entry]
    out: list[dict[str, Any]] = []
    for m in manifests:
        if m.get("digest") == digest and _ref_name(m) in (None, tag):
            continue  # replaced by the tagged entry below
        if _ref_name(m) == tag:
            # The tag moves; the manifest it named stays listed without a tag unless listed otherwise.
            if not any(o.get("digest") == m.get("digest") for o in manifests if o is not m):
                untagged = dict(m)
                untagged["annotations"] = {k: v for k, v in m["annotations"].items() if k != ANNOTATION_REF_NAME}
                if not untagged["annotations"]:
                    del untagged["annotations"]
                out.append(untagged)
            continue
        out.append(m)
    tagged = dict(entry)
    tagged["annotations"] = dict(sorted({**entry.get("annotations", {}), ANNOTATION_REF_NAME: tag}.items()))
    # Keep Go's key order: annotations come before artifactType.
    first: tuple[str, ...] = ("mediaType", "digest", "size", "urls", "annotations")
    ordered = {k: tagged[k] for k in first if k in tagged}
    ordered |= {k: v for k, v in tagged.items() if k not in ordered}
    return [*out, ordered]
