"""Run many simulated stations at once through plain charging sessions (the CLI's engine).

Each station: connect (ramped, ``ramp_per_s`` new connections a second), boot (up to three
attempts), report every connector Available, then run its sessions, spread over its
connectors in parallel: Preparing, Authorize, start, Charging, a meter reading every
``meter_interval_s``, stop, Available.

Rules:
1. The run is bounded: it ends when every station finished its sessions or, with
   ``duration_s``, at the deadline, when running sessions stop cleanly; ``grace_s`` later
   whatever still runs is cancelled.
2. A station that fails (cannot connect, boot refused, connection lost, CALLERROR on a
   session message) is counted in the summary and does not affect the others.
3. Everything random (power, state of charge, transaction ids, pauses) comes from one
   generator per station seeded with ``seed`` and the station number, so a run repeats.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any, Final

import structlog

from csms.handlers.ocppj import OcppVersion
from simulators.model import Status
from simulators.station import SimStation
from simulators.stats import Stats

BATTERY_WH: Final = 60_000.0
BOOT_ATTEMPTS: Final = 3

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """What to run; see the module docstring for the meaning of each field."""

    url: str = "ws://127.0.0.1:9000/"
    count: int = 1
    version: str = "1.6"  # "1.6", "2.0.1" or "mixed" (alternating, 1.6 first)
    id_pattern: str = "SIM-{n:04d}"
    id_tag_pattern: str = "TAG-{n:04d}"
    password: str | None = None
    connectors: int = 1
    sessions: int = 1  # per station; 0: sessions until the deadline
    samples: int = 3  # meter readings per session
    meter_interval_s: float = 10.0
    duration_s: float | None = None
    ramp_per_s: float = 20.0
    seed: int = 0
    call_timeout_s: float = 30.0
    boot_retry_s: float = 10.0
    grace_s: float = 15.0

    def version_of(self, n: int) -> OcppVersion:
        """The OCPP version of station ``n`` (1-based)."""
        if self.version == "mixed":
            return OcppVersion.V16 if n % 2 else OcppVersion.V201
        return OcppVersion.V16 if self.version == "1.6" else OcppVersion.V201

    def station_id(self, n: int) -> str:
        """The id of station ``n``."""
        return self.id_pattern.format(n=n)

    def id_tag(self, n: int) -> str:
        """The idTag station ``n`` charges with."""
        return self.id_tag_pattern.format(n=n)

    def sessions_for(self, connector_id: int) -> int | None:
        """How many sessions ``connector_id`` runs (``None``: until the deadline)."""
        if self.sessions == 0:
            return None
        base, extra = divmod(self.sessions, self.connectors)
        return base + (1 if connector_id <= extra else 0)


class Deadline:
    """The end of the run on the event loop's clock (``None``: no end)."""

    def __init__(self, at: float | None) -> None:
        self.at = at

    @property
    def expired(self) -> bool:
        return self.at is not None and asyncio.get_running_loop().time() >= self.at

    async def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds``, or until the deadline; whether time remains afterwards."""
        if self.at is not None:
            seconds = min(seconds, self.at - asyncio.get_running_loop().time())
        if seconds > 0:
            await asyncio.sleep(seconds)
        return not self.expired


async def run_fleet(cfg: FleetConfig, stats: Stats | None = None) -> dict[str, Any]:
    """Run the fleet (rule 1) and return the summary the CLI prints."""
    stats = stats or Stats()
    loop = asyncio.get_running_loop()
    started = loop.time()
    clock = Deadline(None if cfg.duration_s is None else started + cfg.duration_s)
    hard_limit = None if cfg.duration_s is None else cfg.duration_s + cfg.grace_s
    try:
        async with asyncio.timeout(hard_limit), asyncio.TaskGroup() as tg:
            for n in range(1, cfg.count + 1):
                delay = (n - 1) / cfg.ramp_per_s
                tg.create_task(_guarded_station(cfg, n, stats, clock, delay))
    except TimeoutError:
        stats.station_failed("CancelledAtHardDeadline")
    return {
        "stations": cfg.count,
        **stats.summary(),
        "elapsed_s": round(loop.time() - started, 3),
    }


def _reason(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return type(exc).__name__


async def _guarded_station(
    cfg: FleetConfig, n: int, stats: Stats, clock: Deadline, delay: float
) -> None:
    if not await clock.sleep(delay):
        return
    try:
        await _station(cfg, n, stats, clock)
    except Exception as exc:  # noqa: BLE001 - rule 2: one station's failure is counted
        stats.station_failed(_reason(exc))
        log.warning("sim.station.failed", station_id=cfg.station_id(n), error=repr(exc))


async def _station(cfg: FleetConfig, n: int, stats: Stats, clock: Deadline) -> None:
    rng = random.Random(f"{cfg.seed}:{n}")
    st = SimStation(
        cfg.station_id(n), cfg.version_of(n), cfg.url, password=cfg.password,
        connectors=cfg.connectors, serial=f"SIM{n:08d}", call_timeout_s=cfg.call_timeout_s,
        stats=stats, keep_history=False, rng=rng,
    )
    async with st.running():
        status = await _boot(st, cfg, clock)
        if status != "Accepted":
            stats.station_failed(f"Boot{status}")
            return
        for cid in st.connectors:
            await st.send_status(cid, Status.AVAILABLE)
        async with asyncio.TaskGroup() as tg:
            for cid in st.connectors:
                tg.create_task(_sessions(st, cid, cfg, rng, clock, cfg.id_tag(n)))
        await st.settle(cfg.call_timeout_s)
        for cid, connector in st.connectors.items():
            if connector.transaction is not None:  # one the CSMS started (RemoteStart)
                await st.stop_transaction(cid, "Local")


async def _boot(st: SimStation, cfg: FleetConfig, clock: Deadline) -> str:
    status = await st.boot()
    for _ in range(BOOT_ATTEMPTS - 1):
        if status == "Accepted" or not await clock.sleep(cfg.boot_retry_s):
            break
        status = await st.boot()
    return status


async def _sessions(
    st: SimStation, cid: int, cfg: FleetConfig, rng: random.Random, clock: Deadline, tag: str
) -> None:
    quota = cfg.sessions_for(cid)
    done = 0
    while (quota is None or done < quota) and not clock.expired:
        if done and not await clock.sleep(cfg.meter_interval_s * rng.uniform(0.5, 1.5)):
            break
        connector = st.connector(cid)
        if connector.operative and not connector.busy:
            await _session(st, cid, cfg, rng, clock, tag)
        done += 1


async def _session(
    st: SimStation, cid: int, cfg: FleetConfig, rng: random.Random, clock: Deadline, tag: str
) -> None:
    await st.send_status(cid, Status.PREPARING)
    if await st.authorize(tag) != "Accepted":
        await st.send_status(cid, Status.AVAILABLE)
        return
    await st.start_transaction(cid, tag)
    await st.send_status(cid, Status.CHARGING)
    wanted_w, soc = rng.uniform(3_700, 11_000), rng.uniform(10, 60)
    energy = st.connector(cid).energy_wh
    for _ in range(cfg.samples):
        if not await clock.sleep(cfg.meter_interval_s):
            break
        if st.transaction(cid) is None:  # the CSMS stopped it (RemoteStop, Reset, ...)
            return
        power = min(wanted_w, st.offered_power_w(cid))
        energy += power * cfg.meter_interval_s / 3600
        soc = min(100.0, soc + power * cfg.meter_interval_s / 3600 / BATTERY_WH * 100)
        await st.send_meter_values(cid, energy_wh=energy, power_w=power, soc_pct=round(soc, 1))
    if st.transaction(cid) is not None:
        await st.stop_transaction(cid, "Local", energy_wh=energy)
        await st.send_status(cid, Status.AVAILABLE)
