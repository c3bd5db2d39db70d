"""Transparency proofs of blob signatures: a file next to the signature.

A blob signature ``release.tar.gz.jws.sig`` has its proof in ``release.tar.gz.jws.sig.tlog-proof``
(the ``.tlog-proof`` extension C2SP suggests), holding the exact ``c2sp.org/tlog-proof@v1`` bytes.
Written atomically, so a reader never sees half a proof.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from notation_py.errors import ArtifactError, TransparencyError
from notation_py.fsutil import atomic_write
from tlog.proof import FILE_EXTENSION, MAX_PROOF_SIZE

#: Appended to the signature file name.
PROOF_FILE_SUFFIX: Final = FILE_EXTENSION


def proof_file_path(signature_path: Path) -> Path:
    """Where the proof of the signature at ``signature_path`` is stored."""
    return signature_path.with_name(signature_path.name + PROOF_FILE_SUFFIX)


def write_proof_file(signature_path: Path, proof: bytes) -> Path:
    """Write ``proof`` next to the signature (atomically); return the proof file's path.

    Raises:
        ArtifactError: the file cannot be written.
    """
    path = proof_file_path(signature_path)
    try:
        atomic_write(path, bytes(proof))
    except OSError as exc:
        raise ArtifactError(f"cannot write transparency proof {str(path)!r}: {exc.strerror or exc}") from None
    return path


def read_proof_file(signature_path: Path) -> bytes | None:
    """The proof stored next to the signature, or ``None`` when there is none.

    Raises:
        TransparencyError: the file cannot be read or is larger than a proof can be.
    """
    path = proof_file_path(signature_path)
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_PROOF_SIZE + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TransparencyError(f"cannot read transparency proof {str(path)!r}: {exc.strerror or exc}") from None
    if len(data) > MAX_PROOF_SIZE:
        raise TransparencyError(f"transparency proof {str(path)!r} is larger than {MAX_PROOF_SIZE} bytes")
    return data


__all__ = ["PROOF_FILE_SUFFIX", "proof_file_path", "read_proof_file", "write_proof_file"]
