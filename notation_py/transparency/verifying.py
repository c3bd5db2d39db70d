"""The ``transparency`` verification check: a signature that was not publicly logged does not verify.

A trust policy statement opts in with its ``transparencyLog`` member (:class:`TransparencyPolicy`).
For each signature the check

1. looks for proofs stored beside it (OCI: referrers of the signature manifest with artifact type
   :data:`ARTIFACT_TYPE_TLOG_PROOF`; blobs: ``<signature>.tlog-proof``) and verifies them offline:
   checkpoint signed by a trusted log key under its own origin, and inclusion of the leaf
   *recomputed* from the envelope and the artifact being verified;
2. online (``"online": true`` or ``--tlog-online``), when no proof is stored (an image copied without
   its referrers), finds the entry through the log's search API and proves it against the log's
   latest checkpoint; and with a stored proof, checks that the latest checkpoint is consistent with
   the proof's (a log that rolled back or forked fails);
3. without a proof and offline: fails when ``required``, else there is nothing to check.

A stored proof that does not verify always fails the check, ``required`` or not: a forged or stale
proof is evidence of tampering, not an absence of evidence. The level decides what a failure does
(enforced at strict and permissive, logged at audit, skipped at skip).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from notation_py.envelope.model import EnvelopeContent
from notation_py.envelope.payload import parse_payload
from notation_py.errors import ArtifactError, DigestError, NotationError, TransparencyError, UsageError
from notation_py.oci.descriptor import Descriptor
from notation_py.oci.signatures import FetchedSignature
from notation_py.oci.store import ArtifactStore
from notation_py.transparency.client import LogClient
from notation_py.transparency.files import read_proof_file
from notation_py.transparency.online import check_consistency_online, find_in_log
from notation_py.transparency.policy import TransparencyPolicy
from notation_py.transparency.proof import Inclusion, verify_proof_offline
from notation_py.transparency.referrer import announced_proofs, embedded_proof, find_proof_referrers
from notation_py.transparency.signature import LoggedSignature
from notation_py.verify import TransparencyCheck


class TransparencyVerifier:
    """Runs the ``transparency`` check of one trust policy statement.

    Args:
        policy: The statement's ``transparencyLog`` member.
        online: Also check online (``--tlog-online``), whatever the policy says.
        url: The log URL (``--tlog``), overriding the policy's ``url``.
        client: A ready client (tests); by default one is created on first online use.

    Raises:
        UsageError: online checking is asked for but no log URL is known.
    """

    def __init__(
        self,
        policy: TransparencyPolicy,
        *,
        online: bool = False,
        url: str | None = None,
        client: LogClient | None = None,
    ) -> None:
        self.policy = policy
        self.online = online or policy.online
        self.url = url or policy.url
        if self.online and self.url is None and client is None:
            raise UsageError(
                "online transparency checks need the log's URL: set transparencyLog.url in the trust policy "
                "or pass --tlog URL"
            )
        self._client = client
        self._owns_client = client is None
        self._pool: ThreadPoolExecutor | None = None

    def _log(self) -> LogClient:
        if self._client is None:
            assert self.url is not None
            self._client = LogClient(self.url)
        return self._client

    def close(self) -> None:
        """Close the HTTP client this verifier created and stop its lookups."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None and self._owns_client:
            self._client.close()
            self._client = None

    def __enter__(self) -> TransparencyVerifier:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- the check, per storage ---------------------------------------------------------------

    def oci_check(
        self,
        store: ArtifactStore,
        subject: Descriptor,
        manifest: Descriptor,
        listing: Sequence[Descriptor] = (),
    ) -> Callable[[FetchedSignature], TransparencyCheck]:
        """The check of the signature ``manifest`` (a referrer of ``subject``), bound to it once it is read.

        ``listing`` is the subject's unfiltered referrers listing, if the caller read one: a proof
        *announced* there (:func:`~notation_py.transparency.referrer.announced_proofs`) costs no
        request. Otherwise, or if it does not verify, the proof referrers of the signature manifest are
        looked up — starting at once, in a background thread, so that the lookup overlaps the
        signature's own fetch and verification (``docs/performance.md``). The thread inherits the
        caller's context, and with it the operation's deadline (:mod:`notation_py.deadline`).
        """

        def proofs(embedded: bool) -> tuple[list[bytes], list[str], bool]:
            unreadable: list[TransparencyError] = []  # junk referrers must not hide a good proof
            try:
                found = find_proof_referrers(store, manifest, errors=unreadable, embedded=embedded)
            except (ArtifactError, DigestError) as exc:
                raise TransparencyError(
                    f"cannot read the transparency log proofs of signature {manifest.digest}: {exc.message}"
                ) from None
            used_embedded = embedded and any(embedded_proof(desc) is not None for desc, _data in found)
            return [data for _desc, data in found], [e.message for e in unreadable], used_embedded

        # The proof copies in the referrers listing first (no extra round trips); only if none of
        # them verifies, the digest-addressed layers (a registry may have mangled annotations).
        announced = announced_proofs(listing, manifest)
        # The lookup runs in a copy of this context, so it keeps to the operation's deadline
        # (notation_py.deadline): close() waits for it, and verification's caller for close().
        lookup = None if announced else self._executor().submit(contextvars.copy_context().run, proofs, True)

        def bind(signature: FetchedSignature) -> TransparencyCheck:
            logged = LoggedSignature.for_artifact(signature.envelope, signature.envelope_media_type, subject, manifest)

            def check(_content: EnvelopeContent) -> Inclusion | None:
                if announced:
                    try:
                        return self.prove(logged, announced)
                    except TransparencyError:
                        pass  # stale or mangled: the signature manifest's own proof referrers decide
                listed, unreadable, used_embedded = lookup.result() if lookup is not None else proofs(True)
                try:
                    return self.prove(logged, listed, unreadable)
                except TransparencyError:
                    if not used_embedded:
                        raise
                fetched, unreadable, _ = proofs(embedded=False)
                return self.prove(logged, fetched, unreadable)

            return check

        return bind

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tlog-proofs")
        return self._pool

    def blob_check(self, signature_path: Path, envelope: bytes, envelope_media_type: str) -> TransparencyCheck:
        """The check of a blob signature file; its proof is ``<signature_path>.tlog-proof``.

        The subject is the payload's target artifact: the (always enforced) target check that
        follows makes sure it describes the blob being verified.
        """

        def check(content: EnvelopeContent) -> Inclusion | None:
            try:
                target = parse_payload(content.payload)
            except NotationError as exc:
                raise TransparencyError(f"cannot read the signed payload: {exc.message}") from None
            logged = LoggedSignature.for_blob(envelope, envelope_media_type, target)
            proof = read_proof_file(signature_path)
            return self.prove(logged, [proof] if proof is not None else [])

        return check

    # --- the decision ---------------------------------------------------------------------------

    def prove(
        self, logged: LoggedSignature, proofs: list[bytes], unreadable: list[str] | None = None
    ) -> Inclusion | None:
        """Prove ``logged`` from stored ``proofs`` (and the log, online); see the module docstring.

        ``unreadable`` lists why stored proofs that could not even be read were skipped: they count
        as rejected proofs when no other proof verifies.

        Raises:
            TransparencyError: no acceptable proof, or the log is not consistent with it.
        """
        rejected: list[str] = list(unreadable or ())
        inclusion: Inclusion | None = None
        for proof in proofs:
            try:
                inclusion = verify_proof_offline(proof, logged, self.policy)
                break
            except TransparencyError as exc:
                rejected.append(exc.message)
        if inclusion is None and rejected:
            reasons = "; ".join(rejected)
            raise TransparencyError(f"transparency log proof rejected: {reasons}")
        if inclusion is None:
            if self.online:
                # Proven against the latest checkpoint, so no separate consistency check is needed.
                return find_in_log(self._log(), logged, self.policy)
            if self.policy.required:
                raise TransparencyError(
                    "the signature has no transparency log proof and the trust policy requires one "
                    "(with --tlog-online the log is searched for it)"
                )
            return None
        if self.online:
            check_consistency_online(inclusion, self._log(), self.policy)
        return inclusion


__all__ = ["TransparencyVerifier"]
