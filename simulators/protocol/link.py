"""One simulated station's OCPP-J connection: connect, serve, call, record, run follow-ups.

Version-neutral plumbing under :class:`simulators.station.SimStation`:

1. :meth:`Link.open` connects (``Authorization: Basic`` when a password is set, the
   version's subprotocol, which the CSMS must select), runs the RPC endpoint in a TaskGroup
   and, on exit, cancels what it started and closes the WebSocket. An exception raised in
   the body comes out unwrapped (not as an ExceptionGroup).
2. Command handlers run in the receive loop, so they never call the CSMS themselves: they
   queue follow-up work with :meth:`Link.after_answer`, which starts in its own task once
   the answer frame is out (and is dropped if the answer was a CALLERROR).
3. A follow-up or service that fails is logged and kept in :attr:`Link.errors`; it never
   takes the connection down.
4. With ``keep_history`` (the default) every CALL sent and every frame in and out is kept
   for assertions, and :attr:`Link.connection_starts` says where in :attr:`Link.frames` each
   connection's frames begin; long fleet runs turn it off. Handled CSMS commands are always
   kept in :attr:`Link.received`.
5. With a ``backoff`` (:class:`simulators.behaviour.offline.Backoff`), a connection that drops while
   the body runs (not the close on exit) is reopened on that schedule, drawing the jitter
   from ``rng``; the TaskGroup, services and follow-ups live on across it, and
   :attr:`Link.on_reconnected` runs as a follow-up on each new connection. Without one, a
   drop simply ends the connection. :meth:`Link.drop_connection` cuts it abruptly.
6. :meth:`Link.restart` is a reboot: once its CALLs in flight are answered, it closes the
   connection cleanly and opens a new one after a delay whatever the backoff (retrying on
   the backoff's schedule, or a short default one); :attr:`Link.on_rebooted` runs as a
   follow-up on the new connection.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import random
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import orjson
import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from csms.handlers.ocppj import (
    CallError,
    CallResult,
    OcppError,
    OcppVersion,
    Schemas,
    parse_frame,
)
from csms.handlers.rpc import CallFailed, ConnectionLost, Handler, ResponseInvalid, RpcEndpoint
from simulators.behaviour.offline import Backoff, reopen
from simulators.model import SimulatorError
from simulators.protocol.transport import SimTransport, expected_answer_id
from simulators.stats import Stats
from simulators.waiting import wait_until

Payload = dict[str, Any]
REBOOT_RETRY = Backoff(base_s=0.2, cap_s=5.0, max_attempts=20)
Work = Callable[[], Awaitable[None]]
Answer = CallResult | CallError


@functools.cache
def schemas_for(version: OcppVersion) -> Schemas:
    """One compiled schema set per version, shared by every station of the process."""
    return Schemas(version)


class Link:
    """The connection of one station; see the module rules."""

    def __init__(
        self,
        station_id: str,
        version: OcppVersion,
        url: str,
        *,
        password: str | None = None,
        call_timeout_s: float = 30.0,
        open_timeout_s: float = 10.0,
        stats: Stats | None = None,
        keep_history: bool = True,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.station_id = station_id
        self.version = version
        self.url = url
        self.password = password
        self.call_timeout_s = call_timeout_s
        self.open_timeout_s = open_timeout_s
        self.stats = stats or Stats()
        self.keep_history = keep_history
        self.received: list[tuple[str, Payload]] = []
        self.sent: list[tuple[str, Payload]] = []
        self.frames: list[tuple[str, str]] = []  # ("in" | "out", frame)
        self.connection_starts: list[int] = []  # index in frames of each connection's first
        self.errors: list[tuple[str, BaseException]] = []
        self.backoff = backoff
        self.reconnects = 0
        self.on_reconnected: Work | None = None
        self.on_rebooted: Work | None = None
        self._reboot_delay_s: float | None = None
        self._in_flight = 0  # our CALLs awaiting their answer
        self._rng = rng or random.Random()
        self.log = structlog.get_logger(__name__).bind(
            station_id=station_id, ocpp=version.value
        )
        self._endpoint: RpcEndpoint | None = None
        self._transport: SimTransport | None = None
        self._ws: ClientConnection | None = None
        self._handlers: dict[str, Handler] = {}
        self._tg: asyncio.TaskGroup | None = None
        self._alive = False
        self._closing = False
        self._queued: list[tuple[str, Work]] = []
        self._followups: set[asyncio.Task[None]] = set()
        self._services: dict[str, asyncio.Task[None]] = {}
        self._last_calls: dict[str, str] = {}
        self._raw_waiters: dict[str, asyncio.Future[Answer]] = {}
        # the client TLS context for wss:// URLs (profile 3: with the station's certificate,
        # simulators.device.certificates); None: the default for the URL
        self.ssl: ssl.SSLContext | None = None

    @property
    def connected(self) -> bool:
        """The WebSocket is open and the endpoint is receiving."""
        return self._alive

    @property
    def services(self) -> frozenset[str]:
        """The names of the long-lived tasks running (e.g. "heartbeat")."""
        return frozenset(name for name, task in self._services.items() if not task.done())

    def ws_url(self) -> str:
        """The URL the station connects to: ``url`` plus ``/`` plus the station id."""
        return f"{self.url.rstrip('/')}/{quote(self.station_id, safe='')}"

    def _headers(self) -> dict[str, str]:
        if self.password is None:
            return {}
        token = base64.b64encode(f"{self.station_id}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    @asynccontextmanager
    async def open(self, handlers: Mapping[str, Handler]) -> AsyncIterator[None]:
        """Be connected for the duration of the ``async with`` body (see rule 1)."""
        if self._tg is not None:
            raise SimulatorError(f"{self.station_id} is already connected")
        self._handlers = self._recording(handlers)
        ws = await self._connect()
        body_error: Exception | None = None
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg, self._closing = tg, False
                self._attach(ws)
                supervisor = tg.create_task(self._supervise(), name=f"{self.station_id}:serve")
                try:
                    yield
                except Exception as exc:  # noqa: BLE001 - re-raised below, outside the TaskGroup
                    body_error = exc
                finally:
                    await self._shutdown(supervisor)
        finally:
            self._endpoint, self._tg, self._alive = None, None, False
            self._transport, self._ws = None, None
            self._queued.clear()
        if body_error is not None:
            raise body_error

    async def _connect(self) -> ClientConnection:
        tls: dict[str, Any] = {} if self.ssl is None else {"ssl": self.ssl}
        ws = await connect(
            self.ws_url(),
            subprotocols=[Subprotocol(self.version.value)],
            additional_headers=self._headers(),
            open_timeout=self.open_timeout_s,
            proxy=None,
            **tls,
        )
        if ws.subprotocol != self.version.value:
            await ws.close()
            raise SimulatorError(
                f"the CSMS selected subprotocol {ws.subprotocol!r}, not {self.version.value}"
            )
        self.log.info("sim.connected", url=self.ws_url())
        return ws

    def _attach(self, ws: ClientConnection) -> None:
        self.stats.connected += 1
        self.stats.online += 1
        if self.keep_history:
            self.connection_starts.append(len(self.frames))
        self._ws = ws
        self._transport = SimTransport(ws, on_sent=self._on_sent, on_received=self._on_received)
        self._endpoint = RpcEndpoint(self._transport, self.version, schemas_for(self.version),
                                     self._handlers, log=self.log)
        self._alive = True

    async def _supervise(self) -> None:
        """Serve the connection; after a drop, reconnect (rule 5) and serve again."""
        while self._endpoint is not None:
            await self._serve(self._endpoint)
            rebooting, self._reboot_delay_s = self._reboot_delay_s, None
            if self._closing or (self.backoff is None and rebooting is None):
                return
            if rebooting is not None:
                await asyncio.sleep(rebooting)
            ws = await reopen(self._connect, self.backoff or REBOOT_RETRY, self._rng, self.log)
            if ws is None:
                self.errors.append(("reconnect", ConnectionLost(f"{self.station_id}: gave up")))
                return
            self._attach(ws)
            self.reconnects += 1
            hook = self.on_reconnected if rebooting is None else self.on_rebooted
            if rebooting is None:
                self.stats.reconnects += 1
            if hook is not None:
                self.spawn("rebooted" if rebooting is not None else "reconnected", hook)

    async def restart(self, delay_s: float) -> None:
        """Reboot (rule 6): close now, reconnect after ``delay_s`` real seconds."""
        if self._ws is None or not self._alive:
            raise SimulatorError(f"{self.station_id} is not connected")
        with contextlib.suppress(TimeoutError):  # let exchanges in flight finish first
            await wait_until(lambda: self._in_flight == 0, timeout_s=self.call_timeout_s,
                             poll_s=0.01, what="calls answered before reboot")
        if self._ws is None or not self._alive:
            return
        self._reboot_delay_s = delay_s
        self._alive = False
        await self._ws.close()

    async def drop_connection(self) -> None:
        """Cut the TCP connection without a close frame, as a network failure does."""
        if self._ws is None or not self._alive:
            raise SimulatorError(f"{self.station_id} is not connected")
        self._alive = False
        self._ws.transport.abort()

    async def _serve(self, endpoint: RpcEndpoint) -> None:
        try:
            await endpoint.serve()
        except (ConnectionClosed, ConnectionLost) as exc:
            self.log.info("sim.connection.closed", reason=str(exc))
        finally:
            self._alive = False
            self.stats.online -= 1

    async def _shutdown(self, supervisor: asyncio.Task[None]) -> None:
        self._closing = True
        self._queued.clear()
        for task in [*self._followups, *self._services.values()]:
            task.cancel()
        self._services.clear()
        supervisor.cancel()  # first, so that no reconnect replaces the socket closed here
        if self._ws is not None:
            await self._ws.close()

    def _recording(self, handlers: Mapping[str, Handler]) -> dict[str, Handler]:
        def wrap(action: str, handler: Handler) -> Handler:
            async def recorded(payload: Payload) -> Payload:
                self.received.append((action, payload))
                self.stats.command_received(action)
                # A charger has taken in the answer to its own request before it reads the
                # next message: the caller waiting for that answer (a StartTransaction
                # learning its transaction id) runs first, so a TxProfile sent right after
                # the answer finds its transaction. The reader would otherwise handle this
                # CALL before the caller's wake-up, already queued, ran.
                await asyncio.sleep(0)
                return await handler(payload)

            return recorded

        return {action: wrap(action, handler) for action, handler in handlers.items()}

    async def call(
        self, action: str, payload: Payload, *, timeout_s: float | None = None
    ) -> Payload:
        """Send one CALL and return the validated answer; counts it in :attr:`stats`.

        ``payload`` goes out as given (the schema check may add defaults to it). Raises what
        :meth:`RpcEndpoint.call` raises; :class:`ConnectionLost` when not connected.
        """
        endpoint = self._endpoint
        if endpoint is None or not self._alive:
            raise ConnectionLost(f"{action}: {self.station_id} is not connected")
        if self.keep_history:
            self.sent.append((action, payload))
        self.stats.call_sent(action)
        started = time.perf_counter()
        self._in_flight += 1
        try:
            response = await endpoint.call(action, payload, timeout_s or self.call_timeout_s)
        except CallFailed as exc:
            self.stats.call_failed(action, exc.error.code)
            raise
        except (ResponseInvalid, TimeoutError, ConnectionLost) as exc:
            self.stats.call_failed(action, type(exc).__name__)
            raise
        finally:
            self._in_flight -= 1
        self.stats.call_answered(action, time.perf_counter() - started, response)
        return response

    async def send_frame(self, frame: str) -> None:
        """Send ``frame`` exactly as given, unvalidated, without waiting for anything."""
        if self._transport is None:
            raise ConnectionLost(f"{self.station_id} is not connected")
        await self._transport.send(frame)

    async def send_raw(
        self, frame: str, *, answer_id: str | None = None, timeout_s: float = 5.0
    ) -> Answer:
        """Send ``frame`` as-is and return the CALLRESULT or CALLERROR that answers it.

        The answer is matched on ``answer_id``: by default the frame's own message id, or
        "-1" (what a CSMS answers an unreadable frame with).
        """
        wanted = answer_id if answer_id is not None else expected_answer_id(frame)
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._raw_waiters[wanted] = future
        try:
            await self.send_frame(frame)
            async with asyncio.timeout(timeout_s):
                return await future
        finally:
            self._raw_waiters.pop(wanted, None)

    def last_payload(self, action: str) -> Payload:
        """A copy of the last ``action`` payload as it went on the wire."""
        frame = self._last_calls.get(action)
        if frame is None:
            raise SimulatorError(f"no {action} was sent yet")
        payload: Payload = orjson.loads(frame)[3]
        return payload

    async def resend_last(self, action: str, *, timeout_s: float | None = None) -> Payload:
        """Send the last ``action`` payload again as a new CALL (new message id)."""
        return await self.call(action, self.last_payload(action), timeout_s=timeout_s)

    async def replay_last(self, action: str, *, timeout_s: float = 5.0) -> Answer:
        """Send the last ``action`` frame again byte for byte, message id included."""
        frame = self._last_calls.get(action)
        if frame is None:
            raise SimulatorError(f"no {action} was sent yet")
        return await self.send_raw(frame, timeout_s=timeout_s)

    def after_answer(self, name: str, work: Work) -> None:
        """From a handler: run ``work`` in its own task once the handler's answer is sent."""
        self._queued.append((name, work))

    def spawn(self, name: str, work: Work) -> asyncio.Task[None]:
        """Run ``work`` now in its own task; :meth:`settle` waits for it."""
        task = self._task_group().create_task(
            self._guarded(name, work), name=f"{self.station_id}:{name}"
        )
        self._followups.add(task)
        task.add_done_callback(self._followups.discard)
        return task

    def start_service(self, name: str, work: Work) -> None:
        """Run a long-lived ``work`` (e.g. the heartbeat), replacing one of the same name."""
        self.stop_service(name)
        self._services = {n: t for n, t in self._services.items() if not t.done()}
        self._services[name] = self._task_group().create_task(
            self._guarded(name, work), name=f"{self.station_id}:{name}"
        )

    def stop_service(self, name: str) -> None:
        """Cancel the service ``name`` if it runs."""
        task = self._services.pop(name, None)
        if task is not None:
            task.cancel()

    async def settle(self, timeout_s: float = 5.0) -> None:
        """Wait until no follow-up task runs (services excluded), including ones they start."""
        async with asyncio.timeout(timeout_s):
            while self._followups:
                await asyncio.wait(set(self._followups))

    def _task_group(self) -> asyncio.TaskGroup:
        if self._tg is None or self._closing:
            raise SimulatorError(f"{self.station_id} is not connected")
        return self._tg

    async def _guarded(self, name: str, work: Work) -> None:
        try:
            await work()
        except Exception as exc:  # noqa: BLE001 - rule 3: never ends the connection
            self.errors.append((name, exc))
            self.log.warning("sim.task.failed", task=name, error=repr(exc))

    def _on_sent(self, frame: str) -> None:
        if self.keep_history:
            self.frames.append(("out", frame))
        if frame.startswith("[2,"):
            self._last_calls[str(orjson.loads(frame)[2])] = frame
        elif frame.startswith("[3,") and not self._closing:
            queued, self._queued = self._queued, []
            for name, work in queued:
                self.spawn(name, work)
        elif frame.startswith("[4,"):
            self._queued.clear()

    def _on_received(self, frame: str) -> None:
        if self.keep_history:
            self.frames.append(("in", frame))
        if not self._raw_waiters:
            return
        try:
            message = parse_frame(frame)
        except OcppError:
            return
        if isinstance(message, CallResult | CallError):
            future = self._raw_waiters.get(message.message_id)
            if future is not None and not future.done():
                future.set_result(message)
