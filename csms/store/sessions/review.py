"""An operator's decision on a session flagged for review (package Rule 8).

Rules:
1. Only an ended session that needs review (csms.domain.transactions.needs_review) can be
   decided; anything else is a Conflict, and nothing changes.
2. ``bill`` prices and posts it as it is; ``correct`` first sets the start and/or stop
   register the operator read off the meter (energy recomputed); ``void`` never bills it.
3. The decision, the comment and the session's figures before and after are one audit
   record (tamper-evident), committed with the change and the billing it starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select, update

from csms.domain.sessions import session_energy_wh
from csms.domain.transactions import SessionFlag, needs_review
from csms.store import tables as t
from csms.store.access import audit
from csms.store.organisation import Conflict, NotFound, StoreError
from csms.store.sessions.common import ENDED, EndHook
from csms.store.writer import Writer, WriteTx


class Decision(StrEnum):
    BILL = "bill"
    CORRECT = "correct"
    VOID = "void"


@dataclass(frozen=True, slots=True)
class Correction:
    """Registers read off the meter (Wh); ``None`` keeps the stored one."""

    meter_start_wh: float | None = None
    meter_stop_wh: float | None = None


class SessionReviews:
    def __init__(self, writer: Writer, billing: Callable[[], EndHook | None]) -> None:
        self._writer = writer
        self._billing = billing  # the session recorder's end hook, read at decision time

    async def decide(self, session_id: int, decision: Decision, actor: str, comment: str,
                     correction: Correction = Correction()) -> None:
        """Apply ``decision`` (Rules 1-3). Raises NotFound, Conflict."""

        async def unit(tx: WriteTx) -> StoreError | None:
            s = t.sessions
            row = (await tx.conn.execute(select(s).where(s.c.id == session_id))).one_or_none()
            if row is None:
                return NotFound("no such session")
            if row.status != ENDED or not needs_review(row.flags or ()):
                return Conflict("the session is not waiting for a review")
            start, stop = row.meter_start_wh, row.meter_stop_wh
            if decision is Decision.CORRECT:
                if correction == Correction():
                    return Conflict("a correction needs meter_start_wh or meter_stop_wh")
                start = correction.meter_start_wh if correction.meter_start_wh is not None \
                    else start
                stop = correction.meter_stop_wh if correction.meter_stop_wh is not None \
                    else stop
            mark = SessionFlag.VOID if decision is Decision.VOID else SessionFlag.REVIEWED
            flags = sorted({*(row.flags or ()), mark})
            energy = session_energy_wh(start, stop)
            await tx.conn.execute(update(s).where(s.c.id == session_id).values(
                meter_start_wh=start, meter_stop_wh=stop, energy_wh=energy, flags=flags,
                updated_at=tx.now))
            audit(tx, actor, "review", "session", session_id, {
                "decision": decision.value, "comment": comment,
                "before": {"meter_start_wh": row.meter_start_wh,
                           "meter_stop_wh": row.meter_stop_wh, "energy_wh": row.energy_wh,
                           "flags": list(row.flags or ())},
                "after": {"meter_start_wh": start, "meter_stop_wh": stop,
                          "energy_wh": energy, "flags": flags}})
            billing = self._billing()
            if decision is not Decision.VOID and billing is not None:
                await billing(tx, session_id)
            return None

        failed = await self._writer.submit(unit)
        if failed is not None:
            raise failed
