"""Machine output (``-o json``): one JSON document on standard output, in a versioned schema.

Every document has ``schemaVersion`` (this module's :data:`SCHEMA_VERSION`; a change that removes or
renames a member bumps it, added members do not) and ``kind`` (the command). The schema is
documented in docs/json-output.md. While a command writes JSON its human-readable lines are not
printed (warnings still go to standard error), so standard output parses as one document, also when
the command fails: a failed verification prints ``"result": "failed"`` with the reasons, and exits 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from notation_py.errors import UsageError

if TYPE_CHECKING:
    from notation_py.oci.descriptor import Descriptor
    from notation_py.transparency import Inclusion, Recorded
    from notation_py.verify import SignatureOutcome, VerificationResult

__all__ = [
    "SCHEMA_VERSION",
    "check_output_format",
    "descriptor_json",
    "emit",
    "failure_json",
    "inclusion_json",
    "outcome_json",
    "recorded_json",
    "verification_json",
]

#: Version of the JSON documents' schema.
SCHEMA_VERSION: Final = 1


def check_output_format(value: str) -> bool:
    """``--output text|json``; True for JSON.

    Raises:
        UsageError: another value.
    """
    if value not in ("text", "json"):
        raise UsageError(f'unrecognized output format "{value}": use "text" or "json"')
    return value == "json"


def emit(kind: str, doc: Mapping[str, Any]) -> None:
    """Print one document of ``kind`` on standard output."""
    sys.stdout.write(json.dumps({"schemaVersion": SCHEMA_VERSION, "kind": kind, **doc}, indent=2) + "\n")
    sys.stdout.flush()


def descriptor_json(descriptor: Descriptor) -> dict[str, Any]:
    """An OCI descriptor's media type, digest and size."""
    return {"mediaType": descriptor.media_type, "digest": str(descriptor.digest), "size": descriptor.size}


def inclusion_json(inclusion: Inclusion | None) -> dict[str, Any] | None:
    """Where a signature was proven to be logged."""
    if inclusion is None:
        return None
    return {"origin": inclusion.origin, "index": inclusion.index, "treeSize": inclusion.tree_size}


def recorded_json(recorded: Recorded | None) -> dict[str, Any] | None:
    """What ``sign --tlog`` recorded, and where the proof was stored."""
    if recorded is None:
        return None
    return {**(inclusion_json(recorded.inclusion) or {}), "proof": recorded.proof_location}


def outcome_json(outcome: SignatureOutcome) -> dict[str, Any]:
    """One signature's verification: every check with its action, and the enforced failure if any."""
    target = outcome.target
    return {
        "source": outcome.source,
        "envelopeMediaType": outcome.envelope_media_type or None,
        "verificationLevel": str(outcome.level.name),
        "verified": outcome.verified,
        "error": outcome.error,
        "checks": [{"check": r.check.value, "action": r.action.value, "error": r.error} for r in outcome.results],
        "userMetadata": dict(target.annotations) if target is not None else {},
        "transparency": inclusion_json(outcome.transparency),
    }


def verification_json(result: VerificationResult) -> dict[str, Any]:
    """A successful (or skipped) verification."""
    return {
        "reference": result.reference,
        "result": "skipped" if result.skipped else "verified",
        "trustPolicy": result.statement,
        "subject": descriptor_json(result.subject) if result.subject is not None else None,
        "signature": outcome_json(result.verified) if result.verified is not None else None,
        "rejected": [outcome_json(o) for o in result.rejected],
        "timings": {name: round(seconds, 6) for name, seconds in result.timings.items()},
    }


def failure_json(reference: str, error: str, failures: list[str]) -> dict[str, Any]:
    """A failed verification: the error, and why each signature failed."""
    return {"reference": reference, "result": "failed", "error": error, "failures": failures}
