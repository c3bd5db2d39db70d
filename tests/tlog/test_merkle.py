"""RFC 6962 hashing, proofs and CompactRange: published vectors, an independent reference, properties."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlog import merkle
from tlog.errors import FormatError, InconsistentError, ProofError
from tlog.merkle import (
    EMPTY_ROOT,
    CompactRange,
    Node,
    consistency_proof,
    consistency_proof_from_leaves,
    consistency_proof_size,
    hash_getter,
    inclusion_proof,
    inclusion_proof_from_leaves,
    inclusion_proof_size,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

# --- RFC 6962 test vectors of the Certificate Transparency reference implementation -------------
# (certificate-transparency merkle_tree_test.cc; also in trillian and Go's transparency-dev/merkle)

CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CT_HASHES = [leaf_hash(d) for d in CT_LEAVES]


# --- an independent reference, written straight from RFC 6962 §2.1 (recursive, on slices) -------


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def ref_mth(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf *hashes*."""
    n = len(leaves)
    if n == 0:
        return _sha(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return _sha(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:]))


def ref_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*ref_path(m, leaves[:k]), ref_mth(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: Sequence[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [ref_mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*ref_subproof(m, leaves[:k], whole), ref_mth(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], False), ref_mth(leaves[:k])]


def leaves_of(n: int, salt: bytes = b"") -> list[bytes]:
    return [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(n)]


def flip(h: bytes, bit: int = 0) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


# --- vectors ------------------------------------------------------------------------------------


def test_hash_primitives() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"").hex() == CT_ROOTS[0]
    assert node_hash(b"a" * 32, b"b" * 32) == _sha(b"\x01" + b"a" * 32 + b"b" * 32)
    assert root_from_leaf_hashes([]) == EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_ct_roots(size: int) -> None:
    assert root_from_leaf_hashes(CT_HASHES[:size]).hex() == CT_ROOTS[size - 1]
    assert root_hash(size, hash_getter(CT_HASHES)).hex() == CT_ROOTS[size - 1]
    tree = CompactRange()
    tree.extend(CT_HASHES[:size])
    assert tree.root().hex() == CT_ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_ct_inclusion_vectors(index: int, size: int, path: list[str]) -> None:
    proof = inclusion_proof_from_leaves(index, CT_HASHES[:size])
    assert [p.hex() for p in proof] == path
    verify_inclusion(index, size, CT_HASHES[index], proof, bytes.fromhex(CT_ROOTS[size - 1]))


@pytest.mark.parametrize(("old", "new", "path"), CT_CONSISTENCY)
def test_ct_consistency_vectors(old: int, new: int, path: list[str]) -> None:
    proof = consistency_proof_from_leaves(old, CT_HASHES[:new])
    assert [p.hex() for p in proof] == path
    verify_consistency(old, new, bytes.fromhex(CT_ROOTS[old - 1]), bytes.fromhex(CT_ROOTS[new - 1]), proof)


def test_against_reference_exhaustively_small_sizes() -> None:
    leaves = leaves_of(70)
    getter = hash_getter(leaves)
    for n in range(1, 71):
        root = ref_mth(leaves[:n])
        assert root_from_leaf_hashes(leaves[:n]) == root
        assert root_hash(n, getter) == root
        for i in range(n):
            proof = inclusion_proof(i, n, getter)
            assert proof == ref_path(i, leaves[:n])
            assert len(proof) == inclusion_proof_size(i, n)
            verify_inclusion(i, n, leaves[i], proof, root)
        for m in range(1, n + 1):
            cproof = consistency_proof(m, n, getter)
            assert cproof == (ref_subproof(m, leaves[:n], True) if m < n else [])
            assert len(cproof) == consistency_proof_size(m, n)
            verify_consistency(m, n, ref_mth(leaves[:m]), root, cproof)


# --- properties ---------------------------------------------------------------------------------

