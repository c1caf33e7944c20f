"""Finding what holds memory in a running CSMS (``bench.soak --tracemalloc``).

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
from collections.abc import Callable
from pathlib import Path

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
