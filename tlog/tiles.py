"""C2SP tiled logs (``c2sp.org/tlog-tiles``): tile paths, which tiles exist, tile and bundle encodings,
and proofs and roots computed from tiles. Pure: fetching is delegated to a :class:`TileReader`.

* A tile at level ``L`` (0..63) holds up to 256 consecutive hashes of tree level ``8·L``: hash ``i``
  of tile ``n`` is ``MTH(D[(n·256 + i)·256^L : (n·256 + i + 1)·256^L])``. A full tile is 256 hashes
  (8,192 bytes); the rightmost tile of a level is *partial* (``.p/<W>``, W in 1..255) and is never
  hashed into the level above.
* Paths: ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``; ``<N>`` is split into 3-digit
  groups, all but the last prefixed with ``x`` (1234067 → ``x001/x234/067``).
* Entry bundles: entries, each prefixed by its length as a big-endian uint16 (so at most 65,535 bytes).

Tile data read through a :class:`TileReader` is untrusted: the proofs and roots computed from it must
be checked against a verified checkpoint (:func:`tlog.merkle.verify_inclusion`, comparing roots),
which also detects a server that returns wrong tiles.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from tlog import merkle
from tlog.errors import FormatError, InvalidEntryError, ProofError
from tlog.merkle import HASH_SIZE, MAX_TREE_SIZE, node_hash

#: Height of a tile in tree levels.
TILE_HEIGHT = 8
#: Hashes in a full tile.
TILE_WIDTH = 1 << TILE_HEIGHT
#: Bytes in a full tile.
FULL_TILE_SIZE = TILE_WIDTH * HASH_SIZE
#: Highest tile level.
MAX_TILE_LEVEL = 63
#: ``TileId.level`` of entry bundles (``tile/entries/...``).
ENTRIES_LEVEL = -1
#: Largest entry an entry bundle can carry (uint16 length prefix).
MAX_ENTRY_SIZE = 0xFFFF


@dataclass(frozen=True, order=True)
class TileId:
    """A tile resource: ``level`` (0..63, or :data:`ENTRIES_LEVEL` for an entry bundle), ``index`` and
    ``width`` (number of hashes or entries; 256 for a full tile)."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if not isinstance(self.level, int) or not ENTRIES_LEVEL <= self.level <= MAX_TILE_LEVEL:
            raise FormatError(f"tile level {self.level!r} is not in 0..{MAX_TILE_LEVEL}")
        if not isinstance(self.index, int) or not 0 <= self.index <= MAX_TREE_SIZE:
            raise FormatError(f"tile index {self.index!r} is not a non-negative 64-bit integer")
        if not isinstance(self.width, int) or not 1 <= self.width <= TILE_WIDTH:
            raise FormatError(f"tile width {self.width!r} is not in 1..{TILE_WIDTH}")

    @property
    def is_entries(self) -> bool:
        """Whether this is an entry bundle rather than a hash tile."""
        return self.level == ENTRIES_LEVEL

    @property
    def is_partial(self) -> bool:
        """Whether this tile holds fewer than 256 hashes or entries."""
        return self.width < TILE_WIDTH

    @property
    def path(self) -> str:
        """The resource path relative to the log prefix."""
        return (
            entries_path(self.index, self.width) if self.is_entries else tile_path(self.level, self.index, self.width)
        )

    @property
    def full(self) -> TileId:
        """The full tile at the same position."""
        return TileId(self.level, self.index)

    def leaf_range(self) -> tuple[int, int]:
        """The leaves ``[start, end)`` this tile covers (as far as its width goes)."""
        unit = 1 << (TILE_HEIGHT * max(self.level, 0))
        start = self.index * TILE_WIDTH * unit
        return start, start + self.width * unit


def _encode_index(index: int) -> str:
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= MAX_TREE_SIZE:
        raise FormatError(f"tile index {index!r} is not a non-negative 64-bit integer")
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def _width_suffix(width: int | None) -> str:
    if width is None or width == TILE_WIDTH:
        return ""
    if not isinstance(width, int) or isinstance(width, bool) or not 1 <= width < TILE_WIDTH:
        raise FormatError(f"tile width {width!r} is not in 1..{TILE_WIDTH}")
    return f".p/{width}"


