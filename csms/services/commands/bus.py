"""The cross-node command bus: a command reaches its charge point whichever node holds it.

Several CSMS nodes share one PostgreSQL database; a charger is connected to one of them.
:class:`PostgresCommandBus` is a :class:`~csms.services.commands.service.CommandTransport` over
PostgreSQL LISTEN/NOTIFY (ARCHITECTURE property 4):

1. A charger connected to this node gets the command directly (no database round trip).
2. Otherwise the request is published on the shared channel ``csms_commands``. The node that
   holds the charger answers "claimed" at once on the requester's own channel, runs the
   command through its local registry, then answers with the result or the error.
3. No claim within ``claim_timeout_s``: the charger is connected nowhere (StationOffline).
   A claim but no answer within the command's timeout plus the claim timeout:
   CommandTimeout. Errors from the far node (CALLERROR, timeout, not supported) arrive as
   the same typed errors.
4. NOTIFY payloads are limited to 8,000 bytes; longer messages are sent in numbered chunks,
   which PostgreSQL delivers in order because one connection sends them.
5. The bus's connection is supervised: when it closes (a PostgreSQL restart, a terminated
   backend) or stops answering the keep-alive, the bus is *down*: it logs
   ``cluster.bus.lost``, reconnects with capped exponential backoff and jitter, listens
   again and logs ``cluster.bus.reconnected``. While down, :attr:`PostgresCommandBus.ready`
   is false (``/readyz`` says not ready) and a command for a charger not on this node fails
   with :class:`~csms.errors.CommandBusDown`, a StationOffline (409), never a driver error.

6. Broadcasts (:meth:`PostgresCommandBus.broadcast`): a topic and a JSON body published on
   ``csms_broadcast`` reach every other node's subscribers of the topic, in the order one
   node sent them; the sender's own subscribers are not called (it acted locally). The
   live feed's notices and load management's triggers cross nodes this way. A broadcast
   while the bus is down is lost (logged); its receivers must tolerate that (the feed's
   readers may fetch from the API, load management re-allocates on its timer).
7. Broadcasts are batched: ``broadcast`` queues the body and returns; one sender task
   sends what has queued as one NOTIFY of up to ``CHUNK_CHARS`` (a busy evening's notices
   are one round trip per batch instead of one each, measured by ``bench.cluster``). One
   sender, so the order holds; a body too big for a batch goes alone, in chunks.

Nodes trust each other and the database: messages are JSON validated on arrival, never
pickled. The command log is written once, by the requesting node's CommandService.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg
import structlog

from csms.domain.commands import Command, CommandResult
from csms.errors import CommandBusDown, CommandError, CommandTimeout, StationOffline
from csms.services.commands import codec

log = structlog.get_logger(__name__)

REQUESTS = "csms_commands"
BROADCASTS = "csms_broadcast"
CHUNK_CHARS = 7_000  # JSON is ASCII-escaped, so characters are bytes; NOTIFY allows 7,999
CHUNK_MARK = "~"  # a JSON message starts with "{", a chunk with this
MAX_PARTIAL_MESSAGES = 1_000  # chunked messages being assembled at once (a bound on memory)
# What a lost or refused database connection raises (asyncpg's own and the socket's).
CONNECTION_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError,
                     asyncpg.InternalClientError)


class LocalTransport(Protocol):
    """This node's connections (csms.handlers.connection.ConnectionRegistry)."""

    def connected_here(self, station_id: str) -> bool: ...

    async def send(self, station_id: str, command: Command, timeout_s: float) -> CommandResult:
        ...


