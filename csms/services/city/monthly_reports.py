"""The monthly district report: generate, store, notify; and the scheduler that does it.

Rules:
1. A report is the figures of csms.city.report over one month's data (csms.store.city.
   report) with the 1 km coverage of the communities (csms.city.coverage, radius
   ``[city] service_radius_m``), rendered by csms.city.report_out. The month is a calendar
   month in ``[reports] timezone``.
2. Generating a month stores the city's report and each district's, in every format,
   replacing earlier ones, and queues a webhook notice of kind ``report`` per scope in the
   same transaction (the city's reaches unscoped subscriptions only; a district's reaches
   that district's and the unscoped ones).
3. The scheduler: once the clock has passed ``monthly_day`` at ``hour`` (local), the
   previous month's reports are generated unless already stored (so a CSMS that was down on
   the day catches up when it starts). It reads only the injected clock; :meth:`tick` is
   one decision, :meth:`run` repeats it, waking at the next due instant (at most hourly).
4. Of several nodes on one database, one generates a scheduled month: the job is claimed
   first (csms.store.cluster.claims); a claim left unfinished for :data:`CLAIM_STALE` (its
   node died) is taken over.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.city import report_out as out
from csms.city.coverage import CoverageReport, coverage
from csms.city.report import MonthlyReport, monthly_report
from csms.clock import Clock
from csms.config import Settings
from csms.services.sharing.feed import Notice
from csms.store.city import places
from csms.store.city.report import StoredReport, has_month, month_data, save, stored
from csms.store.cluster import claims
from csms.store.sharing.outbox import enqueue_notifications
from csms.store.writer import Writer, WriteTx

log = structlog.get_logger(__name__)
MAX_WAIT_S = 3600.0
CLAIM_STALE = timedelta(minutes=30)


def parse_month(text: str) -> tuple[int, int]:
    """"2026-11" -> (2026, 11); ValueError otherwise (also before 1970 or after 2999)."""
    year, sep, month = text.partition("-")
    if not sep or len(year) != 4 or len(month) != 2 or not (year + month).isdigit() \
            or not 1 <= int(month) <= 12 or not 1970 <= int(year) <= 2999:
        raise ValueError(f"not a month (YYYY-MM, 1970-01 to 2999-12): {text!r}")
    return int(year), int(month)


def previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def due_at(now: datetime, day: int, hour: int, zone: str) -> datetime:
    """This local month's due instant (rule 3)."""
    local = now.astimezone(ZoneInfo(zone))
    return datetime(local.year, local.month, day, hour, tzinfo=ZoneInfo(zone))


class Reports:
    """Build, store and schedule monthly reports."""

    def __init__(self, engine: AsyncEngine, writer: Writer, settings: Settings, clock: Clock,
                 wake: Callable[[], None] | None = None, holder: str | None = None) -> None:
        self._engine = engine
        self._writer = writer
        self._settings = settings
        self._clock = clock
        self._wake_deliverer = wake
        self._holder = holder or uuid.uuid4().hex[:16]
        self._task: asyncio.Task[None] | None = None

    async def compute(self, year: int, month: int) -> tuple[MonthlyReport, CoverageReport,
                                                             dict[int, str | None]]:
        """Rule 1: the figures, the coverage and the districts' short names."""
        data = await month_data(self._engine, year, month, self._settings.reports.timezone)
        communities, sites, _ = await places(self._engine, None)
        cover = coverage(communities, sites, self._settings.city.service_radius_m)
        data = dataclasses.replace(data, coverage=cover.districts)
        return monthly_report(data), cover, {d.id: d.short_name for d in data.districts}

    async def render(self, year: int, month: int, district_id: int | None,
                     fmt: str) -> bytes:
        """One report, freshly computed (not stored)."""
        report, cover, short = await self.compute(year, month)
        return self._render(report, cover, short, district_id, fmt, self._clock())

    @staticmethod
    def _render(report: MonthlyReport, cover: CoverageReport, short: dict[int, str | None],
                district_id: int | None, fmt: str, now: datetime) -> bytes:
        scoped = report if district_id is None else report.of_district(district_id)
        items = [c for c in cover.communities
                 if district_id is None or c.community.district_id == district_id]
        if fmt == "xlsx":
            return out.to_xlsx(scoped, items, now, short)
        if fmt == "csv":
            return out.to_csv(scoped)
        if fmt == "json":
            return out.to_json(scoped, items, now, district_id)
        raise ValueError(f"unknown format {fmt!r}")

    async def generate(self, year: int, month: int, actor: str) -> list[StoredReport]:
        """Rule 2: every scope and format of the month, stored and notified."""
        report, cover, short = await self.compute(year, month)
        now = self._clock()
        scopes: list[int | None] = [None, *(f.district_id for f in report.districts)]
        made: list[StoredReport] = []
        for district_id in scopes:
            files = [stored(report.month, district_id, fmt,
                            self._render(report, cover, short, district_id, fmt, now),
                            now, actor) for fmt in out.FORMATS]
            notice = Notice("report", now, None, None, district_id, {
                "month": report.month, "district_id": district_id,
                "files": [{"format": f.format, "sha256": f.sha256,
                           "path": report_path(report.month, district_id, f.format)}
                          for f in files]})

            async def notify(tx: WriteTx, notice: Notice = notice) -> int:
                return await enqueue_notifications(tx, notice, now)

            for index, item in enumerate(files):
                await save(self._writer, item, notify if index == len(files) - 1 else None)
            made += files
        if self._wake_deliverer is not None:
            self._wake_deliverer()
        log.info("reports.generated", month=report.month, scopes=len(scopes), actor=actor)
        return made

    async def tick(self) -> str | None:
        """Rule 3, once: the month generated now, if any."""
        s = self._settings.reports
        now = self._clock()
        if now < due_at(now, s.monthly_day, s.hour, s.timezone):
            return None
        local = now.astimezone(ZoneInfo(s.timezone))
        year, month = previous_month(local.year, local.month)
        name = f"{year:04d}-{month:02d}"
        if await has_month(self._engine, name):
            return None
        job = f"monthly-report:{name}"  # of several nodes, one generates (rule 4)
        if not await claims.claim(self._writer, job, self._holder, now, CLAIM_STALE):
            return None
        await self.generate(year, month, "scheduler")
        await claims.done(self._writer, job, self._holder, self._clock())
        return name

    def next_due(self) -> datetime:
        s = self._settings.reports
        now = self._clock()
        due = due_at(now, s.monthly_day, s.hour, s.timezone)
        if now < due:
            return due
        local = due.astimezone(ZoneInfo(s.timezone))
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        return datetime(year, month, s.monthly_day, s.hour, tzinfo=ZoneInfo(s.timezone))

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("reports.failed")
            wait = (self.next_due() - self._clock()).total_seconds()
            await asyncio.sleep(min(max(wait, 1.0), MAX_WAIT_S))

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="monthly-reports")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task


def report_path(month: str, district_id: int | None, fmt: str) -> str:
    query = f"format={fmt}" + ("" if district_id is None else f"&district_id={district_id}")
    return f"/reports/monthly/{month}/stored?{query}"
