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
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import structlog
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from csms.handlers.ocppj import OcppVersion
from csms.handlers.rpc import Handler, RpcEndpoint
from simulators.link import schemas_for
from simulators.model import iso_utc
from simulators.waiting import wait_until

Payload = dict[str, Any]


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
    ) -> None:
        self.host, self.port = host, port
        self.boot_status = boot_status
        self.heartbeat_interval_s = heartbeat_interval_s
        self.tag_status = dict(tag_status or {})  # idTag -> status; unlisted: Accepted
        self.received: list[tuple[str, str, Payload]] = []  # (station_id, action, payload)
        self.authorization: dict[str, str | None] = {}  # station_id -> Authorization header
        self.endpoints: dict[str, RpcEndpoint] = {}
        self._server: Server | None = None
        self._tx_ids = itertools.count(1)
        self._log = structlog.get_logger(__name__)

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

    async def call(
        self, station_id: str, action: str, payload: Payload, *, timeout_s: float = 5.0
    ) -> Payload:
        """Send a command to a connected station and return its validated answer."""
        await wait_until(lambda: station_id in self.endpoints, timeout_s=timeout_s,
                         what=f"{station_id} connected")
        return await self.endpoints[station_id].call(action, payload, timeout_s)

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
        self.authorization[station_id] = ws.request.headers.get("Authorization") if ws.request else None
        endpoint = RpcEndpoint(
            ws, version, schemas_for(version), self._handlers(station_id, version),
            log=self._log.bind(side="loopback", station_id=station_id),
        )
        self.endpoints[station_id] = endpoint
        try:
            await endpoint.serve()
        except ConnectionClosed:
            pass
        finally:
            if self.endpoints.get(station_id) is endpoint:
                del self.endpoints[station_id]

    def _handlers(self, station_id: str, version: OcppVersion) -> dict[str, Handler]:
        answers = _V16 if version is OcppVersion.V16 else _V201

        def make(action: str) -> Handler:
            async def handle(payload: Payload) -> Payload:
                self.received.append((station_id, action, payload))
                return answers[action](self, payload)

            return handle

        return {action: make(action) for action in answers}

    def _boot(self, _: Payload) -> Payload:
        return {
            "status": self.boot_status, "currentTime": iso_utc(),
            "interval": self.heartbeat_interval_s,
        }

    def _status_of(self, tag: str | None) -> str:
        return "Accepted" if tag is None else self.tag_status.get(tag, "Accepted")

    def _v16_start(self, p: Payload) -> Payload:
        return {"transactionId": next(self._tx_ids), "idTagInfo": {"status": self._status_of(p["idTag"])}}

    def _v201_event(self, p: Payload) -> Payload:
        token = p.get("idToken")
        if token is None:
            return {}
        return {"idTokenInfo": {"status": self._status_of(token["idToken"])}}


def _empty(_: LoopbackCsms, __: Payload) -> Payload:
    return {}


def _now(_: LoopbackCsms, __: Payload) -> Payload:
    return {"currentTime": iso_utc()}


Answerer = Any  # Callable[[LoopbackCsms, Payload], Payload]; kept loose for the tables below

_V16: dict[str, Answerer] = {
    "BootNotification": LoopbackCsms._boot,
    "Heartbeat": _now,
    "StatusNotification": _empty,
    "MeterValues": _empty,
    "Authorize": lambda c, p: {"idTagInfo": {"status": c._status_of(p["idTag"])}},
    "StartTransaction": LoopbackCsms._v16_start,
    "StopTransaction": lambda c, p: {"idTagInfo": {"status": c._status_of(p.get("idTag"))}},
    "DataTransfer": lambda c, p: {"status": "Accepted"},
}
_V201: dict[str, Answerer] = {
    "BootNotification": LoopbackCsms._boot,
    "Heartbeat": _now,
    "StatusNotification": _empty,
    "MeterValues": _empty,
    "Authorize": lambda c, p: {"idTokenInfo": {"status": c._status_of(p["idToken"]["idToken"])}},
    "TransactionEvent": LoopbackCsms._v201_event,
    "NotifyEvent": _empty,
}

__all__ = ["LoopbackCsms", "asyncio"]
