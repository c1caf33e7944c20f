"""The garbage collector's pauses reach the metrics, and a long one the log (csms.memory)."""

from __future__ import annotations

import asyncio
import gc
import itertools
from collections.abc import Callable

from structlog.testing import capture_logs

from csms import memory
from tests.conftest import until


def _ticks(step_s: float) -> Callable[[], float]:
    counter = itertools.count()
    return lambda: next(counter) * step_s


def test_each_collection_is_recorded_with_its_generation_and_pause() -> None:
    pauses = memory.GcPauses(clock=_ticks(0.07))
    with memory.watching_pauses(pauses):
        gc.collect(1)
    assert pauses not in gc.callbacks
    found = pauses.drain()
    assert (1, 0.07) in [(generation, round(s, 6)) for generation, s, _ in found]
    assert pauses.drain() == []


async def test_pauses_are_observed_and_long_ones_logged() -> None:
    pauses = memory.GcPauses(clock=_ticks(0.06))
    observed: list[tuple[int, float]] = []
    with capture_logs() as logs, memory.watching_pauses(pauses):
        gc.collect(2)
        task = asyncio.create_task(memory.report_pauses(
            pauses, lambda g, s: observed.append((g, s)), interval_s=0.01, warn_over_s=0.05))
        try:
            await until(lambda: any(g == 2 for g, _ in observed))
        finally:
            task.cancel()
    long = [e for e in logs if e["event"] == "csms.gc.pause"]
    assert long
    assert long[0]["log_level"] == "warning"
    assert {e["generation"] for e in long} >= {2}
    assert all(e["pause_ms"] == 60.0 for e in long)
