"""Scenario files for ``csms-sim``: the shipped examples, validation, CLI precedence, and one
real run of a tiny scenario against the loopback CSMS."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from simulators.cli import parse_config
from simulators.fleet.runner import FleetConfig
from simulators.fleet.scenario import (
    ScenarioError,
    load_scenario,
    parse_scenario,
    shipped_scenarios,
)
from simulators.protocol.loopback import LoopbackCsms

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ("evening-peak-30.toml", "fault-storm.toml", "mixed-fleet.toml")


def write(tmp_path: Path, text: str, name: str = "scenario.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_scenarios_ship_with_the_package() -> None:
    assert [path.name for path in shipped_scenarios()] == list(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_scenario_loads_and_makes_a_valid_config(name: str) -> None:
    path = ROOT / "simulators" / "scenarios" / name
    scenario = load_scenario(path)
    assert scenario.description
    cfg, args = parse_config(["--scenario", str(path)])
    assert args.scenario == str(path)
    assert cfg.count == scenario.count
    assert cfg.version == scenario.version


def test_shipped_scenarios_say_what_the_brief_asked_for() -> None:
    folder = ROOT / "simulators" / "scenarios"
    evening = load_scenario(folder / "evening-peak-30.toml")
    assert (evening.count, evening.version, evening.connectors) == (30, "1.6", 1)
    fleet = load_scenario(folder / "mixed-fleet.toml")
    assert (fleet.count, fleet.version, fleet.connectors) == (200, "mixed", 2)


def test_a_scenario_sets_the_defaults_and_unset_keys_keep_the_cli_ones(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, 'count = 5\nversion = "2.0.1"\nmeter_interval_s = 2\n')
    cfg, _ = parse_config(["--scenario", str(path)])
    defaults = FleetConfig()
    assert (cfg.count, cfg.version, cfg.meter_interval_s) == (5, "2.0.1", 2.0)
    assert isinstance(cfg.meter_interval_s, float)
    assert (cfg.url, cfg.connectors, cfg.seed) == (defaults.url, defaults.connectors, 0)


def test_options_on_the_command_line_override_the_scenario(tmp_path: Path) -> None:
    path = write(tmp_path, 'count = 5\nversion = "2.0.1"\nseed = 4\nconnectors = 2\n')
    for argv in (
        ["--scenario", str(path), "--count", "9", "--version", "mixed"],
        ["--count", "9", "--version", "mixed", "--scenario", str(path)],  # order is irrelevant
    ):
        cfg, _ = parse_config(argv)
        assert (cfg.count, cfg.version) == (9, "mixed")
        assert (cfg.seed, cfg.connectors) == (4, 2)  # not given: the file's


def test_an_unknown_key_is_an_error_naming_it(tmp_path: Path) -> None:
    path = write(tmp_path, "count = 3\nmeter_intervall_s = 5\n")
    with pytest.raises(ScenarioError, match="unknown key 'meter_intervall_s'"):
        load_scenario(path)


@pytest.mark.parametrize(("text", "key"), [
    ('count = "30"', "count"),  # no coercion
    ("count = 0", "count"),
    ("connectors = -1", "connectors"),
    ("sessions = true", "sessions"),
    ('version = "1.5"', "version"),
    ("duration_s = 0", "duration_s"),
    ('id_pattern = "{x}"', "id_pattern"),
])
def test_a_bad_value_is_an_error_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ScenarioError, match=f"'{key}'"):
        load_scenario(write(tmp_path, text + "\n"))


def test_unreadable_and_malformed_files_are_scenario_errors(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.toml")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(write(tmp_path, "count = = 3\n"))


def test_options_leave_out_what_the_file_does_not_set() -> None:
    scenario = parse_scenario({"description": "x", "count": 2, "seed": 0})
    assert scenario.options() == {"count": 2, "seed": 0}


@pytest.mark.parametrize("text", ["count = 0", "nope = 1"])
def test_the_cli_rejects_a_bad_scenario_with_status_2(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, text + "\n")
    with pytest.raises(SystemExit) as info:
        parse_config(["--scenario", str(path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert str(path) in err
    assert ("count" if "count" in text else "nope") in err


def test_cross_option_checks_apply_after_merging(tmp_path: Path) -> None:
    path = write(tmp_path, "sessions = 0\n")
    with pytest.raises(SystemExit):
        parse_config(["--scenario", str(path)])  # unlimited sessions need a duration
    cfg, _ = parse_config(["--scenario", str(path), "--duration-s", "5"])
    assert (cfg.sessions, cfg.duration_s) == (0, 5.0)


async def test_a_tiny_scenario_runs_against_the_loopback_csms(tmp_path: Path) -> None:
    path = write(tmp_path, "\n".join([
        'description = "tiny"',
        'url = "ws://127.0.0.1:1/"',  # nothing listens here; the command line overrides it
        "count = 3",
        'version = "mixed"',
        'id_pattern = "TINY-{n}"',
        "sessions = 1",
        "samples = 1",
        "meter_interval_s = 0.01",
        "ramp_per_s = 100.0",
        "duration_s = 5.0",
    ]) + "\n")
    async with LoopbackCsms() as csms:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "simulators", "--scenario", str(path), "--url", csms.url,
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    summary = json.loads(out)
    assert process.returncode == 0
    assert summary["stations"] == 3
    assert summary["stations_connected"] == 3
    assert summary["sessions_completed"] == 3
    assert summary["station_failures"] == {}
    assert {station for station, _, _ in csms.received} == {"TINY-1", "TINY-2", "TINY-3"}
