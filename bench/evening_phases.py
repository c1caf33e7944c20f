"""The phases of the evening benchmark, each bounded in time, each returning its figures.

Rules:
1. Every phase has a deadline; tasks still running at it are cancelled and counted, never
   waited for without bound (``bounded_gather``).
2. Open-loop phases schedule each call at a fixed instant and measure its latency from that
   instant (no coordinated omission): the steady evening at ``rate`` calls/s spread over the
   chargers (call j of charger k at ``t0 + (k + j·N) / rate``), and the stop burst, whose
   2N stops are spread evenly over ``burst_s`` (slot j: charger ``j mod N``, connector
   ``1 + j div N``, at ``t0 + j · burst_s / 2N``).
3. A charger whose call fails (CALLERROR, lost connection) is counted and stops taking
   part in the phase; the others go on.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bench.evening_chargers import STOP, Charger
from bench.load import bounded_gather


@dataclass(slots=True)
class Timed:
    """What a phase measured: latencies (s, sorted), by kind, failures and the span."""

    latencies: list[float] = field(default_factory=list)
    at: list[tuple[float, float]] = field(default_factory=list)  # (scheduled offset s, latency)
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    failures: Counter[str] = field(default_factory=Counter)
    cancelled: int = 0
    span_s: float = 0.0
    done: int = 0

    def add(self, kind: str, latency: float) -> None:
        self.latencies.append(latency)
        self.by_kind.setdefault(kind, []).append(latency)

    def fail(self, exc: BaseException) -> None:
        self.failures[f"{type(exc).__name__}: {str(exc)[:100]}"] += 1

    def finish(self, span_s: float) -> Timed:
        self.span_s = span_s
        self.latencies.sort()
        for values in self.by_kind.values():
            values.sort()
        return self

    def per_second(self) -> list[list[float]]:
        """The latencies of the calls scheduled in each second of the phase (open loops)."""
        seconds: list[list[float]] = [[] for _ in range(int(self.span_s) + 1)]
        for offset, latency in self.at:
            seconds[min(len(seconds) - 1, max(0, int(offset)))].append(latency)
        return seconds


async def each(chargers: list[Charger], work: Callable[[int, Charger], Awaitable[Any]],
               deadline_s: float, window: int | None = None) -> Timed:
    """Run ``work`` for every charger at once (at most ``window`` at a time): a closed
    loop per charger. ``done`` counts those that finished, ``span_s`` the whole phase."""
    loop = asyncio.get_running_loop()
    timed, gate = Timed(), asyncio.Semaphore(window or len(chargers) or 1)
    t0 = loop.time()

    async def one(k: int, charger: Charger) -> None:
        async with gate:
            try:
                await work(k, charger)
                timed.done += 1
            except Exception as exc:  # noqa: BLE001 - rule 3: counted, the rest go on
                timed.fail(exc)

    timed.cancelled = await bounded_gather(
        [asyncio.create_task(one(k, c)) for k, c in enumerate(chargers)], deadline_s)
    return timed.finish(loop.time() - t0)


async def steady_open(chargers: list[Charger], rate: float, duration_s: float,
                      grace_s: float) -> Timed:
    """Rule 2: the evening mix at ``rate`` calls/s; latency from each call's schedule."""
    loop = asyncio.get_running_loop()
    n, timed = len(chargers), Timed()
    t0 = loop.time() + 0.2
    t_end = t0 + duration_s

    async def drive(k: int, charger: Charger) -> None:
        try:
            for j in itertools.count():  # bounded: ends at the first schedule past t_end
                scheduled = t0 + (k + j * n) / rate
                if scheduled >= t_end:
                    return
                if (delay := scheduled - loop.time()) > 0:
                    await asyncio.sleep(delay)
                charger.inflight_since = scheduled
                kind = await charger.next_in_cycle()
                charger.inflight_since = None
                timed.add(kind, loop.time() - scheduled)
                timed.at.append((scheduled - t0, loop.time() - scheduled))
        except Exception as exc:  # noqa: BLE001 - rule 3
            charger.inflight_since = None
            timed.fail(exc)

    timed.cancelled = await bounded_gather(
        [asyncio.create_task(drive(k, c)) for k, c in enumerate(chargers)],
        duration_s + 0.2 + grace_s)
    finished = loop.time()
    for charger in chargers:  # unanswered at the deadline: counted at their age then
        if charger.inflight_since is not None:
            timed.add("unanswered", finished - charger.inflight_since)
            charger.inflight_since = None
    return timed.finish(finished - t0)


