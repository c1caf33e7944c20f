"""Fleet benchmark: a mixed 1.6/2.0.1 simulator fleet against the CSMS; what the simulator costs.

    python -m bench.fleet --stations 2000 --duration-s 600     # the acceptance run
    python -m bench.fleet --stations 300 --duration-s 60       # a quick check

It starts the CSMS as a child process on 127.0.0.1 (SQLite in a temporary directory, or
``--db postgres``; any charge point and token accepted, no HTTP API), pinned to CPU 0 as
the load benchmark does, then runs ``csms-sim`` (``python -m simulators``) as a second
child pinned to CPU 1: ``--stations`` stations, odd ones OCPP 1.6 and even ones 2.0.1, each
with ``--connectors`` connectors charging EVs back to back (EV model, a meter reading every
``--meter-interval-s``), a few random faults (``--fault-rate-per-h`` per station), for
``--duration-s`` seconds. ``--url`` drives an already running CSMS instead.

It reports the simulator's CPU seconds over wall seconds (cores; also per 1,000 stations)
and its peak RSS, from the child's own rusage (``os.wait4``), against the limits the issue
sets (under half a core and under 1 GiB), the CSMS's CPU, the simulator's JSON summary, and
what the CSMS stored: every session the simulator completed must be in the database once,
ended, with its energy (``stored``; the check of issue 20).
``--profile PATH`` records the simulator with py-spy (raw format, for flamegraph tools).
The exit status is 0 when the limits hold and no station failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.machine import LOAD_CPU, REPO, cpu_seconds, free_port, raise_file_limit
from bench.servers import Database, ServerProcess, csms_executable, csms_toml

CPU_LIMIT_CORES: Final = 0.5
RSS_LIMIT_MIB: Final = 1024.0


@dataclass(frozen=True, slots=True)
class FleetOptions:
    """What to run; see the module docstring."""

    stations: int
    duration_s: float
    connectors: int
    meter_interval_s: float
    ramp_per_s: float
    fault_rate_per_h: float
    db: str
    url: str | None
    seed: int
    profile: Path | None
    summary: Path | None
    progress_s: float
    dwell_min_s: float = 300.0  # how long a car stays, uniform between these
    dwell_max_s: float | None = None  # None: max(600, duration_s / 2)
    arrival_window_s: float = 120.0  # the first cars arrive within this
    sessions: int = 0  # per station; 0: cars keep coming until the run ends


def _parse(argv: Sequence[str] | None) -> FleetOptions:
    p = argparse.ArgumentParser(prog="python -m bench.fleet",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--stations", type=int, default=2000)
    p.add_argument("--duration-s", type=float, default=600.0)
    p.add_argument("--connectors", type=int, default=2)
    p.add_argument("--meter-interval-s", type=float, default=60.0)
    p.add_argument("--ramp-per-s", type=float, default=100.0)
    p.add_argument("--fault-rate-per-h", type=float, default=0.5)
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--url", default=None, help="use this running CSMS instead of starting one")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--profile", type=Path, default=None, metavar="PATH",
                   help="record the simulator with py-spy into PATH (raw format)")
    p.add_argument("--summary", type=Path, default=None, metavar="PATH",
                   help="also write the figures and the summary as JSON here")
    p.add_argument("--progress-s", type=float, default=10.0)
    p.add_argument("--dwell-min-s", type=float, default=300.0,
                   help="cars stay between this and --dwell-max-s (short: several sessions"
                        " per connector in a short run)")
    p.add_argument("--dwell-max-s", type=float, default=None,
                   help="default max(600, duration / 2)")
    p.add_argument("--arrival-window-s", type=float, default=120.0)
    p.add_argument("--sessions", type=int, default=0,
                   help="sessions per station (cars arriving over --arrival-window-s);"
                        " 0: until the run ends")
    a = p.parse_args(argv)
    if a.stations <= 0 or a.duration_s <= 0 or a.connectors <= 0:
        p.error("--stations, --duration-s and --connectors must be positive")
    return FleetOptions(a.stations, a.duration_s, a.connectors, a.meter_interval_s,
                        a.ramp_per_s, a.fault_rate_per_h, a.db, a.url, a.seed, a.profile,
                        a.summary, a.progress_s, a.dwell_min_s, a.dwell_max_s,
                        a.arrival_window_s, a.sessions)


def sim_argv(opts: FleetOptions, url: str, summary: Path) -> list[str]:
    """The ``csms-sim`` command line of the fleet."""
    dwell_max = opts.dwell_max_s or max(600.0, opts.duration_s / 2)
    return [
        sys.executable, "-m", "simulators", "--url", url, "--count", str(opts.stations),
        "--version", "mixed", "--connectors", str(opts.connectors),
        "--sessions", str(opts.sessions),
        "--duration-s", str(opts.duration_s), "--meter-interval-s", str(opts.meter_interval_s),
        "--ramp-per-s", str(opts.ramp_per_s), "--seed", str(opts.seed),
        "--id-pattern", "FLEET-{n:05d}", "--id-tag-pattern", "FLEET-TAG-{n:05d}",
        "--ev-arrival-window-s", str(opts.arrival_window_s),
        "--ev-dwell-min-s", str(opts.dwell_min_s),
        "--ev-dwell-max-s", str(dwell_max),
        "--fault-kinds", "GroundFailure,HighTemperature,OverVoltage,PowerMeterFailure",
        "--fault-rate-per-h", str(opts.fault_rate_per_h), "--fault-clear-after-s", "120",
        "--call-timeout-s", "60", "--grace-s", "120", "--progress-s", str(opts.progress_s),
        "--summary", str(summary), "--log-level", "error",
    ]


def csms_config(port: int, db_url: str) -> str:
    """The CSMS under test: the load benchmark's settings, tokens accepted, no HTTP API."""
    return csms_toml(port, db_url) + "\n".join([
        "[authorization]", 'unknown_id_tokens = "accept"', ""])  # csms_toml: API off


