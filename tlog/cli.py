"""``tlog`` command line (the transparency log service is being built; today only ``version``)."""

from __future__ import annotations

import sys

from tlog import __version__


def run(argv: list[str] | None = None) -> int:
    """Entry point of the ``tlog`` console script."""
    args = sys.argv[1:] if argv is None else argv
    if args in (["version"], ["--version"]):
        print(f"tlog {__version__}")
        return 0
    print(
        "usage: tlog version\n\nThe transparency log service (init, serve, audit, prove) is not part of this "
        "release yet.",
        file=sys.stderr if args else sys.stdout,
    )
    return 2 if args else 0