async def steady_closed(chargers: list[Charger], warm_s: float, window_s: float,
                        grace_s: float, on_window: Callable[[bool], None]) -> Timed:
    """Every charger sends its next call when its last is answered. ``done`` is the calls
    answered in the window of ``window_s`` after ``warm_s``; ``on_window(True/False)``
    marks the window's start and end (CPU readings)."""
    loop = asyncio.get_running_loop()
    running, counting, timed = [True], [False], Timed()

    async def drive(charger: Charger) -> None:
        try:
            while running[0]:  # bounded: cleared after the window, then a deadline
                await charger.next_in_cycle()
                if counting[0]:
                    timed.done += 1
        except Exception as exc:  # noqa: BLE001 - rule 3
            timed.fail(exc)

    tasks = [asyncio.create_task(drive(c)) for c in chargers]
    await asyncio.sleep(warm_s)
    counting[0] = True
    on_window(True)
    w0 = loop.time()
    await asyncio.sleep(window_s)
    counting[0] = False
    span = loop.time() - w0
    on_window(False)
    running[0] = False
    timed.cancelled = await bounded_gather(tasks, grace_s)
    return timed.finish(span)


async def stop_burst(chargers: list[Charger], burst_s: float, grace_s: float) -> Timed:
    """Rule 2: every running session ends within ``burst_s``; latency of each stop from its
    slot, ``span_s`` from the first slot to the last answer, ``done`` the stops answered."""
    loop = asyncio.get_running_loop()
    n, timed = len(chargers), Timed()
    t0 = loop.time() + 0.2
    last = [t0]

    async def drive(k: int, charger: Charger) -> None:
        for c in (1, 2):
            scheduled = t0 + (k + (c - 1) * n) * burst_s / (2 * n)
            if (delay := scheduled - loop.time()) > 0:
                await asyncio.sleep(delay)
            try:
                if await charger.stop(c):
                    now = loop.time()
                    timed.add(STOP, now - scheduled)
                    timed.done += 1
                    last[0] = max(last[0], now)
            except Exception as exc:  # noqa: BLE001 - rule 3
                timed.fail(exc)
                return

    timed.cancelled = await bounded_gather(
        [asyncio.create_task(drive(k, c)) for k, c in enumerate(chargers)],
        burst_s + 0.2 + grace_s)
    return timed.finish(last[0] - t0)


async def storm(chargers: list[Charger], port: int, window: int, queued: int,
                deadline_s: float) -> tuple[Timed, float, int]:
    """Every charger reconnects at once (at most ``window`` handshakes in flight), boots,
    reports its connectors charging and replays ``queued`` offline samples. Returns the
    phase (``span_s``: until the last replay was answered), the seconds until the last
    charger's statuses were answered, and the samples replayed."""
    loop = asyncio.get_running_loop()
    gate, t0 = asyncio.Semaphore(window), loop.time()
    booted, replayed = [t0], [0]

    async def back(k: int, charger: Charger) -> None:
        async with gate:
            await charger.open(port)
        await charger.boot(charger.reboot_state())
        booted[0] = max(booted[0], loop.time())
        replayed[0] += await charger.replay(queued)

    timed = await each(chargers, back, deadline_s)
    return timed, booted[0] - t0, replayed[0]
