"""A real RFC 3161 TSA for tests: ``openssl ts -reply`` behind a loopback HTTP server.

:class:`TSAServer` listens on ``127.0.0.1`` on a free port and answers ``POST`` requests with what
OpenSSL's TSA makes of them. ``mode`` makes it misbehave the ways a client must notice: a reply for
another message, for another nonce, without certificates, a rejection, HTTP errors, a wrong content
type, garbage, or no answer in time.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from asn1crypto import tsp

from tests.timestamp.tsa import TSAFixture, openssl_reply

#: Every mode :class:`TSAServer` knows.
MODES = (
    "ok",
    "other-message",
    "wrong-nonce",
    "no-certs",
    "reject",
    "http-500",
    "content-type",
    "garbage",
    "slow",
)


def _rewrite(query: bytes, **changes: object) -> bytes:
    """The request re-encoded with some fields changed (asn1crypto, no hand-written DER)."""
    request = tsp.TimeStampReq.load(query)
    fields = {
        "version": "v1",
        "message_imprint": request["message_imprint"].native,
        "nonce": request["nonce"].native,
        "cert_req": request["cert_req"].native,
    }
    fields.update(changes)
    return bytes(tsp.TimeStampReq(fields).dump())


class TSAServer:
    """``with TSAServer(tsa, workdir) as server: ... server.url ...``.

    Attributes:
        mode: How to answer the next requests (one of :data:`MODES`).
        requests: The raw bodies and content types of the requests received.
        delay: Seconds the ``slow`` mode waits before answering.
    """

    def __init__(self, tsa: TSAFixture, workdir: Path, *, mode: str = "ok", delay: float = 3.0) -> None:
        self.tsa = tsa
        self.workdir = workdir
        self.mode = mode
        self.delay = delay
        self.requests: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>/tsa``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/tsa"

    def __enter__(self) -> TSAServer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def answer(self, query: bytes) -> tuple[int, str, bytes]:
        """(HTTP status, content type, body) for ``query`` in the current mode."""
        mode = self.mode
        reply_type = "application/timestamp-reply"
        if mode == "http-500":
            return 500, "text/plain", b"internal error"
        if mode == "content-type":
            return 200, "text/html", b"<html>hello</html>"
        if mode == "garbage":
            return 200, reply_type, b"\x30\x03not a timestamp response"
        if mode == "slow":
            time.sleep(self.delay)
        if mode == "other-message":
            imprint = tsp.TimeStampReq.load(query)["message_imprint"].native
            other = hashlib.new("sha256", b"another message").digest()
            query = _rewrite(
                query, message_imprint={"hash_algorithm": imprint["hash_algorithm"], "hashed_message": other}
            )
        elif mode == "wrong-nonce":
            query = _rewrite(query, nonce=tsp.TimeStampReq.load(query)["nonce"].native + 1)
        elif mode == "no-certs":
            query = _rewrite(query, cert_req=False)
        elif mode == "reject":
            # SHA-1 is not among the TSA's accepted digests: OpenSSL answers "rejection, badAlg".
            sha1 = hashlib.sha1(b"x", usedforsecurity=False).digest()
            query = _rewrite(
                query,
                message_imprint={"hash_algorithm": {"algorithm": "sha1", "parameters": None}, "hashed_message": sha1},
            )
        with self._lock:
            reply = openssl_reply(self.tsa, self.workdir, query)
        return 200, reply_type, reply

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                server.requests.append((self.headers.get("Content-Type", ""), body))
                try:
                    status, content_type, reply = server.answer(body)
                except (ValueError, RuntimeError) as exc:
                    status, content_type, reply = 400, "text/plain", str(exc).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client may have given up (timeout tests)
                    self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler
