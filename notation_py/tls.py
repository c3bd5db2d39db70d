"""TLS trust for outgoing HTTPS: one SSL context per process and CA bundle.

Building an SSL context loads the whole CA bundle (about 30 ms here), and every ``httpx.Client``
builds one by default; sharing a context keeps a cold verification from paying that once per
client. The context honours ``SSL_CERT_FILE``/``SSL_CERT_DIR`` like httpx does.
"""

from __future__ import annotations

import functools
import os
import ssl

import httpx


def ssl_context(ca_file: str | None = None) -> ssl.SSLContext:
    """The shared client SSL context, with ``ca_file``'s certificates trusted in addition.

    Raises:
        OSError, ssl.SSLError: ``ca_file`` cannot be loaded.
    """
    return _context(ca_file, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=8)
def _context(ca_file: str | None, _env_file: str | None, _env_dir: str | None) -> ssl.SSLContext:
    # The environment values are part of the cache key so a changed SSL_CERT_FILE takes effect.
    context = httpx.create_ssl_context(trust_env=True)
    if ca_file is not None:
        context.load_verify_locations(cafile=ca_file)
    return context
