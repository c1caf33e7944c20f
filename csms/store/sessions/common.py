"""The steps every session path shares: find, insert, end, flag, and note an anomaly."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, select, update

from csms.domain.model import (
    Authorization,
    SessionChange,
    SessionEvent,
    SessionEventKind,
    StationEventReported,
)
from csms.domain.sessions import ENERGY_REGISTER, register_readings_wh, session_energy_wh
from csms.domain.transactions import SessionFlag, fell_back, plausible_energy
from csms.store import tables as t
from csms.store.rows import SESSION_BY_ID, event_row, meter_rows, utc
from csms.store.writer import WriteTx

SessionRow = Row[Any]
# Runs inside the unit that ends a session, so what it writes commits with the end (billing).
EndHook = Callable[[WriteTx, int], Awaitable[None]]
ACTIVE, ENDED = "active", "ended"
SUPERSEDED_REASON = "Other"  # OCPP's reason for a stop the charger did not ask for


@dataclass(frozen=True, slots=True)
class Limits:
    """What makes a reading suspect (``[transactions]`` and ``[safety]`` settings)."""

    max_power_w: float = 150_000.0
    backwards_tolerance_wh: float = 0.0


@dataclass(slots=True)
class Step:
    """One event's work inside its unit: the transaction, and what it changed or noticed."""

    tx: WriteTx
    event: SessionEvent
    auth: Authorization | None
    limits: Limits
    on_ended: EndHook | None
    changes: list[SessionChange] = field(default_factory=list)
    notices: list[StationEventReported] = field(default_factory=list)

    def note(self, kind: str, code: str | None, row: SessionRow | None = None,
             **details: Any) -> None:
        """Record an anomaly as a station event (stored with the unit, published after)."""
        evse = row.evse_id if row is not None else self.event.evse_id
        connector = row.connector_id if row is not None else self.event.connector_id
        if row is not None:
            details = {"session_id": row.id, **details}
        notice = StationEventReported(self.event.station_id, kind, self.event.at, code=code,
                                      evse_id=evse, connector_id=connector, details=details)
        self.tx.insert_later(t.station_events, [event_row(notice, self.tx.now)])
        self.notices.append(notice)

    def changed(self, event: SessionEvent, session_id: int | None) -> None:
        self.changes.append(SessionChange(event, session_id))


# Built once: a statement built per call costs about as much again as running it (SQLite).
_BY_REF = select(t.sessions).where(t.sessions.c.station_id == bindparam("station_id"),
                                   t.sessions.c.transaction_id == bindparam("ref"))
_INSERT = t.sessions.insert()
# UPDATE sessions SET <the keys of the parameters> WHERE id = :b_id
UPDATE_SESSION = update(t.sessions).where(t.sessions.c.id == bindparam("b_id"))


async def find(step: Step, transaction_ref: str) -> SessionRow | None:
    return (await step.tx.conn.execute(_BY_REF, {
        "station_id": step.event.station_id, "ref": transaction_ref})).one_or_none()


async def reread(step: Step, row: SessionRow) -> SessionRow:
    return (await step.tx.conn.execute(SESSION_BY_ID, {"session_id": row.id})).one()


async def insert(step: Step, transaction_ref: str | None, *, start_key: str | None = None,
                 flags: Iterable[SessionFlag] = ()) -> int:
    """A new active session from ``step.event``; its start register is meterStart or the
    first register reading."""
    event, auth = step.event, step.auth
    readings = register_readings_wh(event.samples)
    meter_start = event.meter_wh if event.meter_wh is not None else (
        readings[0] if readings else None)
    result = await step.tx.conn.execute(_INSERT, {
        "station_id": event.station_id, "evse_id": event.evse_id,
        "connector_id": event.connector_id,
        "transaction_id": transaction_ref, "start_key": start_key,
        "id_token": event.id_token.value if event.id_token else None,
        "auth_status": auth.status.value if auth else None, "status": ACTIVE,
        "started_at": event.at, "meter_start_wh": meter_start, "flags": sorted(flags),
        "created_at": step.tx.now, "updated_at": step.tx.now,
    })
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def flags_of(row: SessionRow) -> list[str]:
    return list(row.flags or [])


async def add_flags(step: Step, row: SessionRow, *flags: SessionFlag) -> list[str]:
    """Flag the session (kept sorted, each once); returns the new flags."""
    new = sorted({*flags_of(row), *flags})
    if new != flags_of(row):
        await step.tx.conn.execute(UPDATE_SESSION, {"b_id": row.id, "flags": new,
                                                    "updated_at": step.tx.now})
    return new


