"""Alarms: raising and clearing them as the rules decide, acknowledging and clearing them for
operators, and the protective actions taken; each with its audit row.

Rules:
1. Every transition is one unit on the group-commit writer, and writes an ``audit_log`` row
   (csms.store.access.audit) in the same transaction.
2. One open alarm per condition (tables_safety rule 1): a Raise for a condition already
   open, or a Clear for one not open, changes nothing. Units read before they write, so a
   unit retried alone (writer rule 3) does the same.
3. Lifecycle checks are the pure table's (csms.safety.lifecycle): a refused transition is
   returned by the unit, not raised in it, so it does not roll back a whole batch; the
   caller raises it. An update only applies to the state it was checked against. A step
   is dated no earlier than the one before it (a charger's clock may run ahead of ours).
4. Rows never leave this package: reads return :class:`StoredAlarm`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.safety.alarms import Alarm, AlarmCode, Clear, ConditionKey, Decision, condition_text
from csms.safety.lifecycle import AlarmRecord, AlarmState, RefusedTransition, acknowledge, clear
from csms.store import tables as t
from csms.store.access import audit
from csms.store.organisation import NotFound
from csms.store.rows import utc
from csms.store.safety.tables import alarm_actions, alarms
from csms.store.writer import Writer, WriteTx

RULE_ACTOR = "rule:safety"


@dataclass(frozen=True, slots=True)
class Place:
    """Where an alarm lies (tables_safety rule 2); None where unknown or unassigned."""

    site_id: int | None = None
    community_id: int | None = None
    district_id: int | None = None


NOWHERE = Place()


@dataclass(frozen=True, slots=True)
class Placed:
    """A decision with what the store needs besides it: its place and session id."""

    decision: Decision
    place: Place = NOWHERE
    session_id: int | None = None


@dataclass(frozen=True, slots=True)
class ActionRecord:
    action: str
    station_id: str
    command: dict[str, Any]
    outcome: str
    status: str | None
    detail: str | None
    requested_at: datetime
    answered_at: datetime


@dataclass(frozen=True, slots=True)
class StoredAlarm:
    id: int
    code: str
    level: int
    state: str
    condition_key: str
    station_id: str | None
    evse_id: int | None
    connector_id: int | None
    session_id: int | None
    site_id: int | None
    feeder_id: int | None
    community_id: int | None
    district_id: int | None
    evidence: dict[str, Any]
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ack_comment: str | None
    cleared_at: datetime | None
    cleared_by: str | None
    clear_reason: str | None
    seconds_to_acknowledge: float | None
    seconds_to_clear: float | None
    actions: tuple[ActionRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class AlarmChange:
    """A committed transition: ``alarm`` as it is now."""

    alarm: StoredAlarm
    transition: str  # raised / acknowledged / cleared
    by: str | None = None
    comment: str | None = None


ChangeHook = Callable[[WriteTx, AlarmChange], Awaitable[None]]


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def stored(row: Row[Any], actions: Sequence[ActionRecord] = ()) -> StoredAlarm:
    """A row of ``alarms`` as a :class:`StoredAlarm`."""
    return StoredAlarm(
        id=row.id, code=row.code, level=row.level, state=row.state,
        condition_key=row.condition_key, station_id=row.station_id, evse_id=row.evse_id,
        connector_id=row.connector_id, session_id=row.session_id, site_id=row.site_id,
        feeder_id=row.feeder_id, community_id=row.community_id, district_id=row.district_id,
        evidence=dict(row.evidence or {}), raised_at=utc(row.raised_at),
        acknowledged_at=_aware(row.acknowledged_at), acknowledged_by=row.acknowledged_by,
        ack_comment=row.ack_comment, cleared_at=_aware(row.cleared_at),
        cleared_by=row.cleared_by, clear_reason=row.clear_reason,
        seconds_to_acknowledge=row.seconds_to_acknowledge,
        seconds_to_clear=row.seconds_to_clear, actions=tuple(actions),
    )


def _record(alarm: StoredAlarm) -> AlarmRecord:
    """The pure lifecycle's view of a stored alarm."""
    key = ConditionKey(AlarmCode(alarm.code), alarm.station_id or "", alarm.evse_id or 0,
                       alarm.connector_id or 0)
    return AlarmRecord(Alarm(key, alarm.raised_at), AlarmState(alarm.state),
                       alarm.acknowledged_at, alarm.acknowledged_by, alarm.cleared_at,
                       alarm.cleared_by, alarm.clear_reason)


def _audit_details(alarm: StoredAlarm, **extra: Any) -> dict[str, Any]:
    return {"code": alarm.code, "level": alarm.level, "station_id": alarm.station_id,
            "evse_id": alarm.evse_id, "connector_id": alarm.connector_id,
            "session_id": alarm.session_id, "site_id": alarm.site_id, **extra}


