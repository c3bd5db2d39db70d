"""Transparency-log lookups keep to the operation's deadline, also the background proof lookup."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from notation_py.deadline import Deadline, current_deadline, deadline_scope
from notation_py.errors import DeadlineExceededError, TransparencyError
from notation_py.oci.descriptor import Descriptor
from notation_py.oci.digest import Digest
from notation_py.oci.layout import OCILayout
from notation_py.oci.manifest import MEDIA_TYPE_OCI_MANIFEST
from notation_py.transparency import LogClient, TransparencyVerifier
from tests.transparency.helpers import policy


@pytest.mark.real_server
def test_a_log_that_never_answers_stops_at_the_deadline_not_at_the_read_timeout() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)  # connections queue up; nothing ever reads them
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with LogClient(url, timeout=30) as client:
            started = time.monotonic()
            with deadline_scope(Deadline(0.5, "verification of x")), pytest.raises(DeadlineExceededError) as info:
                client.log_info()
            assert time.monotonic() - started < 3
            assert info.value.message == (
                "verification of x did not finish within the 0.5 s deadline: "
                f"fetching the log information at transparency log {url} was still in progress"
            )
        with LogClient(url, timeout=0.2) as client, pytest.raises(TransparencyError, match=r"no answer within 0\.2 s"):
            client.log_info()  # without a deadline: the log's own timeout, as before


class RecordingLayout(OCILayout):
    """An OCI layout that records, per referrers listing, the thread and the deadline it ran with."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.seen: list[tuple[str, Deadline | None]] = []

    def referrers(self, subject: Descriptor, artifact_type: str | None = None) -> Iterator[Descriptor]:
        self.seen.append((threading.current_thread().name, current_deadline()))
        return super().referrers(subject, artifact_type)


def test_the_background_proof_lookup_runs_under_the_callers_deadline(tmp_path: Path) -> None:
    OCILayout.create(tmp_path / "layout")
    store = RecordingLayout(tmp_path / "layout")
    subject = Descriptor(MEDIA_TYPE_OCI_MANIFEST, Digest.parse("sha256:" + "a" * 64), 10)
    manifest = Descriptor(MEDIA_TYPE_OCI_MANIFEST, Digest.parse("sha256:" + "b" * 64), 20)
    deadline = Deadline(30, "verification of x")
    with TransparencyVerifier(policy()) as verifier, deadline_scope(deadline):
        verifier.oci_check(store, subject, manifest)  # starts the lookup in the background
    # close() (leaving the verifier) waited for the lookup
    assert [(name.startswith("tlog-proofs"), seen) for name, seen in store.seen] == [(True, deadline)]
