"""Benchmark: start-up of the ``notation-py`` command line, as new processes (what a containerd verifier pays per pull).

Set up in a temporary directory (removed at the end): its own ``NOTATION_CONFIG`` and ``NOTATION_CACHE``,
a test key (``notation-py cert generate-test --default bench``), a strict OCI trust policy for the
scope ``local/app`` trusting it (``notation-py policy init``), an image in an OCI layout
(``scripts/demo_image.py``) and one signature of it (``notation-py sign --oci-layout``).

Measured, interleaved (each round starts every command once, the order rotating from round to round,
so drift in machine load hits all of them alike), ``--runs`` rounds after one untimed warm-up round,
each a new process timed from start to exit:

* ``baseline``: ``python -c pass`` with the same interpreter;
* ``help``: ``notation-py --help``;
* ``verify``: ``notation-py verify --oci-layout --scope local/app DIR@sha256:...`` (the one signature,
  strict level: integrity, authenticity, expiry, revocation of a chain without OCSP or CRL URLs);
* ``version``: ``notation-py version``.

Printed: each command's median wall time (and min, max), its ratio to the baseline's median, the median
CPU time (user + system; less sensitive to other load on a shared machine than wall time), the targets of the
start-up issue (``verify`` at most 150 ms or at most 4x the baseline; ``--help`` at most 100 ms), the
load average before and after, and the machine. With ``--check`` the exit status is 1 when a target is
missed (without it, always 0 once the measurement ran).

The commands run with bytecode caches (``PYTHONDONTWRITEBYTECODE`` is removed from their environment,
so the set-up and the warm-up round write them where they are missing or stale).

``notation-py`` is the console script next to the interpreter (``.venv/bin/notation-py``), as users and
containerd run it; ``--module`` runs ``python -m notation_py`` instead.

Usage: python scripts/bench_startup.py [--runs 15] [--check] [--module]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
SCOPE = "local/app"
SIGNER = "bench"
#: Targets of the start-up issue, in seconds and as a multiple of the baseline.
VERIFY_TARGET = 0.150
VERIFY_TARGET_RATIO = 4.0
HELP_TARGET = 0.100


def _cli_command(use_module: bool) -> list[str]:
    """How to start ``notation-py``: the console script beside the interpreter, else ``python -m notation_py``."""
    script = Path(sys.executable).parent / "notation-py"
    if not use_module and script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "notation_py"]


def _run(argv: Sequence[str], env: Mapping[str, str], what: str) -> str:
    """Run a set-up step; its standard output (stripped), or exit with its error."""
    proc = subprocess.run(list(argv), env=dict(env), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"bench_startup: {what} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip()


def _set_up(root: Path, cli: list[str]) -> tuple[dict[str, str], str]:
    """Configuration, key, trust policy, a signed image; the environment and the verify reference."""
    # Bytecode caches are written (by the set-up and the warm-up round) and used, as in an installed
    # CLI: without them every start compiles the modules it imports.
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTATION_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["NOTATION_CONFIG"] = str(root / "config")
    env["NOTATION_CACHE"] = str(root / "cache")
    _run([*cli, "cert", "generate-test", "--default", SIGNER], env, "cert generate-test")
    identity = f"x509.subject: CN={SIGNER},O=Notary,L=Seattle,ST=WA,C=US"
    policy = ["policy", "init", "--name", "bench", "--scope", SCOPE, "--trust-store", f"ca:{SIGNER}"]
    _run([*cli, *policy, "--trusted-identity", identity, "--level", "strict"], env, "policy init")
    layout = root / "image"
    digest = _run([sys.executable, str(SCRIPTS / "demo_image.py"), str(layout), "v1"], env, "demo_image.py")
    reference = f"{layout}@{digest}"
    _run([*cli, "sign", "--oci-layout", reference], env, "sign")
    return env, reference


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time_once(argv: Sequence[str], env: Mapping[str, str]) -> tuple[float, float]:
    """Wall time from start to exit, and the CPU time (user + system) the process used."""
    cpu = _cpu_of_children()
    start = time.perf_counter()
    proc = subprocess.run(list(argv), env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"bench_startup: {' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')}")
    return elapsed, _cpu_of_children() - cpu


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPU ({cpu}), Python {platform.python_version()}, {platform.system()} {platform.release()}"


def _load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def main(argv: list[str] | None = None) -> int:
    """Set up, measure, print; with ``--check``, 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="timed rounds (new processes per command; default 15)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a start-up target is missed")
    parser.add_argument("--module", action="store_true", help="run python -m notation_py, not the console script")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    cli = _cli_command(args.module)
    root = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    try:
        env, reference = _set_up(root, cli)
        commands: dict[str, list[str]] = {
            "baseline": [sys.executable, "-c", "pass"],
            "help": [*cli, "--help"],
            "verify": [*cli, "verify", "--oci-layout", "--scope", SCOPE, reference],
            "version": [*cli, "version"],
        }
        load_before = _load()
        names = list(commands)
        times: dict[str, list[float]] = {name: [] for name in names}
        cpu_times: dict[str, list[float]] = {name: [] for name in names}
        for round_no in range(args.runs + 1):  # round 0 warms the page cache and the bytecode caches
            shift = round_no % len(names)
            for name in names[shift:] + names[:shift]:
                elapsed, cpu = _time_once(commands[name], env)
                if round_no:
                    times[name].append(elapsed)
                    cpu_times[name].append(cpu)
        load_after = _load()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["baseline"]
    print(f"machine: {_machine()}")
    print(f"command: {' '.join(cli)}; {args.runs} rounds, load average before {load_before}, after {load_after}")
    print(f"{'':10} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'x baseline':>11} {'cpu ms':>8}")
    for name in names:
        values = times[name]
        print(
            f"{name:10} {medians[name] * 1000:10.1f} {min(values) * 1000:8.1f} {max(values) * 1000:8.1f}"
            f" {medians[name] / base:10.2f}x {statistics.median(cpu_times[name]) * 1000:8.1f}"
        )
    verify_ok = medians["verify"] <= VERIFY_TARGET or medians["verify"] <= VERIFY_TARGET_RATIO * base
    help_ok = medians["help"] <= HELP_TARGET
    print(
        f"target verify <= {VERIFY_TARGET * 1000:.0f} ms or <= {VERIFY_TARGET_RATIO:g}x baseline "
        f"({VERIFY_TARGET_RATIO * base * 1000:.1f} ms): {'met' if verify_ok else 'MISSED'}"
    )
    print(f"target --help <= {HELP_TARGET * 1000:.0f} ms: {'met' if help_ok else 'MISSED'}")
    if args.check and not (verify_ok and help_ok):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
