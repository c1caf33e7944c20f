"""The evening benchmark's subscribers: a webhook receiver and a live-feed (SSE) client.

Both run in the load generator's process (its CPU, not the server's), so the CSMS does the
work of a network with a webhook subscriber and a safety platform watching: outbox rows,
signed POSTs with retries, and feed notices pushed to a stream.

Rules:
1. ``WebhookReceiver`` is a minimal HTTP/1.1 server on 127.0.0.1 that answers every POST 200
   at once (keep-alive) and counts the deliveries, repeats of one delivery id apart.
2. ``FeedSubscriber`` holds ``GET /feed/safety`` open with ``Accept: text/event-stream``
   and counts the events; it reconnects (counted) if the stream ends.
3. Every loop here is bounded by its connection and stopped by ``close``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import httpx


class WebhookReceiver:
    """Rule 1."""

    def __init__(self) -> None:
        self.deliveries = 0
        self.repeats = 0
        self.by_kind: Counter[str] = Counter()
        self._seen: set[bytes] = set()
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        try:
            while True:  # bounded by the connection (the CSMS's keep-alive client)
                head = await reader.readuntil(b"\r\n\r\n")
                length, delivery = 0, b""
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"x-csms-delivery":
                        delivery = value.strip()
                body = await reader.readexactly(length)
                self._count(delivery, body)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            self._connections.pop(task, None)

    def _count(self, delivery: bytes, body: bytes) -> None:
        if delivery in self._seen:
            self.repeats += 1
            return
        self._seen.add(delivery)
        self.deliveries += 1
        kind = body.partition(b'"kind":"')[2].partition(b'"')[0]
        self.by_kind[kind.decode(errors="replace") or "?"] += 1

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._connections.values()):  # ends each read (not a cancel:
            writer.transport.abort()  # asyncio would log a cancelled connection handler)
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=5)


class FeedSubscriber:
    """Rule 2."""

    def __init__(self, api_port: int, token: str) -> None:
        self.events = 0
        self.reconnects = 0
        self.error: str | None = None
        self._url = f"http://127.0.0.1:{api_port}/feed/safety"
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        timeout = httpx.Timeout(10.0, read=None)
        async with httpx.AsyncClient(timeout=timeout) as client:
            for attempt in range(100):  # bounded: the run ends long before
                try:
                    async with client.stream("GET", self._url, headers=self._headers) as r:
                        if r.status_code != 200:
                            self.error = f"HTTP {r.status_code}"
                            return
                        self.connected.set()
                        self.error = None  # an earlier attempt's failure (the API starting)
                        async for line in r.aiter_lines():
                            if line.startswith("data:"):
                                self.events += 1
                except httpx.HTTPError as exc:
                    self.error = f"{type(exc).__name__}: {exc}"
                self.reconnects = attempt + 1
                await asyncio.sleep(0.5)  # a pause before reconnecting

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
