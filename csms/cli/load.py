"""``csms load ...``: configure a site's limits, set its base-load profile, show allocations.

``csms load configure SITE --kva 800`` creates or replaces the site's load settings;
``csms load profile SITE FILE`` reads a TOML file with ``workday_w = [24 values in W]`` and
optionally ``rest_day_w``; ``csms load show SITE`` prints the headroom now and the limits the
allocator gives the site's active sessions from the database (a dry run: nothing is sent,
and measured draw, which only the running CSMS knows, is not used).
"""

from __future__ import annotations

import argparse
import getpass
import tomllib
from pathlib import Path
from typing import Any

from csms.app import store_only
from csms.config import Settings
from csms.smartcharging.allocator import AllocatorSettings, SessionDemand, allocate
from csms.smartcharging.site import build_tree, feeder_node, headroom
from csms.store.load.config import LoadConfig
from csms.store.load.store import EvseDefaults, LoadStore
from csms.store.organisation import StoreError


def register(sub: Any) -> None:
    """Add the ``load`` command group."""
    load = sub.add_parser("load", help="orderly charging: site limits and allocations"
                          ).add_subparsers(required=True, metavar="ACTION")
    conf = load.add_parser("configure", help="create or replace a site's load settings")
    conf.add_argument("site_id", type=int)
    conf.add_argument("--kva", type=float, required=True, help="transformer rating, kVA")
    conf.add_argument("--loading", type=float, default=0.8, help="loading factor (0.8)")
    conf.add_argument("--power-factor", type=float, default=1.0)
    conf.add_argument("--margin-w", type=float, default=0.0, help="safety margin, W")
    conf.add_argument("--phases", type=int, default=3, choices=(1, 2, 3))
    conf.add_argument("--voltage", type=float, default=220.0, help="phase voltage, V")
    conf.add_argument("--hard-cap-w", type=float, default=None)
    conf.add_argument("--reading-max-age-s", type=int, default=300)
    conf.add_argument("--disabled", action="store_true", help="keep but do not enforce")
    conf.set_defaults(func=_configure)
    prof = load.add_parser("profile", help="set a site's base-load profile from a TOML file")
    prof.add_argument("site_id", type=int)
    prof.add_argument("file", type=Path)
    prof.set_defaults(func=_profile)
    show = load.add_parser("show", help="headroom now and the allocation of active sessions")
    show.add_argument("site_id", type=int)
    show.set_defaults(func=_show)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


async def _configure(settings: Settings, args: argparse.Namespace) -> int:
    values = {"enabled": not args.disabled, "transformer_kva": args.kva,
              "loading_factor": args.loading, "power_factor": args.power_factor,
              "margin_w": args.margin_w, "supply_phases": args.phases,
              "voltage_v": args.voltage, "hard_cap_w": args.hard_cap_w,
              "reading_max_age_s": args.reading_max_age_s}
    if args.kva <= 0 or not 0 < args.power_factor <= 1 or args.loading <= 0:
        print("csms: --kva, --loading and --power-factor must be positive (power factor <= 1)")
        return 2
    async with store_only(settings, args.clock) as store:
        try:
            record = await LoadConfig(store.writer).put_site(args.site_id, values, _actor())
        except StoreError as exc:
            print(f"csms: site {args.site_id}: {exc}")
            return 1
    print(f"site {record.site_id}: {record.transformer_kva} kVA x {record.loading_factor} x "
          f"pf {record.power_factor} - margin {record.margin_w} W")
    return 0


async def _profile(settings: Settings, args: argparse.Namespace) -> int:
    try:
        data = tomllib.loads(args.file.read_text(encoding="utf-8"))
        workday = [float(v) for v in data["workday_w"]]
        rest = data.get("rest_day_w")
        rest_day = None if rest is None else [float(v) for v in rest]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        print(f"csms: {args.file}: needs workday_w = [24 numbers] ({exc})")
        return 2
    async with store_only(settings, args.clock) as store:
        try:
            await LoadConfig(store.writer).put_profile(args.site_id, workday, rest_day,
                                                       _actor())
        except (StoreError, ValueError) as exc:
            print(f"csms: site {args.site_id}: {exc}")
            return 1
    print(f"site {args.site_id}: base-load profile set (peak {max(workday):.0f} W)")
    return 0


async def _show(settings: Settings, args: argparse.Namespace) -> int:
    async with store_only(settings, args.clock) as store:
        loads = LoadStore(store.engine, store.writer)
        s = settings.load
        model = await loads.site_model(args.site_id, EvseDefaults(
            s.default_max_current_a, s.default_phases))
        if model is None:
            print(f"csms: site {args.site_id} has no load settings")
            return 1
        sessions = await loads.active_sessions(args.site_id)
    now = args.clock()
    head = headroom(model.limits, now, model.profile, model.reading)
    print(f"site {args.site_id}: headroom {head.available_w:.0f} W "
          f"(base load {head.base_load_w:.0f} W from {head.source})")
    specs = {(e.station_id, e.evse_id): e for e in model.evses}
    demands = []
    for sess in sessions:
        spec = specs.get((sess.station_id, sess.evse_id))
        demands.append(SessionDemand(
            sess.session_id, feeder_node(spec.feeder_id if spec else None, args.site_id),
            spec.max_a if spec else s.default_max_current_a, sess.started_at,
            spec.phases if spec else s.default_phases))
    allocation = allocate(build_tree(model.limits, head.available_w, model.feeders),
                          demands, now, None, AllocatorSettings(min_run_s=s.min_run_s))
    limits = allocation.by_id()
    for sess in sessions:
        limit = limits[sess.session_id]
        print(f"  {sess.station_id} evse {sess.evse_id} session {sess.session_id}: "
              f"{limit.limit_a:.1f} A ({limit.reason.value})")
    return 0
