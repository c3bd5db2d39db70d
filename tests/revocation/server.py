"""A small real HTTP server on 127.0.0.1 serving OCSP responses and CRLs for the tests."""

from __future__ import annotations

import base64
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

from cryptography.x509 import ocsp


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes

    @property
    def route(self) -> str:
        """First two path segments, e.g. ``/ocsp/int`` (GET OCSP requests append the request)."""
        return "/" + "/".join(self.path.split("?")[0].strip("/").split("/")[:2])

    def ocsp_request(self) -> ocsp.OCSPRequest:
        """The OCSP request carried by this HTTP request (GET path suffix or POST body)."""
        if self.method == "POST":
            return ocsp.load_der_ocsp_request(self.body)
        encoded = unquote(self.path.strip("/").split("/", 2)[2])
        return ocsp.load_der_ocsp_request(base64.b64decode(encoded))


Reply = tuple[int, bytes]
Handler = Callable[[Request], Reply]


class RevocationServer:
    """Routes are exact matches on :attr:`Request.route`; unknown routes answer 404."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.hits: Counter[str] = Counter()
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(method, self.path, body)
                with server._lock:
                    server.hits[request.route] += 1
                    server.requests.append(request)
                    handler = server.routes.get(request.route)
                status, payload = handler(request) if handler else (404, b"not found")
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()

    def serve(self, route: str, payload: bytes | Handler, status: int = 200) -> None:
        """Answer ``route`` with fixed bytes or a handler."""
        if callable(payload):
            self.routes[route] = payload
        else:
            fixed = (status, payload)
            self.routes[route] = lambda _request: fixed

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@contextmanager
def closed_port_url() -> Iterator[str]:
    """A loopback URL on which nothing listens (connections are refused at once), for the ``with`` block.

    The port stays bound, never listening, until the block ends: no other process (another pytest
    worker's server, say) can take it meanwhile and answer instead.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
