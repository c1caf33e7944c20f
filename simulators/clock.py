"""Simulated time: one clock per run that may go faster than real time (``--speed 60``).

A station reads every instant from its :class:`SimClock`: message timestamps, meter-sampling
intervals, heartbeat intervals, the charging-profile engine's "now", EV arrivals and
departures. At ``speed`` 60 a simulated hour passes in one real minute::

    clock = SimClock(speed=60, start=datetime(2026, 11, 27, 18, 0, tzinfo=UTC))
    st = SimStation("CP-1", "1.6", url, clock=clock)
    await clock.sleep(3600)        # one simulated hour: one real minute

Rules:
1. Simulated time is ``start + (real monotonic seconds since creation) × speed``; it never
   goes back and is timezone-aware UTC.
2. Durations given to the clock (:meth:`SimClock.sleep`, intervals) are simulated seconds;
   :meth:`SimClock.real_s` converts one to the real seconds the event loop waits.
3. One clock may be shared by any number of stations (a fleet shares one).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta


class SimClock:
    """Simulated wall clock; see the module rules. Raises ``ValueError`` for a speed <= 0
    or a naive ``start``."""

    def __init__(self, speed: float = 1.0, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        if start is not None and start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self.speed = float(speed)
        self.start = (start or datetime.now(UTC)).astimezone(UTC)
        self._t0 = time.monotonic()

    def elapsed_s(self) -> float:
        """Simulated seconds since the clock was created."""
        return (time.monotonic() - self._t0) * self.speed

    def now(self) -> datetime:
        """The simulated instant (aware UTC)."""
        return self.start + timedelta(seconds=self.elapsed_s())

    def real_s(self, simulated_s: float) -> float:
        """How many real seconds ``simulated_s`` simulated seconds take."""
        return simulated_s / self.speed

    async def sleep(self, simulated_s: float) -> None:
        """Wait ``simulated_s`` simulated seconds (0 or less: just yield)."""
        await asyncio.sleep(max(0.0, self.real_s(simulated_s)))

    async def sleep_until(self, when: datetime) -> None:
        """Wait until the simulated instant ``when`` (at once if it has passed)."""
        await self.sleep((when - self.now()).total_seconds())
