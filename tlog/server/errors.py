"""Errors of the HTTP service: :class:`ApiError` and :func:`error_response`, the one exception→HTTP mapping."""

from __future__ import annotations

import logging
from typing import Final

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from tlog.errors import (
    AuthError,
    FormatError,
    InconsistentError,
    InvalidEntryError,
    LogOverloadedError,
    NotFoundError,
    ProofError,
    SignatureError,
    StorageError,
    UnavailableError,
)

__all__ = ["NO_STORE", "ApiError", "ErrorResponse", "error_response", "http_error_handler", "json_error"]

# One logger for the whole service, whatever module logs: operators filter on "tlog.server".
_log = logging.getLogger("tlog.server")

NO_STORE: Final = "no-store"


class ApiError(Exception):
    """An HTTP error with a status, a machine-readable code and a human-readable detail."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        """``status``: HTTP status; ``code``: short snake_case error code; ``detail``: explanation."""
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}


class ErrorResponse(JSONResponse):
    """A JSON error response that remembers its error code (the bounded ``reason`` label of the metrics)."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        """The body is ``{"error": code, "detail": detail}``; never cached."""
        super().__init__(
            {"error": code, "detail": detail},
            status_code=status,
            headers={"Cache-Control": NO_STORE, **(headers or {})},
        )
        self.code = code


def json_error(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> ErrorResponse:
    """``{"error": code, "detail": detail}`` with ``status``, never cached."""
    return ErrorResponse(status, code, detail, headers)


def error_response(exc: BaseException) -> ErrorResponse:
    """The JSON error response for an exception: the single exception→HTTP mapping of the service.

    ===================================  =====  ======================
    exception                            status code
    ===================================  =====  ======================
    :class:`ApiError`                    given  given
    Starlette ``HTTPException``          given  ``not_found``, …
    Starlette ``ClientDisconnect``       400    ``client_disconnected`` (the client is gone)
    :class:`InvalidEntryError`           400    ``invalid_entry``
    :class:`FormatError`, ``ValueError``  400    ``bad_request``
    :class:`ProofError`                  400    ``invalid_proof_request``
    :class:`SignatureError`              400    ``bad_signature``
    :class:`AuthError`                   401    ``unauthorized``
    :class:`NotFoundError`               404    ``not_found``
    :class:`LogOverloadedError`          503    ``overloaded`` (Retry-After)
    :class:`UnavailableError`            503    ``unavailable`` (Retry-After; logged at debug)
    :class:`StorageError`                503    ``storage_unavailable`` (logged at debug)
    :class:`InconsistentError`, other    500    ``internal_error`` (logged, no detail leaked)
    ===================================  =====  ======================

    The code of the returned response is :attr:`ErrorResponse.code`: a fixed set of values, so the
    metrics may use it as a label.
    """
    if isinstance(exc, ApiError):
        return json_error(exc.status, exc.code, exc.detail, exc.headers)
    if isinstance(exc, HTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return json_error(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))
    if isinstance(exc, ClientDisconnect):
        # A client that hangs up mid-body is not a server fault; logging it louder lets anyone flood the log.
        _log.debug("client aborted the request: disconnected before sending the whole body")
        return json_error(400, "client_disconnected", "the client disconnected before sending the whole body")
    if isinstance(exc, InvalidEntryError):
        return json_error(400, "invalid_entry", exc.message)
    if isinstance(exc, FormatError):
        return json_error(400, "bad_request", exc.message)
    if isinstance(exc, ProofError):
        return json_error(400, "invalid_proof_request", exc.message)
    if isinstance(exc, SignatureError):
        return json_error(400, "bad_signature", exc.message)
    if isinstance(exc, AuthError):
        return json_error(401, "unauthorized", exc.message, {"WWW-Authenticate": "Bearer"})
    if isinstance(exc, NotFoundError):
        return json_error(404, "not_found", exc.message)
    if isinstance(exc, LogOverloadedError):
        return json_error(503, "overloaded", exc.message, {"Retry-After": "1"})
    if isinstance(exc, UnavailableError):
        # The sequencer and the verifier log the change of state once; a line per request would flood.
        _log.debug("unavailable: %s", exc.message)
        return json_error(503, "unavailable", exc.message, {"Retry-After": "5"})
    if isinstance(exc, StorageError):
        # The sequencer logs each storage state change once; one line per failed request would flood the log.
        _log.debug("storage failure: %s", exc.message)
        return json_error(
            503, "storage_unavailable", "the log storage is unavailable; retry later", {"Retry-After": "5"}
        )
    if isinstance(exc, ValueError) and not isinstance(exc, InconsistentError):
        return json_error(400, "bad_request", str(exc))
    _log.error("internal error: %r", exc, exc_info=exc)
    return json_error(500, "internal_error", "internal server error")


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette exception handler: routing errors (404, 405) and anything a handler let through."""
    return error_response(exc)
