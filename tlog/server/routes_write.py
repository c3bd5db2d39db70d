"""``POST /v1/entries``: authenticate, read the body, verify, log, answer with the receipt.

This is the hot path (about 1,800 appends/s on 2 cores): the app calls :meth:`WriteRoutes.add_entry`
directly, without Starlette's routing and middleware, and the handler maps its own exceptions.
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tlog.errors import AuthError
from tlog.log import Receipt
from tlog.server.common import entry_json
from tlog.server.errors import NO_STORE, ApiError, error_response
from tlog.server.state import AppState

__all__ = ["WriteRoutes", "receipt_json"]


def receipt_json(receipt: Receipt) -> dict[str, Any]:
    """The JSON answer to a submission: the entry, the signed checkpoint and the ``tlog-proof``."""
    return {
        **entry_json(receipt.index, receipt.entry_bytes, receipt.leaf_hash),
        "treeSize": receipt.tree_size,
        "checkpoint": receipt.checkpoint_note.decode("utf-8"),
        "proof": receipt.to_tlog_proof().to_bytes().decode("utf-8"),
    }


class WriteRoutes:
    """The submission handler of one app."""

    def __init__(self, state: AppState) -> None:
        """Handle submissions with ``state``'s verifier, sequencer, tokens and limits."""
        self._state = state
        self._metrics = state.metrics
        self._location = state.prefix + "/v1/entries/"

    def _authorize(self, request: Request) -> None:
        state = self._state
        if not state.tokens:
            if not state.allow_anonymous_writes:
                raise ApiError(403, "writes_disabled", "this log accepts no submissions (no tokens are configured)")
            return
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise AuthError("a bearer token is required (Authorization: Bearer <token>)")
        offered = credentials.strip().encode("utf-8", "replace")
        # Compare with every token so the time taken does not reveal which one matched.
        if not sum(hmac.compare_digest(offered, t) for t in state.tokens):
            raise AuthError("the bearer token is not valid")

    async def _read_body(self, request: Request) -> bytes:
        max_body = self._state.max_body
        length = request.headers.get("content-length")
        if length is not None:
            if not (length.isascii() and length.isdigit()):
                raise ApiError(400, "bad_request", "malformed Content-Length")
            # Compare lengths first: int() refuses strings of more than 4,300 digits.
            digits = length.lstrip("0")
            if len(digits) > len(str(max_body)) or int(digits or "0") > max_body:
                raise ApiError(413, "body_too_large", f"the body is {length} bytes; at most {max_body} are accepted")
        chunks: list[bytes] = []
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > max_body:
                raise ApiError(413, "body_too_large", f"the body is larger than the {max_body}-byte limit")
            chunks.append(chunk)
        return b"".join(chunks)

    async def add_entry(self, request: Request) -> Response:
        """``POST /v1/entries``: verify, log and return the receipt once it is checkpointed.

        Never raises: every error is answered through :func:`~tlog.server.errors.error_response`.
        """
        state = self._state
        try:
            self._authorize(request)
            body = await self._read_body(request)
            try:
                # Parsing and verifying signatures is CPU-bound: it runs off the event loop (see tlog.verifier).
                entry = await state.verifier.verify(body)
            except Exception as exc:
                refused = error_response(exc)
                self._metrics.verification_failed(refused.code)
                self._metrics.append_failed()
                return refused
            receipt = await state.sequencer.add(entry)
        except Exception as exc:
            self._metrics.append_failed()
            return error_response(exc)
        self._metrics.appended(receipt)
        return JSONResponse(
            receipt_json(receipt),
            status_code=200 if receipt.duplicate else 201,
            headers={"Location": f"{self._location}{receipt.index}", "Cache-Control": NO_STORE},
        )
