"""The composition root: settings in, a running CSMS out. No other module holds state.

Start-up order: engine, migrations, group-commit writer, services, OCPP server. Shut-down
runs backwards: the OCPP server stops taking and finishes its connections (whose last
writes still commit), then the writer stops, then the engine closes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Final

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from csms import memory
from csms.api.server import ApiServer
from csms.clock import Clock, system_clock
from csms.config import Settings, UnknownStationPolicy, UnknownTokenPolicy
from csms.handlers.connection import ConnectionRegistry
from csms.handlers.ocppj import OcppVersion
from csms.handlers.server import OcppServer
from csms.metrics import Metrics
from csms.services.billing.service import BillingService
from csms.services.certificates.service import CertificateService
from csms.services.certificates.setup import compose_certificates
from csms.services.certificates.trust import CertificateTrust
from csms.services.city.connection_log import ConnectionLog
from csms.services.city.monthly_reports import Reports
from csms.services.clock_watch import ClockWatch
from csms.services.commands.bus import PostgresCommandBus
from csms.services.commands.service import CommandService
from csms.services.device_model import DeviceModelService, compose_device_model
from csms.services.events import EventBus
from csms.services.files.firmware import FirmwareService
from csms.services.files.logs import LogService
from csms.services.files.status import FileStatus
from csms.services.files.vault import FileVault
from csms.services.load.cluster import SiteOwnership
from csms.services.load.service import LoadService
from csms.services.local_lists import LocalLists
from csms.services.platform.pushes import PlatformFeed
from csms.services.reports import ReportCollector
from csms.services.safety.monitor import SafetyMonitor, load_limits
from csms.services.sessions.remote_starts import RemoteStarts
from csms.services.sessions.reservations import Reservations
from csms.services.sessions.tx_checks import TransactionChecks
from csms.services.sharing.service import Sharing
from csms.services.stations import StationService
from csms.store import migrate
from csms.store.access import AccessStore
from csms.store.checkpoint import Checkpointer
from csms.store.engine import checkpointer, create_engine
from csms.store.files import FirmwareStore, LogStore
from csms.store.load.owners import SiteOwners
from csms.store.load.store import LoadStore
from csms.store.local_lists import LocalListStore
from csms.store.remote_starts import RemoteStartStore
from csms.store.repository import Store
from csms.store.reservations import ReservationStore
from csms.store.safety.alarms import AlarmStore
from csms.store.sessions import Limits
from csms.store.writer import Writer

log = structlog.get_logger(__name__)


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
    access: AccessStore
    metrics: Metrics
    api: ApiServer | None = None
    load: LoadService | None = None  # orderly charging (settings.load.enabled)
    safety: SafetyMonitor | None = None  # alarms and protective actions (csms.services.safety)
    sharing: Sharing | None = None  # live feed, webhooks, security audit (csms.services.sharing)
    remote_starts: RemoteStarts | None = None  # remote starts and their sessions
    local_lists: LocalLists | None = None  # local authorization lists (csms.services.local_lists)
    reservations: Reservations | None = None  # csms.services.sessions.reservations
    cluster: PostgresCommandBus | None = None  # the cross-node command bus, when configured
    clock_watch: ClockWatch | None = None  # flags implausible charger clocks
    monthly_reports: Reports | None = None  # csms.services.city.monthly_reports
    connection_log: ConnectionLog | None = None  # connects/disconnects, for availability
    device_model: DeviceModelService | None = None  # 2.0.1 device model and monitors
    firmware: FirmwareService | None = None  # firmware files, updates, rollouts
    logs: LogService | None = None  # diagnostics / log requests and uploads
    reports: ReportCollector | None = None  # reports in parts (csms.services.reports)
    certificates: CertificateService | None = None  # our CA (certificates.enabled)
    certificate_trust: CertificateTrust | None = None  # chargers' installed certificates
    platform: PlatformFeed | None = None  # the municipal platform feed (platform.enabled)
    checkpoints: Checkpointer | None = None  # SQLite's WAL checkpoints (csms.store.checkpoint)

    @property
    def bus(self) -> EventBus:
        """Domain events, published after commit (csms.services.events)."""
        return self.stations.bus

    @property
    def api_port(self) -> int:
        assert self.api is not None, "the HTTP API is disabled"
        return self.api.port


@asynccontextmanager
async def store_only(settings: Settings, clock: Clock = system_clock) -> AsyncIterator[Store]:
    """A store with its writer, no servers: for the command line."""
    engine = create_engine(settings.database)
    try:
        await migrate.upgrade(engine)
        writer = Writer(engine, settings.database.commit_batch_max, clock=clock)
        task = asyncio.create_task(writer.run(), name="store-writer")
        wal = checkpointer(settings.database)  # a long command's log is copied back too
        if wal is not None:
            wal.start()
        try:
            yield Store(engine, writer)
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
            if wal is not None:
                await wal.stop()
    finally:
        await engine.dispose()


@asynccontextmanager
async def running(
    settings: Settings, clock: Clock = system_clock
) -> AsyncIterator[Csms]:
    """Start everything; stop it all on exit."""
    engine = create_engine(settings.database)
    try:
        if settings.database.migrate_on_start:
            await migrate.upgrade(engine)
        metrics = Metrics(settings.cluster.node())
        writer = Writer(engine, settings.database.commit_batch_max, metrics.committed, clock)
        writer_task = asyncio.create_task(writer.run(), name="store-writer")
        wal = checkpointer(settings.database)
        if wal is not None:
            wal.start()
            metrics.watch_wal(lambda: wal.last.log_frames if wal.last else 0)
        store = Store(engine, writer)
        store.sessions.limits = Limits(settings.transactions.max_power_w,
                                       settings.safety.register_backwards_tolerance_wh)
        bus = EventBus()
        stations = StationService(store, settings, clock, bus)
        billing = BillingService(store, settings.billing, clock)
        billing.attach(stations)
        platform = PlatformFeed(store, settings, clock) if settings.platform.enabled else None
        if platform is not None:
            platform.attach()  # before the OCPP server: every cause commits with its push
        registry = ConnectionRegistry()
        metrics.watch_connections(registry.count, [v.value for v in OcppVersion])
        cluster = await _command_bus(settings, registry)
        commands = CommandService(cluster or registry, store, clock,
                                  settings.server.call_timeout_s)
        billing.start_costs(commands, bus)
        remote_starts = RemoteStarts(RemoteStartStore(engine, writer), commands, bus, clock,
                                     settings.server.remote_start_match_s)
        device_model = compose_device_model(settings, store, stations, commands, registry,
                                            clock)
        firmware, logs = _files(settings, engine, writer, commands, stations, clock)
        tx_checks = TransactionChecks(store, commands, bus, registry.version_of, clock)
        reports = ReportCollector(commands, bus, clock)
        local_lists = LocalLists(LocalListStore(engine, writer), commands, bus, clock)
        reservations = Reservations(ReservationStore(engine, writer), commands, bus, clock)
        ocpp = OcppServer(settings.server, store, stations, registry, clock, metrics)
        await ocpp.start()
        csms = Csms(settings, engine, store, stations, commands, registry, ocpp,
                    AccessStore(writer, engine), metrics, remote_starts=remote_starts,
                    cluster=cluster, device_model=device_model, firmware=firmware, logs=logs,
                    reports=reports, local_lists=local_lists, reservations=reservations,
                    platform=platform, checkpoints=wal)
        _warn_if_permissive(settings)
        try:
            remote_starts.run()  # it queued what came before
            tx_checks.run()
            local_lists.run()
            reservations.run()
            csms = await _start_sharing(csms, writer, bus, clock)
            if platform is not None:
                platform.start(bus)
            csms = await _start_load(csms, writer, bus, clock)
            if csms.load is not None and (owning := csms.load.ownership) is not None:
                metrics.watch_sites(lambda: len(owning.held))
            csms = await _start_safety(csms, writer, bus, clock)
            csms = await _start_clock_watch(csms, bus, clock)
            csms = _start_reports(csms, writer, clock)
            csms = _start_certificates(csms, writer, clock)
            csms = dataclasses.replace(csms, connection_log=ConnectionLog(
                bus, writer, settings.cluster.node(), clock))
            if settings.api.enabled:
                csms = dataclasses.replace(csms, api=await ApiServer.start(csms))
            _file_urls(csms, firmware, logs)
            if settings.files.run_rollouts:
                firmware.run()  # rollouts carry on where they stopped
            yield csms
        finally:
            if csms.sharing is not None:
                csms.sharing.hub.close()  # open feed streams end, so the API can stop
            if csms.api is not None:
                await csms.api.stop()
            if csms.load is not None:
                await csms.load.stop()
            if csms.safety is not None:
                await csms.safety.stop()
            if csms.clock_watch is not None:
                await csms.clock_watch.stop()
            if csms.monthly_reports is not None:
                await csms.monthly_reports.stop()
            if csms.sharing is not None:
                await csms.sharing.stop()
            if csms.certificates is not None:
                await csms.certificates.stop()
            if platform is not None:
                await platform.stop()
            await firmware.stop()
            await billing.stop()
            await device_model.stop()
            await remote_starts.stop()
            await tx_checks.stop()
            reports.stop()
            await local_lists.stop()
            await reservations.stop()
            ocpp.close()
            await ocpp.wait_closed()
            if csms.connection_log is not None:
                await csms.connection_log.stop()  # after the last disconnect
            if cluster is not None:
                await cluster.stop()
            writer_task.cancel()
            with suppress(asyncio.CancelledError):
                await writer_task
            if wal is not None:
                await wal.stop()
    finally:
        await engine.dispose()


def _files(settings: Settings, engine: AsyncEngine, writer: Writer, commands: CommandService,
           stations: StationService, clock: Clock) -> tuple[FirmwareService, LogService]:
    """Firmware updates and log uploads; their status notifications reach them."""
    vault = FileVault(settings.files.directory)
    firmware = FirmwareService(FirmwareStore(engine, writer), vault, commands, clock,
                               settings.files)
    logs = LogService(LogStore(engine, writer), vault, commands, clock, settings.files)
    stations.files = FileStatus(firmware, logs)
    return firmware, logs


def _file_urls(csms: Csms, firmware: FirmwareService, logs: LogService) -> None:
    """The base of the download and upload URLs: ``files.public_url``, else the API's."""
    base = csms.settings.files.public_url
    if base is None and csms.api is not None:
        host = csms.settings.api.host
        if host in ("0.0.0.0", "::"):
            log.warning("files.public_url_unset", message="files.public_url is not set and"
                        " the API listens on all addresses: chargers get 127.0.0.1 URLs")
            host = "127.0.0.1"
        base = f"http://{host}:{csms.api_port}"
    firmware.base_url = logs.base_url = (base or "").rstrip("/")