@dataclass(slots=True)
class _Pending:
    claimed: asyncio.Event = field(default_factory=asyncio.Event)
    answer: asyncio.Future[dict[str, Any]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


class PostgresCommandBus:
    """Commands to charge points on any node, over PostgreSQL LISTEN/NOTIFY."""

    def __init__(
        self,
        dsn: str,
        local: LocalTransport,
        claim_timeout_s: float = 2.0,
        *,
        keepalive_s: float = 5.0,
        backoff_s: tuple[float, float] = (0.1, 5.0),
    ) -> None:
        self.node_id = uuid.uuid4().hex[:16]
        self._dsn = dsn
        self._local = local
        self._claim_timeout_s = claim_timeout_s
        self._keepalive_s = keepalive_s
        self._backoff_s = backoff_s
        self._replies = f"csms_reply_{self.node_id}"
        self._conn: Any = None  # asyncpg.Connection while up, None while down
        self._down = asyncio.Event()
        self._down_since: float | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._send_lock = asyncio.Lock()
        self._pending: dict[str, _Pending] = {}
        self._chunks: dict[str, list[str]] = {}
        self._work: set[asyncio.Task[None]] = set()
        self._topics: dict[str, list[Callable[[dict[str, Any]], None]]] = {}
        self._queued: list[tuple[str, str]] = []  # (topic, body as JSON) waiting (rule 7)
        self._sender: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        """Connected and listening (rule 5)."""
        return self._conn is not None and not self._conn.is_closed()

    @property
    def server_pid(self) -> int | None:
        """The PostgreSQL backend of the bus's connection (for operators and tests)."""
        return None if self._conn is None else int(self._conn.get_server_pid())

    async def start(self) -> None:
        """Connect, listen, and supervise the connection from now on.

        Raises: OSError / asyncpg errors if PostgreSQL is unreachable at start-up.
        """
        await self._connect()
        self._supervisor = asyncio.get_running_loop().create_task(
            self._supervise(), name="command-bus-supervisor")
        log.info("cluster.bus.started", node_id=self.node_id)

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
        for task in list(self._work):
            task.cancel()
        await asyncio.gather(*self._work, return_exceptions=True)
        for pending in self._pending.values():
            if not pending.answer.done():
                pending.answer.cancel()
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    # -- supervision (rule 5) --------------------------------------------------------------

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self._dsn, timeout=self._backoff_s[1] + 5.0)
        try:
            conn.add_termination_listener(self._on_terminated)
            await conn.add_listener(REQUESTS, self._on_notify)
            await conn.add_listener(self._replies, self._on_notify)
            await conn.add_listener(BROADCASTS, self._on_notify)
        except BaseException:
            conn.terminate()
            raise
        self._conn = conn
        self._down.clear()

    def _on_terminated(self, conn: object) -> None:
        if conn is self._conn:
            self._lost("connection closed")

    def _lost(self, reason: str) -> None:
        """Mark the bus down (once per outage); the supervisor reconnects."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()
        if not self._down.is_set():
            self._down_since = time.monotonic()
            self._down.set()
            log.warning("cluster.bus.lost", node_id=self.node_id, reason=reason)

    async def _supervise(self) -> None:
        """Forever: keep-alive while up, reconnect while down."""
        while True:
            if self._down.is_set():
                await self._reconnect()
                continue
            try:
                async with asyncio.timeout(self._keepalive_s):
                    await self._down.wait()
            except TimeoutError:
                await self._keepalive()

    async def _keepalive(self) -> None:
        try:
            async with self._send_lock, asyncio.timeout(self._keepalive_s):
                if self._conn is not None:
                    await self._conn.execute("SELECT 1")
        except CONNECTION_ERRORS as exc:
            self._lost(f"keep-alive failed: {type(exc).__name__}")

    async def _reconnect(self) -> None:
        first, cap = self._backoff_s
        delay, attempts = first, 0
        while True:
            attempts += 1
            try:
                await self._connect()
            except CONNECTION_ERRORS as exc:
                log.warning("cluster.bus.reconnect_failed", node_id=self.node_id,
                            attempt=attempts, error=type(exc).__name__,
                            retry_in_s=round(delay, 3))
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311
                delay = min(delay * 2, cap)
                continue
            down_s = 0.0 if self._down_since is None else time.monotonic() - self._down_since
            log.info("cluster.bus.reconnected", node_id=self.node_id, attempts=attempts,
                     down_s=round(down_s, 3))
            return

    # -- requester side --------------------------------------------------------------------

    async def send(self, station_id: str, command: Command, timeout_s: float) -> CommandResult:
        """The charger's answer, from whichever node holds it.

        Raises: StationOffline (connected nowhere; CommandBusDown while the bus is down),
        CommandTimeout, and whatever the holding node raised (CommandRejected, ...).
        """
        if self._local.connected_here(station_id):
            return await self._local.send(station_id, command, timeout_s)
        if not self.ready:
            raise CommandBusDown(station_id)
        request_id = uuid.uuid4().hex
        pending = self._pending[request_id] = _Pending()
        started = time.monotonic()
        try:
            await self._publish(REQUESTS, {
                "op": "request", "id": request_id, "reply_to": self._replies,
                "from": self.node_id, "station_id": station_id, "timeout_s": timeout_s,
                "command": codec.encode_command(command)})
            try:
                async with asyncio.timeout(self._claim_timeout_s):
                    await pending.claimed.wait()
            except TimeoutError:
                raise StationOffline(station_id) from None
            try:
                async with asyncio.timeout(timeout_s + self._claim_timeout_s):
                    answer = await pending.answer
            except TimeoutError:
                raise CommandTimeout(station_id, type(command).__name__,
                                     time.monotonic() - started) from None
        finally:
            del self._pending[request_id]
        if "error" in answer:
            raise codec.decode_error(answer["error"])
        return codec.decode_result(answer["result"])

    # -- broadcasts (rule 6) ---------------------------------------------------------------

    def on_broadcast(self, topic: str, receiver: Callable[[dict[str, Any]], None]
                     ) -> Callable[[], None]:
        """Call ``receiver(body)`` for every ``topic`` broadcast of another node; returns
        the unsubscribe function. Receivers run on the event loop and must not block."""
        receivers = self._topics.setdefault(topic, [])
        receivers.append(receiver)
        return lambda: receivers.remove(receiver)

    async def broadcast(self, topic: str, body: dict[str, Any]) -> bool:
        """Queue ``body`` for the other nodes' ``topic`` receivers (rule 7); False (logged)
        when the bus is down and the broadcast is lost."""
        if not self.ready:
            log.warning("cluster.bus.broadcast_lost", topic=topic)
            return False
        self._queued.append((topic, json.dumps(body, separators=(",", ":"),
                                                ensure_ascii=True)))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(
                self._send_broadcasts(), name="command-bus-broadcasts")
            self._work.add(self._sender)
            self._sender.add_done_callback(self._work.discard)
        return True

    async def _send_broadcasts(self) -> None:
        """Rule 7: until nothing is queued, one NOTIFY per batch that fits one."""
        head = f'{{"op":"broadcast","from":{json.dumps(self.node_id)},"items":['
        while self._queued:
            texts: list[str] = []
            size = len(head) + 2
            for topic, body in self._queued:
                item = f'{{"topic":{json.dumps(topic)},"body":{body}}}'
                if texts and size + len(item) + 1 > CHUNK_CHARS:
                    break
                texts.append(item)
                size += len(item) + 1
            del self._queued[:len(texts)]
            try:
                await self._publish_text(BROADCASTS, head + ",".join(texts) + "]}", "?")
            except CommandBusDown:
                log.warning("cluster.bus.broadcast_lost", items=len(texts))

    def _received(self, message: dict[str, Any]) -> None:
        if message["from"] == self.node_id:
            return
        for item in message.get("items", [message]):
            for receiver in list(self._topics.get(str(item["topic"]), ())):
                try:
                    receiver(dict(item["body"]))
                except Exception:  # one receiver's bug must not starve the others
                    log.exception("cluster.bus.receiver_failed", topic=item["topic"])

    # -- holder side -----------------------------------------------------------------------

    async def _serve(self, request: dict[str, Any]) -> None:
        reply_to, request_id = str(request["reply_to"]), str(request["id"])
        station_id = str(request["station_id"])
        await self._publish(reply_to, {"op": "claimed", "id": request_id})
        answer: dict[str, Any]
        try:
            command = codec.decode_command(request["command"])
            result = await self._local.send(station_id, command, float(request["timeout_s"]))
            answer = {"op": "answer", "id": request_id, "result": codec.encode_result(result)}
        except CommandError as exc:
            answer = {"op": "answer", "id": request_id, "error": codec.encode_error(exc)}
        except codec.CodecError as exc:
            failed = CommandError(station_id, f"undecodable command: {exc}")
            answer = {"op": "answer", "id": request_id, "error": codec.encode_error(failed)}
        await self._publish(reply_to, answer)
        log.info("cluster.bus.served", station_id=station_id, request_id=request_id,
                 outcome="error" if "error" in answer else "answered")

    # -- wire ------------------------------------------------------------------------------

    async def _publish(self, channel: str, message: dict[str, Any]) -> None:
        """NOTIFY ``message``. Raises CommandBusDown if the bus is (or just went) down."""
        await self._publish_text(channel, json.dumps(message, separators=(",", ":"),
                                                     ensure_ascii=True),
                                 str(message.get("station_id", "?")))

    async def _publish_text(self, channel: str, text: str, station_id: str) -> None:
        """NOTIFY the JSON ``text``, in chunks if it is long (rule 4)."""
        parts = [text[i:i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)]
        if len(parts) > 1:
            chunk_id = uuid.uuid4().hex
            parts = [f"{CHUNK_MARK}{chunk_id}:{len(parts)}:{part}" for part in parts]
        async with self._send_lock:
            conn = self._conn
            if conn is None:
                raise CommandBusDown(station_id)
            try:
                for part in parts:
                    await conn.execute("SELECT pg_notify($1, $2)", channel, part)
            except CONNECTION_ERRORS as exc:
                if conn is self._conn:
                    self._lost(f"notify failed: {type(exc).__name__}")
                raise CommandBusDown(station_id) from None

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            text = self._assemble(payload)
            if text is not None:
                self._dispatch(json.loads(text))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("cluster.bus.bad_message", error=str(exc), payload=payload[:200])

    def _assemble(self, payload: str) -> str | None:
        """The whole message once its last chunk is in; None while chunks are missing.

        A chunk is ``~<message id>:<number of chunks>:<text>``; a whole message is JSON.
        """
        if not payload.startswith(CHUNK_MARK):
            return payload
        chunk_id, count, part = payload[len(CHUNK_MARK):].split(":", 2)
        if chunk_id not in self._chunks and len(self._chunks) >= MAX_PARTIAL_MESSAGES:
            self._chunks.pop(next(iter(self._chunks)))  # the oldest: its sender gave up
        parts = self._chunks.setdefault(chunk_id, [])
        parts.append(part)
        if len(parts) < int(count):
            return None
        del self._chunks[chunk_id]
        return "".join(parts)

    def _dispatch(self, message: dict[str, Any]) -> None:
        op = message["op"]
        if op == "broadcast":
            self._received(message)
            return
        if op == "request":
            if message["from"] == self.node_id:
                return
            if not self._local.connected_here(str(message["station_id"])):
                return
            task = asyncio.get_running_loop().create_task(self._serve_logged(message))
            self._work.add(task)
            task.add_done_callback(self._work.discard)
            return
        pending = self._pending.get(str(message["id"]))
        if pending is None:
            return  # a late answer to a request that timed out, or a second claim
        if op == "claimed":
            pending.claimed.set()
        elif op == "answer" and not pending.answer.done():
            pending.claimed.set()
            pending.answer.set_result(message)

    async def _serve_logged(self, request: dict[str, Any]) -> None:
        try:
            await self._serve(request)
        except CommandBusDown:  # lost mid-answer (rule 5): the requester times out
            log.warning("cluster.bus.answer_lost", request_id=request.get("id"))
        except Exception:  # a task's outermost frame: log; the requester times out
            log.exception("cluster.bus.serve_failed", request_id=request.get("id"))
