"""Submission verification in worker processes gives the same records and the same refusals as inline."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import multiprocessing
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.tlog.test_server import submission
from tlog.entry import Submission, build_entry
from tlog.errors import FormatError, InvalidEntryError, TlogError, UnavailableError
from tlog.storage.base import NewEntry
from tlog.verifier import InlineVerifier, ProcessVerifier, SubmissionVerifier, verify_submissions


def body(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def tampered(name: str) -> bytes:
    doc = submission(name)
    envelope = bytearray(base64.b64decode(doc["envelope"]))
    envelope[-10] ^= 1  # inside the base64url signature of the JWS
    doc["envelope"] = base64.b64encode(bytes(envelope)).decode()
    return body(doc)


def inline_error(data: bytes) -> TlogError:
    try:
        build_entry(Submission.from_json(data))
    except TlogError as exc:
        return exc
    raise AssertionError("the submission was accepted")


def run(kind: str, test: Callable[[SubmissionVerifier], Awaitable[None]]) -> None:
    """Run ``test`` against a started verifier of ``kind`` (real worker processes for "process")."""

    async def main() -> None:
        verifier: SubmissionVerifier = ProcessVerifier(1, batch=8) if kind == "process" else InlineVerifier()
        await verifier.start()
        try:
            await test(verifier)
        finally:
            await verifier.close()

    asyncio.run(main())


KINDS = pytest.mark.parametrize("kind", ["process", "inline"])


@KINDS
def test_records_equal_inline_verification(kind: str) -> None:
    data = body(submission("verifier-ok"))

    async def test(verifier: SubmissionVerifier) -> None:
        record = await verifier.verify(data)
        assert isinstance(record, NewEntry)
        assert record == build_entry(Submission.from_json(data)).to_record()

    run(kind, test)


@pytest.mark.parametrize(
    "data",
    [tampered("verifier-tampered"), b"{not json", body({**submission("verifier-unknown"), "extra": 1})],
    ids=["bad-signature", "not-json", "unknown-field"],
)
@KINDS
def test_refusals_keep_their_type_and_message(kind: str, data: bytes) -> None:
    expected = inline_error(data)

    async def test(verifier: SubmissionVerifier) -> None:
        with pytest.raises(type(expected)) as caught:
            await verifier.verify(data)
        assert caught.value.message == expected.message
        assert isinstance(caught.value, InvalidEntryError | FormatError)

    run(kind, test)


@KINDS
def test_a_batch_with_bad_submissions_fails_only_those(kind: str) -> None:
    bodies = [tampered(f"mixed-{i}") if i % 3 == 0 else body(submission(f"mixed-{i}")) for i in range(30)]

    async def test(verifier: SubmissionVerifier) -> None:
        results = await asyncio.gather(*(verifier.verify(b) for b in bodies), return_exceptions=True)
        for i, (data, result) in enumerate(zip(bodies, results, strict=True)):
            if i % 3 == 0:
                assert isinstance(result, InvalidEntryError), result
            else:
                assert result == build_entry(Submission.from_json(data)).to_record()

    run(kind, test)


def test_closed_verifier_refuses_work() -> None:
    async def main() -> None:
        verifier = ProcessVerifier(1)
        with pytest.raises(UnavailableError, match="not running"):
            await verifier.verify(b"{}")
        await verifier.start()
        await verifier.close()
        await verifier.close()  # idempotent
        with pytest.raises(UnavailableError, match="not running"):
            await verifier.verify(body(submission("after-close")))

    asyncio.run(main())


def test_a_killed_worker_fails_its_batch_and_the_pool_is_replaced() -> None:
    async def main() -> None:
        verifier = ProcessVerifier(1)
        await verifier.start()
        try:
            for child in multiprocessing.active_children():
                os.kill(child.pid or 0, signal.SIGKILL)
                child.join(10)  # dead before the next submission is sent
            with pytest.raises(UnavailableError, match="retry later"):
                await verifier.verify(body(submission("killed-1")))
            data = body(submission("killed-2"))
            assert await verifier.verify(data) == build_entry(Submission.from_json(data)).to_record()
        finally:
            await verifier.close()

    asyncio.run(main())


def test_verify_submissions_returns_errors_in_place() -> None:
    good = body(submission("in-place"))
    results = verify_submissions([b"[]", good])
    assert isinstance(results[0], TlogError)
    assert isinstance(results[1], NewEntry)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="positive"):
        ProcessVerifier(1, batch=0)


def _failing_initializer() -> None:
    raise RuntimeError("no verification in this worker")


class _BrokenStartVerifier(ProcessVerifier):
    def _new_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        return concurrent.futures.ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"), initializer=_failing_initializer
        )


def test_workers_that_cannot_start_are_a_clear_error() -> None:
    async def main() -> None:
        verifier = _BrokenStartVerifier(1)
        with pytest.raises(UnavailableError, match=r"cannot start 1 verification worker process\(es\)"):
            await verifier.start()
        with pytest.raises(UnavailableError, match="not running"):
            await verifier.verify(b"{}")
        await verifier.close()

    asyncio.run(main())
