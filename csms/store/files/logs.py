"""Log requests (GetLog / GetDiagnostics) and the files chargers upload for them.

Rules:
1. Rows never leave this package: reads return :class:`LogRequest`.
2. A status notification belongs to the request it names (``requestId``, checked against
   the charge point) or, without one (1.6 DiagnosticsStatusNotification), to the charge
   point's latest request.
3. An upload is found by the SHA-256 of its URL's token, and only while the request has not
   expired; a second upload replaces the first (a charger's retry).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.store.files.tables import log_requests
from csms.store.rows import utc
from csms.store.writer import Writer, WriteTx

q = log_requests


@dataclass(frozen=True, slots=True)
class LogRequest:
    id: int
    station_id: str
    kind: str
    requested_at: datetime
    requested_by: str | None
    expires_at: datetime
    answer: str | None
    filename: str | None
    last_status: str | None
    status_at: datetime | None
    stored_name: str | None
    upload_name: str | None
    content_type: str | None
    size_bytes: int | None
    sha256: str | None
    uploaded_at: datetime | None


class LogStore:
    """Log requests and their uploads (module rules)."""

    def __init__(self, engine: AsyncEngine, writer: Writer) -> None:
        self._engine = engine
        self._writer = writer

    async def create(self, station_id: str, kind: str, token_hash: str, at: datetime,
                     expires_at: datetime, by: str | None) -> int:
        """A new request, committed before the command is sent; its id is the requestId."""
        async def unit(tx: WriteTx) -> int:
            return int((await tx.conn.execute(insert(q).values(
                station_id=station_id, kind=kind, token_hash=token_hash, requested_at=at,
                expires_at=expires_at, requested_by=by,
            ).returning(q.c.id))).scalar_one())

        return await self._writer.submit(unit)

    async def answered(self, request_id: int, answer: str, filename: str | None) -> None:
        await self._set(q.c.id == request_id, answer=answer, filename=filename)

    async def status(self, station_id: str, request_id: int | None, status: str,
                     at: datetime) -> int | None:
        """Record a status notification (rule 2); the request's id, if one fits."""
        async def unit(tx: WriteTx) -> int | None:
            where = [q.c.station_id == station_id]
            if request_id is not None:
                where.append(q.c.id == request_id)
            found = (await tx.conn.execute(select(q.c.id).where(*where)
                                           .order_by(q.c.id.desc()).limit(1))).scalar()
            if found is None:
                return None
            await tx.conn.execute(update(q).where(q.c.id == found).values(
                last_status=status, status_at=at))
            return int(found)

        return await self._writer.submit(unit)

    async def uploaded(self, request_id: int, values: dict[str, Any]) -> None:
        await self._set(q.c.id == request_id, **values)

    async def by_token_hash(self, token_hash: str, now: datetime) -> LogRequest | None:
        """The request whose upload URL has this token, unless expired (rule 3)."""
        found = await self._one(q.c.token_hash == token_hash)
        return None if found is None or found.expires_at <= now else found

    async def get(self, request_id: int) -> LogRequest | None:
        return await self._one(q.c.id == request_id)

    async def of_station(self, station_id: str, limit: int = 100) -> list[LogRequest]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(q).where(q.c.station_id == station_id)
                                       .order_by(q.c.id.desc()).limit(limit))).all()
        return [_record(row) for row in rows]

    async def _one(self, where: Any) -> LogRequest | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(q).where(where))).one_or_none()
        return None if row is None else _record(row)

    async def _set(self, where: Any, **values: Any) -> None:
        async def unit(tx: WriteTx) -> None:
            await tx.conn.execute(update(q).where(where).values(**values))

        await self._writer.submit(unit)


def _at(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def _record(row: Row[Any]) -> LogRequest:
    return LogRequest(
        int(row.id), row.station_id, row.kind, utc(row.requested_at), row.requested_by,
        utc(row.expires_at), row.answer, row.filename, row.last_status, _at(row.status_at),
        row.stored_name, row.upload_name, row.content_type, row.size_bytes, row.sha256,
        _at(row.uploaded_at))
