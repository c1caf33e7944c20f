"""``csms devicemodel ...``: what the database knows of a 2.0.1 station's device model.

``csms devicemodel show CP-1 [--component EVSE]`` prints the stored variables, one JSON
object per line; ``csms devicemodel monitors CP-1`` the monitors the station runs as far as
the CSMS knows; ``csms devicemodel safety-monitors CP-1`` the monitors ``[safety]`` gives
the station (a dry run: what ``POST .../commands/apply-safety-monitors`` would send).
Sending needs the running CSMS: use the HTTP API for that.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from csms.app import store_only
from csms.config import Settings
from csms.services.device_model import planned_safety_monitors
from csms.store.device_model import DeviceModelStore
from csms.store.station_queries import StationQueries


def register(sub: Any) -> None:
    """Add the ``devicemodel`` command group."""
    group = sub.add_parser("devicemodel", help="2.0.1 device model and monitors (stored)"
                           ).add_subparsers(required=True, metavar="ACTION")
    show = group.add_parser("show", help="the stored device model, one JSON line a variable")
    show.add_argument("station_id")
    show.add_argument("--component", default=None, help="only this component")
    show.set_defaults(func=_show)
    mon = group.add_parser("monitors", help="the monitors the station runs")
    mon.add_argument("station_id")
    mon.set_defaults(func=_monitors)
    plan = group.add_parser("safety-monitors",
                            help="the monitors [safety] gives the station (dry run)")
    plan.add_argument("station_id")
    plan.set_defaults(func=_safety)


def _line(value: dict[str, Any]) -> None:
    print(json.dumps(value, ensure_ascii=False, default=str))


async def _show(settings: Settings, args: argparse.Namespace) -> int:
    async with store_only(settings, args.clock) as store:
        rows = await DeviceModelStore(store.engine, store.writer).variables(
            args.station_id, args.component)
    for row in rows:
        _line(asdict(row))
    return 0


async def _monitors(settings: Settings, args: argparse.Namespace) -> int:
    async with store_only(settings, args.clock) as store:
        found = await DeviceModelStore(store.engine, store.writer).monitors(args.station_id)
    for m in found:
        _line({**asdict(m.monitor), "origin": m.origin, "updated_at": m.updated_at})
    return 0


async def _safety(settings: Settings, args: argparse.Namespace) -> int:
    async with store_only(settings, args.clock) as store:
        connectors = await StationQueries(store.engine).connectors(args.station_id)
        monitors = await planned_safety_monitors(
            DeviceModelStore(store.engine, store.writer), settings.safety, args.station_id,
            sorted({c.evse_id for c in connectors if c.evse_id}))
    for m in monitors:
        _line({**asdict(m.key), "kind": m.kind.value, "value": m.value,
               "severity": m.severity, "monitor_id": m.monitor_id})
    return 0
