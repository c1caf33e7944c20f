"""The one real clock, owned by the composition roots (``csms.app``, ``csms.cli``).

Rule: nothing else reads the wall clock for a decision. Code that needs "now" takes a
:data:`Clock` (or a ``now`` argument) from its caller, so tests pass a fixed instant and a
calendar fact (the month, the 25th, the valley hours) never depends on the day a test runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Clock = Callable[[], datetime]
"""Returns the current instant, aware, in UTC."""


def system_clock() -> datetime:
    """The wall clock, aware UTC."""
    return datetime.now(UTC)


def iana_zone(name: str) -> str:
    """``name`` if it is an IANA time zone (local time at the edges: a site, a report, a
    tariff); ``ValueError`` otherwise, worded for a validation message."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("is not an IANA time zone (e.g. Asia/Shanghai)") from None
    return name


__all__ = ["Clock", "iana_zone", "system_clock"]
