"""Row conversions shared by the repositories."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from csms.domain.authorization import TokenRecord, token_key
from csms.domain.model import (
    AuthorizationStatus,
    MeterSample,
    SampledValue,
    StationEventReported,
)
from csms.store import tables as t


def utc(value: datetime) -> datetime:
    """Make a timestamp read back from the database aware (SQLite returns it naive)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def natural_key(*parts: object) -> str:
    """A short digest of ``parts``: the unique key of a row that must be stored once."""
    return hashlib.blake2b(_joined(parts).encode(), digest_size=16).hexdigest()


def sample_keys(station_id: str, evse_id: int | None, connector_id: int | None,
                session_id: int | None, at: datetime,
                values: Iterable[SampledValue]) -> list[str]:
    """The natural key of each of one sample's values: a session's sample is (session,
    time, measurand, phase, location), a sample of no session (station, EVSE, connector,
    time, measurand, phase, location, context). The digests are :func:`natural_key`'s of
    those parts, with the parts the values share hashed once."""
    instant = at.astimezone(UTC).isoformat()
    if session_id is not None:
        shared: tuple[object, ...] = ("s", session_id, instant)
    else:
        shared = ("m", station_id, evse_id, connector_id, instant)
    head = hashlib.blake2b((_joined(shared) + _SEPARATOR).encode(), digest_size=16)
    keys = []
    for value in values:
        own: tuple[object, ...] = (value.measurand, value.phase, value.location)
        if session_id is None:
            own += (value.context,)
        digest = head.copy()
        digest.update(_joined(own).encode())
        keys.append(digest.hexdigest())
    return keys


_SEPARATOR = "\x1f"


def _joined(parts: tuple[object, ...]) -> str:
    return _SEPARATOR.join("" if part is None else str(part) for part in parts)


def meter_rows(
    station_id: str,
    evse_id: int | None,
    connector_id: int | None,
    session_id: int | None,
    samples: Iterable[MeterSample],
    *,
    received_at: datetime,
) -> list[dict[str, Any]]:
    """One row per sampled value, each with its natural key (stored once, whatever repeats);
    ``received_at`` is the CSMS's clock (``WriteTx.now``), what retention goes by (a
    charger's own clock may be decades off)."""
    return [
        {
            "station_id": station_id, "session_id": session_id, "evse_id": evse_id,
            "connector_id": connector_id, "at": sample.at, "measurand": value.measurand,
            "phase": value.phase, "unit": value.unit, "context": value.context,
            "location": value.location, "value": value.value, "received_at": received_at,
            "sample_key": key,
        }
        for sample in samples
        for value, key in zip(sample.values,
                              sample_keys(station_id, evse_id, connector_id, session_id,
                                          sample.at, sample.values), strict=True)
    ]


# Built once, for the session recorder and billing alike.
_TOKEN = select(t.id_tokens).where(t.id_tokens.c.token_key == bindparam("key"))
SESSION_BY_ID = select(t.sessions).where(t.sessions.c.id == bindparam("session_id"))


async def read_token(conn: AsyncConnection, id_token: str) -> TokenRecord | None:
    """The token registered under any spelling of ``id_token`` (compared by its key)."""
    row = (await conn.execute(_TOKEN, {"key": token_key(id_token)})).one_or_none()
    if row is None:
        return None
    expires = utc(row.expires_at) if row.expires_at is not None else None
    return TokenRecord(row.id_token, AuthorizationStatus(row.status), expires, row.group_id)


def event_row(event: StationEventReported, received_at: datetime) -> dict[str, Any]:
    """A ``station_events`` row; ``received_at`` is the CSMS's instant (``WriteTx.now``)."""
    return {
        "station_id": event.station_id, "kind": event.kind, "code": event.code,
        "evse_id": event.evse_id, "connector_id": event.connector_id, "at": event.at,
        "received_at": received_at, "details": event.details,
    }
