"""Claims on once-only jobs, so that of several nodes on one database exactly one runs a
scheduled job (the monthly reports of csms.services.city.monthly_reports, for one).

Rules:
1. The first node to insert a job's row holds it; the others see the row (or the unique key
   refuses their insert) and leave the job alone.
2. A holder marks the job done when it has finished; a done job is never claimed again.
3. A claim not done within ``stale_after`` (its holder died mid-job) may be taken over by
   another node; the take-over is a compare-and-set on the old claim's time, so of two nodes
   taking over at once one wins.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from csms.store.cluster.tables import job_claims as jc
from csms.store.rows import utc
from csms.store.writer import Writer, WriteTx


async def claim(writer: Writer, job: str, holder: str, now: datetime,
                stale_after: timedelta) -> bool:
    """Whether ``holder`` now holds ``job`` (rules 1 and 3)."""

    async def unit(tx: WriteTx) -> bool:
        row = (await tx.conn.execute(select(jc).where(jc.c.job == job))).first()
        if row is None:
            await tx.conn.execute(insert(jc).values(job=job, holder=holder, claimed_at=now))
            return True
        if row.done_at is not None:
            return False
        if utc(row.claimed_at) > now - stale_after:
            return bool(row.holder == holder)
        taken = await tx.conn.execute(update(jc).where(
            jc.c.job == job, jc.c.claimed_at == row.claimed_at, jc.c.done_at.is_(None),
        ).values(holder=holder, claimed_at=now))
        return int(taken.rowcount or 0) == 1

    try:
        return await writer.submit(unit)
    except IntegrityError:  # another node inserted it first (rule 1)
        return False


async def done(writer: Writer, job: str, holder: str, now: datetime) -> None:
    """Rule 2: ``job`` is finished (by its holder)."""

    async def unit(tx: WriteTx) -> None:
        await tx.conn.execute(update(jc).where(jc.c.job == job, jc.c.holder == holder)
                              .values(done_at=now))

    await writer.submit(unit)
