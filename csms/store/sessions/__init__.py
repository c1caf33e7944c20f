"""Sessions from transaction messages: every new fact applied once, every anomaly recorded.

Rules (ARCHITECTURE properties 1-2; what counts as "the same" or "suspect" is the pure
csms.domain.transactions):
1. A retransmitted 1.6 StartTransaction (every field the charger sent equal) returns the
   session it created the first time; starts that differ in any field are two sessions. A
   start on connector 0 (the station) is answered with an id and Invalid, recorded, and
   creates no session.
2. A retransmitted StopTransaction or TransactionEvent changes nothing and gets the same
   answer; a 2.0.1 event that reuses a seqNo with other content is applied, and the reuse
   recorded as a station event.
3. A 1.6 StopTransaction for a transaction we do not know is accepted and recorded as a
   station event, with its meter values; it never creates a session.
4. A 2.0.1 event for an unknown transaction id creates the session, whatever its type, so
   an offline Started that never arrived does not lose the rest (flagged unknown_start).
5. An ended session changes only through a recorded correction: a second stop with other
   values or an event after Ended is recorded (station event, session flagged) and its
   readings are kept without linking them to the session; the first stop stays the answer.
6. A new transaction on an EVSE that still has an active session ends the older one first
   (energy from its last reading, flagged superseded, a station event).
7. A session first seen without its EVSE learns it from the first event that names it; the
   readings stored so far are backfilled.
8. A start register that the first later reading cannot be reached from (more than the
   charger's maximum power over the time between) is replaced by that reading; a session
   with implausible energy or one that ends before it starts is flagged, and billing waits
   for an operator's decision (csms.store.billing.store).
9. Energy is the register at stop minus the register at start, never negative; a fall beyond
   the tolerance (at least 1 Wh for whole-Wh registers) is recorded.
10. The verdict carries what was applied (``SessionChange``) and the anomalies noticed, for
    the event bus; a retransmission or a late reading changes nothing and carries none.
11. seqNo gaps and offline events are recorded; the charger's timestamps are kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from csms.domain.authorization import TokenRecord
from csms.domain.model import Authorization, SessionEvent, SessionEventKind, SessionVerdict
from csms.store import tables as t
from csms.store.rows import read_token
from csms.store.sessions import v16, v201
from csms.store.sessions.common import ACTIVE, ENDED, EndHook, Limits, Step
from csms.store.writer import Writer, WriteTx

Authorizer = Callable[[TokenRecord | None], Authorization]
# Adds credit (wallet, package allowance) to a token record at a transaction's start.
CreditHook = Callable[[AsyncConnection, TokenRecord], Awaitable[TokenRecord]]


class SessionRecorder:
    """Turns :class:`SessionEvent` into session rows, one group-committed unit each."""

    def __init__(self, writer: Writer, limits: Limits = Limits()) -> None:  # noqa: B008
        self._writer = writer
        self.limits = limits
        self.end_hooks: list[EndHook] = []  # run in order, in the unit that ends a session
        self.credit: CreditHook | None = None

    @property
    def on_ended(self) -> EndHook | None:
        """Every end hook in one (None: there are none), for the units that end sessions."""
        if not self.end_hooks:
            return None
        hooks = tuple(self.end_hooks)

        async def ended(tx: WriteTx, session_id: int) -> None:
            for hook in hooks:
                await hook(tx, session_id)

        return ended

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
            step = Step(tx, event, auth, self.limits, self.on_ended)
            if event.transaction_ref is None:
                verdict = await v16.start(step)
            elif event.seq_no is None:
                verdict = await v16.stop(step)
            else:
                verdict = await v201.transaction_event(step)
            return replace(verdict, changes=tuple(step.changes), notices=tuple(step.notices))

        # keeps_cache (writer rule 6): a session's units write sessions, readings, charges
        # and ledger entries, never the tariffs or places that billing memoises per batch
        return await self._writer.submit(unit, keeps_cache=True)

    @staticmethod
    async def find_id(conn: AsyncConnection, station_id: str, transaction_ref: str
                      ) -> tuple[int, bool] | None:
        """The session of a transaction and whether it is still active, if known."""
        s = t.sessions
        found = (await conn.execute(select(s.c.id, s.c.status).where(
            s.c.station_id == station_id, s.c.transaction_id == transaction_ref))).first()
        return None if found is None else (int(found.id), found.status == ACTIVE)


__all__ = ["ACTIVE", "ENDED", "Limits", "SessionRecorder"]
