"""The one real clock, owned by the composition roots (``csms.app``, ``csms.cli``).

Rule: nothing else reads the wall clock for a decision. Code that needs "now" takes a
:data:`Clock` (or a ``now`` argument) from its caller, so tests pass a fixed instant and a
calendar fact (the month, the 25th, the valley hours) never depends on the day a test runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Returns the current instant, aware, in UTC."""


def system_clock() -> datetime:
    """The wall clock, aware UTC."""
    return datetime.now(UTC)


__all__ = ["Clock", "system_clock"]
