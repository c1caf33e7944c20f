"""OCPP 1.6 StartTransaction and StopTransaction (package Rules 1, 3, 5, 6)."""

from __future__ import annotations

from sqlalchemy import select, update

from csms.domain.model import (
    Authorization,
    AuthorizationStatus,
    SessionVerdict,
    StationEventReported,
)
from csms.domain.transactions import SessionFlag, start_fingerprint
from csms.store import tables as t
from csms.store.rows import event_row, meter_rows, utc
from csms.store.sessions.common import (
    ACTIVE,
    SessionRow,
    Step,
    add_flags,
    applied,
    end,
    find,
    insert,
    late_rows,
    supersede,
)

START_ON_STATION = "start_on_connector_0"


async def start(step: Step) -> SessionVerdict:
    """A new session, or the one a retransmission of the same start created."""
    event = step.event
    key = start_fingerprint(event)
    if event.evse_id == 0:
        return await _start_on_station(step, key)
    s = t.sessions
    existing = (await step.tx.conn.execute(select(s).where(
        s.c.station_id == event.station_id, s.c.start_key == key))).one_or_none()
    if existing is not None:
        return verdict(existing, step.auth)
    await supersede(step, event.evse_id)
    session_id = await insert(step, None, start_key=key)
    await step.tx.conn.execute(
        update(s).where(s.c.id == session_id).values(transaction_id=str(session_id)))
    step.changed(event, session_id)
    return SessionVerdict(session_id, str(session_id), step.auth)


async def _start_on_station(step: Step, key: str) -> SessionVerdict:
    """Connector 0 is the station: it carries no transaction. The charger gets an id (the
    negated id of the station event that records it, never a session's) and Invalid."""
    event, e = step.event, t.station_events
    found = (await step.tx.conn.execute(select(e.c.id).where(
        e.c.station_id == event.station_id, e.c.kind == START_ON_STATION,
        e.c.code == key))).scalar_one_or_none()
    if found is None:
        notice = StationEventReported(
            event.station_id, START_ON_STATION, event.at, code=key, evse_id=0,
            connector_id=0, details={
                "id_tag": event.id_token.value if event.id_token else None,
                "meter_start_wh": event.meter_wh, "reservation_id": event.reservation_id})
        result = await step.tx.conn.execute(e.insert().values(event_row(notice, step.tx.now)))
        assert result.inserted_primary_key is not None
        found = int(result.inserted_primary_key[0])
        step.notices.append(notice)
    expires = step.auth.expires_at if step.auth else None
    return SessionVerdict(None, str(-found), Authorization(AuthorizationStatus.INVALID, expires))


async def stop(step: Step) -> SessionVerdict:
    """End the session; a repeat with the same values changes nothing, one with other values
    is kept as a conflict on the session (the first stop stays the answer)."""
    event = step.event
    assert event.transaction_ref is not None
    row = await find(step, event.transaction_ref)
    if row is None:
        step.note("unknown_transaction_stopped", event.transaction_ref,
                  meter_stop_wh=event.meter_wh, reason=event.stop_reason)
        step.tx.insert_later(t.meter_values, meter_rows(
            event.station_id, event.evse_id, event.connector_id, None, event.samples,
            received_at=step.tx.now))
        return SessionVerdict(None, event.transaction_ref, step.auth)
    if row.status == ACTIVE:
        step.tx.insert_later(t.meter_values, meter_rows(
            event.station_id, row.evse_id, row.connector_id, row.id, event.samples,
            received_at=step.tx.now))
        await end(step, row, event.meter_wh, event.at, event.stop_reason)
        step.changed(applied(event, row), row.id)
    elif not _same_stop(step, row):
        await conflict(step, row)
    return verdict(row, step.auth)


def _same_stop(step: Step, row: SessionRow) -> bool:
    event = step.event
    return (row.ended_at is not None and utc(row.ended_at) == event.at
            and row.meter_stop_wh == event.meter_wh and row.stop_reason == event.stop_reason)


async def conflict(step: Step, row: SessionRow) -> None:
    """Another stop of an ended session: recorded, flagged, its readings kept unlinked."""
    event = step.event
    step.note("stop_conflict", row.transaction_id, row,
              kept={"ended_at": utc(row.ended_at).isoformat() if row.ended_at else None,
                    "meter_stop_wh": row.meter_stop_wh, "stop_reason": row.stop_reason},
              received={"ended_at": event.at.isoformat(), "meter_stop_wh": event.meter_wh,
                        "stop_reason": event.stop_reason, "seq_no": event.seq_no})
    await add_flags(step, row, SessionFlag.STOP_CONFLICT)
    late_rows(step, row)


def verdict(row: SessionRow, fresh: Authorization | None) -> SessionVerdict:
    """The answer given the first time: the stored authorization status wins."""
    auth = fresh
    if row.auth_status is not None:
        expires = fresh.expires_at if fresh else None
        auth = Authorization(AuthorizationStatus(row.auth_status), expires)
    return SessionVerdict(row.id, row.transaction_id, auth)
