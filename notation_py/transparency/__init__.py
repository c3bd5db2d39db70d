"""Transparency logging of signatures: log at signing time, require inclusion proofs at verification.

``notation-py`` records each signing event in a ``tlog`` log (``docs/tlog.md``) and keeps the
log's ``c2sp.org/tlog-proof@v1`` proof with the signature; verifiers check that proof offline
against log keys pinned in the trust policy, optionally check online that the log has not forked
or rolled back since, and can look an entry up in the log when no proof was stored.

Modules:

* :mod:`~notation_py.transparency.policy` — the trust policy ``transparencyLog`` member;
* :mod:`~notation_py.transparency.signature` — what a verifier holds, and the log entry recomputed from it;
* :mod:`~notation_py.transparency.checkpoints` — when a signed checkpoint is trusted;
* :mod:`~notation_py.transparency.proof` — the proof's ``extra`` line and offline verification;
* :mod:`~notation_py.transparency.client` — the HTTP client of a log;
* :mod:`~notation_py.transparency.online` — submit and prove, online consistency, search;
* :mod:`~notation_py.transparency.referrer` — the proof as an OCI referrer of the signature manifest;
* :mod:`~notation_py.transparency.files` — the proof of a blob signature, ``<signature>.tlog-proof``.
* :mod:`~notation_py.transparency.recording` and :mod:`~notation_py.transparency.verifying` — the
  integration with signing and verification (``sign --tlog``, the ``transparency`` check).

Design decisions:

* **Never trust shipped entry bytes.** A log entry is a pure function of the subject, the envelope,
  its media type, the signature manifest digest and the repository the signer named. The verifier
  holds all but the repository, which travels in the proof's ``extra`` line as
  ``{"repository":"registry/repo"}`` (canonical JSON; no line without a repository); the leaf is
  recomputed, so a proof for another entry, subject, signature manifest or repository fails.
* **Pinned keys, own name.** A checkpoint is trusted only if signed by one of the policy's
  ``verifierKeys`` whose name is the checkpoint's origin, with ``witnessQuorum`` distinct
  ``witnessKeys`` cosigning when required.
* **Where proofs live.** OCI artifacts: a referrer of the *signature manifest* with artifact type
  :data:`ARTIFACT_TYPE_TLOG_PROOF` and one :data:`MEDIA_TYPE_TLOG_PROOF` layer; its annotations
  (origin, index, tree size, created) are informational only. Blobs: ``<signature>.tlog-proof``.

Every failure is a :class:`~notation_py.errors.TransparencyError` (a ``VerificationError``) with a
one-line message, except configuration mistakes (``TrustPolicyError``, ``UsageError``) and store
failures while pushing (``ArtifactError``).
"""

from __future__ import annotations

from notation_py.transparency.checkpoints import open_trusted_checkpoint
from notation_py.transparency.client import MAX_RESPONSE_SIZE, MAX_SEARCH_RESULTS, LogClient, SubmitResult
from notation_py.transparency.files import PROOF_FILE_SUFFIX, proof_file_path, read_proof_file, write_proof_file
from notation_py.transparency.online import check_consistency_online, find_in_log, submit_and_prove
from notation_py.transparency.policy import POLICY_MEMBER, TransparencyPolicy
from notation_py.transparency.proof import (
    Inclusion,
    build_proof,
    decode_proof_extra,
    encode_proof_extra,
    verify_proof_offline,
)
from notation_py.transparency.recording import Recorded, record_artifact_signature, record_blob_signature
from notation_py.transparency.referrer import (
    ANNOTATION_TLOG_INDEX,
    ANNOTATION_TLOG_ORIGIN,
    ANNOTATION_TLOG_PROOF,
    ANNOTATION_TLOG_TREE_SIZE,
    ARTIFACT_TYPE_TLOG_PROOF,
    MAX_PROOF_BLOB_SIZE,
    MEDIA_TYPE_TLOG_PROOF,
    find_proof_referrers,
    proof_manifest,
    push_proof_referrer,
)
from notation_py.transparency.signature import LoggedSignature
from notation_py.transparency.verifying import TransparencyVerifier

__all__ = [
    "ANNOTATION_TLOG_INDEX",
    "ANNOTATION_TLOG_ORIGIN",
    "ANNOTATION_TLOG_PROOF",
    "ANNOTATION_TLOG_TREE_SIZE",
    "ARTIFACT_TYPE_TLOG_PROOF",
    "MAX_PROOF_BLOB_SIZE",
    "MAX_RESPONSE_SIZE",
    "MAX_SEARCH_RESULTS",
    "MEDIA_TYPE_TLOG_PROOF",
    "POLICY_MEMBER",
    "PROOF_FILE_SUFFIX",
    "Inclusion",
    "LogClient",
    "LoggedSignature",
    "Recorded",
    "SubmitResult",
    "TransparencyPolicy",
    "TransparencyVerifier",
    "build_proof",
    "check_consistency_online",
    "decode_proof_extra",
    "encode_proof_extra",
    "find_in_log",
    "find_proof_referrers",
    "open_trusted_checkpoint",
    "proof_file_path",
    "proof_manifest",
    "push_proof_referrer",
    "read_proof_file",
    "record_artifact_signature",
    "record_blob_signature",
    "submit_and_prove",
    "verify_proof_offline",
    "write_proof_file",
]