def tile_path(level: int, index: int, width: int | None = None) -> str:
    """``tile/<L>/<N>[.p/<W>]``; ``width`` None or 256 means a full tile."""
    if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= MAX_TILE_LEVEL:
        raise FormatError(f"tile level {level!r} is not in 0..{MAX_TILE_LEVEL}")
    return f"tile/{level}/{_encode_index(index)}{_width_suffix(width)}"


def entries_path(index: int, width: int | None = None) -> str:
    """``tile/entries/<N>[.p/<W>]``; ``width`` None or 256 means a full bundle."""
    return f"tile/entries/{_encode_index(index)}{_width_suffix(width)}"


_TILE_PATH = re.compile(
    r"tile/(?:(?P<entries>entries)|(?P<level>0|[1-9][0-9]?))/(?P<index>(?:x[0-9]{3}/)*[0-9]{3})(?:\.p/(?P<width>[1-9][0-9]{0,2}))?",
    re.ASCII,
)


def parse_tile_path(path: str) -> TileId:
    """Parse ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]`` strictly; raises :class:`FormatError`.

    Only the canonical encoding is accepted: no leading zeros in L or W, L in 0..63, W in 1..255,
    3-digit groups with ``x`` on all but the last and no leading ``x000`` group, index below 2^64.
    """
    match = _TILE_PATH.fullmatch(path) if isinstance(path, str) else None
    if match is None:
        raise FormatError(f"malformed tile path {path!r}")
    level = ENTRIES_LEVEL if match["entries"] else int(match["level"])
    if level > MAX_TILE_LEVEL:
        raise FormatError(f"tile level {level} is not in 0..{MAX_TILE_LEVEL} in {path!r}")
    groups = match["index"].split("/")
    if len(groups) > 7:
        raise FormatError(f"tile index too large in {path!r}")
    index = int("".join(group.removeprefix("x") for group in groups))
    width = TILE_WIDTH if match["width"] is None else int(match["width"])
    if match["width"] is not None and width >= TILE_WIDTH:
        raise FormatError(f"partial tile width {width} is not in 1..255 in {path!r}")
    if index > MAX_TREE_SIZE:
        raise FormatError(f"tile index too large in {path!r}")
    tile = TileId(level, index, width)
    if tile.path != path:  # e.g. a leading x000 group
        raise FormatError(f"non-canonical tile path {path!r} (expected {tile.path!r})")
    return tile


# --- which tiles exist --------------------------------------------------------------------------


