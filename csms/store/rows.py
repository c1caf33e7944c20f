"""Row conversions shared by the repositories."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from csms.domain.authorization import TokenRecord
from csms.domain.model import AuthorizationStatus, MeterSample, StationEventReported
from csms.store import tables as t


def utc(value: datetime) -> datetime:
    """Make a timestamp read back from the database aware (SQLite returns it naive)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def now_utc() -> datetime:
    return datetime.now(UTC)


def meter_rows(
    station_id: str,
    evse_id: int | None,
    connector_id: int | None,
    session_id: int | None,
    samples: Iterable[MeterSample],
    received_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """One row per sampled value; ``received_at`` (default: now) is the CSMS's clock, what
    retention goes by (a charger's own clock may be decades off)."""
    received = received_at or now_utc()
    return [
        {
            "station_id": station_id, "session_id": session_id, "evse_id": evse_id,
            "connector_id": connector_id, "at": sample.at, "measurand": value.measurand,
            "phase": value.phase, "unit": value.unit, "context": value.context,
            "location": value.location, "value": value.value, "received_at": received,
        }
        for sample in samples
        for value in sample.values
    ]


async def read_token(conn: AsyncConnection, id_token: str) -> TokenRecord | None:
    row = (
        await conn.execute(select(t.id_tokens).where(t.id_tokens.c.id_token == id_token))
    ).one_or_none()
    if row is None:
        return None
    expires = utc(row.expires_at) if row.expires_at is not None else None
    return TokenRecord(row.id_token, AuthorizationStatus(row.status), expires, row.group_id)


def event_row(event: StationEventReported) -> dict[str, Any]:
    return {
        "station_id": event.station_id, "kind": event.kind, "code": event.code,
        "evse_id": event.evse_id, "connector_id": event.connector_id, "at": event.at,
        "received_at": now_utc(), "details": event.details,
    }
