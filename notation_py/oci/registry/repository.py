"""One registry repository as an :class:`~notation_py.oci.store.ArtifactStore` (distribution-spec 1.1).

Exact bytes end to end: manifests are pushed by digest with their own media type as
``Content-Type`` and never re-serialised; every manifest and blob read is checked against its
descriptor's digest and size (reads stop as soon as they exceed the size), and a manifest read by
tag is checked against the registry's ``Docker-Content-Digest``.

Referrers (signatures) are listed with ``GET /v2/<name>/referrers/<digest>`` (``artifactType``
filter, ``Link`` pagination, client-side filtering when ``OCI-Filters-Applied`` does not name
``artifactType``). A ``404`` there (distribution 2.8 answers its plain-text router 404) switches
the repository to the referrers tag schema: an image index tagged ``<alg>-<hex>`` (a missing tag
is an empty list). The mode that works is remembered per repository by the client.

Pushing a manifest with a ``subject``: if the registry answers with ``OCI-Subject`` it indexed the
referrer itself. Otherwise (or with ``force_referrers_tag``) the tag schema index is updated by
read-modify-write: read the index (or start empty), add the descriptor if absent, push the new
index, read it back at once and again after a short jittered settle delay; when a concurrent
writer dropped the descriptor, start again (bounded, with jitter). Registries such as distribution
2.8 ignore ``If-Match``, so this narrows the race between concurrent signers without closing it: a
writer slower than the settle delay can still overwrite (measured on distribution 2.8.2: 12
simultaneous signers x 10 runs lost nothing; without the settle re-read 11 of 80 were lost).
Deleting the superseded index by digest is optional (``referrers_gc``, off by default).

Concurrent uploads of the same blob (the empty config of concurrent signers) make distribution
2.8 answer 500 or later refuse a manifest with ``MANIFEST_BLOB_UNKNOWN``: the upload is repeated
(bounded) and small blobs pushed through the repository are uploaded again once before the
manifest push is retried.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Iterator
from typing import Any, Final

import httpx

from notation_py.deadline_http import body_within
from notation_py.errors import ArtifactError, DigestError, RegistryError, UsageError
from notation_py.oci.descriptor import Descriptor
from notation_py.oci.digest import Digest, compute, verify
from notation_py.oci.manifest import (
    ALL_MANIFEST_MEDIA_TYPES,
    INDEX_MEDIA_TYPES,
    MAX_MANIFEST_SIZE,
    MEDIA_TYPE_OCI_INDEX,
    ImageIndex,
    ImageManifest,
    go_json,
    load_json_object,
    parse_any,
    referrer_descriptor,
)
from notation_py.oci.reference import is_tag
from notation_py.oci.registry.auth import repository_scope
from notation_py.oci.registry.client import (
    MAX_ERROR_BODY,
    RegistryClient,
    Reply,
    host_of,
    not_found,
    read_limited,
    registry_error,
)
from notation_py.oci.store import check_blob_size, check_manifest_descriptor

logger = logging.getLogger(__name__)

#: ``Accept`` for manifests of unknown type.
MANIFEST_ACCEPT: Final = ", ".join(ALL_MANIFEST_MEDIA_TYPES)
#: Largest referrers API page read.
MAX_REFERRERS_PAGE: Final = 4 * 1024 * 1024
#: Most referrers API pages followed.
MAX_REFERRERS_PAGES: Final = 1000

#: Reads of the referrers tag index when it answers 500 (see :meth:`Repository._read_referrers_index`).
_INDEX_READ_ATTEMPTS: Final = 3

#: Upload attempts of one blob when the final ``PUT`` fails and the blob is not there.
_UPLOAD_ATTEMPTS: Final = 5
#: Pushed blobs kept for a re-upload (see :meth:`Repository.push_manifest`): count and size limits.
_REMEMBER_MAX_COUNT: Final = 16
_REMEMBER_MAX_SIZE: Final = 1024 * 1024

MODE_API: Final = "api"
MODE_TAG: Final = "tag"


def referrers_tag(digest: Digest) -> str:
    """The referrers tag schema tag of ``digest``: ``<alg>-<hex>`` with the hex cut to 64 characters."""
    return f"{digest.algorithm}-{digest.hex[:64]}"


def _media_type(headers: httpx.Headers) -> str:
    return str(headers.get("content-type", "")).split(";", 1)[0].strip()


def _parse_link_next(headers: httpx.Headers, base: httpx.URL) -> httpx.URL | None:
    """The ``rel="next"`` target of RFC 8288 ``Link`` headers, resolved against ``base``."""
    for value in headers.get_list("link"):
        for part in value.split(","):
            target, _, params = part.strip().partition(">")
            if not target.startswith("<"):
                continue
            rels = [
                p.split("=", 1)[1].strip().strip('"').split()
                for p in params.split(";")
                if p.strip().lower().startswith("rel=")
            ]
            if any("next" in r for r in rels):
                return base.join(target[1:])
    return None


class Repository:
    """A repository in a registry, implementing :class:`~notation_py.oci.store.ArtifactStore`.

    Obtain one from :meth:`RegistryClient.repository`; it shares the client's connections,
    authentication state and referrers-mode cache.

    Attributes:
        registry: The registry host (``name[:port]``).
        name: The repository path.
    """

    def __init__(self, client: RegistryClient, registry: str, name: str) -> None:
        """Address ``registry/name`` through ``client``."""
        self.client = client
        self.registry = registry
        self.name = name
        self._base = f"{client.base_url(registry)}/v2/{name}"
        self._pull = (repository_scope(name, "pull"),)
        self._push = (repository_scope(name, "pull", "push"),)
        self._delete = (repository_scope(name, "delete"),)
        self._recent_blobs: dict[Digest, bytes] = {}

    def __repr__(self) -> str:
        return f"Repository({self.registry}/{self.name})"

    # --- helpers ------------------------------------------------------------------------------

    @property
    def referrers_mode(self) -> str | None:
        """``"api"``, ``"tag"`` or ``None`` (not yet known) for this repository."""
        return self.client.referrers_modes.get((self.registry, self.name))

    def _set_mode(self, mode: str) -> None:
        self.client.referrers_modes[(self.registry, self.name)] = mode

    def _what(self, reference: str) -> str:
        sep = "@" if ":" in reference else ":"
        return f"{self.registry}/{self.name}{sep}{reference}"

    def _error(self, reply: Reply, what: str) -> RegistryError:
        return registry_error(self.registry, reply, what)

    def _manifest_url(self, reference: str) -> str:
        return f"{self._base}/manifests/{reference}"

    @staticmethod
    def _check_reference(reference: str) -> None:
        if not reference:
            raise UsageError("missing reference: a tag or digest is required")
        try:
            Digest.parse(reference)
        except DigestError:
            if not is_tag(reference):
                raise UsageError(f"invalid reference {reference!r}: not a tag or a digest") from None

    # --- resolve ------------------------------------------------------------------------------

    def resolve(self, reference: str) -> Descriptor:
        """Resolve a tag or digest with ``HEAD`` (``GET`` when the answer lacks headers).

        The media type comes from ``Content-Type``, the digest from ``Docker-Content-Digest``
        and the size from ``Content-Length``. For a digest reference the registry's digest must
        match it.

        Raises:
            UsageError: ``reference`` is neither a tag nor a digest.
            NotFoundError: Nothing is known by that reference.
            DigestError: The registry named another digest, or the bytes do not match.
            ArtifactError: The answer does not describe a manifest.
            RegistryError: The registry refused or could not be reached.
        """
        self._check_reference(reference)
        what = self._what(reference)
        requested = Digest.parse(reference) if ":" in reference else None
        reply = self.client.request(
            "HEAD",
            self._manifest_url(reference),
            scopes=self._pull,
            headers={"Accept": MANIFEST_ACCEPT},
            activity=f"resolving {what}",
        )
        if reply.status == 404:
            raise not_found(self.registry, reply, f"{what}: not found")
        if reply.status in (400, 405, 501):  # HEAD not supported: GET answers the same question
            return self._resolve_by_get(reference, requested, what)
        if not reply.ok:
            raise self._error(reply, f"resolve {what}")
        media_type = _media_type(reply.headers)
        raw_digest = reply.headers.get("docker-content-digest")
        length = reply.headers.get("content-length", "")
        if media_type in ALL_MANIFEST_MEDIA_TYPES and raw_digest and length.isdigit() and int(length) > 0:
            try:
                digest = Digest.parse(raw_digest)
            except DigestError as e:
                raise DigestError(f"resolve {what}: registry sent an invalid digest: {e.message}") from None
            if requested is not None and digest != requested:
                raise DigestError(f"resolve {what}: registry answered digest {digest}")
            desc = Descriptor(media_type, digest, int(length))
            check_manifest_descriptor(desc)
            return desc
        return self._resolve_by_get(reference, requested, what)

    def _resolve_by_get(self, reference: str, requested: Digest | None, what: str) -> Descriptor:
        reply = self.client.request(
            "GET",
            self._manifest_url(reference),
            scopes=self._pull,
            headers={"Accept": MANIFEST_ACCEPT},
            max_body=MAX_MANIFEST_SIZE,
            activity=f"resolving {what}",
        )
        if reply.status == 404:
            raise not_found(self.registry, reply, f"{what}: not found")
        if not reply.ok:
            raise self._error(reply, f"resolve {what}")
        data = reply.body
        algorithm = requested.algorithm if requested is not None else "sha256"
        actual = compute(data, algorithm)
        self._check_served_digest(reply, data, what)
        if requested is not None and actual != requested:
            raise DigestError(f"resolve {what}: content digest mismatch: expected {requested}, got {actual}")
        media_type = _media_type(reply.headers)
        if media_type not in ALL_MANIFEST_MEDIA_TYPES:
            try:
                declared = load_json_object(data, what).get("mediaType")
            except ArtifactError:
                declared = None
            if not isinstance(declared, str) or declared not in ALL_MANIFEST_MEDIA_TYPES:
                raise ArtifactError(f"resolve {what}: the registry did not answer with a manifest ({media_type!r})")
            media_type = declared
        return Descriptor(media_type, actual, len(data))

    def _check_served_digest(self, reply: Reply, data: bytes, what: str) -> None:
        """Check ``data`` against the answer's ``Docker-Content-Digest``, when there is one."""
        raw = reply.headers.get("docker-content-digest")
        if not raw:
            return
        try:
            served = Digest.parse(raw)
        except DigestError as e:
            raise DigestError(f"{what}: registry sent an invalid digest: {e.message}") from None
        actual = compute(data, served.algorithm)
        if actual != served:
            raise DigestError(f"{what}: content digest mismatch: expected {served}, got {actual}")

    # --- reading ------------------------------------------------------------------------------

    def fetch_manifest(self, desc: Descriptor) -> bytes:
        """The exact manifest bytes ``desc`` describes (GET by digest), digest and size verified.

        Raises:
            NotFoundError: The manifest does not exist.
            ArtifactError: ``desc`` is not a manifest or declares more than 4 MiB.
            DigestError: The content does not match ``desc``.
            RegistryError: The registry refused or could not be reached.
        """
        check_manifest_descriptor(desc)
        return self._fetch_exact(self._manifest_url(str(desc.digest)), desc, desc.media_type)

    def fetch_blob(self, desc: Descriptor, max_size: int) -> bytes:
        """The exact blob bytes ``desc`` describes, digest and size verified, read in a stream.

        Redirects (blob storage) are followed; credentials are not sent to other hosts.

        Raises:
            NotFoundError: The blob does not exist.
            ArtifactError: ``desc.size`` exceeds ``max_size``.
            DigestError: The content does not match ``desc``.
            RegistryError: The registry refused or could not be reached.
        """
        check_blob_size(desc, max_size)
        return self._fetch_exact(f"{self._base}/blobs/{desc.digest}", desc, None)

    def _fetch_exact(self, url: str, desc: Descriptor, accept: str | None) -> bytes:
        what = self._what(str(desc.digest))
        headers = {"Accept": accept} if accept else {}
        activity = f"fetching {what}"
        with self.client.stream(
            "GET", url, scopes=self._pull, headers=headers, follow_redirects=True, activity=activity
        ) as (response, retries):
            deadline = self.client.deadline()
            if not 200 <= response.status_code < 300:
                body = read_limited(response, MAX_ERROR_BODY, truncate=True, deadline=deadline, activity=activity)
                reply = Reply(response.status_code, response.headers, body, response.url, retries)
                if reply.status == 404:
                    raise not_found(self.registry, reply, f"{what}: not found")
                raise self._error(reply, f"fetch {what}")
            declared = response.headers.get("content-length")
            encoded = response.headers.get("content-encoding", "identity").lower() not in ("", "identity")
            if declared is not None and declared.isdigit() and not encoded and int(declared) != desc.size:
                raise DigestError(
                    f"{what}: content size mismatch: expected {desc.size} bytes, registry announced {declared}"
                )
            buf = bytearray()
            try:
                with body_within(response, deadline, activity) as chunks:
                    for chunk in chunks:
                        buf += chunk
                        if len(buf) > desc.size:
                            raise DigestError(
                                f"{what}: content size mismatch: expected {desc.size} bytes, got more; stopped reading"
                            )
            except httpx.TransportError as e:
                raise RegistryError(f"fetch {what}: reading from registry {self.registry} failed: {e}") from None
        data = bytes(buf)
        try:
            verify(data, desc.digest, desc.size)
        except DigestError as e:
            raise DigestError(f"{what}: {e.message}") from None
        return data

    # --- writing ------------------------------------------------------------------------------

    def push_blob(self, media_type: str, data: bytes) -> Descriptor:
        """Upload ``data`` unless the registry already has it (``HEAD``); ``POST`` then ``PUT``.

        The digest is appended to the upload ``Location`` as a query parameter, keeping the
        location's own query (upload state).

        Raises:
            ArtifactError: ``media_type`` is invalid.
            RegistryError: The registry refused the upload or could not be reached.
            DigestError: The registry recorded another digest.
        """
        desc = Descriptor.of(media_type, data)
        what = self._what(str(desc.digest))
        blob_url = f"{self._base}/blobs/{desc.digest}"
        for attempt in range(_UPLOAD_ATTEMPTS):
            if self._blob_exists(blob_url, what):
                self._remember(desc, data)
                return desc
            done = self._upload(desc, data, what)
            if done.ok:
                recorded = done.headers.get("docker-content-digest")
                if recorded and recorded != str(desc.digest):
                    raise DigestError(f"push blob {what}: registry recorded digest {recorded}")
                self._remember(desc, data)
                return desc
            # A retried PUT may find its session already completed, and distribution 2.8 answers
            # 500 while another client uploads the same blob: look again, upload again if needed.
            if not (done.status in (400, 404) or done.status >= 500) or attempt == _UPLOAD_ATTEMPTS - 1:
                break
            self.client.pause(attempt, f"pushing blob {what}")
        if self._blob_exists(blob_url, what):
            self._remember(desc, data)
            return desc
        raise self._error(done, f"push blob {what}")

    def _remember(self, desc: Descriptor, data: bytes) -> None:
        """Keep small pushed blobs for :meth:`_reupload_missing` (a few, oldest dropped first)."""
        if len(data) > _REMEMBER_MAX_SIZE:
            return
        self._recent_blobs.pop(desc.digest, None)
        self._recent_blobs[desc.digest] = data
        while len(self._recent_blobs) > _REMEMBER_MAX_COUNT:
            del self._recent_blobs[next(iter(self._recent_blobs))]

    def _reupload_missing(self, parsed: ImageManifest | ImageIndex) -> bool:
        """Upload again the remembered blobs ``parsed`` references; whether there were any."""
        if not isinstance(parsed, ImageManifest):
            return False
        again = [d for d in (parsed.config, *parsed.layers) if d.digest in self._recent_blobs]
        for ref in again:
            what = self._what(str(ref.digest))
            done = self._upload(ref, self._recent_blobs[ref.digest], what)
            if not done.ok and not self._blob_exists(f"{self._base}/blobs/{ref.digest}", what):
                raise self._error(done, f"push blob {what}")
        return bool(again)

    def _upload(self, desc: Descriptor, data: bytes, what: str) -> Reply:
        """``POST`` an upload session, then ``PUT`` the bytes with the digest; the ``PUT`` answer."""
        start = self.client.request(
            "POST", f"{self._base}/blobs/uploads/", scopes=self._push, idempotent=True, activity=f"pushing blob {what}"
        )
        if start.status != 202 and not start.ok:
            raise self._error(start, f"push blob {what}")
        location = start.headers.get("location")
        if not location:
            raise RegistryError(
                f"push blob {what}: registry {self.registry} answered {start.status} without a Location",
                status=start.status,
            )
        upload = start.url.join(location)
        separator = "&" if upload.query else "?"
        target = f"{upload}{separator}digest={urllib.parse.quote(str(desc.digest), safe='')}"
        return self.client.request(
            "PUT",
            target,
            scopes=self._push,
            headers={"Content-Type": "application/octet-stream"},
            content=data,
            activity=f"pushing blob {what}",
        )

    def _blob_exists(self, url: str, what: str) -> bool:
        reply = self.client.request(
            "HEAD", url, scopes=self._push, follow_redirects=True, activity=f"checking for blob {what}"
        )
        if reply.ok:
            return True
        if reply.status == 404:
            return False
        raise self._error(reply, f"push blob {what}")

    def push_manifest(self, media_type: str, data: bytes, tag: str | None = None) -> Descriptor:
        """Store the exact manifest bytes (``PUT`` by digest, or by ``tag``) with ``Content-Type: media_type``.

        A manifest with a ``subject`` is then recorded as a referrer (see the module docstring).

        Returns:
            The manifest's descriptor with ``artifactType`` and annotations, as listed by referrers.

        Raises:
            UsageError: ``tag`` is not a valid tag.
            ArtifactError: The manifest is invalid or larger than 4 MiB.
            RegistryError: The registry refused it (e.g. ``MANIFEST_BLOB_UNKNOWN``) or could not be reached.
            DigestError: The registry recorded another digest.
        """
        if tag is not None and not is_tag(tag):
            raise UsageError(f"invalid tag {tag!r}")
        if len(data) > MAX_MANIFEST_SIZE:
            raise ArtifactError(f"manifest too large: {len(data)} bytes")
        parsed = parse_any(data, media_type)
        desc = Descriptor(media_type, compute(data), len(data))
        what = f"push manifest {desc.digest}"
        try:
            reply = self._put_manifest(tag or str(desc.digest), media_type, data, what)
        except RegistryError as e:
            # distribution 2.8 can lose a blob that several clients upload at the same moment (the
            # empty config of concurrent signers): upload what we pushed again, then retry once.
            if e.status != 400 or "MANIFEST_BLOB_UNKNOWN" not in e.message or not self._reupload_missing(parsed):
                raise
            logger.debug("%s: the registry lost a blob just pushed; uploaded it again", what)
            reply = self._put_manifest(tag or str(desc.digest), media_type, data, what)
        entry = referrer_descriptor(desc, data)
        subject = parsed.subject
        if subject is not None:
            indexed = reply.headers.get("oci-subject")
            if indexed and indexed == str(subject.digest):
                self._set_mode(MODE_API)
            if not indexed or indexed != str(subject.digest) or self.client.options.force_referrers_tag:
                self._add_to_referrers_index(subject, entry)
        return entry

    def _put_manifest(self, reference: str, media_type: str, data: bytes, what: str) -> Reply:
        reply = self.client.request(
            "PUT",
            self._manifest_url(reference),
            scopes=self._push,
            headers={"Content-Type": media_type},
            content=data,
            activity=f"pushing manifest {self._what(reference)}",
        )
        if not reply.ok:
            raise self._error(reply, what)
        recorded = reply.headers.get("docker-content-digest")
        expected = compute(data)
        if recorded and recorded != str(expected):
            raise DigestError(f"{what}: registry recorded digest {recorded}, expected {expected}")
        return reply

    # --- referrers ----------------------------------------------------------------------------

    def referrers(self, subject: Descriptor, artifact_type: str | None = None) -> Iterator[Descriptor]:
        """Descriptors of the manifests whose ``subject`` is ``subject``, optionally filtered.

        Each referrer is listed once, even if the registry repeats it.

        Raises:
            ArtifactError: The answer is not a valid image index.
            DigestError: The tag schema index does not match the registry's digest.
            RegistryError: The registry refused or could not be reached.
        """
        seen: set[Digest] = set()
        source = self._referrers_api(subject, artifact_type) if self.referrers_mode != MODE_TAG else None
        if source is not None:
            for desc in source:
                if desc.digest not in seen:
                    seen.add(desc.digest)
                    yield desc
            if self.referrers_mode == MODE_API:
                return
        _, index = self._read_referrers_index(subject.digest)
        for desc in index.manifests if index is not None else ():
            if artifact_type is not None and desc.artifact_type != artifact_type:
                continue
            if desc.digest not in seen:
                seen.add(desc.digest)
                yield desc

    def _referrers_api(self, subject: Descriptor, artifact_type: str | None) -> Iterator[Descriptor]:
        """Pages of the referrers API; sets the mode to ``"tag"`` and stops if there is none."""
        url = httpx.URL(f"{self._base}/referrers/{subject.digest}")
        if artifact_type is not None:
            url = url.copy_merge_params({"artifactType": artifact_type})
        what = f"referrers of {self._what(str(subject.digest))}"
        visited: set[str] = set()
        for _ in range(MAX_REFERRERS_PAGES):
            visited.add(str(url))
            reply = self.client.request(
                "GET",
                url,
                scopes=self._pull,
                headers={"Accept": MEDIA_TYPE_OCI_INDEX},
                max_body=MAX_REFERRERS_PAGE,
                activity=f"reading the {what}",
            )
            if reply.status == 404 and self._error(reply, what).code == "NAME_UNKNOWN":
                return  # the API exists but the repository does not: nothing refers to anything
            unsupported = reply.status == 404 or (reply.ok and _media_type(reply.headers) != MEDIA_TYPE_OCI_INDEX)
            if unsupported and self.referrers_mode is None:
                logger.debug("%s: no referrers API (%d); using the referrers tag schema", what, reply.status)
                self._set_mode(MODE_TAG)
                return
            if not reply.ok:
                raise self._error(reply, f"list {what}")
            if _media_type(reply.headers) != MEDIA_TYPE_OCI_INDEX:
                raise ArtifactError(f"list {what}: answer is {_media_type(reply.headers)!r}, not an image index")
            self._set_mode(MODE_API)
            index = ImageIndex.from_bytes(reply.body, MEDIA_TYPE_OCI_INDEX, what=what)
            filters = {f.strip() for f in reply.headers.get("oci-filters-applied", "").split(",")}
            for desc in index.manifests:
                if artifact_type is None or "artifactType" in filters or desc.artifact_type == artifact_type:
                    yield desc
            following = _parse_link_next(reply.headers, reply.url)
            if following is None:
                return
            if (following.scheme, host_of(following)) != (reply.url.scheme, host_of(reply.url)):
                raise ArtifactError(f"list {what}: the next page is on another server ({host_of(following)})")
            if str(following) in visited:
                raise ArtifactError(f"list {what}: the registry's pagination loops")
            url = following
        raise ArtifactError(f"list {what}: more than {MAX_REFERRERS_PAGES} pages")

    def _read_referrers_index(self, subject: Digest) -> tuple[Reply | None, ImageIndex | None]:
        """The tag schema index of ``subject``: ``(None, None)`` when the tag does not exist.

        An answer that is not a valid image index counts as no referrers (distribution-spec);
        content that does not match the registry's digest is an error.
        """
        tag = referrers_tag(subject)
        what = f"referrers index {self._what(tag)}"
        for attempt in range(_INDEX_READ_ATTEMPTS):
            reply = self.client.request(
                "GET",
                self._manifest_url(tag),
                scopes=self._pull,
                headers={"Accept": ", ".join(INDEX_MEDIA_TYPES)},
                max_body=MAX_MANIFEST_SIZE,
                activity=f"reading the {what}",
            )
            # distribution 2.8 answers 500 while the tag still names an index another client has
            # just deleted; the tag moves on a moment later.
            if reply.status != 500 or attempt == _INDEX_READ_ATTEMPTS - 1:
                break
            self.client.pause(attempt, f"reading the {what}")
        if reply.status == 404:
            return None, None
        if not reply.ok:
            raise self._error(reply, f"read {what}")
        self._check_served_digest(reply, reply.body, what)
        try:
            return reply, ImageIndex.from_bytes(reply.body, None, what=what)
        except (ArtifactError, DigestError) as e:
            logger.warning("%s is not a valid image index (%s); treating it as empty", what, e.message)
            return reply, None

    def _add_to_referrers_index(self, subject: Descriptor, entry: Descriptor) -> None:
        """Record ``entry`` in the tag schema index of ``subject`` (read-modify-write, verified).

        After writing, the index is read back at once and again after the settle delay; if a
        concurrent writer dropped the entry meanwhile, the update starts over.
        """
        tag = referrers_tag(subject.digest)
        what = f"update referrers index {self._what(tag)}"
        options = self.client.options
        attempts = max(1, options.referrers_tag_attempts)
        wrote = False
        superseded: Reply | None = None
        new_digest: Digest | None = None
        for attempt in range(attempts):
            old_reply, old_index = self._read_referrers_index(subject.digest)
            listed = old_index is not None and any(d.digest == entry.digest for d in old_index.manifests)
            if listed and not wrote:
                return  # already recorded (a repeated push)
            if not listed:
                document: dict[str, Any] = {"schemaVersion": 2, "mediaType": MEDIA_TYPE_OCI_INDEX, "manifests": []}
                if old_reply is not None and old_index is not None:
                    document = load_json_object(old_reply.body, what)
                    document["mediaType"] = MEDIA_TYPE_OCI_INDEX
                document["manifests"] = [*document.get("manifests", []), entry.to_dict()]
                data = go_json(document)
                self._put_manifest(tag, MEDIA_TYPE_OCI_INDEX, data, what)
                wrote = True
                if old_reply is not None and old_index is not None and superseded is None:
                    superseded = old_reply
                new_digest = compute(data)
                if not self._index_lists(subject.digest, entry.digest):
                    logger.debug("%s: a concurrent writer replaced the index (attempt %d)", what, attempt + 1)
                    self.client.pause(attempt, what.replace("update", "updating", 1))
                    continue
            if options.referrers_settle > 0:
                self.client.wait(
                    options.referrers_settle * (0.5 + self.client.jitter()), what.replace("update", "updating", 1)
                )
                if not self._index_lists(subject.digest, entry.digest):
                    logger.debug("%s: a late concurrent writer replaced the index (attempt %d)", what, attempt + 1)
                    continue
            if options.referrers_gc and superseded is not None and new_digest is not None:
                self._delete_superseded(superseded, new_digest)
            return
        raise RegistryError(
            f"{what}: the referrer {entry.digest} was overwritten by concurrent updates {attempts} times; giving up"
        )

    def _index_lists(self, subject: Digest, referrer: Digest) -> bool:
        _, index = self._read_referrers_index(subject)
        return index is not None and any(d.digest == referrer for d in index.manifests)

    def _delete_superseded(self, old: Reply, new_digest: Digest) -> None:
        old_digest = compute(old.body)
        if old_digest == new_digest:
            return
        try:
            reply = self.client.request("DELETE", self._manifest_url(str(old_digest)), scopes=self._delete)
        except (RegistryError, ArtifactError) as e:
            logger.debug("could not delete the superseded referrers index %s: %s", old_digest, e.message)
            return
        if not reply.ok and reply.status != 404:
            logger.debug("could not delete the superseded referrers index %s: %d", old_digest, reply.status)
