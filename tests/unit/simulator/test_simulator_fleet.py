"""The fleet with the EV model, simulated time and faults (CLI, scenario files) against the
loopback CSMS, the progress view and the summary file."""

from __future__ import annotations

import asyncio
import io
import json
import random
from pathlib import Path

import pytest

from simulators.cli import parse_config
from simulators.fleet.progress import progress_line, report_progress
from simulators.fleet.runner import FleetConfig, run_fleet
from simulators.fleet.scenario import shipped_scenarios
from simulators.protocol.loopback import LoopbackCsms
from simulators.stats import Stats
from simulators.waiting import wait_until
from tests.unit.simulator.test_simulator_cli import run_cli


def ev_fleet(url: str, **overrides: object) -> FleetConfig:
    options: dict[str, object] = {
        "url": url, "count": 4, "version": "mixed", "connectors": 1, "sessions": 1,
        "meter_interval_s": 60.0, "ramp_per_s": 1000.0, "seed": 7, "speed": 1200.0,
        "duration_s": 2400.0, "ev_arrival_window_s": 60.0, "ev_dwell_min_s": 600.0,
        "ev_dwell_max_s": 900.0, "faults": ("GroundFailure@300:1+120",),
    }
    return FleetConfig(**{**options, **overrides})  # type: ignore[arg-type]


async def test_ev_fleet_in_simulated_time_with_scheduled_faults() -> None:
    """Four EVs at 1200x: each session ends when the car leaves (EVDisconnected), each
    station suffers the scheduled ground failure and recovers; nothing fails."""
    async with LoopbackCsms() as csms:
        summary = await run_fleet(ev_fleet(csms.url))
    assert summary["station_failures"] == {}
    assert summary["sessions_completed"] == 4
    assert summary["faults_injected"] == {"GroundFailure": 4}
    assert summary["energy_wh"] > 0
    assert summary["simulated_s"] > 900
    stops = [p for _, a, p in csms.received if a == "StopTransaction"]
    assert {p["reason"] for p in stops} == {"EVDisconnected"}
    codes = [p.get("errorCode") for _, a, p in csms.received if a == "StatusNotification"]
    assert codes.count("GroundFailure") == 2  # the 1.6 stations; 2.0.1 says NotifyEvent
    events = [p for _, a, p in csms.received if a == "NotifyEvent"]
    assert len(events) == 4  # raised and cleared on each 2.0.1 station


async def test_a_lost_connection_is_not_a_station_failure() -> None:
    """ConnectionLost on purpose ends that station without counting it as failed."""
    async with LoopbackCsms() as csms:
        summary = await run_fleet(ev_fleet(csms.url, count=2, faults=("ConnectionLost@60#2",)))
    assert summary["station_failures"] == {}
    assert summary["faults_injected"] == {"ConnectionLost": 1}


async def test_latency_by_action_and_the_stop_burst_apart() -> None:
    """Cars still charging at the deadline stop then, all at once: those answers are in
    ``latency_ms_at_stop`` too; the per-action histograms add up to the whole."""
    async with LoopbackCsms() as csms:
        summary = await run_fleet(ev_fleet(csms.url, duration_s=480.0, faults=(),
                                           ev_arrival_window_s=1.0))
    by_action = summary["latency_ms_by_action"]
    assert sum(d["count"] for d in by_action.values()) == summary["latency_ms"]["count"]
    assert by_action["BootNotification"]["count"] == 4
    assert max(d["max"] for d in by_action.values()) == summary["latency_ms"]["max"]
    stops = [a for _, a, p in csms.received
             if a == "StopTransaction" or (a == "TransactionEvent" and p["eventType"] == "Ended")]
    assert len(stops) == 4
    at_stop = summary["latency_ms_at_stop"]
    assert len(stops) <= at_stop["count"] < summary["latency_ms"]["count"]


async def test_random_faults_come_from_the_seed() -> None:
    """A high random fault rate injects the same faults twice with the same seed."""
    cfg = ev_fleet("ws://unused/", fault_kinds=("OverVoltage", "UnderVoltage"),
                   fault_rate_per_h=20.0, faults=())
    first = [cfg.faults_for(n, random.Random(f"7:{n}")) for n in (1, 2)]
    again = [cfg.faults_for(n, random.Random(f"7:{n}")) for n in (1, 2)]
    assert first == again
    assert sum(len(f) for f in first) > 0


@pytest.mark.parametrize("args", [
    ["--fault", "Nope@1"], ["--fault", "GroundFailure@1#x"], ["--fault-kinds", "Meh"],
    ["--speed", "0"], ["--start", "yesterday"],
    ["--ev-dwell-min-s", "100", "--ev-dwell-max-s", "50"],
])
def test_cli_rejects_bad_fault_and_time_options(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad fault specs, kinds, speed, start and dwell are usage errors (status 2)."""
    with pytest.raises(SystemExit) as info:
        parse_config(args)
    assert info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_the_fault_storm_scenario_really_injects_faults() -> None:
    """fault-storm.toml schedules faults of every kind and random ones."""
    path = next(p for p in shipped_scenarios() if p.name == "fault-storm.toml")
    cfg, _ = parse_config(["--scenario", str(path)])
    kinds = {spec.split("@")[0] for spec in cfg.faults}
    assert len(kinds) == 9
    assert cfg.fault_rate_per_h > 0
    assert cfg.fault_kinds


def test_the_evening_scenario_uses_evs_in_fast_simulated_time() -> None:
    """evening-peak-30.toml: 30 EVs arriving over 3 h at 60x from 18:00 Beijing time."""
    path = next(p for p in shipped_scenarios() if p.name == "evening-peak-30.toml")
    cfg, _ = parse_config(["--scenario", str(path)])
    assert (cfg.count, cfg.speed, cfg.ev_arrival_window_s) == (30, 60.0, 10800.0)
    assert cfg.start == "2026-11-27T10:00:00Z"


async def test_progress_lines_go_to_a_file_one_per_interval() -> None:
    """Not a TTY: plain appended lines with online, charging, faulted, msg/s, errors."""
    stats, out = Stats(), io.StringIO()
    stats.online, stats.charging = 3, 2
    task = asyncio.create_task(report_progress(stats, 5, 0.01, out))
    await wait_until(lambda: out.getvalue().count("\n") >= 2)
    task.cancel()
    line = out.getvalue().splitlines()[0]
    assert "online 3/5" in line
    assert "charging 2" in line
    assert "\r" not in out.getvalue()


def test_progress_line_counts_errors() -> None:
    """Errors are CALLERRORs plus failed stations."""
    stats = Stats()
    stats.call_failed("Authorize", "InternalError")
    stats.station_failed("Boom")
    assert "errors 2" in progress_line(stats, 1, 0.0, 1.0)


async def test_cli_writes_the_summary_to_a_file(tmp_path: Path) -> None:
    """--summary PATH: the JSON goes to the file, stdout stays empty."""
    target = tmp_path / "summary.json"
    async with LoopbackCsms() as csms:
        code, out, _ = await run_cli(
            "--url", csms.url, "--count", "2", "--version", "mixed", "--sessions", "1",
            "--samples", "1", "--meter-interval-s", "0.01", "--summary", str(target),
            "--duration-s", "30")
    assert code == 0
    assert out == ""
    summary = json.loads(target.read_text())
    assert summary["sessions_completed"] == 2
    assert {"faults_injected", "reconnects", "profiles_received"} <= set(summary)
