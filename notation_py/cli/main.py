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
    try:
        app(args=argv, prog_name="notation-py")
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


def main() -> None:
    """``python -m notation_py``."""
    sys.exit(run())
