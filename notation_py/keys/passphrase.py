"""Where secrets (key passphrases, backup passphrases, token PINs) come from: a file, a variable, a terminal.

Secrets are never taken from the command line, where other users can read them in the process
list and shells keep them in their history. :func:`obtain_secret` tries, in order:

1. a file (named by a ``--…-file`` flag or by ``signingkeys.json``), whose content is the secret
   with one trailing newline removed;
2. an environment variable (``NOTATION_KEY_PASSPHRASE``, ``NOTATION_CA_PASSPHRASE``,
   ``NOTATION_BACKUP_PASSPHRASE``, ``NOTATION_PKCS11_PIN``);
3. a prompt on the terminal, without echo, only when standard input is a terminal (twice, to
   confirm, for a new secret).

When none is available the caller's error class is raised with a message naming all three ways.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path

from notation_py.errors import NotationError, UsageError

#: Passphrase of local private key files (reading for signing, writing new keys).
ENV_KEY_PASSPHRASE = "NOTATION_KEY_PASSPHRASE"  # noqa: S105 (a variable name, not a secret)
#: Passphrase of the issuing CA's key (``certificate issue``).
ENV_CA_PASSPHRASE = "NOTATION_CA_PASSPHRASE"  # noqa: S105 (a variable name, not a secret)
#: Passphrase of backup bundles (``key export`` / ``key import``).
ENV_BACKUP_PASSPHRASE = "NOTATION_BACKUP_PASSPHRASE"  # noqa: S105 (a variable name, not a secret)
#: User PIN of a PKCS#11 token.
ENV_PKCS11_PIN = "NOTATION_PKCS11_PIN"

#: New passphrases (for keys and backups) must have at least this many bytes.
MIN_NEW_PASSPHRASE = 8

#: Reads a secret from the terminal without echo; replaced in tests.
PromptFn = Callable[[str], str]


def _is_interactive() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def read_secret_file(path: Path, what: str, error: type[NotationError] = UsageError) -> bytes:
    """The secret stored in ``path``: its bytes without one trailing ``\\n`` or ``\\r\\n``.

    Raises:
        error: the file cannot be read or holds nothing.
    """
    try:
        data = path.expanduser().read_bytes()
    except OSError as exc:
        raise error(f"cannot read the {what} file {path}: {exc.strerror}") from None
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    if not data:
        raise error(f"the {what} file {path} is empty")
    return data


def obtain_secret(
    *,
    what: str,
    file: Path | None,
    env: str,
    file_flag: str,
    new: bool = False,
    error: type[NotationError] = UsageError,
    prompt: PromptFn | None = None,
) -> bytes:
    """Get a secret from ``file``, else ``$env``, else a terminal prompt.

    Args:
        what: Names the secret in prompts and messages, e.g. ``passphrase of signing key "release"``.
        file: A file holding the secret (from a flag or the configuration), tried first.
        env: The environment variable tried next.
        file_flag: How to name a file, for the error message (``--passphrase-file FILE``).
        new: The secret protects something being created: it is asked twice on a terminal and must
            have at least :data:`MIN_NEW_PASSPHRASE` bytes.
        error: The exception class raised when no secret is available or it is unusable.
        prompt: Terminal reader (default :func:`getpass.getpass`).

    Raises:
        error: no source gave a secret, the confirmation differs, or a new secret is too short.
    """
    secret: bytes | None = None
    if file is not None:
        secret = read_secret_file(file, what, error)
    elif os.environ.get(env):
        secret = os.environ[env].encode()
    elif _is_interactive() or prompt is not None:
        ask = prompt or getpass.getpass
        try:
            first = ask(f"Enter the {what}: ")
            if new and ask(f"Repeat the {what}: ") != first:
                raise error(f"the two entries of the {what} differ")
        except (EOFError, KeyboardInterrupt):
            raise error(f"no {what} was entered") from None
        secret = first.encode()
    if not secret:
        raise error(f"the {what} is needed: give {file_flag}, set {env}, or run on a terminal to be asked for it")
    if new and len(secret) < MIN_NEW_PASSPHRASE:
        raise error(f"the {what} must have at least {MIN_NEW_PASSPHRASE} characters")
    return secret
