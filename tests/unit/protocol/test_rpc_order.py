"""The endpoint answers a peer's CALL before a command of ours that waits on
:meth:`RpcEndpoint.answered` goes out (the CSMS's command drainer does)."""

from __future__ import annotations

import asyncio

import orjson
import structlog

from csms.handlers.ocppj import OcppVersion, Schemas
from csms.handlers.rpc import Payload, RpcEndpoint


class QueueTransport:
    """Frames from the peer come from a queue; what we send is kept in order."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue[str] = asyncio.Queue()
        self.sent: list[list[object]] = []

    async def send(self, message: str) -> None:
        self.sent.append(orjson.loads(message))

    async def recv(self) -> str:
        return await self.incoming.get()


async def test_a_command_waits_for_the_answer_being_prepared() -> None:
    transport = QueueTransport()
    release = asyncio.Event()
    handling = asyncio.Event()

    async def start_transaction(payload: Payload) -> Payload:
        handling.set()
        await release.wait()  # the answer is not sent until the store has committed
        return {"transactionId": 7, "idTagInfo": {"status": "Accepted"}}

    endpoint = RpcEndpoint(transport, OcppVersion.V16, Schemas(OcppVersion.V16),
                           {"StartTransaction": start_transaction},
                           log=structlog.get_logger())

    async def command() -> None:
        await endpoint.answered()
        await transport.send(orjson.dumps([2, "ours", "SetChargingProfile", {}]).decode())

    serving = asyncio.create_task(endpoint.serve())
    await transport.incoming.put(orjson.dumps([2, "theirs", "StartTransaction", {
        "connectorId": 1, "idTag": "T", "meterStart": 0,
        "timestamp": "2026-11-28T09:00:00Z"}]).decode())
    await handling.wait()
    sending = asyncio.create_task(command())
    await asyncio.sleep(0)  # give the command every chance to go out early
    assert [] == transport.sent
    release.set()
    await sending
    assert [[3, "theirs"], [2, "ours"]] == [frame[:2] for frame in transport.sent]
    serving.cancel()