def _level_tiles(level: int, count: int, old_count: int = 0) -> list[TileId]:
    """Tiles at ``level`` holding ``count`` hashes, minus those already complete at ``old_count``."""
    full, partial = divmod(count, TILE_WIDTH)
    tiles = [TileId(level, n) for n in range(old_count // TILE_WIDTH, full)]
    if partial and count != old_count:
        tiles.append(TileId(level, full, partial))
    return tiles


def _hash_count(size: int, level: int) -> int:
    return size >> (TILE_HEIGHT * level)


def _check_tree_size(size: int) -> None:
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_TREE_SIZE:
        raise FormatError(f"tree size {size!r} is not an integer in [0, 2^64)")


def tiles_for_size(size: int) -> list[TileId]:
    """Every hash tile (full and partial, all levels) of the tree of ``size`` leaves, by level then index.

    Size 70,000: 273 full level-0 tiles, level-0 partial of width 112, one full level-1 tile,
    level-1 partial of width 17, level-2 partial of width 1.
    """
    return new_tiles(0, size)


def entry_bundles_for_size(size: int) -> list[TileId]:
    """Every entry bundle (full and partial) of the tree of ``size`` leaves."""
    _check_tree_size(size)
    return [TileId(ENTRIES_LEVEL, t.index, t.width) for t in _level_tiles(0, size)]


def new_tiles(old_size: int, new_size: int) -> list[TileId]:
    """Hash tiles of the tree of ``new_size`` leaves that the tree of ``old_size`` leaves did not have.

    That is what a log writes when it grows from ``old_size`` to ``new_size``: the full tiles completed
    since, and the new partial tiles (a partial tile whose width did not change is not repeated).
    """
    _check_tree_size(old_size)
    _check_tree_size(new_size)
    if old_size > new_size:
        raise FormatError(f"old tree size {old_size} is larger than new tree size {new_size}")
    tiles: list[TileId] = []
    level = 0
    while level <= MAX_TILE_LEVEL and _hash_count(new_size, level):
        tiles.extend(_level_tiles(level, _hash_count(new_size, level), _hash_count(old_size, level)))
        level += 1
    return tiles


def new_entry_bundles(old_size: int, new_size: int) -> list[TileId]:
    """Entry bundles of the tree of ``new_size`` leaves that the tree of ``old_size`` leaves did not have."""
    _check_tree_size(old_size)
    _check_tree_size(new_size)
    if old_size > new_size:
        raise FormatError(f"old tree size {old_size} is larger than new tree size {new_size}")
    return [TileId(ENTRIES_LEVEL, t.index, t.width) for t in _level_tiles(0, new_size, old_size)]


def tile_for_size(level: int, index: int, size: int) -> TileId:
    """The tile ``(level, index)`` as it exists in the tree of ``size`` leaves (full or partial).

    Raises :class:`FormatError` if that tree has no such tile.
    """
    count = _hash_count(size, level) - index * TILE_WIDTH
    if count <= 0:
        raise FormatError(f"the tree of size {size} has no tile {index} at level {level}")
    return TileId(level, index, min(count, TILE_WIDTH))


# --- encodings ----------------------------------------------------------------------------------


def encode_entry_bundle(entries: Iterable[bytes]) -> bytes:
    """Concatenate entries, each prefixed by its big-endian uint16 length.

    Raises :class:`~tlog.errors.InvalidEntryError` for an entry longer than 65,535 bytes.
    """
    parts: list[bytes] = []
    for i, item in enumerate(entries):
        entry = bytes(item)
        if len(entry) > MAX_ENTRY_SIZE:
            raise InvalidEntryError(f"entry {i} is {len(entry)} bytes, more than the {MAX_ENTRY_SIZE} a bundle allows")
        parts.append(len(entry).to_bytes(2, "big"))
        parts.append(entry)
    return b"".join(parts)


def decode_entry_bundle(data: bytes, width: int | None = None) -> list[bytes]:
    """Split an entry bundle; with ``width`` the bundle must hold exactly that many entries.

    Raises :class:`FormatError` on truncation, trailing bytes, more than 256 entries or a wrong count.
    """
    data = bytes(data)
    entries: list[bytes] = []
    position = 0
    while position < len(data):
        if position + 2 > len(data):
            raise FormatError("entry bundle ends inside a length prefix")
        length = int.from_bytes(data[position : position + 2], "big")
        position += 2
        if position + length > len(data):
            raise FormatError(f"entry bundle ends inside entry {len(entries)}")
        entries.append(data[position : position + length])
        position += length
        if len(entries) > TILE_WIDTH:
            raise FormatError(f"entry bundle holds more than {TILE_WIDTH} entries")
    if width is not None and len(entries) != width:
        raise FormatError(f"entry bundle holds {len(entries)} entries, expected {width}")
    return entries


def encode_tile(hashes: Sequence[bytes]) -> bytes:
    """Concatenate 1..256 hashes of 32 bytes into tile data."""
    if not 1 <= len(hashes) <= TILE_WIDTH:
        raise FormatError(f"a tile holds 1..{TILE_WIDTH} hashes, got {len(hashes)}")
    for i, h in enumerate(hashes):
        if len(h) != HASH_SIZE:
            raise FormatError(f"tile hash {i} is {len(h)} bytes, not {HASH_SIZE}")
    return b"".join(bytes(h) for h in hashes)


def decode_tile(data: bytes, width: int | None = None) -> list[bytes]:
    """Split tile data into hashes; with ``width`` the tile must hold exactly that many."""
    data = bytes(data)
    if not data or len(data) % HASH_SIZE or len(data) > FULL_TILE_SIZE:
        raise FormatError(f"tile data of {len(data)} bytes is not 1..{TILE_WIDTH} hashes of {HASH_SIZE} bytes")
    count = len(data) // HASH_SIZE
    if width is not None and count != width:
        raise FormatError(f"tile holds {count} hashes, expected {width}")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def _fold_aligned(hashes: Sequence[bytes]) -> bytes:
    """Hash a power-of-two number of sibling hashes pairwise up to a single subtree hash."""
    level = list(hashes)
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def tile_root(tile: bytes | Sequence[bytes]) -> bytes:
    """The hash a *full* tile contributes to the level above (its 256 hashes hashed 8 levels up)."""
    hashes = decode_tile(bytes(tile)) if isinstance(tile, bytes | bytearray | memoryview) else list(tile)
    if len(hashes) != TILE_WIDTH:
        raise FormatError(f"only a full tile ({TILE_WIDTH} hashes) has a hash in the level above, got {len(hashes)}")
    return _fold_aligned(hashes)


def tile_hashes(child_tiles: Sequence[bytes]) -> bytes:
    """Level-``l`` tile data from the level-``(l-1)`` tiles below it, in order.

    Every child must be a full tile (partial tiles are never hashed into the level above); up to 256
    children give a tile of that many hashes.
    """
    return encode_tile([tile_root(child) for child in child_tiles])


def entry_bundle_tile(bundle: bytes) -> bytes:
    """The level-0 tile (leaf hashes) matching an entry bundle."""
    return encode_tile([merkle.leaf_hash(entry) for entry in decode_entry_bundle(bundle)])


# --- reading hashes from tiles --------------------------------------------------------------------


class TileReader(Protocol):
    """Fetches tiles (for example over HTTP from ``<prefix>/<TileId.path>``).

    ``read_tiles`` returns the data of each requested tile, in order; a partial tile's data must be
    exactly its width (a reader falling back to the full tile must truncate it). Failures raise
    (:class:`~tlog.errors.NotFoundError` for a missing tile).
    """

    def read_tiles(self, tiles: Sequence[TileId]) -> Sequence[bytes]:
        """Data of each tile in ``tiles``."""
        ...


def _tile_position(level: int, index: int, size: int) -> tuple[TileId, int, int]:
    """Where stored hash ``(level, index)`` lives: (tile, first hash in the tile, number of hashes to fold)."""
    if level < 0 or index < 0 or (index + 1) << level > size:
        raise ProofError(f"no complete subtree at level {level} index {index} in a tree of size {size}")
    tile_level, sub = divmod(level, TILE_HEIGHT)
    first = index << sub  # position among the level-8·tile_level hashes
    tile = tile_for_size(tile_level, first // TILE_WIDTH, size)
    return tile, first % TILE_WIDTH, 1 << sub


class TileHashReader:
    """A :data:`tlog.merkle.GetHash` answering from the tiles of the tree of ``size`` leaves.

    Tiles are fetched through ``reader`` and cached; :meth:`prefetch` fetches every tile a set of
    hashes needs in one ``read_tiles`` call. The data is not authenticated: check what you compute.
    """

    def __init__(self, reader: TileReader, size: int) -> None:
        """Read the tiles of the tree of ``size`` leaves (from a verified checkpoint) through ``reader``."""
        _check_tree_size(size)
        self._reader = reader
        self._size = size
        self._tiles: dict[TileId, list[bytes]] = {}

    @property
    def size(self) -> int:
        """The tree size the tiles are read for."""
        return self._size

    def prefetch(self, nodes: Iterable[tuple[int, int]]) -> None:
        """Fetch, in one call, every tile needed for the stored hashes ``(level, index)``."""
        wanted = sorted({_tile_position(level, index, self._size)[0] for level, index in nodes} - self._tiles.keys())
        if not wanted:
            return
        data = list(self._reader.read_tiles(wanted))
        if len(data) != len(wanted):
            raise FormatError(f"tile reader returned {len(data)} tiles for {len(wanted)} requested")
        for tile, content in zip(wanted, data, strict=True):
            if len(content) != tile.width * HASH_SIZE:
                raise FormatError(f"tile {tile.path} is {len(content)} bytes, expected {tile.width * HASH_SIZE}")
            self._tiles[tile] = decode_tile(content, tile.width)

    def get_hash(self, level: int, index: int) -> bytes:
        """Hash of the complete subtree at ``level``, ``index`` (see :data:`tlog.merkle.GetHash`)."""
        tile, first, count = _tile_position(level, index, self._size)
        if tile not in self._tiles:
            self.prefetch([(level, index)])
        hashes = self._tiles[tile]
        return hashes[first] if count == 1 else _fold_aligned(hashes[first : first + count])

    __call__ = get_hash


class _Recorder:
    """A GetHash that records which stored hashes a computation asks for (and answers zeros)."""

    def __init__(self) -> None:
        self.nodes: list[tuple[int, int]] = []

    def __call__(self, level: int, index: int) -> bytes:
        self.nodes.append((level, index))
        return bytes(HASH_SIZE)


def inclusion_proof_from_tiles(reader: TileReader, index: int, size: int) -> list[bytes]:
    """Audit path for leaf ``index`` in the tree of ``size`` leaves, computed from tiles (one batch read).

    Verify it against the checkpoint root with :func:`tlog.merkle.verify_inclusion`.
    """
    recorder = _Recorder()
    merkle.inclusion_proof(index, size, recorder)
    hashes = TileHashReader(reader, size)
    hashes.prefetch(recorder.nodes)
    return merkle.inclusion_proof(index, size, hashes.get_hash)


def consistency_proof_from_tiles(reader: TileReader, old_size: int, new_size: int) -> list[bytes]:
    """Consistency proof from ``old_size`` to ``new_size``, computed from the tiles of ``new_size``.

    Verify it with :func:`tlog.merkle.verify_consistency`.
    """
    recorder = _Recorder()
    merkle.consistency_proof(old_size, new_size, recorder)
    hashes = TileHashReader(reader, new_size)
    hashes.prefetch(recorder.nodes)
    return merkle.consistency_proof(old_size, new_size, hashes.get_hash)


def root_from_tiles(reader: TileReader, size: int) -> bytes:
    """Root hash of the tree of ``size`` leaves computed from its tiles; compare with the checkpoint."""
    recorder = _Recorder()
    merkle.root_hash(size, recorder)
    hashes = TileHashReader(reader, size)
    hashes.prefetch(recorder.nodes)
    return merkle.root_hash(size, hashes.get_hash)


def leaf_hashes_from_tiles(reader: TileReader, start: int, end: int, size: int) -> list[bytes]:
    """Leaf hashes ``[start, end)`` from the level-0 tiles of the tree of ``size`` leaves."""
    if not 0 <= start <= end <= size:
        raise ProofError(f"leaf range [{start}, {end}) is not inside a tree of size {size}")
    hashes = TileHashReader(reader, size)
    nodes = [(0, i) for i in range(start, end)]
    hashes.prefetch(nodes)
    return [hashes.get_hash(0, i) for i in range(start, end)]


__all__ = [
    "ENTRIES_LEVEL",
    "FULL_TILE_SIZE",
    "MAX_ENTRY_SIZE",
    "MAX_TILE_LEVEL",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "TileHashReader",
    "TileId",
    "TileReader",
    "consistency_proof_from_tiles",
    "decode_entry_bundle",
    "decode_tile",
    "encode_entry_bundle",
    "encode_tile",
    "entries_path",
    "entry_bundle_tile",
    "entry_bundles_for_size",
    "inclusion_proof_from_tiles",
    "leaf_hashes_from_tiles",
    "new_entry_bundles",
    "new_tiles",
    "parse_tile_path",
    "root_from_tiles",
    "tile_for_size",
    "tile_hashes",
    "tile_path",
    "tile_root",
    "tiles_for_size",
]