async def _start_sharing(csms: Csms, writer: Writer, bus: EventBus,
                         clock: Clock) -> Csms:
    """Live feed, webhook outbox and deliverer, security-event audit (csms.services.sharing);
    started before the producers of the events it shares."""
    sharing = Sharing(csms.engine, writer, bus, csms.settings, clock, csms.cluster)
    await sharing.start()
    return dataclasses.replace(csms, sharing=sharing)


async def _start_load(csms: Csms, writer: Writer, bus: EventBus,
                      clock: Clock) -> Csms:
    """Orderly charging (csms.services.load.service), when enabled; in a cluster each site on the
    node that owns it (csms.services.load.cluster)."""
    if not csms.settings.load.enabled:
        return csms
    ownership = None if csms.cluster is None else SiteOwnership(
        SiteOwners(csms.engine, writer), csms.settings.cluster.node(), clock,
        csms.settings.load.owner_lease_s)
    load = LoadService(LoadStore(csms.engine, writer), csms.commands, bus, clock,
                       csms.settings.load, csms.cluster, ownership)
    await load.start()
    return dataclasses.replace(csms, load=load)


async def _start_safety(csms: Csms, writer: Writer, bus: EventBus,
                        clock: Clock) -> Csms:
    """The safety monitor (csms.services.safety.monitor); its rules run when safety.enabled."""
    limits = None if csms.load is None else load_limits(csms.load)
    store = AlarmStore(writer, csms.engine)
    if csms.sharing is not None:  # webhook outbox rows commit with each transition
        store.in_transaction.append(csms.sharing.queue_alarm)
    if csms.platform is not None and csms.settings.platform.send_alarms:
        store.in_transaction.append(csms.platform.queue_alarm)  # with each transition too
    monitor = SafetyMonitor(csms.settings, store, bus, csms.commands, csms.connections,
                            clock, limits)
    await monitor.start()
    return dataclasses.replace(csms, safety=monitor)


