"""Read-side queries about alarms: the filtered list, one alarm with its actions, and the
facts of a community's day for the safety summary.

The rules of :mod:`csms.store.queries` apply: ``communities`` is the scope (None: all,
including alarms that lie in no community), time filters are UTC, records are frozen.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.safety.report import AlarmFacts
from csms.store.queries import Paged, Window, count_and_fetch, time_range
from csms.store.rows import utc
from csms.store.safety.alarms import ActionRecord, StoredAlarm, stored
from csms.store.safety.tables import alarm_actions, alarms


@dataclass(frozen=True, slots=True)
class AlarmFilter:
    """``open``: True for raised or acknowledged, False for cleared; ``since``/``until``
    bound the time raised (``since`` inclusive, ``until`` exclusive)."""

    communities: Collection[int] | None = None
    open: bool | None = None
    level: int | None = None
    code: str | None = None
    station_id: str | None = None
    community_id: int | None = None
    district_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def _conditions(where: AlarmFilter) -> list[ColumnElement[bool]]:
    a = alarms.c
    found: list[ColumnElement[bool]] = []
    if where.communities is not None:
        found.append(a.community_id.in_(where.communities))
    if where.open is not None:
        found.append(a.open_key.is_not(None) if where.open else a.open_key.is_(None))
    for column, value in ((a.level, where.level), (a.code, where.code),
                          (a.station_id, where.station_id),
                          (a.community_id, where.community_id),
                          (a.district_id, where.district_id)):
        if value is not None:
            found.append(column == value)
    found.extend(time_range(a.raised_at, where.since, where.until))
    return found


def _action(row: Any) -> ActionRecord:
    return ActionRecord(row.action, row.station_id, dict(row.command), row.outcome,
                        row.status, row.detail, utc(row.requested_at), utc(row.answered_at))


class AlarmQueries:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def alarms(self, where: AlarmFilter, window: Window) -> Paged[StoredAlarm]:
        """Alarms matching ``where``, newest first."""
        query = select(alarms).where(*_conditions(where))
        async with self._engine.connect() as conn:
            total, rows = await count_and_fetch(conn, query, window,
                                                alarms.c.raised_at.desc(), alarms.c.id.desc())
        return Paged(tuple(stored(row) for row in rows), total)

    async def get(self, alarm_id: int) -> StoredAlarm | None:
        """One alarm with its protective actions, oldest first."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(alarms).where(
                alarms.c.id == alarm_id))).one_or_none()
            if row is None:
                return None
            actions = (await conn.execute(select(alarm_actions).where(
                alarm_actions.c.alarm_id == alarm_id).order_by(alarm_actions.c.id))).all()
        return stored(row, [_action(action) for action in actions])

    async def day_facts(self, community_id: int, start: datetime, end: datetime
                        ) -> list[AlarmFacts]:
        """Every alarm of the community raised before ``end`` that was still open at
        ``start`` or changed within ``[start, end)``."""
        a = alarms.c  # a step on the day implies not cleared before it (clear is last)
        query = select(alarms).where(a.community_id == community_id, a.raised_at < end,
                                     or_(a.cleared_at.is_(None), a.cleared_at >= start))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [AlarmFacts(
            row.code, row.level, row.station_id, row.evse_id, row.connector_id,
            utc(row.raised_at), _opt(row.acknowledged_at), _opt(row.cleared_at),
        ) for row in rows]


def _opt(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)
