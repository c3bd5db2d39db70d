"""Request ids and the log formats of ``tlog serve``: ``text`` (one line per record) and ``json``.

Every request gets an id: the client's ``X-Request-Id`` when it is a sane token (at most 64 of
``A-Z a-z 0-9 - _ . ~ : @ / + =``), else a new random one. It is echoed in the response's
``X-Request-Id`` and held in a context variable while the request is handled, so every log line
emitted meanwhile, by tlog's loggers or uvicorn's (access lines included), carries it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
import time
from typing import Any, Final

from starlette.requests import ClientDisconnect

from tlog.errors import InconsistentError, TlogError
from tlog.server.errors import ApiError

__all__ = [
    "LOG_FORMATS",
    "REQUEST_ID_HEADER",
    "JsonFormatter",
    "TextFormatter",
    "configure_logging",
    "current_request_id",
    "new_request_id",
    "request_id_from_headers",
]

#: The values of ``tlog serve --log-format``.
LOG_FORMATS: Final = ("text", "json")
#: The response header echoing the request id (lower case, as ASGI wants header names).
REQUEST_ID_HEADER: Final = b"x-request-id"
_SANE_REQUEST_ID: Final = re.compile(rb"[A-Za-z0-9._~:@/+=-]{1,64}")
_REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("tlog_request_id", default=None)
#: uvicorn's access records: ``'%s - "%s %s HTTP/%s" %d'`` with these arguments.
_ACCESS_FIELDS: Final = ("client", "method", "path", "http_version", "status")


def new_request_id() -> str:
    """A fresh request id: 16 random hex digits."""
    return os.urandom(8).hex()


def request_id_from_headers(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's ``X-Request-Id`` when it is sane, else a new id (ASGI header list: lower-case names)."""
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            if _SANE_REQUEST_ID.fullmatch(value):
                return value.decode("ascii")
            break
    return new_request_id()


def current_request_id() -> str | None:
    """The id of the request being handled in this context, or ``None`` outside a request."""
    return _REQUEST_ID.get()


def set_request_id(request_id: str | None) -> contextvars.Token[str | None]:
    """Make ``request_id`` current; undo with :func:`reset_request_id` and the returned token."""
    return _REQUEST_ID.set(request_id)


def reset_request_id(token: contextvars.Token[str | None]) -> None:
    """Restore the request id that was current before :func:`set_request_id`."""
    _REQUEST_ID.reset(token)


def _expected(exc: BaseException | None) -> bool:
    """Errors the service anticipates (bad input, storage down, …): their type says enough, no traceback."""
    return isinstance(exc, TlogError | ApiError | ClientDisconnect) and not isinstance(exc, InconsistentError)


class TextFormatter(logging.Formatter):
    """``LEVEL: logger: message``, then `` [request_id=ID]`` inside a request."""

    def __init__(self) -> None:
        """The format ``tlog serve`` always used, plus the request id."""
        super().__init__("%(levelname)s: %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line (followed by a traceback when the record carries an exception)."""
        text = super().format(record)
        request_id = _REQUEST_ID.get()
        if request_id is None:
            return text
        line, newline, rest = text.partition("\n")
        return f"{line} [request_id={request_id}]{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line.

    Members: ``time`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger``, ``message``;
    ``request_id`` inside a request; ``exc_type`` when the record carries an exception, and
    ``traceback`` only when that exception is unexpected (an internal error, not bad input or an
    unavailable storage); for uvicorn's access lines also ``client``, ``method``, ``path``,
    ``http_version`` and ``status``.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON object (ASCII, no newline)."""
        seconds = int(record.created)
        doc: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
            + f".{int((record.created - seconds) * 1000):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = _REQUEST_ID.get()
        if request_id is not None:
            doc["request_id"] = request_id
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            doc.update(zip(_ACCESS_FIELDS, record.args, strict=True))
        if record.exc_info and record.exc_info[0] is not None:
            exc = record.exc_info[1]
            doc["exc_type"] = record.exc_info[0].__name__
            if not _expected(exc):
                doc["traceback"] = self.formatException(record.exc_info)
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return json.dumps(doc, default=str)


def configure_logging(level: str, log_format: str = "text") -> None:
    """Send every log record, tlog's and uvicorn's, to stderr in ``log_format`` (see :data:`LOG_FORMATS`).

    Replaces the root logger's handlers and makes uvicorn's loggers propagate to it: run uvicorn with
    ``log_config=None`` so that it keeps this configuration (it still sets its loggers' levels).
    aiosqlite's per-statement debug lines are left out even at ``debug``.

    Raises:
        ValueError: an unknown format.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"unknown log format {log_format!r} (one of {', '.join(LOG_FORMATS)})")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # aiosqlite logs every statement at debug: --log-level debug is for tlog's and uvicorn's lines.
    logging.getLogger("aiosqlite").setLevel(max(root.level, logging.INFO))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
