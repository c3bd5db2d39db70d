"""Entry point of ``notation-py``: every error is mapped to a message and an exit code here."""

from __future__ import annotations

import os
import sys
import traceback

from notation_py.cli import (
    commands_artifact,
    commands_blob,
    commands_cert,
    commands_key,
    commands_login,
    commands_plugin,
    commands_policy,
    commands_tlog,
)
from notation_py.cli.app import app
from notation_py.cli.errors import exit_code_for, message_for

# Importing the command modules registers their commands on ``app``.
_COMMAND_MODULES = (
    commands_artifact,
    commands_blob,
    commands_cert,
    commands_key,
    commands_login,
    commands_plugin,
    commands_policy,
    commands_tlog,
)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (console-script entry point).

    typer itself handles ``--help`` and usage errors (exit 2); errors from the commands are
    turned into one ``Error: ...`` line here, never a traceback (set ``NOTATION_PY_DEBUG=1``
    to see one).
    """
    from notation_py.cli.context import set_machine_output

    set_machine_output(False)  # each run starts in text mode (tests run several in one process)
    try:
        app(args=_boolean_flag_values(sys.argv[1:] if argv is None else argv), prog_name="notation-py")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException as exc:
        if os.environ.get("NOTATION_PY_DEBUG"):
            traceback.print_exc()
        print(f"Error: {message_for(exc)}", file=sys.stderr)
        for line in getattr(exc, "failures", None) or []:
            print(f"  {line}", file=sys.stderr)
        return exit_code_for(exc)
    return 0


#: Boolean flags notation also accepts as ``--flag=true|false`` (Go's flag syntax).
_GO_BOOLEAN_FLAGS = ("--force-referrers-tag",)


def _boolean_flag_values(argv: list[str]) -> list[str]:
    """Rewrite ``--force-referrers-tag=true|false`` to the flag or nothing, as notation accepts both forms."""
    rewritten: list[str] = []
    for arg in argv:
        name, sep, value = arg.partition("=")
        if sep and name in _GO_BOOLEAN_FLAGS:
            lowered = value.lower()
            if lowered in ("true", "1", "t"):
                rewritten.append(name)
                continue
            if lowered in ("false", "0", "f"):
                continue
        rewritten.append(arg)
    return rewritten


def main() -> None:
    """``python -m notation_py``."""
    sys.exit(run())
