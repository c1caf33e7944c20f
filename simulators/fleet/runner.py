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
3. Everything random (power, state of charge, transaction ids, pauses, EVs, faults) comes
   from one generator per station seeded with ``seed`` and the station number, so a run
   repeats.
4. Time is one shared :class:`simulators.clock.SimClock` at ``speed``: ``duration_s``,
   ``meter_interval_s`` and every other duration are simulated seconds (real = simulated /
   speed). Timestamps are simulated too, from ``start`` (default: now).
5. With ``ev_arrival_window_s`` each connector's sessions are EVs (:mod:`simulators.behaviour.ev`):
   the first arrives at a random moment within the window, each next one a few minutes
   after the previous left; each stays ``ev_dwell_min_s``..``ev_dwell_max_s`` and draws
   what the charging profiles allow. Without it, sessions are plain ``samples`` readings.
6. Faults (:mod:`simulators.behaviour.faults`): ``faults`` are scheduled ones
   (``KIND@AT_S[:CONNECTOR][+CLEAR_S][#STATION]``, every station without ``#STATION``;
   ``AT_S`` counts from the station's boot);
   ``fault_kinds`` with ``fault_rate_per_h`` add random ones per station (Poisson, seeded),
   healing after ``fault_clear_after_s``. A station whose connection was lost on purpose
   (ConnectionLost) is not counted as failed.
7. With ``reconnect`` stations reconnect after a lost connection (backoff with jitter) and
   queue transaction messages meanwhile.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from dataclasses import dataclass
from typing import Any, Final

import structlog

from csms.handlers.ocppj import OcppVersion
from csms.handlers.timefmt import parse_time
from simulators.behaviour.ev import random_ev
from simulators.behaviour.faults import FaultKind, ScheduledFault, parse_fault, random_faults
from simulators.behaviour.offline import Backoff
from simulators.clock import SimClock
from simulators.fleet.progress import report_progress
from simulators.model import Status
from simulators.settings import METER_INTERVAL
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
    speed: float = 1.0
    start: str | None = None  # simulated start instant, ISO 8601 UTC; None: now
    ev_arrival_window_s: float | None = None
    ev_dwell_min_s: float = 3600.0
    ev_dwell_max_s: float = 4 * 3600.0
    ev_declares_needs: bool = False  # 2.0.1: NotifyEVChargingNeeds at each start (ISO 15118)
    faults: tuple[str, ...] = ()
    fault_kinds: tuple[str, ...] = ()
    fault_rate_per_h: float = 0.0
    fault_clear_after_s: float | None = 300.0
    reconnect: bool = True
    progress_s: float = 0.0  # real seconds between progress reports; 0: none
    firmware_faults: tuple[str, ...] = ()  # "KIND[#STATION]": simulators.device.files rule 3

    def firmware_fault_for(self, n: int) -> str | None:
        """How station ``n`` fails firmware updates (None: it does not)."""
        for text in self.firmware_faults:
            kind, _, station = text.partition("#")
            if not station or int(station) == n:
                return kind
        return None

    def faults_for(self, n: int, rng: random.Random) -> list[ScheduledFault]:
        """The faults station ``n`` will suffer (rule 6); raises ``ValueError`` for a bad
        ``faults`` entry."""
        chosen = []
        for text in self.faults:
            spec, _, station = text.partition("#")
            if not station or int(station) == n:
                chosen.append(parse_fault(spec))
        kinds = tuple(FaultKind(k) for k in self.fault_kinds)
        chosen += random_faults(rng, kinds, self.fault_rate_per_h, self.duration_s or 3600,
                                self.connectors, self.fault_clear_after_s)
        return chosen

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
    """The end of the run on the event loop's clock (``None``: no end); sleeps take
    simulated seconds at ``speed``."""

    def __init__(self, at: float | None, speed: float = 1.0) -> None:
        self.at = at
        self.speed = speed

    @property
    def expired(self) -> bool:
        return self.at is not None and asyncio.get_running_loop().time() >= self.at

    async def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds`` (simulated), or until the deadline; whether time remains."""
        seconds /= self.speed
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
    sim = SimClock(cfg.speed, None if cfg.start is None else parse_time(cfg.start))
    real_s = None if cfg.duration_s is None else cfg.duration_s / cfg.speed
    clock = Deadline(None if real_s is None else started + real_s, cfg.speed)
    hard_limit = None if real_s is None else real_s + cfg.grace_s
    stop_burst = None  # from the deadline on, answers also count as the stop burst
    if real_s is not None:
        stop_burst = loop.call_at(started + real_s, setattr, stats, "stopping", True)
    progress = None
    if cfg.progress_s > 0:
        progress = asyncio.create_task(report_progress(stats, cfg.count, cfg.progress_s))
    try:
        async with asyncio.timeout(hard_limit), asyncio.TaskGroup() as tg:
            for n in range(1, cfg.count + 1):
                delay = (n - 1) / cfg.ramp_per_s * cfg.speed  # real ramp, whatever the speed
                tg.create_task(_guarded_station(cfg, n, stats, clock, delay, sim))
    except TimeoutError:
        stats.station_failed("CancelledAtHardDeadline")
    finally:
        if progress is not None:
            progress.cancel()
        if stop_burst is not None:
            stop_burst.cancel()
    return {
        "stations": cfg.count,
        **stats.summary(),
        "elapsed_s": round(loop.time() - started, 3),
        "speed": cfg.speed,
        "simulated_s": round(sim.elapsed_s(), 3),
    }


def _reason(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return type(exc).__name__


async def _guarded_station(
    cfg: FleetConfig, n: int, stats: Stats, clock: Deadline, delay: float, sim: SimClock
) -> None:
    if not await clock.sleep(delay):
        return
    rng = random.Random(f"{cfg.seed}:{n}")
    st = SimStation(
        cfg.station_id(n), cfg.version_of(n), cfg.url, password=cfg.password,
        connectors=cfg.connectors, serial=f"SIM{n:08d}", call_timeout_s=cfg.call_timeout_s,
        stats=stats, keep_history=False, rng=rng, clock=sim,
        reconnect=Backoff(base_s=1.0, cap_s=30.0) if cfg.reconnect else None,
    )
    try:
        await _station(st, cfg, n, rng, clock)
    except Exception as exc:  # noqa: BLE001 - rule 2: one station's failure is counted
        if any(f.kind is FaultKind.CONNECTION_LOST for f in st.faults.injected):
            return  # rule 6: lost on purpose
        stats.station_failed(_reason(exc))
        log.warning("sim.station.failed", station_id=cfg.station_id(n), error=repr(exc))


async def _station(
    st: SimStation, cfg: FleetConfig, n: int, rng: random.Random, clock: Deadline
) -> None:
    st.settings.set_role(METER_INTERVAL, str(round(cfg.meter_interval_s)))
    st.files.fail_update = cfg.firmware_fault_for(n)
    async with st.running():
        status = await _boot(st, cfg, clock)
        if status != "Accepted":
            st.stats.station_failed(f"Boot{status}")
            return
        for cid in st.connectors:
            await st.send_status(cid, Status.AVAILABLE)
        for fault in cfg.faults_for(n, rng):
            if fault.connector_id in st.connectors:
                st.faults.schedule(fault.kind, fault.connector_id, at_s=fault.at_s,
                                   clear_after_s=fault.clear_after_s)
        sessions = _ev_sessions if cfg.ev_arrival_window_s is not None else _sessions
        async with asyncio.TaskGroup() as tg:
            for cid in st.connectors:
                tg.create_task(sessions(st, cid, cfg, rng, clock, cfg.id_tag(n)))
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


async def _ev_sessions(
    st: SimStation, cid: int, cfg: FleetConfig, rng: random.Random, clock: Deadline, tag: str
) -> None:
    """Rule 5: EVs one after another at ``cid`` until the quota or the deadline."""
    quota = cfg.sessions_for(cid)
    done = 0
    while (quota is None or done < quota) and not clock.expired:
        pause = rng.uniform(0, cfg.ev_arrival_window_s or 0) if done == 0 else rng.uniform(60, 900)
        if not await clock.sleep(pause):
            break
        done += 1
        connector = st.connector(cid)
        if not connector.operative or connector.busy or not st.connected:
            continue
        ev = random_ev(rng, arrival=st.clock.now(), dwell_min_s=cfg.ev_dwell_min_s,
                       dwell_max_s=cfg.ev_dwell_max_s)
        if cfg.ev_declares_needs:
            ev = dataclasses.replace(ev, declares_needs=True)
        session = await st.plug_in(cid, ev, tag)
        while not session.done and await clock.sleep(60):
            pass
        if not session.done and st.transaction(cid) is not None:  # the deadline: stop cleanly
            await st.stop_transaction(cid, "Local")
            session.wake()
            await session.wait(cfg.call_timeout_s)