async def _row(tx: WriteTx, **where: Any) -> Row[Any] | None:
    query = select(alarms)
    for column, value in where.items():
        query = query.where(alarms.c[column] == value)
    return (await tx.conn.execute(query)).one_or_none()


class AlarmStore:
    """Alarm writes through the writer; reads on the engine."""

    def __init__(self, writer: Writer, engine: AsyncEngine) -> None:
        self._writer = writer
        self._engine = engine
        # Run inside the transaction of every transition, after its audit row: what must
        # commit with it (the webhook outbox rows of csms.services.sharing.service).
        self.in_transaction: list[ChangeHook] = []

    async def _hooks(self, tx: WriteTx, change: AlarmChange) -> AlarmChange:
        for hook in self.in_transaction:
            await hook(tx, change)
        return change

    async def open_keys(self, station_id: str | None = None) -> set[str]:
        """The conditions of every open alarm (of one charge point, if given)."""
        query = select(alarms.c.open_key).where(alarms.c.open_key.is_not(None))
        if station_id is not None:
            query = query.where(alarms.c.station_id == station_id)
        async with self._engine.connect() as conn:
            rows = await conn.execute(query)
            return {key for key in rows.scalars().all() if key is not None}

    async def last_seen(self, station_ids: Collection[str]) -> dict[str, datetime]:
        """When each charge point was last heard from, as stored (by any node)."""
        cp = t.charge_points.c
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(cp.id, cp.last_seen_at).where(
                cp.id.in_(list(station_ids)), cp.last_seen_at.is_not(None)))).all()
        return {row.id: utc(row.last_seen_at) for row in rows}

    async def apply(self, decisions: Sequence[Placed]) -> list[AlarmChange]:
        """Raise and clear as decided (rules 1 and 2); the transitions that happened."""

        async def unit(tx: WriteTx) -> list[AlarmChange]:
            changes: list[AlarmChange] = []
            for placed in decisions:
                change = await (self._clear_by_rule(tx, placed.decision)
                                if isinstance(placed.decision, Clear)
                                else self._raise(tx, placed))
                if change is not None:
                    changes.append(change)
            return changes

        return await self._writer.submit(unit)

    async def _raise(self, tx: WriteTx, placed: Placed) -> AlarmChange | None:
        assert not isinstance(placed.decision, Clear)
        alarm, place = placed.decision.alarm, placed.place
        text = condition_text(alarm.key)
        if await _row(tx, open_key=text) is not None:
            return None
        site = alarm.key.site_id if alarm.key.site_id is not None else place.site_id
        result = await tx.conn.execute(alarms.insert().values(
            code=alarm.code.value, level=int(alarm.level), state=AlarmState.RAISED.value,
            condition_key=text, open_key=text, station_id=alarm.key.station_id or None,
            evse_id=None if alarm.key.site_id is not None else alarm.key.evse_id,
            connector_id=None if alarm.key.site_id is not None else alarm.key.connector_id,
            session_id=placed.session_id, site_id=site, feeder_id=alarm.key.feeder_id,
            community_id=place.community_id, district_id=place.district_id,
            evidence=alarm.evidence, raised_at=alarm.raised_at,
        ))
        inserted = result.inserted_primary_key
        assert inserted is not None
        row = await _row(tx, id=inserted[0])
        assert row is not None
        created = stored(row)
        audit(tx, RULE_ACTOR, "raise", "alarm", created.id,
              _audit_details(created, evidence=alarm.evidence))
        return await self._hooks(tx, AlarmChange(created, "raised"))

    async def _clear_by_rule(self, tx: WriteTx, decision: Clear) -> AlarmChange | None:
        row = await _row(tx, open_key=condition_text(decision.key))
        if row is None:
            return None
        current = stored(row)
        at = max(decision.at, current.acknowledged_at or current.raised_at)
        outcome = await self._transition(tx, current, "cleared", RULE_ACTOR, decision.reason,
                                         at, decision.evidence)
        return outcome if isinstance(outcome, AlarmChange) else None

    async def _transition(
        self, tx: WriteTx, current: StoredAlarm, to: str, actor: str, comment: str | None,
        at: datetime, evidence: dict[str, Any] | None = None,
    ) -> AlarmChange | RefusedTransition:
        record = _record(current)
        try:
            if to == "acknowledged":
                after = acknowledge(record, at, actor)
            else:
                after = clear(record, at, actor, comment or "")
        except RefusedTransition as exc:
            return exc
        values: dict[str, Any] = {"state": after.state.value}
        if to == "acknowledged":
            ack = after.time_to_acknowledge
            values |= {"acknowledged_at": at, "acknowledged_by": actor, "ack_comment": comment,
                       "seconds_to_acknowledge": None if ack is None else ack.total_seconds()}
        else:
            took = after.time_to_clear
            values |= {"cleared_at": at, "cleared_by": actor, "clear_reason": comment,
                       "open_key": None,
                       "seconds_to_clear": None if took is None else took.total_seconds()}
        result = await tx.conn.execute(update(alarms).where(
            alarms.c.id == current.id, alarms.c.state == current.state).values(**values))
        if not result.rowcount:
            return RefusedTransition(f"alarm {current.id} changed meanwhile")
        row = await _row(tx, id=current.id)
        assert row is not None
        changed = stored(row)
        verb = "acknowledge" if to == "acknowledged" else "clear"
        audit(tx, actor, verb, "alarm", current.id,
              _audit_details(changed, comment=comment, **({"evidence": evidence}
                                                         if evidence else {})))
        return await self._hooks(
            tx, AlarmChange(changed, to, None if actor == RULE_ACTOR else actor, comment))

    async def acknowledge(self, alarm_id: int, actor: str, comment: str | None,
                          at: datetime) -> AlarmChange:
        """Acknowledge an alarm for ``actor``.

        Raises:
            NotFound: no such alarm. RefusedTransition: it is not raised, or ``at`` is
            before it was raised.
        """
        return await self._by_operator(alarm_id, "acknowledged", actor, comment, at)

    async def clear(self, alarm_id: int, actor: str, comment: str | None,
                    at: datetime) -> AlarmChange:
        """Clear an alarm for ``actor``; raises as :meth:`acknowledge` (already cleared)."""
        return await self._by_operator(alarm_id, "cleared", actor, comment, at)

    async def _by_operator(self, alarm_id: int, to: str, actor: str, comment: str | None,
                           at: datetime) -> AlarmChange:
        async def unit(tx: WriteTx) -> AlarmChange | Exception:
            row = await _row(tx, id=alarm_id)
            if row is None:
                return NotFound(f"no such alarm {alarm_id}")
            current = stored(row)
            # A charger's clock ahead of ours must not block a person: no earlier than the
            # step before (time to acknowledge or clear 0 rather than negative).
            when = max(at, current.acknowledged_at or current.raised_at)
            return await self._transition(tx, current, to, actor, comment, when)

        outcome = await self._writer.submit(unit)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def record_action(self, alarm_id: int, action: ActionRecord) -> None:
        """Keep a protective action and its outcome, with its audit row."""

        async def unit(tx: WriteTx) -> None:
            await tx.conn.execute(alarm_actions.insert().values(
                alarm_id=alarm_id, action=action.action, station_id=action.station_id,
                command=action.command, outcome=action.outcome, status=action.status,
                detail=action.detail, requested_at=action.requested_at,
                answered_at=action.answered_at,
            ))
            audit(tx, RULE_ACTOR, "command", "alarm", alarm_id, {
                "action": action.action, "station_id": action.station_id,
                "command": action.command, "outcome": action.outcome,
                "status": action.status, "detail": action.detail,
            })

        await self._writer.submit(unit)

    async def stations_heard_of(self) -> list[str]:
        """The accepted charge points that have ever sent a message."""
        cp = t.charge_points.c
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(cp.id).where(
                cp.registration_status == "Accepted", cp.last_seen_at.is_not(None)))
            return list(rows.scalars().all())

    async def place_of_station(self, station_id: str) -> Place:
        """The site, community and district of a charge point (NOWHERE if unassigned)."""
        async with self._engine.connect() as conn:
            site_id = (await conn.execute(select(t.charge_points.c.site_id).where(
                t.charge_points.c.id == station_id))).scalar_one_or_none()
        return NOWHERE if site_id is None else await self.place_of_site(site_id)

    async def place_of_site(self, site_id: int) -> Place:
        """The community and district of a site (only the site if it is unknown)."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(
                select(t.sites.c.community_id, t.communities.c.district_id)
                .join(t.communities, t.communities.c.id == t.sites.c.community_id)
                .where(t.sites.c.id == site_id))).one_or_none()
        if row is None:
            return Place(site_id)
        return Place(site_id, row.community_id, row.district_id)

    async def active_sessions(self, station_id: str, evse_id: int | None
                              ) -> list[tuple[int, str, int | None]]:
        """(session id, transaction id, evse id) of the station's active sessions, on one
        EVSE when ``evse_id`` is given (and not 0)."""
        s = t.sessions
        query = select(s.c.id, s.c.transaction_id, s.c.evse_id).where(
            s.c.station_id == station_id, s.c.status == "active",
            s.c.transaction_id.is_not(None))
        if evse_id:
            query = query.where(s.c.evse_id == evse_id)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.order_by(s.c.id))).all()
        return [(row.id, row.transaction_id, row.evse_id) for row in rows]
