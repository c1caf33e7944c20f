"""Sessions the CSMS ends or re-examines after asking the station (GetTransactionStatus).

Rules:
1. :func:`end_unknown` ends an active session the station no longer knows (after a
   reconnect it answered ``ongoingIndicator`` false with no messages queued): energy from
   its last reading, stop reason ``Other``, a ``transaction_not_ongoing`` station event
   with the answer. A session that is no longer active is left alone (None).
2. :func:`note` records a station event about a transaction (the outcome of a check).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from csms.domain.model import SessionEvent, SessionEventKind, SessionVerdict
from csms.store import tables as t
from csms.store.sessions.common import (
    ACTIVE,
    SUPERSEDED_REASON,
    EndHook,
    Limits,
    Step,
    end,
    last_register_wh,
)
from csms.store.writer import Writer, WriteTx

NOT_ONGOING_REASON = SUPERSEDED_REASON  # "Other": the charger did not report the stop


def _step(tx: WriteTx, station_id: str, ref: str, at: datetime, limits: Limits,
          on_ended: EndHook | None) -> Step:
    event = SessionEvent(station_id=station_id, kind=SessionEventKind.ENDED, at=at,
                         evse_id=None, connector_id=None, transaction_ref=ref)
    return Step(tx, event, None, limits, on_ended)


async def end_unknown(writer: Writer, limits: Limits, on_ended: EndHook | None,
                      station_id: str, ref: str, at: datetime,
                      answer: dict[str, Any]) -> SessionVerdict | None:
    """Rule 1: the verdict (with its change and notice), or None if nothing was active."""

    async def unit(tx: WriteTx) -> SessionVerdict | None:
        s = t.sessions
        row = (await tx.conn.execute(select(s).where(
            s.c.station_id == station_id, s.c.transaction_id == ref,
            s.c.status == ACTIVE))).one_or_none()
        if row is None:
            return None
        step = _step(tx, station_id, ref, at, limits, on_ended)
        stop = await last_register_wh(step, row)
        step.note("transaction_not_ongoing", ref, row, meter_stop_wh=stop, **answer)
        await end(step, row, stop, at, NOT_ONGOING_REASON)
        step.changed(SessionEvent(
            station_id=station_id, kind=SessionEventKind.ENDED, at=at, evse_id=row.evse_id,
            connector_id=row.connector_id, transaction_ref=ref, meter_wh=stop,
            stop_reason=NOT_ONGOING_REASON), row.id)
        return SessionVerdict(row.id, ref, None, changes=tuple(step.changes),
                              notices=tuple(step.notices))

    return await writer.submit(unit)


async def note(writer: Writer, station_id: str, ref: str, at: datetime, kind: str,
               **details: Any) -> SessionVerdict:
    """Rule 2: a station event about transaction ``ref`` (its session's EVSE when known)."""

    async def unit(tx: WriteTx) -> SessionVerdict:
        s = t.sessions
        row = (await tx.conn.execute(select(s).where(
            s.c.station_id == station_id, s.c.transaction_id == ref))).one_or_none()
        step = _step(tx, station_id, ref, at, Limits(), None)
        step.note(kind, ref, row, **details)
        return SessionVerdict(None if row is None else row.id, ref, None,
                              notices=tuple(step.notices))

    return await writer.submit(unit)
