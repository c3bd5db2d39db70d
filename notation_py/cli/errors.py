"""The one place where errors become exit codes and messages.

=====  =====================================================================================
code   meaning
=====  =====================================================================================
0      success
1      verification failed (no signature verified), or an operation could not be completed
       (artifact or file not found, signing failed, storage error, the overall deadline of
       ``--timeout`` passed)
2      usage or configuration error: bad flags or arguments, invalid trust policy, trust store
       or signing key configuration
130    interrupted
=====  =====================================================================================
"""

from __future__ import annotations

from notation_py.errors import ConfigError, DeadlineExceededError, NotationError, UsageError, VerificationError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def exit_code_for(error: BaseException) -> int:
    """Exit code for an error reaching the top of the CLI."""
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(error, UsageError | ConfigError):
        return EXIT_USAGE
    if isinstance(error, DeadlineExceededError):
        return EXIT_FAILURE  # never "verified", never a usage error: the operation was cut short
    if isinstance(error, VerificationError | NotationError):
        return EXIT_FAILURE
    return EXIT_FAILURE


def message_for(error: BaseException) -> str:
    """One-line message for an error (no traceback)."""
    if isinstance(error, NotationError):
        return error.message
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    if isinstance(error, OSError):
        return f"{error.strerror or error}" + (f": {error.filename}" if error.filename else "")
    return f"unexpected error: {type(error).__name__}: {error}"
