"""tlog-tiles: paths, which tiles exist, encodings, and proofs/roots computed from tiles."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlog import merkle
from tlog.errors import FormatError, InvalidEntryError, ProofError
from tlog.merkle import CompactRange, leaf_hash, root_from_leaf_hashes
from tlog.tiles import (
    ENTRIES_LEVEL,
    MAX_ENTRY_SIZE,
    TILE_WIDTH,
    TileHashReader,
    TileId,
    consistency_proof_from_tiles,
    decode_entry_bundle,
    decode_tile,
    encode_entry_bundle,
    encode_tile,
    entries_path,
    entry_bundle_tile,
    entry_bundles_for_size,
    inclusion_proof_from_tiles,
    leaf_hashes_from_tiles,
    new_entry_bundles,
    new_tiles,
    parse_tile_path,
    root_from_tiles,
    tile_for_size,
    tile_hashes,
    tile_path,
    tile_root,
    tiles_for_size,
)

# --- paths --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "index", "width", "path"),
    [
        (0, 0, None, "tile/0/000"),
        (0, 1234067, None, "tile/0/x001/x234/067"),
        (0, 1234067, 112, "tile/0/x001/x234/067.p/112"),
        (1, 1000, 256, "tile/1/x001/000"),
        (2, 999, 1, "tile/2/999.p/1"),
        (63, 5, 255, "tile/63/005.p/255"),
        (0, 2**64 - 1, None, "tile/0/x018/x446/x744/x073/x709/x551/615"),
    ],
)
def test_tile_paths(level: int, index: int, width: int | None, path: str) -> None:
    assert tile_path(level, index, width) == path
    parsed = parse_tile_path(path)
    assert parsed == TileId(level, index, width or TILE_WIDTH)
    assert parsed.path == path


def test_entries_paths() -> None:
    assert entries_path(1234067) == "tile/entries/x001/x234/067"
    assert entries_path(5, 17) == "tile/entries/005.p/17"
    assert parse_tile_path("tile/entries/005.p/17") == TileId(ENTRIES_LEVEL, 5, 17)
    assert parse_tile_path("tile/entries/005.p/17").is_entries
    assert parse_tile_path("tile/entries/x001/000") == TileId(ENTRIES_LEVEL, 1000)


@pytest.mark.parametrize(
    "path",
    [
        "tile/1/01",  # 2-digit element
        "tile/0/1",
        "tile/0/0001",
        "tile/64/000",  # level out of range
        "tile/01/000",  # leading zero in L
        "tile/00/000",
        "tile/-1/000",
        "tile/0/000.p/0",  # width out of range
        "tile/0/000.p/256",
        "tile/0/000.p/005",  # leading zeros in W
        "tile/0/000.p/",
        "tile/0/000.p",
        "tile/0/001/234",  # missing x prefix
        "tile/0/x001",  # x on the last element
        "tile/0/x001/x234",
        "tile/0/x000/005",  # non-canonical leading group
        "tile/0/X001/234",
        "/tile/0/000",
        "tile/0/000/",
        "tile//000",
        "tile/0/",
        "tile/entries/",
        "tile/data/000",
        "tiles/0/000",
        "tile/0/000 ",
        "tile/0/\u0661\u0662\u0663",  # non-ASCII digits
        "tile/\u0661/000",
        "tile/0/x018/x446/x744/x073/x709/x551/616",  # 2^64
        "tile/0/x001/x000/x000/x000/x000/x000/x000/000",
    ],
)
def test_bad_tile_paths(path: str) -> None:
    with pytest.raises(FormatError):
        parse_tile_path(path)


@given(
    st.integers(min_value=ENTRIES_LEVEL, max_value=63),
    st.integers(min_value=0, max_value=2**64 - 1),
    st.integers(min_value=1, max_value=256),
)
def test_tile_path_round_trip(level: int, index: int, width: int) -> None:
    tile = TileId(level, index, width)
    assert parse_tile_path(tile.path) == tile
    assert tile.path.endswith(f".p/{width}") == (width < 256)


def test_path_arguments_validated() -> None:
    for args in ((64, 0, None), (-1, 0, None), (0, -1, None), (0, 0, 0), (0, 0, 257)):
        with pytest.raises(FormatError):
            tile_path(*args)


# --- which tiles exist --------------------------------------------------------------------------


def _summary(tiles: Sequence[TileId]) -> dict[int, tuple[int, list[int]]]:
    """level -> (number of full tiles, widths of partial tiles)."""
    out: dict[int, tuple[int, list[int]]] = {}
    for t in tiles:
        full, partial = out.get(t.level, (0, []))
        out[t.level] = (full + 1, partial) if not t.is_partial else (full, [*partial, t.width])
    return out


def test_spec_example_70000() -> None:
    tiles = tiles_for_size(70_000)
    assert _summary(tiles) == {0: (273, [112]), 1: (1, [17]), 2: (0, [1])}
    assert len(tiles) == 277
    assert TileId(0, 273, 112) in tiles
    assert TileId(1, 1, 17) in tiles
    assert TileId(2, 0, 1) in tiles
    bundles = entry_bundles_for_size(70_000)
    assert len(bundles) == 274
    assert bundles[-1] == TileId(ENTRIES_LEVEL, 273, 112)
    assert bundles[-1].path == "tile/entries/273.p/112"


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, []),
        (1, [TileId(0, 0, 1)]),
        (255, [TileId(0, 0, 255)]),
        (256, [TileId(0, 0), TileId(1, 0, 1)]),
        (257, [TileId(0, 0), TileId(0, 1, 1), TileId(1, 0, 1)]),
        (512, [TileId(0, 0), TileId(0, 1), TileId(1, 0, 2)]),
    ],
)
def test_tiles_at_small_boundaries(size: int, expected: list[TileId]) -> None:
    assert tiles_for_size(size) == expected


def test_tiles_at_level_one_boundary() -> None:
    assert _summary(tiles_for_size(65_535)) == {0: (255, [255]), 1: (0, [255])}
    assert _summary(tiles_for_size(65_536)) == {0: (256, []), 1: (1, []), 2: (0, [1])}
    assert _summary(tiles_for_size(65_537)) == {0: (256, [1]), 1: (1, []), 2: (0, [1])}
    assert tile_for_size(1, 0, 65_535) == TileId(1, 0, 255)
    assert tile_for_size(1, 0, 65_536) == TileId(1, 0)
    with pytest.raises(FormatError):
        tile_for_size(1, 1, 65_536)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=200_000), st.integers(min_value=0, max_value=200_000))
def test_new_tiles_is_the_difference(a: int, b: int) -> None:
    old, new = min(a, b), max(a, b)
    assert set(new_tiles(old, new)) == set(tiles_for_size(new)) - set(tiles_for_size(old))
    assert set(new_entry_bundles(old, new)) == set(entry_bundles_for_size(new)) - set(entry_bundles_for_size(old))
    assert len(new_tiles(old, new)) == len(set(new_tiles(old, new)))
    for t in tiles_for_size(new):  # every tile's width follows floor(s / 256^l) mod 256
        count = new >> (8 * t.level)
        assert t.width == (TILE_WIDTH if t.index < count // TILE_WIDTH else count % TILE_WIDTH)
    with pytest.raises(FormatError):
        new_tiles(new + 1, new)


# --- encodings ----------------------------------------------------------------------------------


@given(st.lists(st.binary(max_size=300), max_size=256))
def test_entry_bundle_round_trip(entries: list[bytes]) -> None:
    bundle = encode_entry_bundle(entries)
    assert decode_entry_bundle(bundle) == entries
    assert decode_entry_bundle(bundle, len(entries)) == entries
    assert len(bundle) == sum(2 + len(e) for e in entries)


def test_entry_bundle_limits_and_errors() -> None:
    assert encode_entry_bundle([b"", b"a"]).hex() == "0000" + "000161"
    biggest = encode_entry_bundle([b"x" * MAX_ENTRY_SIZE])
    assert biggest[:2] == b"\xff\xff"
    assert decode_entry_bundle(biggest) == [b"x" * MAX_ENTRY_SIZE]
    with pytest.raises(InvalidEntryError):
        encode_entry_bundle([b"x" * (MAX_ENTRY_SIZE + 1)])
    bundle = encode_entry_bundle([b"abc", b"de"])
    with pytest.raises(FormatError, match="inside entry"):
        decode_entry_bundle(bundle[:-1])
    with pytest.raises(FormatError, match="length prefix"):
        decode_entry_bundle(bundle + b"\x00")
    with pytest.raises(FormatError, match="expected 3"):
        decode_entry_bundle(bundle, 3)
    with pytest.raises(FormatError, match="more than"):
        decode_entry_bundle(encode_entry_bundle([b""] * 257))


def test_tile_encoding_and_hashing() -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(512)]
    tile0 = encode_tile(leaves[:256])
    assert len(tile0) == 8192
    assert decode_tile(tile0) == leaves[:256]
    assert tile_root(tile0) == root_from_leaf_hashes(leaves[:256])
    tile1 = tile_hashes([tile0, encode_tile(leaves[256:])])
    assert decode_tile(tile1) == [root_from_leaf_hashes(leaves[:256]), root_from_leaf_hashes(leaves[256:])]
    with pytest.raises(FormatError, match="full tile"):
        tile_root(encode_tile(leaves[:255]))
    with pytest.raises(FormatError):
        decode_tile(tile0 + bytes(32))
    with pytest.raises(FormatError):
        decode_tile(tile0[:-1])
    with pytest.raises(FormatError):
        decode_tile(b"")
    with pytest.raises(FormatError, match="expected 3"):
        decode_tile(tile0[:64], 3)
    with pytest.raises(FormatError):
        encode_tile([])
    with pytest.raises(FormatError):
        encode_tile([b"short"])
    entries = [i.to_bytes(4, "big") for i in range(10)]
    assert entry_bundle_tile(encode_entry_bundle(entries)) == encode_tile(leaves[:10])


# --- proofs from tiles --------------------------------------------------------------------------

N = 70_000


def _stored_levels(leaves: Sequence[bytes]) -> dict[int, list[bytes]]:
    """Tile level -> hashes of tree level 8·L, as a sequencer stores them (via CompactRange)."""
    levels: dict[int, list[bytes]] = {}
    tree = CompactRange()
    for leaf in leaves:
        for node in tree.append(leaf):
            if node.level % 8 == 0:
                stored = levels.setdefault(node.level // 8, [])
                assert node.index == len(stored)
                stored.append(node.hash)
    return levels


class MemoryTiles:
    """A tile server for the tree of ``size`` leaves; refuses tiles that tree does not have."""

    def __init__(self, levels: dict[int, list[bytes]], size: int) -> None:
        self.levels = levels
        self.size = size
        self.calls: list[list[TileId]] = []
        self.corrupt: set[TileId] = set()

    def read_tiles(self, tiles: Sequence[TileId]) -> Sequence[bytes]:
        self.calls.append(list(tiles))
        allowed = _tiles_at(self.size)
        out = []
        for t in tiles:
            assert t in allowed, f"{t.path} does not exist at size {self.size}"
            data = b"".join(self.levels[t.level][t.index * 256 : t.index * 256 + t.width])
            if t in self.corrupt:
                data = data[:-32] + bytes([data[-32] ^ 1]) + data[-31:]  # the tile's last hash
            out.append(data)
        return out


@functools.cache
def _tiles_at(size: int) -> frozenset[TileId]:
    return frozenset(tiles_for_size(size))


@functools.cache
def _world() -> tuple[list[bytes], merkle.GetHash, dict[int, list[bytes]]]:
    leaves = [leaf_hash(b"entry %d" % i) for i in range(N)]
    return leaves, merkle.hash_getter(leaves), _stored_levels(leaves)


def _server(size: int) -> MemoryTiles:
    return MemoryTiles(_world()[2], size)


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=N), st.data())
def test_proofs_from_tiles_match_and_verify(size: int, data: st.DataObject) -> None:
    leaves, getter, _ = _world()
    server = _server(size)
    root = root_from_tiles(server, size)
    assert root == merkle.root_hash(size, getter)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = inclusion_proof_from_tiles(server, index, size)
    assert proof == merkle.inclusion_proof(index, size, getter)
    merkle.verify_inclusion(index, size, leaves[index], proof, root)
    old = data.draw(st.integers(min_value=0, max_value=size))
    cproof = consistency_proof_from_tiles(server, old, size)
    assert cproof == merkle.consistency_proof(old, size, getter)
    merkle.verify_consistency(old, size, merkle.root_hash(old, getter), root, cproof)
    assert all(len(call) >= 1 for call in server.calls)
    assert len(server.calls) <= 3  # one batch per computation


@pytest.mark.parametrize("size", [1, 255, 256, 257, 65_535, 65_536, 65_537, N])
def test_tile_boundaries(size: int) -> None:
    leaves, getter, _ = _world()
    server = _server(size)
    root = root_from_tiles(server, size)
    assert root == merkle.root_hash(size, getter)
    if size <= 300:
        assert root == root_from_leaf_hashes(leaves[:size])
    for index in {0, size // 2, size - 1, max(size - 256, 0)}:
        proof = inclusion_proof_from_tiles(server, index, size)
        merkle.verify_inclusion(index, size, leaves[index], proof, root)
    start = max(size - 300, 0)
    assert leaf_hashes_from_tiles(server, start, size, size) == leaves[start:size]


def test_corrupt_tile_is_detected_by_verification() -> None:
    leaves, getter, _ = _world()
    size = 1000
    root = merkle.root_hash(size, getter)
    server = _server(size)
    assert root_from_tiles(server, size) == root
    server.corrupt = {TileId(0, 0)}  # leaf hashes 0..255: leaf 255 is folded into leaf 5's path
    proof = inclusion_proof_from_tiles(server, 5, size)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(5, size, leaves[5], proof, root)
    server.corrupt = {TileId(1, 0, 3)}  # the level-1 partial tile feeds the root of size 1000
    assert root_from_tiles(server, size) != root
    with pytest.raises(ProofError):
        merkle.verify_inclusion(5, size, leaves[5], inclusion_proof_from_tiles(server, 5, size), root)


def test_reader_errors() -> None:
    class Short:
        def read_tiles(self, tiles: Sequence[TileId]) -> Sequence[bytes]:
            return [bytes(32)] * len(tiles)

    class Missing:
        def read_tiles(self, tiles: Sequence[TileId]) -> Sequence[bytes]:
            return []

    with pytest.raises(FormatError, match="bytes, expected"):
        root_from_tiles(Short(), 1000)
    with pytest.raises(FormatError, match="returned 0 tiles"):
        root_from_tiles(Missing(), 1000)
    reader = TileHashReader(Short(), 1)
    assert reader.get_hash(0, 0) == bytes(32)
    with pytest.raises(ProofError):
        reader.get_hash(0, 1)
    with pytest.raises(ProofError):
        leaf_hashes_from_tiles(Short(), 0, 2, 1)
