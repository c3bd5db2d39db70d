"""RFC 6962 Merkle tree hashing, proofs and an incremental "compact range" (pure functions, no I/O).

Hashing (RFC 6962 §2.1, unchanged in RFC 9162): SHA-256, leaf ``H(0x00 || d)``, interior node
``H(0x01 || left || right)``; for ``n > 1`` leaves the tree splits at the largest power of two
``k < n``. The empty tree hashes to ``SHA-256("")`` (:data:`EMPTY_ROOT`).

Stored hashes
-------------
Proof *generation* reads hashes through a tiny callback, :data:`GetHash`::

    get_hash(level, index) -> bytes

returns the 32-byte hash of the *complete* subtree of height ``level`` that covers the leaves
``[index * 2**level, (index + 1) * 2**level)``. Level 0 is the leaf hashes themselves. Only hashes of
complete subtrees are ever asked for, so a storage layer can answer from tlog-tiles (level ``8·L + r``
lives in the tile at level ``L``) or from any table keyed by ``(level, index)``; hashes of incomplete
subtrees on the right edge are combined here. Generating a proof costs ``O(log n)`` calls and never
asks for a subtree that is not complete in the tree of the requested size.

Proof *verification* (:func:`verify_inclusion`, :func:`verify_consistency`) follows the RFC 9162
§2.1.3.2 and §2.1.4.2 algorithms and raises :class:`~tlog.errors.ProofError` with a reason; it never
returns a boolean.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from tlog.errors import FormatError, InconsistentError, ProofError

#: Size in bytes of every hash in the tree (SHA-256).
HASH_SIZE = 32

#: Root hash of the empty tree: SHA-256 of the empty string (RFC 6962 §2.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: ``get_hash(level, index)``: hash of the complete subtree of height ``level`` covering leaves
#: ``[index * 2**level, (index + 1) * 2**level)``. See the module documentation.
GetHash = Callable[[int, int], bytes]

#: Largest tree size accepted anywhere (sizes and indexes are uint64 on the wire).
MAX_TREE_SIZE = (1 << 64) - 1


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: ``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes | bytearray | memoryview) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, bytes | bytearray | memoryview) else type(value).__name__
        raise ProofError(f"{what} must be a {HASH_SIZE}-byte SHA-256 hash, got {size}")


def _largest_power_of_two_below(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """Merkle Tree Hash (MTH) of a list of leaf hashes; :data:`EMPTY_ROOT` for an empty list.

    Bottom-up: hash neighbours in pairs, promote an unpaired last node unchanged to the next level.
    This is equal to RFC 6962's recursive split at the largest power of two.
    """
    level = [bytes(h) for h in hashes]
    for i, h in enumerate(level):
        if len(h) != HASH_SIZE:
            raise FormatError(f"leaf hash {i} is {len(h)} bytes, not {HASH_SIZE}")
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


# --- proof generation from stored hashes --------------------------------------------------------


def _stored(get_hash: GetHash, level: int, index: int) -> bytes:
    value = get_hash(level, index)
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise InconsistentError(f"stored hash at level {level} index {index} is not a {HASH_SIZE}-byte hash")
    return value


def subtree_nodes(start: int, end: int) -> list[tuple[int, int]]:
    """The complete subtrees ``(level, index)`` whose right fold is ``MTH(D[start:end])``.

    Valid for the ranges that occur in RFC 6962 trees: ``start`` must be a multiple of the largest
    power of two not exceeding ``end - start``. The subtrees come left to right, largest first.
    """
    if not 0 <= start < end:
        raise ValueError(f"empty or negative leaf range [{start}, {end})")
    nodes: list[tuple[int, int]] = []
    position, remaining = start, end - start
    while remaining:
        level = remaining.bit_length() - 1
        width = 1 << level
        if position % width:
            raise ValueError(f"leaf range [{start}, {end}) is not aligned to the RFC 6962 tree")
        nodes.append((level, position >> level))
        position += width
        remaining -= width
    return nodes


def subtree_hash(start: int, end: int, get_hash: GetHash) -> bytes:
    """``MTH(D[start:end])`` for an RFC 6962-aligned range, from stored complete-subtree hashes."""
    hashes = [_stored(get_hash, level, index) for level, index in subtree_nodes(start, end)]
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def root_hash(size: int, get_hash: GetHash) -> bytes:
    """Root hash of the tree of ``size`` leaves, from stored hashes (``O(log size)`` reads)."""
    _check_size(size)
    return EMPTY_ROOT if size == 0 else subtree_hash(0, size, get_hash)


def _check_size(size: int, what: str = "tree size") -> None:
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_TREE_SIZE:
        raise ProofError(f"{what} {size!r} is not an integer in [0, 2^64)")


def inclusion_proof(index: int, size: int, get_hash: GetHash) -> list[bytes]:
    """RFC 6962 §2.1.1 audit path for leaf ``index`` in the tree of ``size`` leaves.

    Order: the leaf's sibling first, the root's child last. Raises :class:`ProofError` unless
    ``0 <= index < size``.
    """
    return inclusion_proofs([index], size, get_hash)[index]


def inclusion_proofs(
    indices: Iterable[int],
    size: int,
    get_hash: GetHash,
    *,
    memo: dict[tuple[int, int], bytes] | None = None,
) -> dict[int, list[bytes]]:
    """Audit paths for several leaves of the tree of ``size`` leaves (see :func:`inclusion_proof`).

    The paths of neighbouring leaves share most of their hashes, and those on the right edge of a
    tree whose size is not a power of two are folds of several stored subtrees: each distinct
    subtree hash is computed once for the whole set (a sequencer proves every entry of a batch).
    Pass the same ``memo`` (a dict, initially empty) to share that work across calls for one tree.

    Raises:
        ProofError: some index is not in ``[0, size)``.
    """
    _check_size(size)
    if memo is None:
        memo = {}

    def subtree(start: int, end: int) -> bytes:
        value = memo.get((start, end))
        if value is None:
            value = memo[(start, end)] = subtree_hash(start, end, get_hash)
        return value

    proofs: dict[int, list[bytes]] = {}
    for index in indices:
        _check_size(index, "leaf index")
        if index >= size:
            raise ProofError(f"leaf index {index} is not in a tree of size {size}")
        path: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:
            k = _largest_power_of_two_below(hi - lo)
            if index < lo + k:
                path.append(subtree(lo + k, hi))
                hi = lo + k
            else:
                path.append(subtree(lo, lo + k))
                lo += k
        path.reverse()
        proofs[index] = path
    return proofs


def consistency_proof(old_size: int, new_size: int, get_hash: GetHash) -> list[bytes]:
    """RFC 6962 §2.1.2 consistency proof from the tree of ``old_size`` leaves to ``new_size`` leaves.

    Empty when ``old_size`` is 0 or equal to ``new_size``. Raises :class:`ProofError` unless
    ``0 <= old_size <= new_size``.
    """
    _check_size(old_size, "old tree size")
    _check_size(new_size, "new tree size")
    if old_size > new_size:
        raise ProofError(f"old tree size {old_size} is larger than new tree size {new_size}")
    if old_size in (0, new_size):
        return []
    # SUBPROOF(m, D[lo:hi], whole): elements are appended on the way down and reversed at the end.
    lo, hi, m, whole = 0, new_size, old_size, True
    tail: list[bytes] = []
    while m != hi - lo:
        k = _largest_power_of_two_below(hi - lo)
        if m <= k:
            tail.append(subtree_hash(lo + k, hi, get_hash))
            hi = lo + k
        else:
            tail.append(subtree_hash(lo, lo + k, get_hash))
            lo += k
            m -= k
            whole = False
    proof = [] if whole else [subtree_hash(lo, hi, get_hash)]
    proof.extend(reversed(tail))
    return proof


def _leaf_levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    levels = [[bytes(h) for h in leaf_hashes]]
    for i, h in enumerate(levels[0]):
        if len(h) != HASH_SIZE:
            raise FormatError(f"leaf hash {i} is {len(h)} bytes, not {HASH_SIZE}")
    while len(levels[-1]) >= 2:
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    return levels


def hash_getter(leaf_hashes: Sequence[bytes]) -> GetHash:
    """A :data:`GetHash` over an in-memory list of leaf hashes (computes every complete subtree once)."""
    levels = _leaf_levels(leaf_hashes)

    def get_hash(level: int, index: int) -> bytes:
        return levels[level][index]

    return get_hash


def inclusion_proof_from_leaves(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Audit path for leaf ``index`` in the tree made of all of ``leaf_hashes``."""
    return inclusion_proof(index, len(leaf_hashes), hash_getter(leaf_hashes))


