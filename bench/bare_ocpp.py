"""The floor of the stack: a central system built with the stock ``ocpp`` package alone.

It speaks OCPP 1.6 with ``ocpp.v16.ChargePoint`` and ``@on`` handlers for BootNotification,
StatusNotification, MeterValues and Heartbeat that only reply: no database, no logic. The
``ocpp`` package keeps its default settings (schema validation of every request and answer
with ``jsonschema``, in the default thread pool: ``ocpp.messages.ASYNC_VALIDATION = True``).

The WebSocket transport is configured like the CSMS's (no compression, 30 s ping interval
and timeout, 64 KiB frames), so the two stacks differ in what runs above the socket only.

Run it as ``python -m bench.bare_ocpp --port 9100``; it serves until SIGTERM or SIGINT and
logs at level WARNING (the ``ocpp`` logger's per-message INFO lines are off, as in the CSMS).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, RegistrationStatus
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

HEARTBEAT_INTERVAL_S = 300


def _now() -> str:
    return datetime.now(UTC).isoformat()


class BareChargePoint(ChargePoint):  # type: ignore[misc]  # ocpp ships no type hints
    """Answers the four actions of the benchmark's mix and does nothing else."""

    @on(Action.boot_notification)  # type: ignore[untyped-decorator]
    async def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **_: Any
    ) -> Any:
        return call_result.BootNotification(
            current_time=_now(), interval=HEARTBEAT_INTERVAL_S,
            status=RegistrationStatus.accepted,
        )

    @on(Action.heartbeat)  # type: ignore[untyped-decorator]
    async def on_heartbeat(self) -> Any:
        return call_result.Heartbeat(current_time=_now())

    @on(Action.status_notification)  # type: ignore[untyped-decorator]
    async def on_status_notification(
        self, connector_id: int, error_code: str, status: str, **_: Any
    ) -> Any:
        return call_result.StatusNotification()

    @on(Action.meter_values)  # type: ignore[untyped-decorator]
    async def on_meter_values(
        self, connector_id: int, meter_value: list[dict[str, Any]], **_: Any
    ) -> Any:
        return call_result.MeterValues()


async def _handle(ws: ServerConnection) -> None:
    path = ws.request.path if ws.request is not None else "/"
    charge_point = BareChargePoint(path.rstrip("/").rsplit("/", 1)[-1], ws)
    with contextlib.suppress(ConnectionClosed):
        await charge_point.start()


async def serve_until_stopped(host: str, port: int) -> None:
    """Serve on ``host:port`` until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serve(
        _handle, host, port, subprotocols=[Subprotocol("ocpp1.6")], compression=None,
        ping_interval=30.0, ping_timeout=30.0, max_size=65536,
    ):
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.bare_ocpp", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s %(message)s")
    asyncio.run(serve_until_stopped(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
