"""Repositories: the only code that reads and writes the tables. Returns domain types.

Writes go through the group-commit :class:`~csms.store.writer.Writer`; reads use their own
connection and see only committed data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.domain.authorization import TokenRecord, token_key
from csms.domain.model import (
    Authorization,
    AuthorizationStatus,
    ConnectorStatusChanged,
    MeterValuesReported,
    RegistrationStatus,
    StationBooted,
    StationEventReported,
)
from csms.store import tables as t
from csms.store.access import audit
from csms.store.rows import event_row, meter_rows, natural_key, read_token
from csms.store.sessions import SessionRecorder
from csms.store.writer import Writer, WriteTx

Authorizer = Callable[[TokenRecord | None], Authorization]
# Run inside the unit that stores a status or a boot, so what they write commits with it.
StatusHook = Callable[[WriteTx, ConnectorStatusChanged], Awaitable[None]]
BootHook = Callable[[WriteTx, StationBooted], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class StationRecord:
    station_id: str
    registration_status: RegistrationStatus
    password_hash: str | None
    site_id: int | None
    security_profile: int | None = None


_TOUCH = update(t.charge_points).where(t.charge_points.c.id == bindparam("b_id")).values(
    last_seen_at=bindparam("b_at"))
_CONNECTOR_STATE = ("status", "error_code", "vendor_error_code", "status_at")
_CONNECTOR_COLUMNS = ("station_id", "evse_id", "connector_id", *_CONNECTOR_STATE)


class Store:
    """Everything the services persist or look up."""

    def __init__(self, engine: AsyncEngine, writer: Writer) -> None:
        self.engine = engine
        self.writer = writer
        self.sessions = SessionRecorder(writer)
        self.status_hooks: list[StatusHook] = []  # e.g. the platform feed's outbox
        self.boot_hooks: list[BootHook] = []
        self._dialect = engine.dialect.name
        # Prebuilt statements for the hottest writes (no statement building per message).
        self._add_evse = self._insert(t.evses).values(
            station_id=bindparam("station_id"), evse_id=bindparam("evse_id"),
        ).on_conflict_do_nothing(index_elements=["station_id", "evse_id"])
        connector = self._insert(t.connectors).values(
            {c: bindparam(c) for c in _CONNECTOR_COLUMNS})
        self._set_connector = connector.on_conflict_do_update(
            index_elements=["station_id", "evse_id", "connector_id"],
            set_={c: connector.excluded[c] for c in _CONNECTOR_STATE},
        )

    # -- charge points ---------------------------------------------------------------------

    async def get_station(self, station_id: str) -> StationRecord | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(t.charge_points).where(t.charge_points.c.id == station_id)
                )
            ).one_or_none()
        if row is None:
            return None
        return StationRecord(
            row.id, RegistrationStatus(row.registration_status), row.password_hash, row.site_id,
            row.security_profile,
        )

    async def add_station(
        self,
        station_id: str,
        status: RegistrationStatus,
        password_hash: str | None = None,
        site_id: int | None = None,
    ) -> None:
        """Create a charge point, or leave an existing one as it is."""

        async def unit(tx: WriteTx) -> None:
            stmt = self._insert(t.charge_points).values(
                id=station_id, registration_status=status.value, password_hash=password_hash,
                site_id=site_id, created_at=tx.now,
            )
            await tx.conn.execute(stmt.on_conflict_do_nothing(index_elements=["id"]))

        await self.writer.submit(unit)

    async def raise_security_profile(self, station_id: str, profile: int,
                                     details: dict[str, Any]) -> bool:
        """Hold the charge point to at least ``profile`` from now on (never lowers it);
        audited. Whether it was raised."""

        async def unit(tx: WriteTx) -> bool:
            cp = t.charge_points
            result = await tx.conn.execute(update(cp).where(
                cp.c.id == station_id,
                (cp.c.security_profile.is_(None)) | (cp.c.security_profile < profile),
            ).values(security_profile=profile))
            if result.rowcount:
                audit(tx, "ocpp-server", "raise_security_profile", "charge_point", station_id,
                      {"security_profile": profile, **details}, at=tx.now)
            return bool(result.rowcount)

        return await self.writer.submit(unit)

    async def security_audit(self, station_id: str, action: str,
                             details: dict[str, Any]) -> None:
        """A security fact about a charge point (a lockout, a closed connection), audited."""

        async def unit(tx: WriteTx) -> None:
            audit(tx, "ocpp-server", action, "charge_point", station_id, details, at=tx.now)

        await self.writer.submit(unit)

    async def set_station(self, station_id: str, **values: Any) -> bool:
        """Update columns of a charge point (registration_status, password_hash, site_id)."""

        async def unit(tx: WriteTx) -> bool:
            result = await tx.conn.execute(
                update(t.charge_points).where(t.charge_points.c.id == station_id).values(**values)
            )
            return bool(result.rowcount)

        return await self.writer.submit(unit)

    async def record_connected(self, station_id: str, version: str, at: datetime) -> None:
        await self._update_station(station_id, ocpp_version=version, last_seen_at=at)

    async def record_seen(self, station_id: str, at: datetime) -> None:
        """The station was heard from at ``at`` (heartbeats: one executemany per batch)."""

        async def unit(tx: WriteTx) -> None:
            tx.execute_later(_TOUCH, {"b_id": station_id, "b_at": at})

        await self.writer.submit(unit, keeps_cache=True)

    def touch_soon(self, station_id: str, at: datetime) -> None:
        """:meth:`record_seen` without waiting for the commit (any message is a sign of
        life; its stamp rides with the next batch)."""

        async def unit(tx: WriteTx) -> None:
            tx.execute_later(_TOUCH, {"b_id": station_id, "b_at": at})

        self.writer.post(unit, keeps_cache=True)

    async def record_boot(self, event: StationBooted) -> RegistrationStatus:
        """Store what the station says of itself; return its registration status."""

        async def unit(tx: WriteTx) -> RegistrationStatus:
            cp = t.charge_points
            await tx.conn.execute(
                update(cp).where(cp.c.id == event.station_id).values(
                    vendor=event.vendor, model=event.model, serial_number=event.serial_number,
                    firmware_version=event.firmware_version, last_boot_at=event.at,
                    last_seen_at=event.at,  # the CSMS clock when the boot arrived
                )
            )
            status = (
                await tx.conn.execute(
                    select(cp.c.registration_status).where(cp.c.id == event.station_id)
                )
            ).scalar_one()
            for hook in self.boot_hooks:
                await hook(tx, event)
            return RegistrationStatus(status)

        return await self.writer.submit(unit)

    async def _update_station(self, station_id: str, **values: Any) -> None:
        async def unit(tx: WriteTx) -> None:
            await tx.conn.execute(
                update(t.charge_points).where(t.charge_points.c.id == station_id).values(**values)
            )

        await self.writer.submit(unit)

    # -- status, meter values, events ------------------------------------------------------

    async def record_status(self, event: ConnectorStatusChanged) -> None:
        """Current connector status plus a history row."""

        async def unit(tx: WriteTx) -> None:
            received = tx.now
            where = {"station_id": event.station_id, "evse_id": event.evse_id}
            tx.execute_later(self._add_evse, where)
            current = {
                "status": event.status.value, "error_code": event.error_code,
                "vendor_error_code": event.vendor_error_code, "status_at": event.at,
            }
            tx.execute_later(self._set_connector,
                             {**where, "connector_id": event.connector_id, **current})
            tx.insert_later(t.connector_status_history, [{
                "station_id": event.station_id, "evse_id": event.evse_id,
                "connector_id": event.connector_id, "info": event.info, "at": event.at,
                "received_at": received, **{k: v for k, v in current.items() if k != "status_at"},
                "status": event.status.value, "status_key": natural_key(
                    event.station_id, event.evse_id, event.connector_id,
                    event.at.astimezone(UTC).isoformat(), event.status.value,
                    event.error_code),
            }])
            if event.error_code is not None:
                tx.insert_later(t.station_events, [event_row(StationEventReported(
                    event.station_id, "connector_fault", event.at, code=event.error_code,
                    evse_id=event.evse_id, connector_id=event.connector_id,
                    details={"status": event.status.value,
                             "vendor_error_code": event.vendor_error_code, "info": event.info},
                ), tx.now)])
            for hook in self.status_hooks:
                await hook(tx, event)

        # keeps_cache (writer rule 6): connectors, history, events and the platform's outbox
        await self.writer.submit(unit, keeps_cache=True)

    async def record_meter_values(
        self, event: MeterValuesReported, session_id: int | None = None
    ) -> int | None:
        """Meter values, linked to their session when the transaction is known; returns the
        session id. ``session_id``, when the caller already knows it, saves the look-up."""

        async def unit(tx: WriteTx) -> int | None:
            found, active = session_id, True
            if found is None and event.transaction_ref is not None:
                known = await self.sessions.find_id(
                    tx.conn, event.station_id, event.transaction_ref)
                if known is not None:
                    found, active = known
            if not active:  # readings after the stop: kept, not attached to the session
                tx.insert_later(t.station_events, [event_row(StationEventReported(
                    event.station_id, "late_meter_values",
                    max((s.at for s in event.samples), default=tx.now),
                    code=event.transaction_ref, evse_id=event.evse_id,
                    connector_id=event.connector_id,
                    details={"session_id": found, "samples": len(event.samples)}), tx.now)])
                found = None
            tx.insert_later(t.meter_values, meter_rows(
                event.station_id, event.evse_id, event.connector_id, found, event.samples,
                received_at=tx.now))
            return found

        # keeps_cache (writer rule 6): readings and station events only
        return await self.writer.submit(unit, keeps_cache=True)

    async def record_events(self, events: Sequence[StationEventReported]) -> None:
        async def unit(tx: WriteTx) -> None:
            tx.insert_later(t.station_events, [event_row(event, tx.now) for event in events])

        await self.writer.submit(unit, keeps_cache=True)

    async def log_command(self, **row: Any) -> None:
        """One command-log row: station_id, action, request, outcome, response, ..."""

        async def unit(tx: WriteTx) -> None:
            tx.insert_later(t.command_log, [row])

        await self.writer.submit(unit, keeps_cache=True)

    async def find_district(self, key: str) -> int | None:
        """A district's id from its id, code or name."""
        d = t.districts
        condition = (d.c.code == key) | (d.c.name == key)
        if key.isdigit():
            condition = condition | (d.c.id == int(key))
        async with self.engine.connect() as conn:
            return (await conn.execute(select(d.c.id).where(condition))).scalar()

    # -- id tokens ---------------------------------------------------------------------------

    async def get_token(self, id_token: str) -> TokenRecord | None:
        async with self.engine.connect() as conn:
            return await read_token(conn, id_token)

    async def put_token(
        self,
        id_token: str,
        status: AuthorizationStatus,
        expires_at: datetime | None = None,
        owner: str | None = None,
        group_id: str | None = None,
    ) -> None:
        """Create or replace an id token; one registered under another spelling of it (same
        key) is the same token and keeps its first spelling."""

        async def unit(tx: WriteTx) -> None:
            values = {"status": status.value, "expires_at": expires_at, "owner": owner,
                      "group_id": group_id}
            stmt = self._insert(t.id_tokens).values(
                id_token=id_token, token_key=token_key(id_token), created_at=tx.now, **values
            )
            await tx.conn.execute(
                stmt.on_conflict_do_update(index_elements=["token_key"], set_=values)
            )

        await self.writer.submit(unit)

    # -- helpers ----------------------------------------------------------------------------

    def _insert(self, table: Table) -> Any:
        return (postgresql.insert if self._dialect == "postgresql" else sqlite.insert)(table)
