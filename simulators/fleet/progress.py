"""The live progress view of a fleet run: connected, charging, faulted, messages/s, errors.

Rules:
1. On a terminal (the stream is a TTY) one line is rewritten in place every interval; to a
   file or pipe a plain line is appended each interval, so logs stay readable.
2. The view goes to stderr by default: stdout carries only the JSON summary.
3. Messages per second are CALLs sent plus commands received during the last interval.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TextIO

from simulators.stats import Stats


def progress_line(stats: Stats, stations: int, rate: float, elapsed_s: float) -> str:
    """One progress line (rule 3 gives ``rate``)."""
    return (
        f"[{elapsed_s:7.1f} s] online {stats.online}/{stations}  charging {stats.charging}  "
        f"faulted {stats.faulted}  {rate:7.1f} msg/s  errors {stats.errors}  "
        f"reconnects {stats.reconnects}  ended sessions {stats.energy_wh / 1000:.1f} kWh"
    )


async def report_progress(
    stats: Stats, stations: int, interval_s: float, stream: TextIO | None = None
) -> None:
    """Print :func:`progress_line` every ``interval_s`` real seconds until cancelled."""
    out = stream or sys.stderr
    tty = out.isatty()
    started = last_at = time.monotonic()
    last_count = stats.messages
    try:
        while True:
            await asyncio.sleep(interval_s)
            now, count = time.monotonic(), stats.messages
            rate = (count - last_count) / max(now - last_at, 1e-9)
            last_at, last_count = now, count
            line = progress_line(stats, stations, rate, now - started)
            out.write(f"\r\x1b[K{line}" if tty else f"{line}\n")
            out.flush()
    finally:
        if tty:
            out.write("\n")
            out.flush()