async def _start_clock_watch(csms: Csms, bus: EventBus,
                             clock: Clock) -> Csms:
    """Clock anomaly events (csms.services.clock_watch), when enabled."""
    if not csms.settings.server.clock_anomaly_events:
        return csms
    watch = ClockWatch(csms.store, csms.engine, bus, clock,
                       csms.settings.server.clock_tolerance_s)
    await watch.start()
    return dataclasses.replace(csms, clock_watch=watch)


def _start_reports(csms: Csms, writer: Writer, clock: Clock) -> Csms:
    """Monthly reports (csms.services.city.monthly_reports); scheduled when reports.enabled."""
    wake = None if csms.sharing is None else csms.sharing.deliverer.wake
    reports = Reports(csms.engine, writer, csms.settings, clock, wake)
    if csms.settings.reports.enabled:
        reports.start()
    return dataclasses.replace(csms, monthly_reports=reports)


def _start_certificates(csms: Csms, writer: Writer, clock: Clock) -> Csms:
    """Chargers' trust stores; our CA and its expiry watch (csms.services.certificates.setup)."""
    service, trust = compose_certificates(csms, writer, clock)
    return dataclasses.replace(csms, certificates=service, certificate_trust=trust)


async def _command_bus(
    settings: Settings, registry: ConnectionRegistry
) -> PostgresCommandBus | None:
    """The cross-node command bus when configured (csms.services.commands.bus), started."""
    if settings.cluster.command_bus != "postgres":
        return None
    dsn = settings.database.url.replace("postgresql+asyncpg://", "postgresql://", 1)
    bus = PostgresCommandBus(dsn, registry, settings.cluster.claim_timeout_s)
    await bus.start()
    return bus


