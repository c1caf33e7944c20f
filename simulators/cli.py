"""``csms-sim``: run N simulated charge points against a CSMS and print a JSON summary.

Example::

    csms-sim --url ws://127.0.0.1:9000/ --count 50 --version mixed --sessions 2 \\
        --meter-interval-s 5 --duration-s 120 --seed 7

Logs go to stderr (``--log-level``); stdout carries only the summary. The exit status is 0
when no station failed, 1 otherwise, 2 for bad arguments.

``--scenario PATH`` reads options from a TOML file (see :mod:`simulators.fleet.scenario`); an
option given on the command line overrides the file.

Simulated time: ``--speed 60`` runs an hour a minute; ``--duration-s`` and the intervals are
simulated seconds. ``--ev-arrival-window-s`` turns sessions into EVs arriving over that
window (:mod:`simulators.behaviour.ev`). Faults: ``--fault GroundFailure@600:1+300#2``
(kind, at, connector, heals after, station), or random ones with ``--fault-kinds`` and
``--fault-rate-per-h`` (:mod:`simulators.behaviour.faults`); ``--firmware-fault install#3``
makes station 3 fail firmware updates (:mod:`simulators.device.files`). ``--progress-s 2``
shows a live view on stderr; ``--summary PATH`` writes the JSON summary to a file instead of
stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

from csms.handlers.timefmt import parse_time
from csms.logs import configure_logging
from simulators.behaviour.faults import FaultKind, parse_fault
from simulators.device.files import FIRMWARE_FAULTS
from simulators.fleet.runner import FleetConfig, run_fleet
from simulators.fleet.scenario import ScenarioError, load_scenario
from simulators.stats import Stats


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="csms-sim", description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", metavar="PATH", default=None,
                   help="TOML file of options (simulators/scenarios/ has examples); "
                        "options given here override it")
    p.add_argument("--url", default="ws://127.0.0.1:9000/",
                   help="CSMS base URL; the station id is appended")
    p.add_argument("--count", type=int, default=1, help="number of stations")
    p.add_argument("--version", choices=["1.6", "2.0.1", "mixed"], default="1.6")
    p.add_argument("--id-pattern", default="SIM-{n:04d}",
                   help="station id, str.format with n = 1..count")
    p.add_argument("--id-tag-pattern", default="TAG-{n:04d}",
                   help="idTag each station charges with, n as above")
    p.add_argument("--password", default=None, help="HTTP Basic password (all stations)")
    p.add_argument("--connectors", type=int, default=1, help="connectors (EVSEs) per station")
    p.add_argument("--sessions", type=int, default=1,
                   help="charging sessions per station; 0: until --duration-s ends")
    p.add_argument("--samples", type=int, default=3, help="meter readings per session")
    p.add_argument("--meter-interval-s", type=float, default=10.0)
    p.add_argument("--duration-s", type=float, default=None,
                   help="stop the run after this long (sessions end cleanly)")
    p.add_argument("--ramp-per-s", type=float, default=20.0, help="new connections a second")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--call-timeout-s", type=float, default=30.0)
    p.add_argument("--grace-s", type=float, default=15.0,
                   help="after --duration-s, real seconds for sessions to stop cleanly")
    p.add_argument("--speed", type=float, default=1.0,
                   help="simulated seconds per real second (60: an hour a minute)")
    p.add_argument("--start", default=None, metavar="ISO8601",
                   help="simulated start, e.g. 2026-11-27T10:00:00Z (default: now)")
    p.add_argument("--ev-arrival-window-s", type=float, default=None,
                   help="EV model: first cars arrive within this many simulated seconds")
    p.add_argument("--ev-dwell-min-s", type=float, default=3600.0)
    p.add_argument("--ev-dwell-max-s", type=float, default=4 * 3600.0)
    p.add_argument("--ev-declares-needs", action="store_true",
                   help="2.0.1 cars send their energy need and departure (NotifyEVChargingNeeds)")
    p.add_argument("--fault", dest="faults", action="append", default=[],
                   metavar="KIND@AT_S[:CONNECTOR][+CLEAR_S][#STATION]",
                   help="a scheduled fault (repeatable); kinds: "
                        + ", ".join(k.value for k in FaultKind))
    p.add_argument("--fault-kinds", default="", help="comma-separated kinds of random faults")
    p.add_argument("--fault-rate-per-h", type=float, default=0.0,
                   help="random faults per station and simulated hour")
    p.add_argument("--fault-clear-after-s", type=float, default=300.0,
                   help="random faults heal after this long (simulated)")
    p.add_argument("--firmware-fault", dest="firmware_faults", action="append", default=[],
                   metavar="KIND[#STATION]", help="firmware updates fail (repeatable): "
                   + ", ".join(FIRMWARE_FAULTS) + "; without #STATION: every station")
    p.add_argument("--no-reconnect", dest="reconnect", action="store_false",
                   help="a lost connection is not reopened")
    p.add_argument("--progress-s", type=float, default=0.0,
                   help="live progress view on stderr every N real seconds (0: off)")
    p.add_argument("--summary", metavar="PATH", default=None,
                   help="write the JSON summary here instead of stdout")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                   default="warning")
    p.add_argument("--log-format", choices=["auto", "json", "console"], default="auto")
    return p


def parse_config(argv: Sequence[str] | None = None) -> tuple[FleetConfig, argparse.Namespace]:
    """The fleet configuration from command-line arguments; exits 2 on invalid ones."""
    parser = _parser()
    first, _ = parser.parse_known_args(argv)
    if first.scenario is not None:
        try:
            scenario = load_scenario(first.scenario)
        except ScenarioError as exc:
            parser.error(str(exc))
        parser.set_defaults(**scenario.options())
    args = parser.parse_args(argv)
    cfg = FleetConfig(
        url=args.url, count=args.count, version=args.version, id_pattern=args.id_pattern,
        id_tag_pattern=args.id_tag_pattern, password=args.password,
        connectors=args.connectors, sessions=args.sessions, samples=args.samples,
        meter_interval_s=args.meter_interval_s, duration_s=args.duration_s,
        ramp_per_s=args.ramp_per_s, seed=args.seed, call_timeout_s=args.call_timeout_s,
        grace_s=args.grace_s, speed=args.speed, start=args.start,
        ev_arrival_window_s=args.ev_arrival_window_s,
        ev_dwell_min_s=args.ev_dwell_min_s, ev_dwell_max_s=args.ev_dwell_max_s,
        ev_declares_needs=args.ev_declares_needs,
        faults=tuple(args.faults), fault_kinds=_kinds(args.fault_kinds),
        fault_rate_per_h=args.fault_rate_per_h, fault_clear_after_s=args.fault_clear_after_s,
        reconnect=args.reconnect, progress_s=args.progress_s,
        firmware_faults=tuple(args.firmware_faults),
    )
    problem = _problem(cfg)
    if problem is not None:
        parser.error(problem)
    return cfg, args


def _kinds(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(item.strip() for item in items if item.strip())


def _fault_problem(cfg: FleetConfig) -> str | None:
    try:
        for text in cfg.faults:
            spec, _, station = text.partition("#")
            parse_fault(spec)
            if station and not station.isdigit():
                raise ValueError(f"fault {text!r}: #STATION is a station number")
        for kind in cfg.fault_kinds:
            FaultKind(kind)
        for text in cfg.firmware_faults:
            kind, _, station = text.partition("#")
            if kind not in FIRMWARE_FAULTS or (station and not station.isdigit()):
                raise ValueError(f"firmware fault {text!r}: KIND[#STATION], KIND one of "
                                 + ", ".join(FIRMWARE_FAULTS))
    except ValueError as exc:
        return f"--fault/--fault-kinds: {exc}"
    if cfg.start is not None:
        try:
            parse_time(cfg.start)
        except ValueError as exc:
            return f"--start: {exc}"
    if cfg.ev_dwell_min_s > cfg.ev_dwell_max_s:
        return "--ev-dwell-min-s must not exceed --ev-dwell-max-s"
    return None


def _problem(cfg: FleetConfig) -> str | None:
    positive = {
        "--count": cfg.count, "--connectors": cfg.connectors,
        "--meter-interval-s": cfg.meter_interval_s, "--ramp-per-s": cfg.ramp_per_s,
        "--call-timeout-s": cfg.call_timeout_s, "--speed": cfg.speed, "--grace-s": cfg.grace_s,
        "--ev-dwell-min-s": cfg.ev_dwell_min_s,
    }
    for name, value in positive.items():
        if value <= 0:
            return f"{name} must be positive"
    if cfg.sessions < 0 or cfg.samples < 0:
        return "--sessions and --samples must not be negative"
    if cfg.sessions == 0 and cfg.duration_s is None:
        return "--sessions 0 (unlimited) needs --duration-s"
    if cfg.duration_s is not None and cfg.duration_s <= 0:
        return "--duration-s must be positive"
    try:
        cfg.station_id(1)
        cfg.id_tag(1)
    except (KeyError, IndexError, ValueError) as exc:
        return f"bad id pattern: {exc}"
    return _fault_problem(cfg)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fleet the arguments describe, print the summary; the exit status."""
    cfg, args = parse_config(argv)
    configure_logging(args.log_level, args.log_format, stream=sys.stderr)
    stats = Stats()
    summary: dict[str, Any]
    try:
        summary = asyncio.run(run_fleet(cfg, stats))
    except KeyboardInterrupt:
        summary = {"stations": cfg.count, "interrupted": True, **stats.summary()}
    text = json.dumps(summary, indent=2)
    if args.summary is not None:
        with open(args.summary, "w", encoding="utf-8") as file:
            file.write(text + "\n")
    else:
        print(text)
    return 0 if not summary["station_failures"] else 1
