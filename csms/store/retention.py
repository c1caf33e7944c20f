"""Retention: delete rows older than ``[retention]`` allows (``csms db prune``).

Rules:
1. Safety logs (station events, connector status history, command log) received more than
   ``safety_logs_days`` ago go; so do ended sessions last updated (their end received) more
   than ``sessions_days`` ago, with their meter values and transaction events, and meter
   values of no session received more than ``sessions_days`` ago. Active sessions are never
   pruned.
5. Age is the CSMS's clock (``received_at``, ``requested_at``, ``updated_at``), never the
   charger's: a charger with a dead clock reporting 1970 must not make a GroundFailure
   received seconds ago expire. Meter values stored before migration 0008 have no
   ``received_at``; for those alone the charger's timestamp is used.
2. A session that another table still refers to (a billing charge, an alarm, ...) is kept,
   whoever added that table: the references are found in the schema's foreign keys.
3. The audit log is never pruned, so its hash chain stays verifiable from the first record.
4. Deletes run through the group-commit writer in chunks of at most :data:`CHUNK` rows, so
   the writer is never held for long and other writes interleave.
6. The newest status row of each connector and the newest connection-log row of each charger
   stay whatever their age: they carry the state into the next monthly report's month
   (csms.store.city.report), so a charger quiet for half a year is not reported as unknown.
   Connection-log rows (csms.services.city.connection_log, stamped with the CSMS's clock) are
   safety logs otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, delete, exists, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.config import RetentionSettings
from csms.store import tables as t
from csms.store.city.tables import charger_connections
from csms.store.schema import metadata
from csms.store.writer import Writer, WriteTx

CHUNK = 5000
_OWN_CHILDREN = {"meter_values", "transaction_events"}


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Rows before these instants (UTC) are expired."""

    safety_logs: datetime
    sessions: datetime

    @classmethod
    def of(cls, retention: RetentionSettings, now: datetime) -> Cutoffs:
        return cls(now - timedelta(days=retention.safety_logs_days),
                   now - timedelta(days=retention.sessions_days))


def _expired_sessions(cut: Cutoffs) -> ColumnElement[bool]:
    """Ended before the cutoff and referred to by nothing but their own children (rule 2)."""
    s, te = t.sessions, t.transaction_events
    conditions: list[ColumnElement[bool]] = [
        s.c.status == "ended", s.c.updated_at < cut.sessions,
        not_(exists().where(te.c.session_id == s.c.id, te.c.received_at >= cut.sessions))]
    conditions.extend(
        not_(exists().where(fk.parent == s.c.id))
        for table in metadata.tables.values() if table.name not in _OWN_CHILDREN
        for fk in table.foreign_keys if fk.column is s.c.id)
    return and_(*conditions)


def _not_newest(table: Table, *key: str) -> ColumnElement[bool]:
    """Not the newest row (highest id) of its ``key`` (rule 6)."""
    newest = select(func.max(table.c.id)).group_by(*(table.c[k] for k in key))
    return table.c.id.not_in(newest)


def plan(cut: Cutoffs) -> list[tuple[str, Table, ColumnElement[bool]]]:
    """What to delete, in a safe order (children before their sessions): label, table,
    condition."""
    expired = select(t.sessions.c.id).where(_expired_sessions(cut))
    mv, te = t.meter_values, t.transaction_events
    h, c = t.connector_status_history, charger_connections
    return [
        ("station_events", t.station_events,
         t.station_events.c.received_at < cut.safety_logs),
        ("connector_status_history", h, and_(
            h.c.received_at < cut.safety_logs,
            _not_newest(h, "station_id", "evse_id", "connector_id"))),
        ("charger_connections", c, and_(c.c.at < cut.safety_logs,
                                        _not_newest(c, "station_id"))),
        ("command_log", t.command_log, t.command_log.c.requested_at < cut.safety_logs),
        ("meter_values (no session)", mv, and_(mv.c.session_id.is_(None), or_(
            mv.c.received_at < cut.sessions,
            and_(mv.c.received_at.is_(None), mv.c.at < cut.sessions)))),
        ("meter_values (expired sessions)", mv, mv.c.session_id.in_(expired)),
        ("transaction_events", te, te.c.session_id.in_(expired)),
        ("sessions", t.sessions, t.sessions.c.id.in_(expired)),
    ]


async def count(engine: AsyncEngine, cut: Cutoffs) -> dict[str, int]:
    """How many rows each step of :func:`plan` would delete now."""
    counts: dict[str, int] = {}
    async with engine.connect() as conn:
        for label, table, condition in plan(cut):
            counts[label] = int((await conn.execute(
                select(func.count()).select_from(table).where(condition))).scalar_one())
    return counts


async def prune(writer: Writer, cut: Cutoffs) -> dict[str, int]:
    """Delete what :func:`plan` names, in chunks (rule 4); the rows deleted per step."""
    counts: dict[str, int] = {}
    for label, table, condition in plan(cut):
        counts[label] = 0
        while deleted := await writer.submit(_chunk(table, condition)):
            counts[label] += deleted
    return counts


def _chunk(table: Table, condition: ColumnElement[bool]) -> Any:
    pk = next(iter(table.primary_key.columns))
    ids = select(pk).where(condition).limit(CHUNK)

    async def unit(tx: WriteTx) -> int:
        result = await tx.conn.execute(delete(table).where(pk.in_(ids)))
        return int(result.rowcount or 0)

    return unit