# CPython's default (700, 10, 10) collects the young generation every 700 net new
# container objects; a call waiting for its group commit is still alive then, so its objects
# are promoted, and with thousands of connections the oldest generation (hundreds of
# thousands of objects) is collected every second or two, 0.3-0.5 s each. A young generation
# large enough to outlive a call keeps them there (bench.load, N = 5,000, same machine:
# 3,379 -> 6,144 calls/s, p99 at 500/s 222 -> 3.0 ms; docs/decisions.md).
GC_THRESHOLDS: Final = (50_000, 20, 100)


async def serve_forever(settings: Settings, clock: Clock = system_clock) -> None:
    """Run until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, memory.snapshot)  # csms.memory
    async with running(settings, clock) as csms:
        loop.add_signal_handler(signal.SIGHUP, csms.ocpp.reload_tls)  # new TLS certificates
        gc.freeze()  # start-up objects never need collecting; shortens full collections
        gc.set_threshold(*GC_THRESHOLDS)
        with memory.watching_pauses(memory.GcPauses()) as pauses:
            tasks = [asyncio.create_task(memory.collect_periodically(
                         settings.server.gc_interval_s), name="gc"),
                     asyncio.create_task(memory.report_pauses(
                         pauses, csms.metrics.gc_paused), name="gc-pauses")]
            log.info("csms.started",
                     event_loop=f"{type(loop).__module__}.{type(loop).__name__}")
            try:
                await stop.wait()
            finally:
                for task in tasks:
                    task.cancel()
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
