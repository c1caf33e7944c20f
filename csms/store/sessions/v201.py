"""OCPP 2.0.1 TransactionEvent (package Rules 2, 4, 5, 6, 7, 8)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select, update

from csms.domain.model import SessionEventKind, SessionVerdict
from csms.domain.sessions import register_points_wh, seq_gap
from csms.domain.transactions import SessionFlag, event_fingerprint, plausible_energy
from csms.store import tables as t
from csms.store.rows import meter_rows, utc
from csms.store.sessions.common import (
    ENDED,
    UPDATE_SESSION,
    SessionRow,
    Step,
    applied,
    end,
    find,
    insert,
    late_rows,
    reread,
    supersede,
)
from csms.store.sessions.v16 import conflict, verdict


async def transaction_event(step: Step) -> SessionVerdict:
    event = step.event
    ref, seq_no = event.transaction_ref, event.seq_no
    assert ref is not None
    assert seq_no is not None
    fingerprint = event_fingerprint(event)
    row = await find(step, ref)
    fresh = row is None
    if row is None:
        await supersede(step, event.evse_id)
        unseen = () if event.kind is SessionEventKind.STARTED else (SessionFlag.UNKNOWN_START,)
        await insert(step, ref, flags=unseen)
        row = await find(step, ref)
        assert row is not None
    else:
        seen = await _fingerprints(step, row.id, seq_no)
        if fingerprint in seen:
            return verdict(row, step.auth)  # a retransmission
        if seen:
            step.note("transaction_seq_reused", ref, row, seq_no=seq_no,
                      event_type=event.kind.value, trigger_reason=event.trigger_reason)
    await _log_event(step, row, fingerprint)
    if row.status == ENDED and not fresh:
        await _after_end(step, row)
        return verdict(row, step.auth)
    row = await _learn_evse(step, row)
    await _apply(step, row, fresh)
    return SessionVerdict(row.id, ref, step.auth)


async def _apply(step: Step, row: SessionRow, fresh: bool) -> None:
    event = step.event
    assert event.seq_no is not None
    step.tx.insert_later(t.meter_values, meter_rows(
        event.station_id, row.evse_id, row.connector_id, row.id, event.samples,
            received_at=step.tx.now))
    points = register_points_wh(event.samples)
    values: dict[str, Any] = {"updated_at": step.tx.now,
                              "last_seq_no": max(event.seq_no, row.last_seq_no or 0)}
    if event.offline:
        values["had_offline_events"] = True
    if points and row.meter_start_wh is None:
        values["meter_start_wh"] = points[0][1]
    elif points and not fresh and row.meter_stop_wh in (None, row.meter_start_wh):
        values.update(await _checked_baseline(step, row, points[0]))
    if row.auth_status is None and step.auth is not None:
        values.update(id_token=event.id_token.value if event.id_token else None,
                      auth_status=step.auth.status.value)
    if event.kind is SessionEventKind.ENDED:  # one UPDATE: these values and the end
        stop = points[-1][1] if points else row.meter_stop_wh
        await end(step, row, stop, event.at, event.stop_reason, written=values)
    else:
        if points:
            values["meter_stop_wh"] = points[-1][1]
        await step.tx.conn.execute(UPDATE_SESSION, {"b_id": row.id, **values})
    step.changed(applied(event, row), row.id)


async def _checked_baseline(step: Step, row: SessionRow, first: tuple[Any, float]
                            ) -> dict[str, Any]:
    """Rule 8: the first reading after the start register must be reachable from it."""
    at, reading = first
    start = row.meter_start_wh
    started = utc(row.started_at) if row.started_at is not None else at
    if start is None or plausible_energy(reading - start, (at - started).total_seconds(),
                                         step.limits.max_power_w):
        return {}
    step.note("implausible_baseline", row.transaction_id, row, meter_start_wh=start,
              first_reading_wh=reading, first_reading_at=at.isoformat())
    flags = sorted({*(row.flags or []), SessionFlag.IMPLAUSIBLE_BASELINE})
    return {"meter_start_wh": reading, "flags": flags}


async def _after_end(step: Step, row: SessionRow) -> None:
    """Rule 5: an event after Ended is kept, never applied to the ended session."""
    event = step.event
    if event.kind is SessionEventKind.ENDED:
        await conflict(step, row)
        return
    step.note("late_transaction_event", row.transaction_id, row, seq_no=event.seq_no,
              event_type=event.kind.value, samples=len(event.samples))
    late_rows(step, row)


async def _learn_evse(step: Step, row: SessionRow) -> SessionRow:
    """Rule 7: the first event that names the EVSE sets it, and backfills the readings."""
    event = step.event
    if row.evse_id is not None or event.evse_id is None:
        return row
    connector = event.connector_id if event.connector_id is not None else 1
    await step.tx.flush()  # this batch's readings of the session are still queued
    await step.tx.conn.execute(update(t.sessions).where(t.sessions.c.id == row.id).values(
        evse_id=event.evse_id, connector_id=connector, updated_at=step.tx.now))
    mv = t.meter_values
    await step.tx.conn.execute(update(mv).where(mv.c.session_id == row.id,
                                                mv.c.evse_id.is_(None))
                               .values(evse_id=event.evse_id, connector_id=connector))
    return await reread(step, row)


_FINGERPRINTS = select(t.transaction_events.c.fingerprint).where(
    t.transaction_events.c.session_id == bindparam("session_id"),
    t.transaction_events.c.seq_no == bindparam("seq_no"))  # built once, as the two below
_LOG_EVENT = t.transaction_events.insert()


async def _fingerprints(step: Step, session_id: int, seq_no: int) -> set[str]:
    found = await step.tx.conn.execute(_FINGERPRINTS, {"session_id": session_id,
                                                       "seq_no": seq_no})
    return {f for (f,) in found}


async def _log_event(step: Step, row: SessionRow, fingerprint: str) -> None:
    event = step.event
    assert event.seq_no is not None
    await step.tx.conn.execute(_LOG_EVENT, {
        "session_id": row.id, "seq_no": event.seq_no, "fingerprint": fingerprint,
        "event_type": event.kind.value, "trigger_reason": event.trigger_reason,
        "offline": event.offline, "at": event.at, "received_at": step.tx.now})
    missing = seq_gap(row.last_seq_no, event.seq_no)
    if missing:
        step.note("transaction_seq_gap", event.transaction_ref, row,
                  last_seq_no=row.last_seq_no, seq_no=event.seq_no, missing=missing)

