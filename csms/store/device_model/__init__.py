"""The device model, monitors and report requests of 2.0.1 stations (tables: rules there).

Rules:
1. A report request is durable before its command is sent (its id *is* the requestId).
2. Every NotifyReport part is stored as it arrives (rows upserted), so a part is never lost
   to a restart; the request's progress (csms.domain.device_model.ReportProgress) is kept
   in its row, and the request becomes "complete" with its last missing part.
3. A complete FullInventory report removes the station's variables it did not mention.
4. Rows never leave this package: reads return domain rows and records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.domain.device_model import MonitorRow, ReportProgress, VariableRow
from csms.store.device_model.tables import device_reports, device_variables, variable_monitors
from csms.store.rows import utc
from csms.store.writer import Writer, WriteTx

PENDING = "pending"
COMPLETE = "complete"
_VARIABLE_KEY = ["station_id", "component", "component_instance", "evse_id", "connector_id",
                 "variable", "variable_instance", "attribute_type"]
_VARIABLE_FIELDS = list(VariableRow.__dataclass_fields__)
_MONITOR_FIELDS = list(MonitorRow.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class ReportRecord:
    id: int
    station_id: str
    kind: str
    requested_at: datetime
    requested_by: str | None
    status: str
    parts: int
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredMonitor:
    station_id: str
    monitor: MonitorRow
    origin: str
    updated_at: datetime


class DeviceModelStore:
    """Device model rows, report requests and monitors (module rules)."""

    def __init__(self, engine: AsyncEngine, writer: Writer) -> None:
        self._engine = engine
        self._writer = writer
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    async def create_report(self, station_id: str, kind: str, requested_at: datetime,
                            requested_by: str | None) -> int:
        """A new pending report request, committed; its id is the requestId to send."""

        async def unit(tx: WriteTx) -> int:
            return int((await tx.conn.execute(insert(device_reports).values(
                station_id=station_id, kind=kind, requested_at=requested_at,
                requested_by=requested_by, status=PENDING, seen=[],
            ).returning(device_reports.c.id))).scalar_one())

        return await self._writer.submit(unit)

    async def report_answered(self, request_id: int, status: str) -> None:
        """The charger's answer to the request (unless its parts already completed it)."""

        async def unit(tx: WriteTx) -> None:
            await tx.conn.execute(update(device_reports).where(
                device_reports.c.id == request_id, device_reports.c.status == PENDING,
            ).values(status=status))

        await self._writer.submit(unit)

    async def add_part(self, station_id: str, request_id: int, seq_no: int, tbc: bool,
                       variables: Sequence[VariableRow] = (),
                       monitors: Sequence[MonitorRow] = ()) -> bool:
        """Store one NotifyReport / NotifyMonitoringReport part; True when it completed a
        request of this station (rule 2)."""

        async def unit(tx: WriteTx) -> bool:
            for row in variables:
                await self._upsert_variable(tx, station_id, row, request_id)
            for monitor in monitors:
                await self._upsert_monitor(tx, station_id, monitor, "reported")
            return await self._progress(tx, station_id, request_id, seq_no, tbc)

        return await self._writer.submit(unit)

    async def _progress(self, tx: WriteTx, station_id: str, request_id: int, seq_no: int,
                        tbc: bool) -> bool:
        row = (await tx.conn.execute(select(device_reports).where(
            device_reports.c.id == request_id, device_reports.c.station_id == station_id,
        ))).one_or_none()
        if row is None or row.status == COMPLETE:
            return False
        progress = ReportProgress(frozenset(row.seen), row.last_seq_no).add(seq_no, tbc)
        values: dict[str, Any] = {"seen": sorted(progress.seen), "last_seq_no": progress.last}
        if progress.complete:
            values |= {"status": COMPLETE, "completed_at": tx.now}
            if row.kind == "FullInventory":
                await tx.conn.execute(delete(device_variables).where(
                    device_variables.c.station_id == station_id,
                    device_variables.c.report_id != request_id))
        await tx.conn.execute(update(device_reports).where(
            device_reports.c.id == request_id).values(**values))
        return progress.complete

    async def _upsert_variable(self, tx: WriteTx, station_id: str, row: VariableRow,
                               report_id: int | None) -> None:
        values = {**asdict(row), "station_id": station_id, "report_id": report_id,
                  "updated_at": tx.now}
        statement = self._insert(device_variables).values(values)
        await tx.conn.execute(statement.on_conflict_do_update(
            index_elements=_VARIABLE_KEY,
            set_={k: v for k, v in values.items() if k not in _VARIABLE_KEY}))

    async def _upsert_monitor(self, tx: WriteTx, station_id: str, row: MonitorRow,
                              origin: str) -> None:
        values = {**asdict(row), "station_id": station_id, "origin": origin,
                  "updated_at": tx.now}
        statement = self._insert(variable_monitors).values(values)
        await tx.conn.execute(statement.on_conflict_do_update(
            index_elements=["station_id", "monitor_id"],
            set_={k: v for k, v in values.items() if k not in ("station_id", "monitor_id")}))

    async def put_variable(self, station_id: str, row: VariableRow) -> None:
        """One variable learnt outside a report (a GetVariables answer)."""

        async def unit(tx: WriteTx) -> None:
            await self._upsert_variable(tx, station_id, row, None)

        await self._writer.submit(unit)

    async def monitors_set(self, station_id: str, rows: Sequence[MonitorRow],
                           origin: str) -> None:
        """Monitors the station accepted (by its ids)."""

        async def unit(tx: WriteTx) -> None:
            for row in rows:
                await self._upsert_monitor(tx, station_id, row, origin)

        await self._writer.submit(unit)

    async def monitors_cleared(self, station_id: str, monitor_ids: Sequence[int]) -> None:
        async def unit(tx: WriteTx) -> None:
            await tx.conn.execute(delete(variable_monitors).where(
                variable_monitors.c.station_id == station_id,
                variable_monitors.c.monitor_id.in_(list(monitor_ids))))

        await self._writer.submit(unit)

    async def variables(self, station_id: str, component: str | None = None
                        ) -> list[VariableRow]:
        """The station's stored device model (one component's, if given), in key order."""
        query = select(device_variables).where(device_variables.c.station_id == station_id)
        if component is not None:
            query = query.where(device_variables.c.component == component)
        query = query.order_by(*(device_variables.c[k] for k in _VARIABLE_KEY))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [VariableRow(**{f: getattr(r, f) for f in _VARIABLE_FIELDS}) for r in rows]

    async def actual(self, station_id: str, component: str, variable: str) -> str | None:
        """The Actual value of a station-level component's variable, if stored."""
        c = device_variables.c
        async with self._engine.connect() as conn:
            value = (await conn.execute(select(c.value).where(
                c.station_id == station_id, c.component == component, c.variable == variable,
                c.component_instance == "", c.evse_id == 0, c.variable_instance == "",
                c.attribute_type == "Actual"))).scalar_one_or_none()
        return None if value is None else str(value)

    async def monitors(self, station_id: str) -> list[StoredMonitor]:
        c = variable_monitors.c
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(variable_monitors).where(
                c.station_id == station_id).order_by(c.monitor_id))).all()
        return [StoredMonitor(r.station_id, MonitorRow(**{f: getattr(r, f) for f in
                                                          _MONITOR_FIELDS}),
                              r.origin, utc(r.updated_at)) for r in rows]

    async def report(self, request_id: int) -> ReportRecord | None:
        async with self._engine.connect() as conn:
            r = (await conn.execute(select(device_reports).where(
                device_reports.c.id == request_id))).one_or_none()
        if r is None:
            return None
        return ReportRecord(r.id, r.station_id, r.kind, utc(r.requested_at), r.requested_by,
                            r.status, len(r.seen),
                            None if r.completed_at is None else utc(r.completed_at))

    async def ocpp_version(self, station_id: str) -> str | None:
        """The OCPP version the station last connected with."""
        from csms.store import tables as t

        async with self._engine.connect() as conn:
            value = (await conn.execute(select(t.charge_points.c.ocpp_version).where(
                t.charge_points.c.id == station_id))).scalar_one_or_none()
        return None if value is None else str(value)
