"""Verification levels, checks and actions (trust-store-trust-policy.md, "Signature Verification details").

The table is the spec's:

============  =========  ============  ===================  =======  ==========  ============
level         integrity  authenticity  authenticTimestamp   expiry   revocation  transparency
============  =========  ============  ===================  =======  ==========  ============
strict        enforce    enforce       enforce              enforce  enforce     enforce
permissive    enforce    enforce       log                  log      log         enforce
audit         enforce    log           log                  log      log         log
skip          skip       skip          skip                 skip     skip        skip
============  =========  ============  ===================  =======  ==========  ============

``transparency`` is notation-py's: proof that the signature was recorded in a transparency log a
statement's ``transparencyLog`` member names (``docs/transparency.md``). It runs only for
statements that have that member; notation, which ignores the member, never runs it. An override
may set it to ``enforce``, ``log`` or ``skip``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from notation_py.errors import TrustPolicyError


class Check(StrEnum):
    """A validation step of signature verification."""

    INTEGRITY = "integrity"
    AUTHENTICITY = "authenticity"
    AUTHENTIC_TIMESTAMP = "authenticTimestamp"
    EXPIRY = "expiry"
    REVOCATION = "revocation"
    TRANSPARENCY = "transparency"


class Action(StrEnum):
    """What a failure of a check does: fail verification, warn, or not run the check at all."""

    ENFORCE = "enforce"
    LOG = "log"
    SKIP = "skip"


class LevelName(StrEnum):
    """The four named verification levels."""

    STRICT = "strict"
    PERMISSIVE = "permissive"
    AUDIT = "audit"
    SKIP = "skip"


_E, _L, _S = Action.ENFORCE, Action.LOG, Action.SKIP
_ORDER = (
    Check.INTEGRITY,
    Check.AUTHENTICITY,
    Check.AUTHENTIC_TIMESTAMP,
    Check.EXPIRY,
    Check.REVOCATION,
    Check.TRANSPARENCY,
)
_TABLE: dict[LevelName, tuple[Action, ...]] = {
    LevelName.STRICT: (_E, _E, _E, _E, _E, _E),
    LevelName.PERMISSIVE: (_E, _E, _L, _L, _L, _E),
    LevelName.AUDIT: (_E, _L, _L, _L, _L, _L),
    LevelName.SKIP: (_S, _S, _S, _S, _S, _S),
}

# Which actions an override may set per check; integrity is absent: it can never be overridden.
_OVERRIDABLE: dict[Check, frozenset[Action]] = {
    Check.AUTHENTICITY: frozenset({_E, _L}),
    Check.AUTHENTIC_TIMESTAMP: frozenset({_E, _L}),
    Check.EXPIRY: frozenset({_E, _L}),
    Check.REVOCATION: frozenset({_E, _L, _S}),
    Check.TRANSPARENCY: frozenset({_E, _L, _S}),
}


@dataclass(frozen=True)
class VerificationLevel:
    """A level with its per-check actions, after applying any overrides."""

    name: LevelName
    actions: Mapping[Check, Action]

    def action(self, check: Check) -> Action:
        """Return the action configured for ``check``."""
        return self.actions[check]

    @property
    def is_skip(self) -> bool:
        """True for the ``skip`` level: verification is not performed at all."""
        return self.name is LevelName.SKIP

    @classmethod
    def build(cls, level: str, overrides: Mapping[str, str] | None = None) -> VerificationLevel:
        """Build a level from its name and an ``override`` map, validating both like notation.

        Raises:
            TrustPolicyError: empty or unknown level, override on ``skip``, unknown check or
                action, an override of ``integrity``, or ``skip`` for a check other than
                ``revocation``; messages are notation-go's.
        """
        if not level:
            raise TrustPolicyError("signature verification level is empty or missing in the trust policy statement")
        try:
            name = LevelName(level)
        except ValueError:
            raise TrustPolicyError(f'invalid signature verification level "{level}"') from None
        actions = dict(zip(_ORDER, _TABLE[name], strict=True))
        if overrides:
            if name is LevelName.SKIP:
                raise TrustPolicyError(
                    f'signature verification level "{level}" can\'t be used to customize signature verification'
                )
            # Checked in notation-go's order, with its messages: check name, action name, then the
            # per-check restrictions.
            for check_name, action_name in overrides.items():
                try:
                    check = Check(check_name)
                except ValueError:
                    raise TrustPolicyError(
                        f'verification type "{check_name}" in custom signature verification is not supported, '
                        f"supported values are {_go_list(c.value for c in _ORDER)}"
                    ) from None
                try:
                    action = Action(action_name)
                except ValueError:
                    raise TrustPolicyError(
                        f'verification action "{action_name}" in custom signature verification is not '
                        f"supported, supported values are {_go_list(a.value for a in Action)}"
                    ) from None
                if check is Check.INTEGRITY:
                    raise TrustPolicyError(
                        '"integrity" verification can not be overridden in custom signature verification'
                    )
                if action not in _OVERRIDABLE[check]:
                    raise TrustPolicyError(
                        f'"{check.value}" verification can not be skipped in custom signature verification'
                    )
                actions[check] = action
        return cls(name=name, actions=MappingProxyType(actions))


def _go_list(values: Iterable[str]) -> str:
    """Render strings as Go's ``%q`` renders a ``[]string``: ``["a" "b"]``."""
    return "[" + " ".join(f'"{v}"' for v in values) + "]"
