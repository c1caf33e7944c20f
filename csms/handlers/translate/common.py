"""Translations that are the same in OCPP 1.6 and 2.0.1. Pure: no I/O, no clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from csms.domain.model import StationEventReported
from csms.handlers.timefmt import parse_time

Payload = dict[str, Any]


def report(station_id: str, kind: str, p: Payload, now: datetime) -> StationEventReported:
    """A message kept as a station event (firmware, diagnostics and log status, DataTransfer,
    NotifyReport, ...): its code is its status, messageId or requestId."""
    code = p.get("status") or p.get("messageId") or (
        str(p["requestId"]) if "requestId" in p else None
    )
    return StationEventReported(station_id, kind, now, code=code, details=dict(p))


def security_event(station_id: str, p: Payload) -> StationEventReported:
    """SecurityEventNotification (2.0.1, and the 1.6 security extension)."""
    return StationEventReported(
        station_id, "security_event", parse_time(p["timestamp"]), code=p["type"],
        details=dict(p),
    )
