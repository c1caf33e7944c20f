"""A minimal CSMS for the simulator's own tests and for trying the CLI without a real CSMS.

It accepts any station id on any path with either subprotocol, answers the station-initiated
messages of both versions with fixed, schema-valid answers (transaction ids count from 1),
records everything, and lets a test send commands to a connected station::

    async with LoopbackCsms() as csms:
        st = SimStation("CP-1", OcppVersion.V16, csms.url)
        async with st.running():
            await st.boot()
            answer = await csms.call("CP-1", "Reset", {"type": "Soft"})

It is not the CSMS under test: it checks nothing beyond the schemas.
:func:`station_on_loopback` gives a test a connected (and booted) station in one line.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self

import structlog
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from csms.handlers.ocppj import OcppVersion
from csms.handlers.rpc import Handler, RpcEndpoint
from simulators.model import iso_utc
from simulators.protocol.link import schemas_for
from simulators.station import SimStation
from simulators.waiting import wait_until

Payload = dict[str, Any]
Answerer = Callable[[Payload], Payload]


class LoopbackCsms:
    """A WebSocket server on ``host`` (port 0: any free port) that accepts everything."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        boot_status: str = "Accepted",
        heartbeat_interval_s: int = 300,
        tag_status: Mapping[str, str] | None = None,
        unsupported: Collection[str] = (),
    ) -> None:
        self.host, self.port = host, port
        self.boot_status = boot_status
        self.heartbeat_interval_s = heartbeat_interval_s
        self.tag_status = dict(tag_status or {})  # idTag -> status; unlisted: Accepted
        self.unsupported = set(unsupported)  # actions answered with a NotSupported CALLERROR
        self.received: list[tuple[str, str, Payload]] = []  # (station_id, action, payload)
        self.authorization: dict[str, str | None] = {}  # station_id -> Authorization header
        self.endpoints: dict[str, RpcEndpoint] = {}
        self._sockets: dict[str, ServerConnection] = {}
        self._server: Server | None = None
        self._tx_ids = itertools.count(1)
        self._log = structlog.get_logger(__name__)

    @property
    def serving(self) -> bool:
        """The server is listening (between ``__aenter__`` and ``__aexit__``)."""
        return self._server is not None

    @property
    def url(self) -> str:
        """The base URL stations connect to (their id is appended)."""
        return f"ws://{self.host}:{self.port}/ocpp/"

    async def __aenter__(self) -> Self:
        self._server = await serve(
            self._handle, self.host, self.port,
            subprotocols=[Subprotocol(v.value) for v in OcppVersion],
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def call(
        self, station_id: str, action: str, payload: Payload, *, timeout_s: float = 5.0
    ) -> Payload:
        """Send a command to a connected station and return its validated answer."""
        await wait_until(lambda: station_id in self.endpoints, timeout_s=timeout_s,
                         what=f"{station_id} connected")
        return await self.endpoints[station_id].call(action, payload, timeout_s)

    async def disconnect(self, station_id: str) -> None:
        """Close the connection of ``station_id`` from the CSMS side."""
        await self._sockets[station_id].close(1001, "loopback closes")

    def messages(self, station_id: str, action: str) -> list[Payload]:
        """The ``action`` payloads ``station_id`` sent, in order."""
        return [p for s, a, p in self.received if s == station_id and a == action]

    async def wait_for(
        self, station_id: str, action: str, *, count: int = 1, timeout_s: float = 5.0
    ) -> list[Payload]:
        """Wait until ``station_id`` sent ``count`` ``action`` messages; return them all."""
        await wait_until(
            lambda: len(self.messages(station_id, action)) >= count, timeout_s=timeout_s,
            what=f"{count} x {action} from {station_id}",
        )
        return self.messages(station_id, action)

    async def _handle(self, ws: ServerConnection) -> None:
        station_id = ws.request.path.rstrip("/").rsplit("/", 1)[-1] if ws.request else "?"
        if ws.subprotocol is None:
            await ws.close(1002, "no OCPP subprotocol")
            return
        version = OcppVersion(ws.subprotocol)
        headers = ws.request.headers if ws.request else None
        self.authorization[station_id] = headers.get("Authorization") if headers else None
        endpoint = RpcEndpoint(
            ws, version, schemas_for(version), self._handlers(station_id, version),
            log=self._log.bind(side="loopback", station_id=station_id),
        )
        self.endpoints[station_id], self._sockets[station_id] = endpoint, ws
        try:
            await endpoint.serve()
        except ConnectionClosed:
            pass
        finally:
            if self.endpoints.get(station_id) is endpoint:
                del self.endpoints[station_id], self._sockets[station_id]

    def _handlers(self, station_id: str, version: OcppVersion) -> dict[str, Handler]:
        def make(action: str, answer: Answerer) -> Handler:
            async def handle(payload: Payload) -> Payload:
                self.received.append((station_id, action, payload))
                return answer(payload)

            return handle

        answers = self._answers(version).items()
        return {a: make(a, answer) for a, answer in answers if a not in self.unsupported}

    def _answers(self, version: OcppVersion) -> dict[str, Answerer]:
        common: dict[str, Answerer] = {
            "BootNotification": self._boot, "Heartbeat": self._now,
            "StatusNotification": self._empty, "MeterValues": self._empty,
            # firmware and log status (simulators.device.files)
            "FirmwareStatusNotification": self._empty, "LogStatusNotification": self._empty,
        }
        if version is OcppVersion.V16:
            return {
                **common, "Authorize": self._v16_authorize, "StartTransaction": self._v16_start,
                "StopTransaction": self._v16_stop,
                "DiagnosticsStatusNotification": self._empty,
                "SignedFirmwareStatusNotification": self._empty,
            }
        return {
            **common, "Authorize": self._v201_authorize, "TransactionEvent": self._v201_event,
            "NotifyEvent": self._empty, "NotifyReport": self._empty,
            "NotifyMonitoringReport": self._empty,
        }

    def _boot(self, _: Payload) -> Payload:
        return {
            "status": self.boot_status, "currentTime": iso_utc(),
            "interval": self.heartbeat_interval_s,
        }

    def _now(self, _: Payload) -> Payload:
        return {"currentTime": iso_utc()}

    def _empty(self, _: Payload) -> Payload:
        return {}

    def _status_of(self, tag: str) -> str:
        return self.tag_status.get(tag, "Accepted")

    def _v16_authorize(self, p: Payload) -> Payload:
        return {"idTagInfo": {"status": self._status_of(p["idTag"])}}

    def _v16_start(self, p: Payload) -> Payload:
        return {"transactionId": next(self._tx_ids), **self._v16_authorize(p)}

    def _v16_stop(self, p: Payload) -> Payload:
        return self._v16_authorize(p) if "idTag" in p else {}

    def _v201_authorize(self, p: Payload) -> Payload:
        return {"idTokenInfo": {"status": self._status_of(p["idToken"]["idToken"])}}

    def _v201_event(self, p: Payload) -> Payload:
        return self._v201_authorize(p) if "idToken" in p else {}


@asynccontextmanager
async def station_on_loopback(
    version: OcppVersion,
    *,
    station_id: str = "CP-1",
    boot: bool = True,
    csms: LoopbackCsms | None = None,
    **station_options: Any,
) -> AsyncIterator[tuple[LoopbackCsms, SimStation]]:
    """A :class:`SimStation` connected to a fresh (or the given) loopback CSMS, booted unless
    ``boot`` is false; ``station_options`` go to :class:`SimStation`."""
    async with _server(csms) as server:
        station = SimStation(station_id, version, server.url, **station_options)
        async with station.running():
            if boot:
                await station.boot()
            yield server, station


@asynccontextmanager
async def _server(csms: LoopbackCsms | None) -> AsyncIterator[LoopbackCsms]:
    if csms is not None and csms.serving:
        yield csms
        return
    async with csms or LoopbackCsms() as server:
        yield server
