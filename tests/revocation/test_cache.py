"""CRL caches and the caching fetcher (no network: a counting in-memory transport)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import stat
from pathlib import Path

import pytest

from notation_py.errors import RevocationError
from notation_py.revocation import CRLBundle, CRLCache, FileCRLCache, HTTPCRLFetcher, MemoryCRLCache
from tests.revocation.pki import Node, make_cert, make_crl, now

URL = "http://crl.example/ca.crl"


class CountingTransport:
    def __init__(self, bodies: dict[str, bytes]) -> None:
        self.bodies = bodies
        self.gets: list[str] = []

    def get(self, url: str, *, timeout: float, max_bytes: int) -> bytes:
        self.gets.append(url)
        if url not in self.bodies:
            raise RevocationError("404")
        return self.bodies[url]

    def post(self, url: str, body: bytes, *, content_type: str, timeout: float, max_bytes: int) -> bytes:
        raise RevocationError("POST not supported")


class BrokenCache:
    def get(self, url: str) -> CRLBundle | None:
        raise RevocationError("disk on fire")

    def set(self, url: str, bundle: CRLBundle) -> None:
        raise RevocationError("disk on fire")


@pytest.fixture(scope="module")
def ca() -> Node:
    return make_cert("Cache CA", None, ca=True)


def test_protocol_conformance(tmp_path: Path) -> None:
    assert isinstance(MemoryCRLCache(), CRLCache)
    assert isinstance(FileCRLCache(tmp_path), CRLCache)


def test_file_cache_layout_matches_notation_go(tmp_path: Path, ca: Node) -> None:
    cache = FileCRLCache.in_cache_dir(tmp_path)
    assert cache.root == tmp_path / "crl"
    assert stat.S_IMODE(cache.root.stat().st_mode) == 0o700
    base, delta = make_crl(ca, number=1), make_crl(ca, number=2, delta_indicator=1)
    cache.set(URL, CRLBundle.from_der(base, delta))

    path = tmp_path / "crl" / hashlib.sha256(URL.encode()).hexdigest()
    assert path == cache.path_for(URL)
    content = json.loads(path.read_text())
    assert content == {"baseCRL": base64.b64encode(base).decode(), "deltaCRL": base64.b64encode(delta).decode()}
    assert [p.name for p in cache.root.iterdir()] == [path.name]  # no temporary files left

    loaded = cache.get(URL)
    assert loaded is not None and (loaded.base_der, loaded.delta_der) == (base, delta)
    assert cache.get("http://other") is None


def test_file_cache_reads_go_written_entry_without_delta(tmp_path: Path, ca: Node) -> None:
    cache = FileCRLCache(tmp_path)
    base = make_crl(ca)
    cache.path_for(URL).write_text(json.dumps({"baseCRL": base64.b64encode(base).decode()}))
    loaded = cache.get(URL)
    assert loaded is not None and loaded.delta is None and loaded.base_der == base


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b"[]", b'{"deltaCRL": "AA=="}', b'{"baseCRL": "!!"}', b'{"baseCRL": "AAAA"}', b'{"baseCRL": 5}'],
)
def test_file_cache_rejects_corrupted_entries(tmp_path: Path, content: bytes) -> None:
    cache = FileCRLCache(tmp_path)
    cache.path_for(URL).write_bytes(content)
    with pytest.raises(RevocationError):
        cache.get(URL)


def test_fetcher_uses_effective_cache_entries(ca: Node) -> None:
    transport = CountingTransport({URL: make_crl(ca)})
    cache = MemoryCRLCache()
    fetcher = HTTPCRLFetcher(transport, cache=cache)
    first = fetcher.fetch(URL)
    second = fetcher.fetch(URL)
    assert transport.gets == [URL]
    assert not first.from_cache and second.from_cache
    assert second.base_der == first.base_der
    fetcher.fetch(URL, refresh=True)
    assert transport.gets == [URL, URL]


def test_fetcher_refreshes_when_cache_expires(ca: Node) -> None:
    transport = CountingTransport({URL: make_crl(ca, next_update=now() + dt.timedelta(minutes=10))})
    clock = [now()]
    fetcher = HTTPCRLFetcher(transport, cache=MemoryCRLCache(), clock=lambda: clock[0])
    fetcher.fetch(URL)
    fetcher.fetch(URL)
    assert len(transport.gets) == 1
    clock[0] += dt.timedelta(minutes=11)
    fetcher.fetch(URL)
    assert len(transport.gets) == 2


def test_fetcher_cache_errors(ca: Node) -> None:
    transport = CountingTransport({URL: make_crl(ca)})
    assert HTTPCRLFetcher(transport, cache=BrokenCache()).fetch(URL).base_der == transport.bodies[URL]
    strict = HTTPCRLFetcher(transport, cache=BrokenCache(), discard_cache_errors=False)
    with pytest.raises(RevocationError, match="failed to retrieve CRL from cache"):
        strict.fetch(URL)


def test_fetcher_rejects_bad_urls(ca: Node) -> None:
    fetcher = HTTPCRLFetcher(CountingTransport({}))
    with pytest.raises(RevocationError, match="CRL URL cannot be empty"):
        fetcher.fetch("")
    for url in ("https://crl.example/a.crl", "ldap://crl.example/a", "file:///etc/passwd"):
        with pytest.raises(RevocationError, match="Only supports CRL URL in HTTP protocol"):
            fetcher.fetch(url)
