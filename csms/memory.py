"""Memory in a running CSMS: what holds it (``bench.soak --tracemalloc``), the periodic full
collection, and how long the garbage collector stops the event loop.

Start the CSMS with ``PYTHONTRACEMALLOC=<frames>`` and ``CSMS_TRACEMALLOC_DIR=<dir>``; each
SIGUSR1 then writes a tracemalloc snapshot to ``<dir>/snapshot-<n>.bin`` and logs
``csms.memory.snapshot``. Without tracing, SIGUSR1 only logs the process's RSS.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import os
import time
import tracemalloc
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)
_numbers = itertools.count(1)


def rss_kib() -> int | None:
    """This process's resident set size (KiB), from /proc; None where there is none."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def snapshot() -> None:
    """Write a tracemalloc snapshot (if tracing and a directory is set); log where."""
    directory = os.environ.get("CSMS_TRACEMALLOC_DIR")
    if not tracemalloc.is_tracing() or not directory:
        log.info("csms.memory.snapshot", rss_kib=rss_kib(), tracing=tracemalloc.is_tracing())
        return
    path = Path(directory) / f"snapshot-{next(_numbers)}.bin"
    tracemalloc.take_snapshot().dump(str(path))
    log.warning("csms.memory.snapshot", rss_kib=rss_kib(), path=str(path))


async def collect_periodically(interval_s: float, clock: Callable[[], float] = time.perf_counter
                               ) -> None:
    """Run a full garbage collection every ``interval_s`` seconds, forever.

    With the young generation raised for throughput (csms.app.GC_THRESHOLDS), a closed
    connection's reference cycles (websockets' connection, protocol, transport, futures)
    wait for a full collection that hardly ever comes: 10,000 unfinished handshakes left
    thousands of dead connections and their buffers in memory for good. A collection a
    minute bounds that garbage to a minute's churn, for one pause a minute (about 0.1 s per
    1,000 live connections on this class of machine; logged).
    """
    while True:
        await asyncio.sleep(interval_s)  # the schedule itself
        started = clock()
        freed = gc.collect()
        log.info("csms.memory.collected", objects=freed,
                 pause_ms=round((clock() - started) * 1000, 1), rss_kib=rss_kib())


class GcPauses:
    """Every collection's pause, taken by a ``gc.callbacks`` hook (:func:`watching_pauses`).

    The hook runs inside the collector, so it only appends to a bounded deque (no lock, no
    logging: a lock held by the code the collection interrupted would deadlock);
    :meth:`drain` hands the pauses to the metrics and the log from the event loop.
    """

    def __init__(self, keep: int = 10_000, clock: Callable[[], float] = time.perf_counter
                 ) -> None:
        self._clock = clock
        self._started = 0.0
        self._pauses: deque[tuple[int, float, int]] = deque(maxlen=keep)

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = self._clock()
        else:
            self._pauses.append((int(info["generation"]), self._clock() - self._started,
                                 int(info["collected"])))

    def drain(self) -> list[tuple[int, float, int]]:
        """The (generation, seconds, objects collected) of the pauses since the last call."""
        out = []
        while self._pauses:
            out.append(self._pauses.popleft())
        return out


@contextmanager
def watching_pauses(pauses: GcPauses) -> Iterator[GcPauses]:
    gc.callbacks.append(pauses)
    try:
        yield pauses
    finally:
        gc.callbacks.remove(pauses)


async def report_pauses(pauses: GcPauses, observe: Callable[[int, float], None],
                        interval_s: float = 1.0, warn_over_s: float = 0.05) -> None:
    """Forever: each collection's pause into ``observe`` (the metrics); one of at least
    ``warn_over_s`` is also logged, as the warning ``csms.gc.pause``: the event loop stood
    still that long, so every answer in flight was late by as much."""
    while True:
        await asyncio.sleep(interval_s)  # the reporting period itself
        for generation, seconds, collected in pauses.drain():
            observe(generation, seconds)
            if seconds >= warn_over_s:
                log.warning("csms.gc.pause", generation=generation,
                            pause_ms=round(seconds * 1000, 1), collected=collected)
