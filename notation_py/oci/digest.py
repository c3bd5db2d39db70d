"""OCI content digests (image-spec ``descriptor.md``, "Digests").

Grammar::

    digest              ::= algorithm ":" encoded
    algorithm           ::= algorithm-component (algorithm-separator algorithm-component)*
    algorithm-component ::= [a-z0-9]+
    algorithm-separator ::= [+._-]
    encoded             ::= [a-zA-Z0-9=_-]+

Only algorithms we can verify are accepted (sha256, sha384, sha512, each with its exact lowercase-hex
length, as go-digest checks them): a digest that cannot be checked is useless for verification, so
a grammatical but unregistered algorithm is an error rather than an opaque value.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final

from notation_py.errors import DigestError

#: Registered algorithms and the length of their lowercase hex encoding.
ALGORITHMS: Final[dict[str, int]] = {"sha256": 64, "sha384": 96, "sha512": 128}

_ALGORITHM_RE: Final = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*")
_ENCODED_RE: Final = re.compile(r"[a-zA-Z0-9=_-]+")
_HEX_RE: Final = re.compile(r"[a-f0-9]+")


@dataclass(frozen=True)
class Digest:
    """A validated content digest such as ``sha256:44136f…``.

    Attributes:
        algorithm: Registered algorithm name (``sha256``, ``sha384`` or ``sha512``).
        hex: Lowercase hex encoding of the hash, of the algorithm's exact length.
    """

    algorithm: str
    hex: str

    def __post_init__(self) -> None:
        _validate(self.algorithm, self.hex, f"{self.algorithm}:{self.hex}")

    @classmethod
    def parse(cls, value: str) -> Digest:
        """Parse and validate a digest string.

        Args:
            value: A string of the form ``<algorithm>:<encoded>``.

        Returns:
            The parsed digest.

        Raises:
            DigestError: The string does not follow the OCI digest grammar, names an unsupported
                algorithm, or its encoding has the wrong length or is not lowercase hex.
        """
        if not isinstance(value, str):
            raise DigestError(f"invalid digest {value!r}: not a string")
        algorithm, sep, encoded = value.partition(":")
        if not sep:
            raise DigestError(f"invalid digest {value!r}: missing ':' between algorithm and encoded hash")
        return cls(algorithm, encoded)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def _validate(algorithm: str, encoded: str, shown: str) -> None:
    """Check ``algorithm`` and ``encoded``; raise :class:`DigestError` naming ``shown``."""
    if not isinstance(algorithm, str) or not isinstance(encoded, str):
        raise DigestError(f"invalid digest {shown!r}: algorithm and hash must be strings")
    if not _ALGORITHM_RE.fullmatch(algorithm):
        raise DigestError(f"invalid digest {shown!r}: malformed algorithm {algorithm!r}")
    if not _ENCODED_RE.fullmatch(encoded):
        raise DigestError(f"invalid digest {shown!r}: malformed encoded hash")
    length = ALGORITHMS.get(algorithm)
    if length is None:
        raise DigestError(
            f"invalid digest {shown!r}: unsupported digest algorithm {algorithm!r} (supported: {', '.join(ALGORITHMS)})"
        )
    if not _HEX_RE.fullmatch(encoded):
        raise DigestError(f"invalid digest {shown!r}: {algorithm} hash must be lowercase hex")
    if len(encoded) != length:
        raise DigestError(
            f"invalid digest {shown!r}: {algorithm} hash must be {length} hex characters, got {len(encoded)}"
        )


def compute(data: bytes, algorithm: str = "sha256") -> Digest:
    """Digest ``data`` with ``algorithm``.

    Args:
        data: The exact bytes to hash.
        algorithm: A registered algorithm name.

    Returns:
        The digest of ``data``.

    Raises:
        DigestError: ``algorithm`` is not supported.
    """
    if algorithm not in ALGORITHMS:
        raise DigestError(f"unsupported digest algorithm {algorithm!r} (supported: {', '.join(ALGORITHMS)})")
    return Digest(algorithm, hashlib.new(algorithm, data).hexdigest())


def verify(data: bytes, expected: Digest, size: int | None = None) -> None:
    """Check that ``data`` has the expected size and digest.

    The size is checked first: it is cheaper, and a size mismatch explains a digest mismatch.

    Args:
        data: Content as read.
        expected: The digest the content must have (its algorithm is used to hash ``data``).
        size: The byte length the content must have, or ``None`` not to check it.

    Raises:
        DigestError: The size or the digest differs; the message names expected and actual values.
    """
    if size is not None and len(data) != size:
        raise DigestError(f"content size mismatch for {expected}: expected {size} bytes, got {len(data)}")
    actual = compute(data, expected.algorithm)
    if actual != expected:
        raise DigestError(f"content digest mismatch: expected {expected}, got {actual}")
