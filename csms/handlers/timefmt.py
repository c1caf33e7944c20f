"""OCPP timestamps: RFC 3339 on the wire, aware UTC inside. Pure."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_time(value: str) -> datetime:
    """An OCPP dateTime as aware UTC; a timestamp without offset is taken as UTC.

    Raises:
        ValueError: not an ISO 8601 timestamp, or one whose UTC time falls outside the years
            1-9999 (0001-01-01T00:00:00+14:00).
    """
    parsed = datetime.fromisoformat(value.upper())
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"timestamp {value!r} is out of range in UTC") from None


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with millisecond precision and a ``Z``."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