_BIG = leaves_of(3000, b"big")
_BIG_GETTER = hash_getter(_BIG)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=3000), st.data())
def test_inclusion_property(size: int, data: st.DataObject) -> None:
    root = root_hash(size, _BIG_GETTER)
    for i in range(size):
        verify_inclusion(i, size, _BIG[i], inclusion_proof(i, size, _BIG_GETTER), root)
    i = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = inclusion_proof(i, size, _BIG_GETTER)
    for j in range(len(proof)):  # any flipped hash
        bad = list(proof)
        bad[j] = flip(bad[j], j % 8)
        with pytest.raises(ProofError):
            verify_inclusion(i, size, _BIG[i], bad, root)
    with pytest.raises(ProofError):  # wrong leaf
        verify_inclusion(i, size, flip(_BIG[i]), proof, root)
    with pytest.raises(ProofError):  # wrong root
        verify_inclusion(i, size, _BIG[i], proof, flip(root))
    for other in (i - 1, i + 1):  # wrong index
        if other >= 0:
            with pytest.raises(ProofError):
                verify_inclusion(other, size, _BIG[i], proof, root)
    if proof:
        with pytest.raises(ProofError):  # truncated
            verify_inclusion(i, size, _BIG[i], proof[:-1], root)
    with pytest.raises(ProofError):  # extended
        verify_inclusion(i, size, _BIG[i], [*proof, proof[0] if proof else root], root)
    with pytest.raises(ProofError):  # index outside the tree
        verify_inclusion(i, i, _BIG[i], proof, root)
    # (a wrong *size* can still verify when the path has the same shape, e.g. leaf 0 of sizes 3 and 4:
    # the size is authenticated by the checkpoint, not by the proof)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=3000), st.data())
def test_consistency_property(new: int, data: st.DataObject) -> None:
    new_root = root_hash(new, _BIG_GETTER)
    roots = [root_hash(m, _BIG_GETTER) for m in range(new + 1)]
    for m in range(new + 1):
        verify_consistency(m, new, roots[m], new_root, consistency_proof(m, new, _BIG_GETTER))
    old = data.draw(st.integers(min_value=1, max_value=new))
    proof = consistency_proof(old, new, _BIG_GETTER)
    old_root = roots[old]
    if old < new:
        for j in range(len(proof)):
            bad = list(proof)
            bad[j] = flip(bad[j], 3)
            with pytest.raises(ProofError):
                verify_consistency(old, new, old_root, new_root, bad)
        with pytest.raises(ProofError):
            verify_consistency(old, new, old_root, new_root, proof[:-1])
        with pytest.raises(ProofError):
            verify_consistency(old, new, old_root, new_root, [*proof, proof[0]])
    with pytest.raises(ProofError):
        verify_consistency(old, new, flip(old_root), new_root, proof)
    with pytest.raises(ProofError):
        verify_consistency(old, new, old_root, flip(new_root), proof)
    if old > 1 and old < new:
        with pytest.raises(ProofError):  # the proof is bound to the old size
            verify_consistency(old - 1, new, roots[old - 1], new_root, proof)


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=600))
def test_compact_range_matches_reference(size: int) -> None:
    leaves = _BIG[:size]
    tree = CompactRange()
    completed: list[Node] = []
    for i, leaf in enumerate(leaves):
        nodes = tree.append(leaf)
        assert nodes[0] == Node(0, i, leaf)
        completed.extend(nodes)
    assert tree.size == size
    assert tree.root() == ref_mth(leaves)
    assert len(tree.hashes) == size.bit_count()
    # every complete subtree is reported exactly once, with the right hash
    expected = {(lv, ix) for lv in range(size.bit_length()) for ix in range(size >> lv)}
    assert [(n.level, n.index) for n in completed] == sorted(
        expected, key=lambda node: (((node[1] + 1) << node[0]) - 1, node[0])
    )
    for n in completed:
        assert n.hash == ref_mth(leaves[n.index << n.level : (n.index + 1) << n.level])
    for n in tree.nodes():
        assert n.hash == ref_mth(leaves[n.index << n.level : (n.index + 1) << n.level])
    # persistence
    restored = CompactRange.from_state(tree.to_state())
    assert restored == tree
    restored.append(_BIG[size])
    assert restored.root() == ref_mth(_BIG[: size + 1])
    assert tree.size == size  # the copy is independent