def consistency_proof_from_leaves(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Consistency proof from the first ``old_size`` leaves to the tree made of all of ``leaf_hashes``."""
    return consistency_proof(old_size, len(leaf_hashes), hash_getter(leaf_hashes))


# --- proof verification (RFC 9162) ----------------------------------------------------------------


def inclusion_proof_size(index: int, size: int) -> int:
    """Number of hashes in the audit path of leaf ``index`` in a tree of ``size`` leaves."""
    inner = (index ^ (size - 1)).bit_length()
    return inner + bin(index >> inner).count("1")


def consistency_proof_size(old_size: int, new_size: int) -> int:
    """Number of hashes in a consistency proof between two sizes (0 if either end is trivial)."""
    if old_size in (0, new_size):
        return 0
    shift = (old_size & -old_size).bit_length() - 1  # trailing zeros
    inner = ((old_size - 1) ^ (new_size - 1)).bit_length()
    border = bin((old_size - 1) >> inner).count("1")
    return inner - shift + border + (0 if old_size == 1 << shift else 1)


def root_from_inclusion_proof(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]) -> bytes:
    """The root implied by ``proof`` for ``leaf_hash`` at ``index`` (RFC 9162 §2.1.3.2 steps 1–5).

    Raises :class:`ProofError` when the proof has the wrong shape; the caller compares the result.
    """
    _check_size(size)
    _check_size(index, "leaf index")
    _check_hash(leaf_hash, "leaf hash")
    if index >= size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    for i, element in enumerate(proof):
        _check_hash(element, f"inclusion proof hash {i}")
    expected = inclusion_proof_size(index, size)
    if len(proof) != expected:
        raise ProofError(
            f"inclusion proof for leaf {index} in a tree of size {size} must have {expected} hashes, got {len(proof)}"
        )
    fn, sn, result = index, size - 1, bytes(leaf_hash)
    for element in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the path to the root")
        p = bytes(element)
        if fn & 1 or fn == sn:
            result = node_hash(p, result)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the path to the root")
    return result


def verify_inclusion(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf_hash`` (RFC 6962 leaf hash, not the entry) is at ``index`` in the tree of ``size`` leaves with ``root``.

    Raises :class:`ProofError` with the reason; returns ``None`` on success.
    """
    _check_hash(root, "root hash")
    computed = root_from_inclusion_proof(index, size, leaf_hash, proof)
    if computed != bytes(root):
        raise ProofError(f"inclusion proof for leaf {index} in a tree of size {size} does not lead to the root hash")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """Check that the tree of ``new_size`` leaves with ``new_root`` extends the one of ``old_size`` leaves.

    RFC 9162 §2.1.4.2. ``old_size == 0`` needs an empty proof and ``old_root`` equal to
    :data:`EMPTY_ROOT`; equal sizes need an empty proof and equal roots. Raises :class:`ProofError`.
    """
    _check_size(old_size, "old tree size")
    _check_size(new_size, "new tree size")
    _check_hash(old_root, "old root hash")
    _check_hash(new_root, "new root hash")
    for i, element in enumerate(proof):
        _check_hash(element, f"consistency proof hash {i}")
    old_root, new_root = bytes(old_root), bytes(new_root)
    if old_size > new_size:
        raise ProofError(f"old tree size {old_size} is larger than new tree size {new_size}")
    if old_size == 0:
        if proof:
            raise ProofError("a consistency proof from the empty tree must be empty")
        if old_root != EMPTY_ROOT:
            raise ProofError("the root hash of the empty tree must be SHA-256 of the empty string")
        if new_size == 0 and new_root != EMPTY_ROOT:
            raise ProofError("the root hash of the empty tree must be SHA-256 of the empty string")
        return
    if old_size == new_size:
        if proof:
            raise ProofError("a consistency proof between equal tree sizes must be empty")
        if old_root != new_root:
            raise ProofError(f"two different root hashes for the same tree size {old_size}")
        return
    expected = consistency_proof_size(old_size, new_size)
    if len(proof) != expected:
        raise ProofError(
            f"consistency proof from size {old_size} to {new_size} must have {expected} hashes, got {len(proof)}"
        )
    path = [bytes(p) for p in proof]
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is itself a node of the new tree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than the path to the root")
    if fr != old_root:
        raise ProofError(f"consistency proof does not lead to the old root hash (size {old_size})")
    if sr != new_root:
        raise ProofError(f"consistency proof does not lead to the new root hash (size {new_size})")


# --- incremental right edge ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Node:
    """A complete subtree: height ``level``, position ``index`` at that height, and its ``hash``."""

    level: int
    index: int
    hash: bytes


class CompactRange:
    """The right edge of a growing tree: one hash per complete subtree on the path to the root.

    Holds ``popcount(size)`` hashes (largest subtree first), so appending is amortised ``O(1)`` and
    :meth:`root` is ``O(log size)``. :meth:`append` returns every subtree the new leaf completes
    (the leaf itself first), which is what a sequencer stores (level 0, 8, 16... for tiles).
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        """A range over the first ``size`` leaves with the given right-edge ``hashes`` (largest first)."""
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_TREE_SIZE:
            raise FormatError(f"compact range size {size!r} is not an integer in [0, 2^64)")
        edge = [bytes(h) for h in hashes]
        if len(edge) != size.bit_count():
            raise FormatError(f"a compact range of size {size} holds {size.bit_count()} hashes, got {len(edge)}")
        for h in edge:
            if len(h) != HASH_SIZE:
                raise FormatError(f"compact range hash is {len(h)} bytes, not {HASH_SIZE}")
        self._size = size
        self._hashes = edge

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The right-edge subtree hashes, largest (leftmost) first."""
        return tuple(self._hashes)

    def nodes(self) -> list[Node]:
        """The right-edge subtrees as :class:`Node` values, largest (leftmost) first."""
        result: list[Node] = []
        start = 0
        levels = [bit for bit in range(self._size.bit_length() - 1, -1, -1) if self._size >> bit & 1]
        for level, h in zip(levels, self._hashes, strict=True):
            result.append(Node(level, start >> level, h))
            start += 1 << level
        return result

    def append(self, leaf: bytes) -> list[Node]:
        """Append one leaf *hash*; return the subtrees it completes, the leaf (level 0) first."""
        if len(leaf) != HASH_SIZE:
            raise FormatError(f"leaf hash is {len(leaf)} bytes, not {HASH_SIZE}")
        if self._size >= MAX_TREE_SIZE:
            raise FormatError("the tree is full (2^64 - 1 leaves)")
        index = self._size
        current = bytes(leaf)
        completed = [Node(0, index, current)]
        level = 0
        while index & 1:
            current = node_hash(self._hashes.pop(), current)
            index >>= 1
            level += 1
            completed.append(Node(level, index, current))
        self._hashes.append(current)
        self._size += 1
        return completed

    def extend(self, leaves: Iterable[bytes]) -> list[Node]:
        """Append several leaf hashes; return all the subtrees they complete, in order."""
        completed: list[Node] = []
        for leaf in leaves:
            completed.extend(self.append(leaf))
        return completed

    def root(self) -> bytes:
        """Root hash of the tree of :attr:`size` leaves."""
        if not self._hashes:
            return EMPTY_ROOT
        result = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            result = node_hash(left, result)
        return result

    def copy(self) -> CompactRange:
        """An independent copy."""
        return CompactRange(self._size, self._hashes)

    def to_state(self) -> bytes:
        """Serialise: 8-byte big-endian size followed by the right-edge hashes (largest first)."""
        return self._size.to_bytes(8, "big") + b"".join(self._hashes)

    @classmethod
    def from_state(cls, state: bytes) -> CompactRange:
        """Inverse of :meth:`to_state`; raises :class:`FormatError` on malformed state."""
        state = bytes(state)
        if len(state) < 8 or (len(state) - 8) % HASH_SIZE:
            raise FormatError(f"compact range state of {len(state)} bytes is malformed")
        size = int.from_bytes(state[:8], "big")
        hashes = [state[i : i + HASH_SIZE] for i in range(8, len(state), HASH_SIZE)]
        return cls(size, hashes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"


__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_TREE_SIZE",
    "CompactRange",
    "GetHash",
    "Node",
    "consistency_proof",
    "consistency_proof_from_leaves",
    "consistency_proof_size",
    "hash_getter",
    "inclusion_proof",
    "inclusion_proof_from_leaves",
    "inclusion_proof_size",
    "inclusion_proofs",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion_proof",
    "root_from_leaf_hashes",
    "root_hash",
    "subtree_hash",
    "subtree_nodes",
    "verify_consistency",
    "verify_inclusion",
]
