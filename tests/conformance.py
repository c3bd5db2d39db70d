"""Access to the Notary Project conformance vectors (shared/conformance/notation).

The vectors live beside the repository checkout (``../shared/conformance/notation``), as in CI;
``NOTATION_PY_CONFORMANCE`` overrides the location. A missing directory is an error, never a skip:
a suite that silently skipped its conformance cases would prove nothing.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


@cache
def conformance_root() -> Path:
    """Directory holding ``cases.json``."""
    env = os.environ.get("NOTATION_PY_CONFORMANCE")
    root = Path(env) if env else REPO_ROOT.parent / "shared" / "conformance" / "notation"
    if not (root / "cases.json").is_file():
        raise RuntimeError(
            f"conformance vectors not found at {root}; set NOTATION_PY_CONFORMANCE to the directory "
            "that holds cases.json"
        )
    return root


@cache
def all_cases() -> tuple[dict[str, Any], ...]:
    """Every case of ``cases.json``."""
    data = json.loads((conformance_root() / "cases.json").read_text())
    return tuple(data["cases"])


def cases_of_kind(kind: str) -> list[dict[str, Any]]:
    """Cases whose ``kind`` equals ``kind``."""
    return [c for c in all_cases() if c["kind"] == kind]


def case(case_id: str) -> dict[str, Any]:
    """The case with the given id."""
    for c in all_cases():
        if c["id"] == case_id:
            return c
    raise KeyError(case_id)


def vector(relative: str) -> Path:
    """Path of a vector file given relative to the conformance root."""
    return conformance_root() / relative