def test_compact_range_state_rejects_garbage() -> None:
    tree = CompactRange()
    tree.extend(leaves_of(5))
    state = tree.to_state()
    for bad in (b"", state[:-1], state + bytes(32), (7).to_bytes(8, "big") + state[8:]):
        with pytest.raises(FormatError):
            CompactRange.from_state(bad)
    with pytest.raises(FormatError):
        CompactRange(3, [bytes(32)])
    with pytest.raises(FormatError):
        CompactRange(1, [bytes(31)])
    with pytest.raises(FormatError):
        tree.append(b"short")


def test_generation_only_reads_complete_subtrees_inside_the_tree() -> None:
    leaves = leaves_of(300)
    inner = hash_getter(leaves)
    size = 0

    def guarded(level: int, index: int) -> bytes:
        assert (index + 1) << level <= size, (level, index, size)
        return inner(level, index)

    for size in (1, 2, 3, 5, 255, 256, 257, 299, 300):
        for i in range(0, size, 7):
            inclusion_proof(i, size, guarded)
        for m in range(0, size + 1, 5):
            consistency_proof(m, size, guarded)
        root_hash(size, guarded)


def test_generation_argument_errors() -> None:
    getter = hash_getter(leaves_of(4))
    with pytest.raises(ProofError):
        inclusion_proof(4, 4, getter)
    with pytest.raises(ProofError):
        inclusion_proof(-1, 4, getter)
    with pytest.raises(ProofError):
        consistency_proof(5, 4, getter)
    assert consistency_proof(0, 4, getter) == []
    assert consistency_proof(4, 4, getter) == []
    with pytest.raises(InconsistentError):
        inclusion_proof(0, 4, lambda level, index: b"short")


def test_verify_edge_cases() -> None:
    leaves = leaves_of(8)
    root = root_from_leaf_hashes(leaves)
    with pytest.raises(ProofError, match="not in a tree"):
        verify_inclusion(8, 8, leaves[0], [], root)
    with pytest.raises(ProofError):
        verify_inclusion(0, 0, leaves[0], [], EMPTY_ROOT)
    with pytest.raises(ProofError, match="32-byte"):
        verify_inclusion(0, 1, b"x", [], root)
    with pytest.raises(ProofError, match="32-byte"):
        verify_inclusion(0, 2, leaves[0], [b"x" * 31], root)
    verify_inclusion(0, 1, leaves[0], [], leaves[0])
    # empty old tree
    verify_consistency(0, 8, EMPTY_ROOT, root, [])
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    with pytest.raises(ProofError, match="empty tree"):
        verify_consistency(0, 8, EMPTY_ROOT, root, [root])
    with pytest.raises(ProofError, match="empty tree"):
        verify_consistency(0, 8, root, root, [])
    # equal sizes
    verify_consistency(8, 8, root, root, [])
    with pytest.raises(ProofError, match="two different root hashes"):
        verify_consistency(8, 8, root, flip(root), [])
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(8, 8, root, root, [root])
    with pytest.raises(ProofError, match="larger"):
        verify_consistency(9, 8, root, root, [])
    # a power-of-two old size: the old root is not repeated in the proof
    proof = consistency_proof_from_leaves(4, leaves)
    verify_consistency(4, 8, root_from_leaf_hashes(leaves[:4]), root, proof)
    with pytest.raises(ProofError):
        verify_consistency(4, 8, root_from_leaf_hashes(leaves[:4]), root, [root_from_leaf_hashes(leaves[:4]), *proof])


def test_subtree_nodes_alignment() -> None:
    assert merkle.subtree_nodes(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert merkle.subtree_nodes(8, 13) == [(2, 2), (0, 12)]
    with pytest.raises(ValueError, match="aligned"):
        merkle.subtree_nodes(2, 8)
