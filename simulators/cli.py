"""``csms-sim``: run N simulated charge points against a CSMS and print a JSON summary.

Example::

    csms-sim --url ws://127.0.0.1:9000/ --count 50 --version mixed --sessions 2 \\
        --meter-interval-s 5 --duration-s 120 --seed 7

Logs go to stderr (``--log-level``); stdout carries only the summary. The exit status is 0
when no station failed, 1 otherwise, 2 for bad arguments.

``--scenario PATH`` reads options from a TOML file (see :mod:`simulators.scenario`); an
option given on the command line overrides the file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

from csms.logs import configure_logging
from simulators.fleet import FleetConfig, run_fleet
from simulators.scenario import ScenarioError, load_scenario
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
    )
    problem = _problem(cfg)
    if problem is not None:
        parser.error(problem)
    return cfg, args


def _problem(cfg: FleetConfig) -> str | None:
    positive = {
        "--count": cfg.count, "--connectors": cfg.connectors,
        "--meter-interval-s": cfg.meter_interval_s, "--ramp-per-s": cfg.ramp_per_s,
        "--call-timeout-s": cfg.call_timeout_s,
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
    return None


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
    print(json.dumps(summary, indent=2))
    return 0 if not summary["station_failures"] else 1
