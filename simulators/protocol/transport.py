"""The WebSocket as the RPC endpoint sees it, with hooks on every frame in and out.

The hooks are where the simulator learns that an answer left (to start follow-up work only
then) and where raw frames are recorded; fault injection (drop, delay, duplicate, corrupt)
belongs here too when the simulator grows it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import orjson
from websockets.exceptions import ConnectionClosed

from csms.handlers.rpc import ConnectionLost

FrameHook = Callable[[str], None]


def expected_answer_id(frame: str) -> str:
    """The message id a peer will answer ``frame`` with: its own, or "-1" if unreadable."""
    try:
        msg = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return "-1"
    if isinstance(msg, list) and len(msg) > 1 and isinstance(msg[1], str):
        return msg[1] if 0 < len(msg[1]) <= 36 else "-1"
    return "-1"


class WebSocketLike(Protocol):
    """The part of a websockets connection the transport uses."""

    async def send(self, message: str) -> None: ...
    async def recv(self) -> str | bytes: ...


class SimTransport:
    """Forwards frames to ``ws``; calls ``on_sent`` / ``on_received`` for each one.

    A send on a closed connection raises :class:`ConnectionLost`, as a CALL waiting on a
    closed connection does; ``recv`` lets the close propagate, which ends the endpoint.
    """

    def __init__(self, ws: WebSocketLike, *, on_sent: FrameHook, on_received: FrameHook) -> None:
        self._ws = ws
        self._on_sent = on_sent
        self._on_received = on_received

    async def send(self, message: str) -> None:
        """Send one text frame, then report it."""
        try:
            await self._ws.send(message)
        except ConnectionClosed as exc:
            raise ConnectionLost(str(exc)) from exc
        self._on_sent(message)

    async def recv(self) -> str | bytes:
        """Receive one frame and report it (binary frames decoded as UTF-8 for the hook)."""
        frame = await self._ws.recv()
        text = frame if isinstance(frame, str) else frame.decode("utf-8", errors="replace")
        self._on_received(text)
        return frame
