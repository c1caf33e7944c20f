"""The 2.0.1 device model and charger-side monitors: reports, batching, safety monitors.

Rules:
1. A report request (GetBaseReport, GetReport, GetMonitoringReport) is stored before it is
   sent; its NotifyReport / NotifyMonitoringReport parts are stored as they arrive and the
   request completes with its last part (csms.store.device_model). ``wait_report`` waits
   for that on this node (a report answered on another node: poll ``report``).
2. Batching (:class:`Batcher`, installed in
   :class:`~csms.services.commands.service.CommandService`): a 2.0.1 GetSettings /
   SetSettings with more items than the station's
   ``DeviceDataCtrlr.ItemsPerMessageGetVariables`` / ``...SetVariables`` goes out as several
   messages, one after the other, and the answers are joined in request order. The limit is
   the stored device model's (GetBaseReport); unknown, one item per message (every charger
   accepts that; the station is not asked in between, which a scripted test would not
   expect). A 1.6
   SetSettings goes out as one ChangeConfiguration per key. SetVariableMonitoring and
   ClearVariableMonitoring are split the same way by ``MonitoringCtrlr.ItemsPerMessage
   SetVariableMonitoring`` / ``...ClearVariableMonitoring``. A failed message fails the whole
   request (what was sent before it stays sent: the command log shows each message).
3. Safety monitors (csms.safety.monitors) are derived from ``[safety]`` and set on a 2.0.1
   station on demand, and after each Accepted boot when ``safety.charger_monitors``. A
   monitor the CSMS set before on the same variable, kind and EVSE is replaced (its id is
   sent again), so applying twice does not pile up monitors. Accepted monitors are stored
   with the id the charger gave them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import structlog

from csms.config import SafetyConfig
from csms.domain.commands import (
    Command,
    CommandResult,
    CommandStatus,
    GetSettings,
    SettingKey,
    SettingsReport,
)
from csms.domain.commands_device import (
    ClearVariableMonitoring,
    GetBaseReport,
    GetMonitoringReport,
    GetReport,
    Monitor,
    MonitorsClearedReport,
    MonitorsSetReport,
    ReportBase,
    SetSettings,
    SettingsSetReport,
    SetVariableMonitoring,
)
from csms.domain.device_model import (
    DEVICE_DATA_CTRLR,
    ITEMS_PER_CLEAR_MONITORING,
    ITEMS_PER_GET,
    ITEMS_PER_SET,
    ITEMS_PER_SET_MONITORING,
    MONITORING_CTRLR,
    MonitorRow,
    VariableRow,
    batches,
    items_limit,
    monitor_rows,
    report_rows,
)
from csms.domain.model import RegistrationStatus, StationBooted
from csms.errors import CommandError
from csms.safety.monitors import current_key, safety_monitors
from csms.services.events import EventBus
from csms.services.safety.monitor import rule_settings
from csms.store.device_model import DeviceModelStore, ReportRecord

if TYPE_CHECKING:
    from csms.config import Settings
    from csms.handlers.connection import ConnectionRegistry
    from csms.services.commands.service import CommandService
    from csms.services.stations import StationService
    from csms.store.repository import Store

log = structlog.get_logger(__name__)
V201: Final = "ocpp2.0.1"
Payload = dict[str, Any]
VersionOf = Callable[[str], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class Plan:
    """The messages one command goes out as, and how their answers are joined."""

    parts: tuple[Command, ...]
    join: Callable[[list[CommandResult]], CommandResult]


def join_reports(results: list[CommandResult]) -> CommandResult:
    reports = [r for r in results if isinstance(r, SettingsReport)]
    return SettingsReport(tuple(v for r in reports for v in r.values),
                          tuple(u for r in reports for u in r.unknown))


def join_set_reports(results: list[CommandResult]) -> CommandResult:
    return SettingsSetReport(tuple(x for r in results if isinstance(r, SettingsSetReport)
                                   for x in r.results))


def join_monitors(results: list[CommandResult]) -> CommandResult:
    return MonitorsSetReport(tuple(x for r in results if isinstance(r, MonitorsSetReport)
                                   for x in r.results))


def join_cleared(results: list[CommandResult]) -> CommandResult:
    return MonitorsClearedReport(tuple(x for r in results
                                       if isinstance(r, MonitorsClearedReport)
                                       for x in r.results))


class Batcher:
    """Rule 2: splits GetSettings / SetSettings to the station's limits."""

    def __init__(self, store: DeviceModelStore, version_of: VersionOf) -> None:
        self._store = store
        self._version_of = version_of

    async def plan(self, station_id: str, command: Command) -> Plan | None:
        """How ``command`` goes out, or None: as it is."""
        if isinstance(command, GetSettings) and len(command.keys) > 1:
            if await self._version_of(station_id) != V201:
                return None
            limit = await self.limit(station_id, ITEMS_PER_GET)
            if len(command.keys) <= limit:
                return None
            return Plan(tuple(GetSettings(keys) for keys in batches(command.keys, limit)),
                        join_reports)
        if isinstance(command, SetSettings) and len(command.changes) > 1:
            v201 = await self._version_of(station_id) == V201
            limit = await self.limit(station_id, ITEMS_PER_SET) if v201 else 1
            if len(command.changes) <= limit:
                return None
            return Plan(tuple(SetSettings(c) for c in batches(command.changes, limit)),
                        join_set_reports)
        if isinstance(command, SetVariableMonitoring) and len(command.monitors) > 1:
            limit = await self.limit(station_id, ITEMS_PER_SET_MONITORING, MONITORING_CTRLR)
            if len(command.monitors) <= limit:
                return None
            return Plan(tuple(SetVariableMonitoring(m)
                              for m in batches(command.monitors, limit)), join_monitors)
        if isinstance(command, ClearVariableMonitoring) and len(command.monitor_ids) > 1:
            limit = await self.limit(station_id, ITEMS_PER_CLEAR_MONITORING, MONITORING_CTRLR)
            if len(command.monitor_ids) <= limit:
                return None
            return Plan(tuple(ClearVariableMonitoring(i)
                              for i in batches(command.monitor_ids, limit)), join_cleared)
        return None

    async def limit(self, station_id: str, variable: str,
                    component: str = DEVICE_DATA_CTRLR) -> int:
        """The station's ItemsPerMessage limit ``component.variable`` (rule 2)."""
        return items_limit(await self._store.actual(station_id, component, variable))


