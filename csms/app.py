"""The composition root: settings in, a running CSMS out. No other module holds state.

Start-up order: engine, migrations, group-commit writer, services, OCPP server. Shut-down
runs backwards: the OCPP server stops taking and finishes its connections (whose last
writes still commit), then the writer stops, then the engine closes.
"""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.config import Settings, UnknownStationPolicy, UnknownTokenPolicy
from csms.handlers.connection import ConnectionRegistry
from csms.handlers.server import OcppServer
from csms.services.commands import CommandService
from csms.services.stations import StationService
from csms.store import migrate
from csms.store.engine import create_engine
from csms.store.repository import Store
from csms.store.writer import Writer

log = structlog.get_logger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Csms:
    """Handles to the running parts, for the CLI, the tests and (later) the HTTP API."""

    settings: Settings
    engine: AsyncEngine
    store: Store
    stations: StationService
    commands: CommandService
    connections: ConnectionRegistry
    ocpp: OcppServer


@asynccontextmanager
async def store_only(settings: Settings) -> AsyncIterator[Store]:
    """A store with its writer, no servers: for the command line."""
    engine = create_engine(settings.database)
    try:
        await migrate.upgrade(engine)
        writer = Writer(engine, settings.database.commit_batch_max)
        task = asyncio.create_task(writer.run(), name="store-writer")
        try:
            yield Store(engine, writer)
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
    finally:
        await engine.dispose()


@asynccontextmanager
async def running(
    settings: Settings, clock: Callable[[], datetime] = utc_now
) -> AsyncIterator[Csms]:
    """Start everything; stop it all on exit."""
    engine = create_engine(settings.database)
    try:
        if settings.database.migrate_on_start:
            await migrate.upgrade(engine)
        writer = Writer(engine, settings.database.commit_batch_max)
        writer_task = asyncio.create_task(writer.run(), name="store-writer")
        store = Store(engine, writer)
        stations = StationService(store, settings, clock)
        registry = ConnectionRegistry()
        commands = CommandService(registry, store, clock, settings.server.call_timeout_s)
        ocpp = OcppServer(settings.server, store, stations, registry, clock)
        server = await ocpp.start()
        _warn_if_permissive(settings)
        try:
            yield Csms(settings, engine, store, stations, commands, registry, ocpp)
        finally:
            server.close()
            await server.wait_closed()
            writer_task.cancel()
            with suppress(asyncio.CancelledError):
                await writer_task
    finally:
        await engine.dispose()


async def serve_forever(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running(settings):
        gc.freeze()  # start-up objects never need collecting; shortens full collections
        log.info("csms.started")
        await stop.wait()
        log.info("csms.stopping")


def _warn_if_permissive(settings: Settings) -> None:
    if settings.authorization.unknown_id_tokens is UnknownTokenPolicy.ACCEPT:
        log.warning(
            "csms.config.permissive",
            message="ANY ID TOKEN IS ACCEPTED (unknown_id_tokens = 'accept'). Fine for"
            " development; set authorization.unknown_id_tokens = 'reject' in production.",
        )
    policy = settings.server.unknown_charge_points
    if policy is not UnknownStationPolicy.REJECT:
        log.warning(
            "csms.config.permissive",
            message=f"ANY CHARGE POINT ID CAN CONNECT (unknown_charge_points = {policy.value!r})."
            " Fine for development; set server.unknown_charge_points = 'reject' in production.",
        )
