"""The verifier-held inputs of a log entry: the leaf they recompute is the entry the log would write."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from notation_py.errors import TransparencyError
from tests.transparency.helpers import REPOSITORY, SIGNATURE_MANIFEST, logged_signature
from tlog.entry import Entry, Submission, build_entry


@pytest.mark.parametrize("repository", [REPOSITORY, None])
@pytest.mark.parametrize("manifest", [SIGNATURE_MANIFEST, None])
def test_leaf_is_what_the_log_builds_from_the_submission(repository: str | None, manifest: str | None) -> None:
    signature = logged_signature("signature-leaf", manifest)
    submission = signature.submission(repository)
    assert Submission.from_json(submission.to_json()) == submission
    logged = build_entry(submission)  # verifies the envelope, as the log does
    assert signature.leaf(repository) == logged.data
    parsed = Entry.from_bytes(logged.data)
    assert (parsed.subject.repository, parsed.signature_manifest_digest) == (repository, manifest)
    assert (parsed.subject.digest, parsed.subject.media_type, parsed.subject.size) == (
        signature.subject_digest,
        signature.subject_media_type,
        signature.subject_size,
    )


def test_leaf_depends_on_every_input() -> None:
    signature = logged_signature("signature-inputs")
    leaves = {
        signature.leaf(REPOSITORY),
        signature.leaf(None),
        signature.leaf("registry.example.com/other"),
        replace(signature, signature_manifest_digest=None).leaf(REPOSITORY),
    }
    assert len(leaves) == 4


def test_a_subject_the_envelope_does_not_sign_has_no_leaf() -> None:
    signature = logged_signature("signature-subject")
    with pytest.raises(TransparencyError, match=re.escape("cannot recompute the transparency log entry")):
        replace(signature, subject_media_type="application/vnd.oci.image.index.v1+json").leaf(None)
    with pytest.raises(TransparencyError, match="signature envelope rejected"):
        replace(signature, envelope=b"{}").leaf(None)
    assert "envelope=" not in repr(signature)  # the envelope bytes are not printed