async def _wait_child(proc: subprocess.Popen[bytes]) -> tuple[int, resource.struct_rusage]:
    """The child's exit status and its own resource usage (CPU seconds, peak RSS)."""
    _, status, usage = await asyncio.to_thread(os.wait4, proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage


def _py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    exe = Path(sys.executable).with_name("py-spy")
    found = str(exe) if exe.exists() else shutil.which("py-spy")
    if found is None:
        print("py-spy not found: pip install py-spy", file=sys.stderr)
        return None
    return subprocess.Popen(
        [found, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
         "--format", "raw", "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _spawn(argv: list[str]) -> subprocess.Popen[bytes]:
    """Start the simulator pinned to the load CPU (the CSMS has the other)."""
    proc = subprocess.Popen(argv, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    with contextlib.suppress(OSError):
        os.sched_setaffinity(proc.pid, {LOAD_CPU})
    return proc


async def run_simulator(opts: FleetOptions, url: str, tmp: Path) -> dict[str, Any]:
    """Run the fleet in a child process; its figures and summary."""
    summary_path = tmp / "summary.json"
    started = time.monotonic()
    proc = _spawn(sim_argv(opts, url, summary_path))
    spy = None if opts.profile is None else _py_spy(proc.pid, opts.duration_s, opts.profile)
    code, usage = await _wait_child(proc)
    wall = time.monotonic() - started
    if spy is not None:
        spy.wait(60)
    cpu = usage.ru_utime + usage.ru_stime
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    return {
        "exit_status": code, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
        "cores": round(cpu / wall, 3),
        "cores_per_1000_stations": round(cpu / wall / opts.stations * 1000, 3),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1), "summary": summary,
    }


async def run(opts: FleetOptions) -> dict[str, Any]:
    """Start the CSMS (unless ``--url``), run the fleet, stop the CSMS; the figures."""
    tmp = Path(tempfile.mkdtemp(prefix="csms-fleet-"))
    if opts.url is not None:
        return await run_simulator(opts, opts.url, tmp)
    port = free_port()
    database = Database(opts.db, tmp)
    config = tmp / "csms.toml"
    config.write_text(csms_config(port, database.url))
    server = ServerProcess([csms_executable(), "--config", str(config), "run"],
                           tmp / "server.log", port)
    try:
        await database.create()
        await server.start()
        server_cpu0 = cpu_seconds(server.pid)
        figures = await run_simulator(opts, f"ws://127.0.0.1:{port}/", tmp)
        server.check_alive()
        figures["csms_cpu_s"] = round(cpu_seconds(server.pid) - server_cpu0, 1)
        figures["stored"] = await stored_sessions(database.url)
        return figures
    finally:
        server.stop()
        await database.drop()


async def stored_sessions(url: str) -> dict[str, Any]:
    """What the CSMS stored of the fleet's sessions: by status, energy, duplicated starts."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT status, count(*), coalesce(sum(energy_wh), 0) FROM sessions "
                "WHERE station_id LIKE 'FLEET-%' GROUP BY status"))).all()
            twice = (await conn.execute(text(
                "SELECT count(*) FROM (SELECT station_id, evse_id, started_at FROM sessions "
                "WHERE station_id LIKE 'FLEET-%' GROUP BY station_id, evse_id, started_at "
                "HAVING count(*) > 1) AS repeated"))).scalar_one()
    finally:
        await engine.dispose()
    by_status = {status: (int(n), float(wh)) for status, n, wh in rows}
    ended, energy = by_status.get("ended", (0, 0.0))
    return {"ended": ended, "active": by_status.get("active", (0, 0.0))[0],
            "ended_energy_wh": round(energy, 3), "duplicated_starts": int(twice)}


def session_problems(figures: dict[str, Any]) -> list[str]:
    """Every session the simulator completed is stored once, ended, with its energy (1.6
    meter values are whole Wh: up to 1 Wh a session of rounding)."""
    stored, summary = figures.get("stored"), figures["summary"]
    if stored is None or not summary:
        return []
    problems = []
    completed = summary.get("sessions_completed", 0)
    if stored["ended"] != completed:
        problems.append(f"{stored['ended']} ended sessions stored, {completed} completed")
    if stored["active"] or stored["duplicated_starts"]:
        problems.append(f"{stored['active']} sessions left active, "
                        f"{stored['duplicated_starts']} starts stored twice")
    if abs(stored["ended_energy_wh"] - summary.get("energy_wh", 0.0)) > max(1, completed):
        problems.append(f"stored energy {stored['ended_energy_wh']} Wh, "
                        f"simulator {summary.get('energy_wh')} Wh")
    return problems


def verdict(figures: dict[str, Any]) -> list[str]:
    """What failed: the CPU or memory limit, the child's exit, failed stations, sessions
    not stored once with their energy."""
    problems = session_problems(figures)
    if figures["cores"] >= CPU_LIMIT_CORES:
        problems.append(f"simulator used {figures['cores']} cores (limit {CPU_LIMIT_CORES})")
    if figures["peak_rss_mib"] >= RSS_LIMIT_MIB:
        problems.append(f"simulator peak RSS {figures['peak_rss_mib']} MiB (limit 1 GiB)")
    if figures["exit_status"] != 0:
        failures = figures["summary"].get("station_failures")
        problems.append(f"simulator exit status {figures['exit_status']}: {failures}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the figures and the summary; the exit status."""
    opts = _parse(argv)
    raise_file_limit()
    figures = asyncio.run(run(opts))
    problems = verdict(figures)
    if opts.summary is not None:
        opts.summary.write_text(json.dumps({**figures, "problems": problems}, indent=2) + "\n")
    head = {k: v for k, v in figures.items() if k != "summary"}
    print(f"fleet: {opts.stations} stations (mixed 1.6/2.0.1, {opts.connectors} connectors), "
          f"{opts.duration_s:.0f} s")
    for key, value in head.items():
        print(f"  {key:<24} {value}")
    print("  verdict                  " + ("PASS" if not problems else "; ".join(problems)))
    print(json.dumps(figures["summary"], indent=2))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
