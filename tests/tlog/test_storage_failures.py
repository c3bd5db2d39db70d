"""A failing storage (a full disk): nothing acknowledged is lost, one log line per change of state, backoff."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.tlog.test_log import ORIGIN, SIGNER, VERIFIER, FlakyStorage, check_receipt, entry, run
from tlog.checkpoint import Checkpoint, sign_checkpoint
from tlog.errors import StorageError, UnavailableError
from tlog.log import Log, Receipt
from tlog.published import PUBLISHED_FILE, PublishedCheckpoint
from tlog.storage import NewEntry, NodeHash, StoredCheckpoint
from tlog.storage import sqlite as sqlite_storage


class FullDisk(FlakyStorage):
    """Every append fails while ``full`` is set, as SQLite does when the volume is full."""

    def __init__(self, inner: sqlite_storage.SQLiteStorage) -> None:
        super().__init__(inner)
        self.full = False
        self.attempts = 0

    async def append_batch(
        self,
        entries: Sequence[NewEntry],
        hashes: Sequence[NodeHash],
        checkpoint: StoredCheckpoint,
        compact_range: bytes,
    ) -> range:
        if self.full:
            self.attempts += 1
            raise StorageError("appending entries failed: database or disk is full")
        return await super().append_batch(entries, hashes, checkpoint, compact_range)


def test_a_full_disk_logs_one_line_per_state_change_backs_off_and_loses_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tlog")

    async def body() -> None:
        storage = FullDisk(await sqlite_storage.open(tmp_path / "log.db"))
        async with storage, await Log.open(storage, SIGNER, ORIGIN, checkpoint_interval=0.0, create=True) as log:
            before = await asyncio.gather(*(log.add(entry(i)) for i in range(5)))
            storage.full = True
            failed = 0
            loop = asyncio.get_running_loop()
            end = loop.time() + 1.5
            number = 5
            while loop.time() < end:  # clients keep submitting (and retrying) while the disk is full
                outcomes = await asyncio.gather(*(log.add(entry(number + i)) for i in range(4)), return_exceptions=True)
                assert all(isinstance(o, StorageError) for o in outcomes), outcomes
                failed += len(outcomes)
                number += 4
            assert failed >= 4
            # Exponential backoff: a handful of attempts in 1.5 s, not one per submission.
            assert 2 <= storage.attempts <= 10, storage.attempts
            storage.full = False
            after: list[Receipt] = await asyncio.gather(*(log.add(entry(i)) for i in range(5, 12)))
            assert sorted(r.index for r in after) == list(range(5, 12))  # no index was burnt
            for receipt in [*before, *after]:
                check_receipt(receipt)

    run(body())
    records = [r for r in caplog.records if r.name == "tlog.log"]
    errors = [r for r in records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert "database or disk is full" in errors[0].getMessage()
    assert not any(r.exc_info for r in records), "a storage failure is not a bug: no traceback"
    recovered = [r for r in records if r.levelno == logging.WARNING and "commits again" in r.getMessage()]
    assert len(recovered) == 1


def test_the_wal_is_checkpointed_by_its_size_under_single_entry_commits(tmp_path: Path) -> None:
    """Small commits rewrite whole pages: the WAL must be checkpointed by its own size, not by entry bytes."""
    wal = tmp_path / "log.db-wal"

    async def body() -> int:
        storage = await sqlite_storage.open(tmp_path / "log.db")
        largest = 0
        async with storage, await Log.open(storage, SIGNER, ORIGIN, checkpoint_interval=0.0, create=True) as log:
            for i in range(250):
                data = b"%d" % i
                await log.add(NewEntry(data, hashlib.sha256(data).digest(), "sha256:" + "ab" * 32, "CN=s", None))
                largest = max(largest, wal.stat().st_size)
        return largest

    largest = run(body())
    # About 40 KB a commit: counting entry bytes instead, 250 commits left a WAL of about 10 MB.
    assert largest < sqlite_storage.WAL_CHECKPOINT_BYTES + 1024 * 1024, f"the WAL grew to {largest} bytes"


class FailingRecord(PublishedCheckpoint):
    """A published-checkpoint record whose writes fail while ``broken`` is set (its volume is full)."""

    broken = False

    def write(self, note: bytes) -> None:
        if self.broken:
            raise StorageError("cannot record the published checkpoint: No space left on device")
        super().write(note)


def test_a_checkpoint_that_cannot_be_recorded_is_never_shown_or_acknowledged(tmp_path: Path) -> None:
    record = FailingRecord(tmp_path / PUBLISHED_FILE, VERIFIER, ORIGIN)

    async def body() -> None:
        storage = await sqlite_storage.open(tmp_path / "log.db")
        async with storage:
            log = await Log.open(storage, SIGNER, ORIGIN, checkpoint_interval=0.0, published=record, create=True)
            async with log:
                await asyncio.gather(*(log.add(entry(i)) for i in range(3)))
                shown = log.checkpoint
                record.broken = True
                outcomes = await asyncio.gather(*(log.add(entry(i)) for i in range(3, 6)), return_exceptions=True)
                assert all(isinstance(o, StorageError) for o in outcomes), outcomes
                assert log.checkpoint == shown  # committed, but never shown: GET /checkpoint serves this
                recorded = record.read()
                assert recorded is not None and recorded[0].size == 3
                record.broken = False
                # Resubmitting finds the committed entries; their checkpoint is recorded before the receipts.
                receipts = await asyncio.gather(*(log.add(entry(i)) for i in range(3, 7)))
                assert sorted(r.index for r in receipts) == [3, 4, 5, 6]
                recorded = record.read()
                assert recorded is not None and recorded[0].size == log.size == 7
                for receipt in receipts:
                    check_receipt(receipt)

    run(body())


def test_a_record_ahead_of_storage_at_run_time_stops_the_sequencer(tmp_path: Path) -> None:
    """Storage found behind the published record when re-read: serving on would roll the log back."""
    record = PublishedCheckpoint(tmp_path / PUBLISHED_FILE, VERIFIER, ORIGIN)

    async def body() -> None:
        storage = FullDisk(await sqlite_storage.open(tmp_path / "log.db"))
        async with storage:
            log = await Log.open(storage, SIGNER, ORIGIN, checkpoint_interval=0.0, published=record, create=True)
            async with log:
                await asyncio.gather(*(log.add(entry(i)) for i in range(3)))
                # Someone else's checkpoint of this log at size 50 (the storage lost entries meanwhile).
                record.write(sign_checkpoint(Checkpoint(ORIGIN, 50, bytes(32)), SIGNER))
                storage.full = True  # the next commit fails and the state is re-read
                with pytest.raises(StorageError):
                    await log.add(entry(3))
                storage.full = False
                with pytest.raises(UnavailableError, match="published a checkpoint at size 50"):
                    await log.add(entry(4))
                assert log.stopped is not None and "were lost" in log.stopped
                with pytest.raises(UnavailableError):
                    log.submit(entry(5))

    run(body())
