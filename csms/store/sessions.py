"""Sessions from transaction messages: idempotent under retransmission.

Rules (ARCHITECTURE properties 1-2):
1. A retransmitted 1.6 StartTransaction (same station, connector, id tag, timestamp and
   meterStart) returns the session it created the first time, with the same answer.
2. A retransmitted StopTransaction or a 2.0.1 TransactionEvent with a seqNo already seen
   changes nothing and gets the same answer.
3. A 1.6 StopTransaction for a transaction we do not know is accepted and recorded as a
   station event, with its meter values; it never creates a session.
4. A 2.0.1 event for an unknown transaction id creates the session, whatever its type, so
   an offline Started that never arrived does not lose the rest.
5. seqNo gaps and offline events are recorded; the charger's timestamps are kept.
6. Energy is the register at stop minus the register at start, never negative; a register
   that went backwards is recorded as an event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from csms.domain.authorization import TokenRecord
from csms.domain.model import (
    Authorization,
    AuthorizationStatus,
    SessionEvent,
    SessionEventKind,
    SessionVerdict,
    StationEventReported,
)
from csms.domain.sessions import (
    register_readings_wh,
    register_went_backwards,
    seq_gap,
    session_energy_wh,
)
from csms.store import tables as t
from csms.store.rows import event_row, meter_rows, read_token
from csms.store.writer import Writer, WriteTx

SessionRow = Row[*tuple[Any, ...]]
Authorizer = Callable[[TokenRecord | None], Authorization]
# Runs inside the unit that ends a session, so what it writes commits with the end (billing).
EndHook = Callable[[WriteTx, int], Awaitable[None]]
# Adds credit (wallet, package allowance) to a token record at a transaction's start.
CreditHook = Callable[[AsyncConnection, TokenRecord], Awaitable[TokenRecord]]
ACTIVE, ENDED = "active", "ended"


class SessionRecorder:
    """Turns :class:`SessionEvent` into session rows, one group-committed unit each."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self.on_ended: EndHook | None = None
        self.credit: CreditHook | None = None

    async def record(self, event: SessionEvent, authorize: Authorizer) -> SessionVerdict:
        """Apply ``event``; ``authorize`` decides on its id token (if any) from the table."""

        async def unit(tx: WriteTx) -> SessionVerdict:
            auth = None
            if event.id_token is not None:
                record = await read_token(tx.conn, event.id_token.value)
                if record is not None and self.credit is not None and \
                        event.kind is SessionEventKind.STARTED:
                    record = await self.credit(tx.conn, record)
                auth = authorize(record)
            if event.transaction_ref is None:
                return await self._start_v16(tx, event, auth)
            if event.seq_no is None:
                return await self._stop_v16(tx, event, auth)
            return await self._transaction_event(tx, event, auth)

        return await self._writer.submit(unit)

    @staticmethod
    async def find_id(conn: AsyncConnection, station_id: str, transaction_ref: str) -> int | None:
        s = t.sessions
        return (
            await conn.execute(
                select(s.c.id).where(
                    s.c.station_id == station_id, s.c.transaction_id == transaction_ref
                )
            )
        ).scalar_one_or_none()

    # -- OCPP 1.6 --------------------------------------------------------------------------

    async def _start_v16(
        self, tx: WriteTx, event: SessionEvent, auth: Authorization | None
    ) -> SessionVerdict:
        s = t.sessions
        token = event.id_token.value if event.id_token else None
        existing = (
            await tx.conn.execute(
                select(s.c.id, s.c.transaction_id, s.c.auth_status).where(
                    s.c.station_id == event.station_id, s.c.connector_id == event.connector_id,
                    s.c.started_at == event.at, s.c.meter_start_wh == event.meter_wh,
                    s.c.id_token == token,
                )
            )
        ).one_or_none()
        if existing is not None:
            return _verdict(existing, auth)
        session_id = await self._insert(tx.conn, event, auth, transaction_ref=None, stamp=tx.now)
        await tx.conn.execute(
            update(s).where(s.c.id == session_id).values(transaction_id=str(session_id))
        )
        return SessionVerdict(session_id, str(session_id), auth)

    async def _stop_v16(
        self, tx: WriteTx, event: SessionEvent, auth: Authorization | None
    ) -> SessionVerdict:
        assert event.transaction_ref is not None
        row = await self._find(tx.conn, event.station_id, event.transaction_ref)
        if row is None:
            tx.insert_later(t.station_events, [event_row(StationEventReported(
                event.station_id, "unknown_transaction_stopped", event.at,
                code=event.transaction_ref, connector_id=event.connector_id,
                details={"meter_stop_wh": event.meter_wh, "reason": event.stop_reason},
            ), tx.now)])
            tx.insert_later(t.meter_values, meter_rows(
                event.station_id, event.evse_id, event.connector_id, None, event.samples
            ))
            return SessionVerdict(None, event.transaction_ref, auth)
        if row.status == ACTIVE:
            tx.insert_later(t.meter_values, meter_rows(
                event.station_id, row.evse_id, row.connector_id, row.id, event.samples
            ))
            await self._end(tx, row, event, event.meter_wh)
        return _verdict(row, auth)

    # -- OCPP 2.0.1 ------------------------------------------------------------------------

    async def _transaction_event(
        self, tx: WriteTx, event: SessionEvent, auth: Authorization | None
    ) -> SessionVerdict:
        assert event.transaction_ref is not None
        assert event.seq_no is not None
        row = await self._find(tx.conn, event.station_id, event.transaction_ref)
        if row is None:
            await self._insert(tx.conn, event, auth, transaction_ref=event.transaction_ref,
                               stamp=tx.now)
            row = await self._find(tx.conn, event.station_id, event.transaction_ref)
            assert row is not None
        elif await self._seen(tx.conn, row.id, event.seq_no):
            return _verdict(row, auth)
        await self._log_event(tx, row, event)
        readings = register_readings_wh(event.samples)
        tx.insert_later(t.meter_values, meter_rows(
            event.station_id, row.evse_id, row.connector_id, row.id, event.samples
        ))
        values: dict[str, Any] = {"updated_at": tx.now,
                                  "last_seq_no": max(event.seq_no, row.last_seq_no or 0)}
        if event.offline:
            values["had_offline_events"] = True
        if readings and row.meter_start_wh is None:
            values["meter_start_wh"] = readings[0]
        if row.auth_status is None and auth is not None:
            values.update(id_token=event.id_token.value if event.id_token else None,
                          auth_status=auth.status.value)
        if event.kind is SessionEventKind.ENDED and row.status == ACTIVE:
            await tx.conn.execute(
                update(t.sessions).where(t.sessions.c.id == row.id).values(values)
            )
            row = await self._find(tx.conn, event.station_id, event.transaction_ref)
            assert row is not None
            await self._end(tx, row, event, readings[-1] if readings else row.meter_stop_wh)
        else:
            if readings:
                values["meter_stop_wh"] = readings[-1]
            await tx.conn.execute(
                update(t.sessions).where(t.sessions.c.id == row.id).values(values)
            )
        return SessionVerdict(row.id, event.transaction_ref, auth)

    async def _log_event(self, tx: WriteTx, row: SessionRow, event: SessionEvent) -> None:
        assert event.seq_no is not None
        received = tx.now
        await tx.conn.execute(t.transaction_events.insert().values(
            session_id=row.id, seq_no=event.seq_no, event_type=event.kind.value,
            trigger_reason=event.trigger_reason, offline=event.offline, at=event.at,
            received_at=received,
        ))
        missing = seq_gap(row.last_seq_no, event.seq_no)
        if missing:
            tx.insert_later(t.station_events, [event_row(StationEventReported(
                event.station_id, "transaction_seq_gap", event.at, code=event.transaction_ref,
                evse_id=row.evse_id, connector_id=row.connector_id,
                details={"last_seq_no": row.last_seq_no, "seq_no": event.seq_no,
                         "missing": missing},
            ), tx.now)])

    # -- shared ----------------------------------------------------------------------------

    async def _insert(
        self,
        conn: AsyncConnection,
        event: SessionEvent,
        auth: Authorization | None,
        transaction_ref: str | None,
        stamp: datetime,
    ) -> int:
        readings = register_readings_wh(event.samples)
        meter_start = event.meter_wh if event.meter_wh is not None else (
            readings[0] if readings else None
        )
        started = event.at if event.kind is SessionEventKind.STARTED or event.seq_no is None \
            else None
        result = await conn.execute(t.sessions.insert().values(
            station_id=event.station_id, evse_id=event.evse_id, connector_id=event.connector_id,
            transaction_id=transaction_ref,
            id_token=event.id_token.value if event.id_token else None,
            auth_status=auth.status.value if auth else None, status=ACTIVE,
            started_at=started or event.at, meter_start_wh=meter_start,
            created_at=stamp, updated_at=stamp,
        ))
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    async def _end(
        self, tx: WriteTx, row: SessionRow, event: SessionEvent, meter_stop_wh: float | None
    ) -> None:
        start = row.meter_start_wh
        if register_went_backwards(start, meter_stop_wh):
            tx.insert_later(t.station_events, [event_row(StationEventReported(
                event.station_id, "energy_register_backwards", event.at,
                code=row.transaction_id, evse_id=row.evse_id, connector_id=row.connector_id,
                details={"meter_start_wh": start, "meter_stop_wh": meter_stop_wh},
            ), tx.now)])
        await tx.conn.execute(update(t.sessions).where(t.sessions.c.id == row.id).values(
            status=ENDED, ended_at=event.at, meter_stop_wh=meter_stop_wh,
            energy_wh=session_energy_wh(start, meter_stop_wh), stop_reason=event.stop_reason,
            updated_at=tx.now,
        ))
        if self.on_ended is not None:
            await self.on_ended(tx, row.id)

    @staticmethod
    async def _find(
        conn: AsyncConnection, station_id: str, transaction_ref: str
    ) -> SessionRow | None:
        s = t.sessions
        return (
            await conn.execute(
                select(s).where(s.c.station_id == station_id, s.c.transaction_id == transaction_ref)
            )
        ).one_or_none()

    @staticmethod
    async def _seen(conn: AsyncConnection, session_id: int, seq_no: int) -> bool:
        e = t.transaction_events
        found = await conn.execute(
            select(e.c.id).where(e.c.session_id == session_id, e.c.seq_no == seq_no)
        )
        return found.first() is not None


def _verdict(row: SessionRow, fresh: Authorization | None) -> SessionVerdict:
    """The answer given the first time: the stored authorization status wins."""
    auth = fresh
    if row.auth_status is not None:
        expires = fresh.expires_at if fresh else None
        auth = Authorization(AuthorizationStatus(row.auth_status), expires)
    return SessionVerdict(row.id, row.transaction_id, auth)


__all__ = ["ACTIVE", "ENDED", "SessionRecorder", "datetime"]