async def end(step: Step, row: SessionRow, meter_stop_wh: float | None, at: datetime,
              stop_reason: str | None, *flags: SessionFlag,
              written: dict[str, Any] | None = None) -> None:
    """End the active session ``row`` (Rules 8-9 of the package) and run the end hook.
    ``written``: columns the caller changes with the end, in the same UPDATE (``row`` as
    read, before them; its start register and flags among them count)."""
    written = written or {}
    start = written.get("meter_start_wh", row.meter_start_wh)
    if fell_back(start, meter_stop_wh, step.limits.backwards_tolerance_wh):
        step.note("energy_register_backwards", row.transaction_id, row,
                  meter_start_wh=start, meter_stop_wh=meter_stop_wh)
    energy = session_energy_wh(start, meter_stop_wh)
    marks = set(flags)
    if row.started_at is not None:
        elapsed = (at - utc(row.started_at)).total_seconds()
        if elapsed < 0:
            marks.add(SessionFlag.ENDED_BEFORE_STARTED)
            step.note("session_ended_before_started", row.transaction_id, row,
                      started_at=utc(row.started_at).isoformat(), ended_at=at.isoformat())
        elif not plausible_energy(energy, elapsed, step.limits.max_power_w):
            marks.add(SessionFlag.IMPLAUSIBLE_ENERGY)
            step.note("session_energy_implausible", row.transaction_id, row, energy_wh=energy,
                      elapsed_s=elapsed, max_power_w=step.limits.max_power_w)
    await step.tx.conn.execute(UPDATE_SESSION, {
        **written,
        "b_id": row.id, "status": ENDED, "ended_at": at, "meter_stop_wh": meter_stop_wh,
        "energy_wh": energy,
        "stop_reason": stop_reason,
        "flags": sorted({*written.get("flags", flags_of(row)), *marks}),
        "updated_at": step.tx.now,
    })
    if step.on_ended is not None:
        await step.on_ended(step.tx, row.id)


async def last_register_wh(step: Step, row: SessionRow) -> float | None:
    """The session's latest whole-meter register reading (Wh), stored or in this batch."""
    await step.tx.flush()  # readings of earlier units of this batch are still queued
    mv = t.meter_values
    found = (await step.tx.conn.execute(
        select(mv.c.value, mv.c.unit).where(
            mv.c.session_id == row.id, mv.c.measurand == ENERGY_REGISTER,
            mv.c.phase.is_(None)).order_by(mv.c.at.desc(), mv.c.id.desc()).limit(1))).first()
    if found is None:
        fallback = row.meter_stop_wh if row.meter_stop_wh is not None else row.meter_start_wh
        return None if fallback is None else float(fallback)
    return float(found.value) * (1000.0 if found.unit == "kWh" else 1.0)


async def supersede(step: Step, evse_id: int | None) -> None:
    """Rule 6: end whatever is still active on ``evse_id`` before a new transaction."""
    if evse_id is None:
        return
    s = t.sessions
    older = (await step.tx.conn.execute(select(s).where(
        s.c.station_id == step.event.station_id, s.c.evse_id == evse_id,
        s.c.status == ACTIVE).order_by(s.c.id))).all()
    for row in older:
        stop = await last_register_wh(step, row)
        step.note("session_superseded", row.transaction_id, row,
                  new_transaction_at=step.event.at.isoformat(), meter_stop_wh=stop)
        await end(step, row, stop, step.event.at, SUPERSEDED_REASON, SessionFlag.SUPERSEDED)
        step.changed(SessionEvent(
            station_id=row.station_id, kind=SessionEventKind.ENDED, at=step.event.at,
            evse_id=row.evse_id, connector_id=row.connector_id,
            transaction_ref=row.transaction_id, meter_wh=stop,
            stop_reason=SUPERSEDED_REASON), row.id)


def applied(event: SessionEvent, row: SessionRow) -> SessionEvent:
    """``event`` as the session has it: the session's EVSE and connector."""
    if (event.evse_id, event.connector_id) == (row.evse_id, row.connector_id):
        return event
    return replace(event, evse_id=row.evse_id, connector_id=row.connector_id)


def late_rows(step: Step, row: SessionRow) -> None:
    """Readings that came after the session ended: kept, not linked to it (Rule 5)."""
    event = step.event
    if event.samples:
        step.tx.insert_later(t.meter_values, meter_rows(
            event.station_id, row.evse_id, row.connector_id, None, event.samples,
            received_at=step.tx.now))
