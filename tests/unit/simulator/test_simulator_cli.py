"""The fleet runner and ``csms-sim`` against the loopback CSMS, and the simulator's small
pure parts (profiles, settings, latency histogram, timestamps)."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from csms.handlers.ocppj import OcppVersion
from simulators.cli import parse_config
from simulators.fleet.runner import FleetConfig, run_fleet
from simulators.model import Hardware, Purpose, iso_utc
from simulators.protocol.loopback import LoopbackCsms
from simulators.settings import Change, Setting, SettingsStore
from simulators.smartcharging.profiles import Limit, ProfileStore, StoredProfile
from simulators.stats import LatencyHistogram

ROOT = Path(__file__).resolve().parents[3]


def fast(url: str, **overrides: Any) -> FleetConfig:
    options: dict[str, Any] = {
        "url": url, "count": 4, "version": "mixed", "connectors": 2, "sessions": 3,
        "samples": 2, "meter_interval_s": 0.01, "ramp_per_s": 1000.0, "seed": 7,
    }
    return FleetConfig(**{**options, **overrides})


async def test_fleet_runs_every_session_in_both_versions() -> None:
    async with LoopbackCsms() as csms:
        summary = await run_fleet(fast(csms.url))
    assert summary["stations"] == 4
    assert summary["stations_connected"] == 4
    assert summary["boots_accepted"] == 4
    assert summary["sessions_completed"] == 12
    assert summary["station_failures"] == {}
    assert summary["call_errors"] == {}
    sent = summary["messages_sent"]
    assert sent["StartTransaction"] == sent["StopTransaction"] == 6  # stations 1 and 3
    assert sent["TransactionEvent"] == 6 * 4  # stations 2 and 4: Started, 2 x Updated, Ended
    assert sent["MeterValues"] == 12
    assert summary["energy_wh"] > 0
    assert summary["latency_ms"]["p50"] <= summary["latency_ms"]["p99"]
    assert summary["latency_ms"]["p99"] <= summary["latency_ms"]["max"]
    ids = {station for station, _, _ in csms.received}
    assert ids == {"SIM-0001", "SIM-0002", "SIM-0003", "SIM-0004"}


async def test_fleet_is_reproducible_with_a_seed() -> None:
    async with LoopbackCsms() as csms:
        first = await run_fleet(fast(csms.url, count=2))
        second = await run_fleet(fast(csms.url, count=2))
        other = await run_fleet(fast(csms.url, count=2, seed=8))
    assert first["energy_wh"] == second["energy_wh"]
    assert first["energy_wh"] != other["energy_wh"]


async def test_fleet_stops_at_the_deadline_with_clean_stops() -> None:
    async with LoopbackCsms() as csms:
        cfg = fast(csms.url, count=2, version="2.0.1", sessions=0, samples=10_000,
                   meter_interval_s=0.05, duration_s=0.5)
        summary = await run_fleet(cfg)
        events = [p["eventType"] for _, a, p in csms.received if a == "TransactionEvent"]
    assert summary["elapsed_s"] < 0.5 + cfg.grace_s
    assert events.count("Started") == events.count("Ended") > 0
    assert summary["station_failures"] == {}


async def test_fleet_counts_stations_that_cannot_connect() -> None:
    async with LoopbackCsms() as csms:
        url = csms.url
    summary = await run_fleet(fast(url, count=2))
    assert summary["stations_connected"] == 0
    assert summary["station_failures"] == {"ConnectionRefusedError": 2}


async def test_fleet_counts_refused_boots() -> None:
    async with LoopbackCsms(boot_status="Rejected") as csms:
        summary = await run_fleet(fast(csms.url, count=1, boot_retry_s=0.01))
    assert summary["messages_sent"] == {"BootNotification": 3}
    assert summary["station_failures"] == {"BootRejected": 1}


async def run_cli(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulators", *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_cli_prints_a_json_summary_and_stops_by_itself() -> None:
    async with LoopbackCsms() as csms:
        code, out, _ = await run_cli(
            "--url", csms.url, "--count", "3", "--version", "mixed", "--sessions", "1",
            "--samples", "1", "--meter-interval-s", "0.01", "--ramp-per-s", "100",
            "--id-pattern", "CLI-{n}", "--password", "pw", "--duration-s", "30",
        )
    summary = json.loads(out)
    assert code == 0
    assert summary["stations_connected"] == 3
    assert summary["sessions_completed"] == 3
    assert set(csms.authorization) == {"CLI-1", "CLI-2", "CLI-3"}
    assert all(value is not None for value in csms.authorization.values())


async def test_cli_exit_status_when_stations_fail() -> None:
    async with LoopbackCsms() as csms:
        url = csms.url
    code, out, _ = await run_cli("--url", url, "--count", "1")
    assert code == 1
    assert json.loads(out)["station_failures"] == {"ConnectionRefusedError": 1}


@pytest.mark.parametrize("args", [
    ["--count", "0"], ["--sessions", "0"], ["--meter-interval-s", "0"],
    ["--id-pattern", "{x}"], ["--version", "1.5"], ["--duration-s", "-1"],
])
def test_cli_rejects_bad_arguments(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse_config(args)
    assert info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_cli_config_and_versions() -> None:
    cfg, _ = parse_config(["--count", "3", "--version", "mixed", "--connectors", "2",
                           "--sessions", "3"])
    assert [cfg.version_of(n) for n in (1, 2, 3)] == [
        OcppVersion.V16, OcppVersion.V201, OcppVersion.V16]
    assert [cfg.sessions_for(c) for c in (1, 2)] == [2, 1]
    assert cfg.station_id(12) == "SIM-0012"


def stored(profile_id: int, connector_id: int, purpose: Purpose, *limits: Limit,
           stack_level: int = 0, tx: str | None = None) -> StoredProfile:
    return StoredProfile(profile_id, connector_id, stack_level, purpose, limits, tx)


def test_profile_store_replaces_clears_and_limits() -> None:
    store = ProfileStore(Hardware(max_current_a=32, phases=3, voltage_v=230))
    store.install(stored(1, 1, Purpose.TX_DEFAULT, Limit("A", 20)))
    store.install(stored(2, 1, Purpose.TX_DEFAULT, Limit("A", 25)))  # same slot: replaces 1
    store.install(stored(3, 0, Purpose.STATION_MAX, Limit("W", 6900)))
    store.install(stored(4, 1, Purpose.TX, Limit("A", 8, phases=1), tx="t1"))
    assert [p.profile_id for p in store.profiles] == [2, 3, 4]
    assert store.limit(1, "A") == 8  # amps are per phase, whatever the phase count
    assert store.limit(1, "W") == pytest.approx(8 * 230)  # one phase
    assert store.limit(2, "A") == pytest.approx(10)  # only the station-wide 6900 W
    store.drop_transaction("t1")
    assert store.limit(1, "W") == pytest.approx(6900)
    assert store.clear(purpose=Purpose.STATION_MAX) == 1
    assert store.clear(profile_id=99, connector_id=1) == 0  # an id alone decides
    composite = store.composite(1, 60, None)
    assert (composite.unit, composite.limit, composite.duration_s) == ("A", 25, 60)


def test_settings_store_kinds_roles_and_readonly() -> None:
    heard: list[tuple[str, str]] = []
    store = SettingsStore({
        "A": Setting("1", kind="int", role="heartbeat_interval"),
        "B": Setting("true", kind="bool"),
        "C": Setting("x", readonly=True),
    })
    store.on_change = lambda role, value: heard.append((role, value))
    assert store.change("A", "30") is Change.ACCEPTED
    assert store.change("A", "-3") is Change.REJECTED
    assert store.change("B", "maybe") is Change.REJECTED
    assert store.change("C", "y") is Change.REJECTED
    assert store.change("D", "1") is Change.UNKNOWN
    assert heard == [("heartbeat_interval", "30")]
    store.set_role("heartbeat_interval", "60")
    assert store.role_value("heartbeat_interval", "0") == "60"
    assert store.role_value("nothing", "dflt") == "dflt"


def test_latency_histogram_quantiles() -> None:
    histogram = LatencyHistogram()
    assert histogram.quantile(0.5) is None
    for ms in range(1, 101):
        histogram.add(float(ms))
    p50, p99 = histogram.quantile(0.5), histogram.quantile(0.99)
    assert p50 is not None
    assert p99 is not None
    assert p50 == pytest.approx(50, rel=0.03)
    assert p99 == pytest.approx(99, rel=0.03)
    assert histogram.max_ms == 100


def test_iso_utc_is_utc_with_milliseconds_and_z() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert iso_utc(datetime(2024, 1, 2, 5, 6, 7, 891_234, tzinfo=plus_two)) == (
        "2024-01-02T03:06:07.891Z")
    assert iso_utc().endswith("Z")
    assert iso_utc(datetime(2024, 1, 1, tzinfo=UTC)) == "2024-01-01T00:00:00.000Z"


def test_firmware_faults_name_a_kind_and_optionally_a_station() -> None:
    """``--firmware-fault install#2`` fails station 2's updates only; a bad kind exits 2."""
    cfg, _ = parse_config(["--count", "3", "--firmware-fault", "install#2"])
    assert [None, "install", None] == [cfg.firmware_fault_for(n) for n in (1, 2, 3)]
    with pytest.raises(SystemExit):
        parse_config(["--firmware-fault", "explode"])