class DeviceModelService:
    """Rules 1 and 3."""

    def __init__(self, store: DeviceModelStore, commands: CommandService, stations: Store,
                 clock: Callable[[], datetime], safety: SafetyConfig,
                 evse_ids: Callable[[str], Awaitable[Sequence[int]]]) -> None:
        self.store = store
        self._commands = commands
        self._stations = stations
        self._clock = clock
        self._safety = safety
        self._evse_ids = evse_ids
        self._done: dict[int, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe: Callable[[], None] | None = None

    def watch_boots(self, bus: EventBus) -> None:
        """Set the safety monitors after each boot (rule 3), when configured."""
        if self._safety.charger_monitors and self._safety.enabled:
            self._unsubscribe = bus.subscribe(self._heard)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with suppress(asyncio.CancelledError):
                await task

    def _heard(self, event: object) -> None:
        if isinstance(event, StationBooted):
            task = asyncio.create_task(self._after_boot(event.station_id),
                                       name=f"monitors-{event.station_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _after_boot(self, station_id: str) -> None:
        try:
            station = await self._stations.get_station(station_id)
            if station is None or station.registration_status is not RegistrationStatus.ACCEPTED:
                return
            if await self.store.ocpp_version(station_id) != V201:
                return
            report = await self.apply_safety(station_id, requested_by="safety")
            log.info("device_model.safety_monitors", station_id=station_id,
                     statuses=[r.status for r in report.results])
        except CommandError as exc:
            log.warning("device_model.safety_monitors_failed", station_id=station_id,
                        error=str(exc))

    # -- reports ---------------------------------------------------------------------------

    async def request_report(
        self, station_id: str, *, base: ReportBase | None = None,
        keys: tuple[SettingKey, ...] = (), criteria: tuple[str, ...] = (),
        monitoring: bool = False, timeout_s: float | None = None,
        requested_by: str | None = None,
    ) -> tuple[int, CommandStatus]:
        """Send a report request (GetBaseReport with ``base``, GetMonitoringReport with
        ``monitoring``, else GetReport); (requestId, the charger's answer)."""
        kind = "Monitoring" if monitoring else "Report" if base is None else base.value
        request_id = await self.store.create_report(station_id, kind, self._clock(),
                                                    requested_by)
        self._done[request_id] = asyncio.Event()
        command: Command
        if monitoring:
            command = GetMonitoringReport(request_id, keys, criteria)
        elif base is not None:
            command = GetBaseReport(request_id, base)
        else:
            command = GetReport(request_id, keys, criteria)
        try:
            result = await self._commands.send(station_id, command, timeout_s=timeout_s,
                                               requested_by=requested_by)
        except CommandError:
            self._done.pop(request_id, None)
            await self.store.report_answered(request_id, "failed")
            raise
        status = result if isinstance(result, CommandStatus) else CommandStatus("Accepted")
        await self.store.report_answered(request_id, status.status)
        if status.status != "Accepted":
            self._done.pop(request_id, None)
        return request_id, status

    async def wait_report(self, request_id: int, wait_s: float) -> ReportRecord | None:
        """The request once complete, or as it is after ``wait_s`` (rule 1)."""
        done = self._done.get(request_id)
        if done is not None and wait_s > 0:
            with suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await done.wait()
        self._done.pop(request_id, None)  # only a waiter needs it; later: read the store
        return await self.store.report(request_id)

    async def notify_report(self, station_id: str, p: Payload) -> None:
        """One NotifyReport part."""
        await self._part(station_id, p, variables=report_rows(p.get("reportData") or ()))

    async def notify_monitoring_report(self, station_id: str, p: Payload) -> None:
        """One NotifyMonitoringReport part."""
        await self._part(station_id, p, monitors=monitor_rows(p.get("monitor") or ()))

    async def _part(self, station_id: str, p: Payload, variables: Sequence[VariableRow] = (),
                    monitors: Sequence[MonitorRow] = ()) -> None:
        request_id = int(p["requestId"])
        complete = await self.store.add_part(station_id, request_id, int(p["seqNo"]),
                                             bool(p.get("tbc", False)), variables, monitors)
        if complete:
            log.info("device_model.report_complete", station_id=station_id,
                     request_id=request_id)
            done = self._done.get(request_id)
            if done is not None:
                done.set()

    # -- monitors --------------------------------------------------------------------------

    async def set_monitors(self, station_id: str, monitors: tuple[Monitor, ...], *,
                           origin: str = "api", timeout_s: float | None = None,
                           requested_by: str | None = None) -> MonitorsSetReport:
        """SetVariableMonitoring; the accepted monitors are stored with their ids."""
        result = await self._commands.send(station_id, SetVariableMonitoring(monitors),
                                           timeout_s=timeout_s, requested_by=requested_by)
        assert isinstance(result, MonitorsSetReport)
        accepted = [_row(r.monitor, r.monitor_id) for r in result.results
                    if r.status == "Accepted" and r.monitor_id is not None]
        await self.store.monitors_set(station_id, accepted, origin)
        return result

    async def clear_monitors(self, station_id: str, monitor_ids: tuple[int, ...], *,
                             timeout_s: float | None = None,
                             requested_by: str | None = None) -> MonitorsClearedReport:
        result = await self._commands.send(station_id, ClearVariableMonitoring(monitor_ids),
                                           timeout_s=timeout_s, requested_by=requested_by)
        assert isinstance(result, MonitorsClearedReport)
        gone = [r.monitor_id for r in result.results if r.status in ("Accepted", "NotFound")]
        await self.store.monitors_cleared(station_id, gone)
        return result

    async def safety_monitors(self, station_id: str) -> tuple[Monitor, ...]:
        """The monitors the ``[safety]`` thresholds give this station (rule 3)."""
        return await planned_safety_monitors(self.store, self._safety, station_id,
                                             await self._evse_ids(station_id))

    async def apply_safety(self, station_id: str, *, timeout_s: float | None = None,
                           requested_by: str | None = None) -> MonitorsSetReport:
        """Set the safety monitors on the station (rule 3)."""
        monitors = await self.safety_monitors(station_id)
        return await self.set_monitors(station_id, monitors, origin="safety",
                                       timeout_s=timeout_s, requested_by=requested_by)


async def planned_safety_monitors(store: DeviceModelStore, safety: SafetyConfig,
                                  station_id: str, evse_ids: Sequence[int]
                                  ) -> tuple[Monitor, ...]:
    """Rule 3's monitors for the station: its EVSEs (connectors seen and the device model;
    EVSE 1 if none is known yet), the rated current from ``EVSE.Current`` maxLimit, and the
    ids of the safety monitors set before on the same places."""
    model = await store.variables(station_id, "EVSE")
    evses = [*evse_ids, *(row.evse_id for row in model if row.evse_id)]
    rated = {row.evse_id: row.max_limit for row in model
             if row.variable == current_key(row.evse_id).variable
             and row.max_limit is not None and row.attribute_type == "Actual"}
    monitors = safety_monitors(rule_settings(safety), evses or [1], rated)
    known = {_place(m.monitor): m.monitor.monitor_id
             for m in await store.monitors(station_id) if m.origin == "safety"}
    return tuple(replace(m, monitor_id=known.get(_place(_row(m, 0)), m.monitor_id))
                 for m in monitors)


def _row(monitor: Monitor, monitor_id: int | None) -> MonitorRow:
    key = monitor.key
    return MonitorRow(
        monitor_id=monitor_id or 0, component=key.component or "", variable=key.variable,
        kind=monitor.kind.value, value=monitor.value, severity=monitor.severity,
        transaction=monitor.transaction, component_instance=key.instance or "",
        evse_id=key.evse_id or 0)


def _place(row: MonitorRow) -> tuple[str, str, int, str, str]:
    return (row.component, row.component_instance, row.evse_id, row.variable, row.kind)


def compose_device_model(settings: Settings, store: Store, stations: StationService,
                         commands: CommandService, registry: ConnectionRegistry,
                         clock: Callable[[], datetime]) -> DeviceModelService:
    """The service, its batcher installed in ``commands``, NotifyReport wired to it and,
    when configured, the safety monitors set after each boot."""
    from csms.store.station_queries import StationQueries

    device_store = DeviceModelStore(store.engine, store.writer)
    queries = StationQueries(store.engine)

    async def version_of(station_id: str) -> str | None:
        connection = registry.get(station_id)
        if connection is not None:
            return connection.version.value
        return await device_store.ocpp_version(station_id)

    async def evse_ids(station_id: str) -> list[int]:
        return sorted({c.evse_id for c in await queries.connectors(station_id) if c.evse_id})

    commands.batcher = Batcher(device_store, version_of)
    service = DeviceModelService(device_store, commands, store, clock, settings.safety,
                                 evse_ids)
    stations.device_model = service
    service.watch_boots(stations.bus)
    return service
