"""Shared ``policy``/``blob policy`` import, show and init logic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from notation_py.cli.context import out, warn
from notation_py.errors import ConfigError, TrustPolicyError, UsageError
from notation_py.fsutil import atomic_write
from notation_py.policy.document import TrustPolicyDocument


def init_statement(name: str, level: str, trust_stores: list[str], identities: list[str]) -> dict[str, Any]:
    """A statement object from ``init`` flags (validated when the document is built)."""
    statement: dict[str, Any] = {"name": name, "signatureVerification": {"level": level}}
    if level == "skip" and (trust_stores or identities):
        raise UsageError("--trust-store and --trusted-identity cannot be used with --level skip")
    if level != "skip":
        statement["trustStores"] = list(trust_stores)
        statement["trustedIdentities"] = list(identities)
    return statement


def import_policy(
    kind: type[TrustPolicyDocument],
    source: Path | None,
    destination: Path,
    force: bool,
    *,
    document: dict[str, Any] | None = None,
) -> None:
    """Validate a policy (from ``source`` or ``document``) and write it atomically to ``destination``."""
    if document is not None:
        data = json.dumps(document).encode()
    else:
        assert source is not None
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read trust policy file {source}: {exc.strerror}") from None
    try:
        policy = kind.from_bytes(data)
    except TrustPolicyError as exc:
        raise TrustPolicyError(f"invalid trust policy: {exc.message}") from None
    if destination.exists() and not force:
        raise UsageError(f"{destination} already exists; use --force to overwrite it")
    if destination.exists():
        warn(f"overwriting {destination}")
    atomic_write(destination, policy.to_json(), mode=0o600)
    out(f"Trust policy configuration imported successfully to {destination}")


def show_policy(kind: type[TrustPolicyDocument], path: Path) -> None:
    """Print the policy file; warn (and still print) when it does not validate."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"failed to show trust policy: {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        kind.from_bytes(data)
    except TrustPolicyError as exc:
        warn(f"existing trust policy configuration is invalid, you may update or create a new one: {exc.message}")
    out(data.decode("utf-8", errors="replace").rstrip("\n"))
