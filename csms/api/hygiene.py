"""Requests whose path holds a control character are refused before routing.

PostgreSQL text cannot hold NUL (U+0000): ``/charge-points/%00`` reached the database and
answered 500. No identifier the API serves contains a control character, so such a path is a
404, before authentication and before any database work. (Query parameters are checked by
their own models: a control character there is a 422 naming the parameter.)
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send


class RefuseControlCharacters:
    """Pure ASGI middleware (no per-request objects on the common path)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            status = _refusal(scope)
            if status is not None:
                await _answer(send, status)
                return
        await self._app(scope, receive, send)


def _refusal(scope: Scope) -> int | None:
    if _has_control(str(scope.get("path", "")).encode()):
        return 404
    return None


def _has_control(data: bytes) -> bool:
    """Any C0 control character or DEL (tab excepted)."""
    return any((byte < 0x20 and byte != 0x09) or byte == 0x7F for byte in data)


async def _answer(send: Send, status: int) -> None:
    body = json.dumps({"detail": "control characters are not allowed in the path"})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body.encode()})
