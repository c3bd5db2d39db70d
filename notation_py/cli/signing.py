"""Signing flags shared by ``sign`` and ``blob sign``: the RFC 3161 timestamping authority."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from notation_py.cli.context import revocation_checker
from notation_py.envelope.model import Timestamper
from notation_py.errors import UsageError


@contextmanager
def timestamper(url: str | None, root_cert: str | None) -> Iterator[Timestamper | None]:
    """The TSA client for ``--timestamp-url``/``--timestamp-root-cert`` (None without them).

    The TSA's certificate chain must lead to the root certificate in the file and is checked for
    revocation (OCSP, then CRL) as notation does; the checker stays open while signing.

    Raises:
        UsageError: only one of the two flags, a URL that is not http(s), or an unusable root file.
    """
    if url is None and root_cert is None:
        yield None
        return
    if url is None or root_cert is None:
        raise UsageError("--timestamp-url and --timestamp-root-cert must be given together")
    from notation_py.timestamp.client import HTTPTimestamper, tsa_revocation_check

    checker = revocation_checker()
    try:
        yield HTTPTimestamper.from_root_file(url, Path(root_cert), revocation_check=tsa_revocation_check(checker))
    finally:
        checker.close()


__all__ = ["timestamper"]
