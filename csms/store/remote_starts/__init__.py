"""Remote starts: the requests, their answers, and the sessions that answer them.

Rules:
1. A request is durable before its command is sent (its id *is* the ``remoteStartId``),
   so a TransactionEvent that carries it back always finds it.
2. A session answers at most one request, and a request is answered by at most one session:
   the first match wins, a repeated event changes nothing (the ``session_id IS NULL`` guard
   and the unique ``session_id``).
3. Matching by ``remoteStartId`` also checks the charge point, so a charger cannot claim
   another station's request. Matching without an id (1.6) takes the oldest open request
   of that charge point for that token's key, on that EVSE (or a request that named none),
   requested within the window, that the charger did not refuse.
4. Rows never leave this package: reads return :class:`RemoteStartRecord`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import bindparam, exists, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from csms.domain.authorization import token_key
from csms.store import tables as t
from csms.store.remote_starts.tables import remote_starts
from csms.store.rows import utc
from csms.store.writer import Writer, WriteTx

PENDING: Final = "pending"
# Answers after which the charger will not start for the request (rule 3).
REFUSED: Final = frozenset({"Rejected", "offline", "not_supported", "callerror"})


@dataclass(frozen=True, slots=True)
class RemoteStartRecord:
    id: int
    station_id: str
    evse_id: int | None
    id_token: str
    requested_at: datetime
    requested_by: str | None
    outcome: str
    session_id: int | None
    transaction_id: str | None
    matched_at: datetime | None
    matched_by: str | None


class RemoteStartStore:
    """Remote-start requests and their matches (module rules)."""

    def __init__(self, engine: AsyncEngine, writer: Writer) -> None:
        self._engine = engine
        self._writer = writer

    async def create(self, station_id: str, evse_id: int | None, id_token: str,
                     requested_at: datetime, requested_by: str | None) -> int:
        """A new pending request, committed; its id is the ``remoteStartId`` to send."""

        async def unit(tx: WriteTx) -> int:
            return int((await tx.conn.execute(insert(remote_starts).values(
                station_id=station_id, evse_id=evse_id, id_token=id_token,
                token_key=token_key(id_token), requested_at=requested_at,
                requested_by=requested_by, outcome=PENDING,
            ).returning(remote_starts.c.id))).scalar_one())

        return await self._writer.submit(unit)

    async def answered(self, remote_start_id: int, outcome: str) -> None:
        """The charger's answer (or the failure) to the request."""

        async def unit(tx: WriteTx) -> None:
            await tx.conn.execute(update(remote_starts).where(
                remote_starts.c.id == remote_start_id).values(outcome=outcome))

        await self._writer.submit(unit)

    async def link_by_id(self, remote_start_id: int, station_id: str, session_id: int,
                         at: datetime) -> bool:
        """Link the session to the request it names (rules 2-3); whether it was linked."""
        r = remote_starts

        async def unit(tx: WriteTx) -> bool:
            result = await tx.conn.execute(update(r).where(
                r.c.id == remote_start_id, r.c.station_id == station_id,
                r.c.session_id.is_(None), _unlinked(session_id),
            ).values(session_id=session_id, matched_at=at, matched_by="remote_start_id"))
            return bool(result.rowcount)

        return await self._writer.submit(unit, keeps_cache=True)  # as link_by_window

    async def link_by_window(self, station_id: str, evse_id: int | None, id_token: str,
                             session_id: int, since: datetime, at: datetime) -> int | None:
        """Link the session to the oldest open request that fits it (rule 3); its id.
        Most sessions were not started remotely: one prepared look-up finds nothing."""
        params = {"station": station_id, "token_key": token_key(id_token), "since": since,
                  "evse": evse_id, "session": session_id}

        async def unit(tx: WriteTx) -> int | None:
            found = (await tx.conn.execute(_WINDOW_CANDIDATE, params)).scalar_one_or_none()
            if found is None:
                return None
            await tx.conn.execute(update(remote_starts).where(
                remote_starts.c.id == found).values(
                session_id=session_id, matched_at=at, matched_by="window"))
            return int(found)

        # writes only remote_starts, which no batch cache or finisher reads (writer rule 6)
        return await self._writer.submit(unit, keeps_cache=True)

    async def get(self, remote_start_id: int) -> RemoteStartRecord | None:
        async with self._engine.connect() as conn:
            return await _read(conn, remote_start_id)


def _unlinked(session_id: Any) -> Any:
    """No request is linked to the session yet (rule 2)."""
    other = remote_starts.alias("other")
    return ~exists().where(other.c.session_id == session_id)


_r = remote_starts
# Rule 3, built once: the oldest open request of the charge point for the token's key
# that the session could answer.
_WINDOW_CANDIDATE: Final = select(_r.c.id).where(
    _r.c.station_id == bindparam("station"), _r.c.session_id.is_(None),
    _r.c.token_key == bindparam("token_key"), _r.c.requested_at >= bindparam("since"),
    _r.c.outcome.not_in(REFUSED), _unlinked(bindparam("session")),
    or_(_r.c.evse_id.is_(None), _r.c.evse_id == bindparam("evse")),
).order_by(_r.c.requested_at, _r.c.id).limit(1)


async def _read(conn: AsyncConnection, remote_start_id: int) -> RemoteStartRecord | None:
    r, s = remote_starts, t.sessions
    row = (await conn.execute(
        select(r, s.c.transaction_id).select_from(
            r.outerjoin(s, s.c.id == r.c.session_id))
        .where(r.c.id == remote_start_id))).one_or_none()
    if row is None:
        return None
    return RemoteStartRecord(
        int(row.id), row.station_id, row.evse_id, row.id_token, utc(row.requested_at),
        row.requested_by, row.outcome, row.session_id, row.transaction_id,
        None if row.matched_at is None else utc(row.matched_at), row.matched_by)
