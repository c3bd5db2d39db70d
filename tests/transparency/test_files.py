"""Blob signature proofs: ``<signature>.tlog-proof`` next to the signature file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from notation_py.errors import ArtifactError, TransparencyError
from notation_py.transparency import PROOF_FILE_SUFFIX, proof_file_path, read_proof_file, write_proof_file
from tlog.proof import MAX_PROOF_SIZE


def test_write_then_read(tmp_path: Path) -> None:
    signature = tmp_path / "release.tar.gz.jws.sig"
    assert read_proof_file(signature) is None
    path = write_proof_file(signature, b"c2sp.org/tlog-proof@v1\n...")
    assert path == tmp_path / "release.tar.gz.jws.sig.tlog-proof" == proof_file_path(signature)
    assert PROOF_FILE_SUFFIX == ".tlog-proof"
    assert read_proof_file(signature) == b"c2sp.org/tlog-proof@v1\n..."
    write_proof_file(signature, b"replaced")
    assert read_proof_file(signature) == b"replaced"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release.tar.gz.jws.sig.tlog-proof"]  # no temp files left


def test_oversized_unreadable_and_unwritable(tmp_path: Path) -> None:
    signature = tmp_path / "a.cose.sig"
    proof_file_path(signature).write_bytes(b"x" * (MAX_PROOF_SIZE + 1))
    with pytest.raises(TransparencyError, match="is larger than"):
        read_proof_file(signature)
    proof_file_path(signature).unlink()
    proof_file_path(signature).mkdir()
    with pytest.raises(TransparencyError, match="cannot read transparency proof"):
        read_proof_file(signature)
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(ArtifactError, match="cannot write transparency proof"):
            write_proof_file(locked / "b.jws.sig", b"proof")
