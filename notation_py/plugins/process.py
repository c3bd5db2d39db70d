"""Running a plugin executable: request on stdin, response on stdout, bounded in time and size.

The plugin contract limits each output channel to less than 64 MiB; a plugin that writes more, or
does not finish in time, is killed (its whole process group on POSIX, so helpers it started do not
keep the pipes open) and the call fails with :class:`~notation_py.errors.PluginError`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from notation_py.errors import PluginError

__all__ = ["DEFAULT_MAX_OUTPUT", "DEFAULT_TIMEOUT", "ProcessResult", "run_executable"]

#: Seconds a plugin command may take before it is killed.
DEFAULT_TIMEOUT = 60.0
#: Largest accepted stdout or stderr, in bytes (the contract: "less than 64 MiB").
DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024 - 1

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class ProcessResult:
    """Exit code and the complete standard output and error of a finished plugin process."""

    returncode: int
    stdout: bytes
    stderr: bytes


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill the process (and, on POSIX, the process group it leads); ignore if already gone."""
    with contextlib.suppress(OSError):
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()


def run_executable(
    path: Path,
    args: Sequence[str],
    stdin: bytes,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_output: int = DEFAULT_MAX_OUTPUT,
    label: str | None = None,
) -> ProcessResult:
    """Run ``path args...`` with ``stdin`` as its input; wait at most ``timeout`` seconds.

    Args:
        path: The executable (run directly, never through a shell).
        args: Its arguments.
        stdin: Bytes written to its standard input, which is then closed.
        timeout: Seconds until the process (group) is killed.
        max_output: Largest accepted size of stdout and of stderr; more kills the process.
        label: How to name the process in messages (default: the path).

    Returns:
        The exit code and outputs (a non-zero exit code is *not* an error here).

    Raises:
        PluginError: the executable cannot be started, timed out, or wrote too much.
    """
    name = label or str(path)
    try:
        proc = subprocess.Popen(
            [str(path), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=os.name == "posix",
        )
    except OSError as exc:
        raise PluginError(f"{name} cannot be run: {exc.strerror or exc}") from None

    overflow: list[str] = []
    outputs: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}

    def drain(stream: IO[bytes], channel: str) -> None:
        sink = outputs[channel]
        fd = stream.fileno()
        try:
            while True:
                chunk = os.read(fd, _CHUNK)
                if not chunk:
                    return
                if len(sink) + len(chunk) > max_output:
                    overflow.append(channel)
                    _kill(proc)
                    return
                sink += chunk
        except (OSError, ValueError):
            return

    def feed(stream: IO[bytes]) -> None:
        try:
            stream.write(stdin)
        except (OSError, ValueError):
            pass  # the plugin exited or closed its input early; its exit code tells the rest
        finally:
            with contextlib.suppress(OSError):
                stream.close()

    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    threads = [
        threading.Thread(target=feed, args=(proc.stdin,), daemon=True),
        threading.Thread(target=drain, args=(proc.stdout, "stdout"), daemon=True),
        threading.Thread(target=drain, args=(proc.stderr, "stderr"), daemon=True),
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    timed_out = False
    try:
        proc.wait(timeout=max(timeout, 0.0))
    except subprocess.TimeoutExpired:
        timed_out = True
    # The pipes can outlive the process when it left a child behind: wait for them until the deadline.
    for thread in threads[1:]:
        thread.join(timeout=max(deadline - time.monotonic(), 0.0))
        if thread.is_alive():
            timed_out = True
    if timed_out:
        _kill(proc)
        proc.wait()
        for thread in threads:
            thread.join(timeout=1.0)
    for stream in (proc.stdout, proc.stderr):
        with contextlib.suppress(OSError):
            stream.close()
    if overflow:
        raise PluginError(f"{name} wrote more than {max_output} bytes to {overflow[0]}; it was stopped")
    if timed_out:
        raise PluginError(f"{name} did not finish within {timeout:g} seconds; it was stopped")
    return ProcessResult(proc.returncode, bytes(outputs["stdout"]), bytes(outputs["stderr"]))
