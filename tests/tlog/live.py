"""A real ``tlog`` subprocess for tests: run the CLI to completion, or serve a log on a free port.

Shared by the CLI, durability and independent-verifier tests of ``tlog`` and by the transparency
client tests of ``notation_py``, which all need a log served exactly as operators run it.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

#: How to run the ``tlog`` command with this interpreter (no installed entry point needed).
TLOG_COMMAND = [sys.executable, "-c", "import sys; from tlog.cli import run; sys.exit(run())"]


def tlog(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``tlog ARGS`` to completion."""
    result = subprocess.run(
        [*TLOG_COMMAND, *map(str, args)], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


class Served:
    """A running ``tlog serve`` subprocess and the URL it announced."""

    def __init__(self, process: subprocess.Popen[str], url: str, lines: queue.Queue[str]) -> None:
        self.process = process
        self.url = url
        self.lines = lines

    def stderr(self) -> str:
        """Everything the server printed so far."""
        out = []
        while not self.lines.empty():
            out.append(self.lines.get_nowait())
        return "".join(out)


@contextmanager
def serve(directory: Path, *extra: str | Path, env: dict[str, str] | None = None) -> Iterator[Served]:
    """Start ``tlog serve`` on a free port; kill it afterwards if it is still running.

    ``env`` adds variables to the server's environment. For a graceful stop (the database closed
    cleanly, e.g. before copying the data directory), send SIGTERM and wait inside the block.
    """
    process = subprocess.Popen(
        [
            *TLOG_COMMAND,
            "serve",
            "--dir",
            str(directory),
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "warning",
            *map(str, extra),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stderr is not None
    stream = process.stderr

    def drain() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=drain, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + 30
    url = None
    while url is None:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            process.kill()
            pytest.fail(f"tlog serve did not start: {''.join(seen)}")
        seen.append(line)
        match = re.search(r"serving \S+ on (http://\S+)", line)
        url = match[1] if match else None
    served = Served(process, url, lines)
    for line in seen:
        lines.put(line)
    try:
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
