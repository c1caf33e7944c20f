"""``csms seed city`` and ``csms coverage``: the city's districts, sample communities, 1 km.

``csms seed city`` loads the plan's districts (with their pilot targets) and a sample of
communities and sites (clearly marked sample data) so that a new user sees a coverage map
at once; both files are idempotent to load again. ``csms coverage`` prints each district's
covered share and the communities without a site within the radius (``--json`` for all of
it, ``--svg PATH`` for the map).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import tomllib
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from csms.app import store_only
from csms.city.coverage import CoverageReport, coverage
from csms.city.coverage_map import coverage_svg
from csms.config import Settings
from csms.store.city import SampleCommunity, SampleSite, district_names, places, seed_sample
from csms.store.organisation import DistrictSeed, Organisation, StoreError

DATA = Path(__file__).parents[2] / "data" / "city"
DISTRICTS = DATA / "kunming_districts.toml"
SAMPLE = DATA / "sample-communities.toml"

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Lat = Annotated[Decimal, Field(ge=-90, le=90, decimal_places=6)]
Lon = Annotated[Decimal, Field(ge=-180, le=180, decimal_places=6)]


class _Site(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text
    latitude: Lat | None = None
    longitude: Lon | None = None


class _Community(BaseModel):
    model_config = ConfigDict(extra="forbid")
    district: Text
    name: Text
    address: Text
    latitude: Lat
    longitude: Lon
    site: list[_Site] = []


class _SampleFile(BaseModel):
    community: list[_Community]


class _District(BaseModel):
    name: Text
    code: Annotated[str, StringConstraints(max_length=12)] | None = None
    short: Annotated[str, StringConstraints(max_length=50)] | None = None
    pilot_target: Annotated[int, Field(ge=0)] | None = None


class _DistrictFile(BaseModel):
    district: list[_District]


def register(sub: Any, seed: Any) -> None:
    """Add ``coverage`` to the commands and ``city`` to ``seed``."""
    city = seed.add_parser("city", help="the plan's districts and a sample of communities and"
                           " sites with coordinates (sample data, clearly marked)")
    city.add_argument("--districts", type=Path, default=DISTRICTS)
    city.add_argument("--sample", type=Path, default=SAMPLE)
    city.set_defaults(func=_seed_city)
    cov = sub.add_parser("coverage", help="communities without a public site within the"
                         " service radius ([city] service_radius_m)")
    cov.add_argument("--district", help="district code or name (default: the whole city)")
    cov.add_argument("--radius-m", type=float, default=None)
    cov.add_argument("--json", action="store_true", help="every community, as JSON")
    cov.add_argument("--svg", type=Path, default=None, metavar="PATH", help="write the map")
    cov.set_defaults(func=_coverage)


def _load(path: Path, model: type[BaseModel]) -> Any:
    return model.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))


async def _seed_city(settings: Settings, args: argparse.Namespace) -> int:
    try:
        districts = _load(args.districts, _DistrictFile)
        sample = _load(args.sample, _SampleFile)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValidationError) as exc:
        print(f"csms: {exc}", file=sys.stderr)
        return 1
    actor = f"cli:{getpass.getuser()}"
    entries = [SampleCommunity(c.district, c.name, c.address, c.latitude, c.longitude,
                               tuple(SampleSite(s.name, s.latitude, s.longitude)
                                     for s in c.site)) for c in sample.community]
    async with store_only(settings, args.clock) as store:
        try:
            done = await Organisation(store.engine, store.writer).seed_districts(
                [DistrictSeed(d.name, d.code, d.short, d.pilot_target)
                 for d in districts.district], actor)
            communities, sites = await seed_sample(store.writer, entries, actor)
        except StoreError as exc:
            print(f"csms: {exc}; nothing more was changed", file=sys.stderr)
            return 1
    print(f"districts: {done.added} added, {done.updated} updated, {done.unchanged} unchanged")
    print(f"sample communities: {communities.added} added, {communities.unchanged} existed;"
          f" sample sites: {sites.added} added, {sites.unchanged} existed")
    return 0


async def _coverage(settings: Settings, args: argparse.Namespace) -> int:
    radius = args.radius_m if args.radius_m is not None else settings.city.service_radius_m
    if radius <= 0:
        print("csms: --radius-m must be positive", file=sys.stderr)
        return 2
    async with store_only(settings, args.clock) as store:
        names = await district_names(store.engine)
        scoped, sites, every = await places(store.engine, None)
    if args.district is not None:
        wanted = [key for key, (code, name) in names.items() if args.district in (code, name)]
        if not wanted:
            print(f"csms: no district {args.district!r}", file=sys.stderr)
            return 1
        scoped = [c for c in scoped if c.district_id in wanted]
    report = coverage(scoped, sites, radius, anchors=every)
    if args.svg is not None:
        args.svg.write_text(coverage_svg(report, title=f"{radius:g} m service radius"),
                            encoding="utf-8")
    if args.json:
        print(json.dumps(_as_json(report, names), ensure_ascii=False, indent=2))
    else:
        _print(report, names)
    return 0


def _print(report: CoverageReport, names: dict[int, tuple[str | None, str]]) -> None:
    print(f"service radius {report.radius_m:g} m, {len(report.sites)} located sites")
    print(f"{'district':<20} {'communities':>11} {'covered':>8} {'uncovered':>9}"
          f" {'unlocated':>9} {'share':>6}")
    for d in report.districts:
        share = "-" if d.covered_share is None else f"{d.covered_share:.0%}"
        print(f"{_pad(names.get(d.district_id, (None, '?'))[1], 20)} {d.communities:>11}"
              f" {d.covered:>8} {d.uncovered:>9} {d.unlocated:>9} {share:>6}")
    for item in report.uncovered():
        site = item.nearest_site.name if item.nearest_site else "-"
        print(f"uncovered: {item.community.name} (id {item.community.id}): nearest {site},"
              f" {item.distance_m:.0f} m")


def _pad(text: str, width: int) -> str:
    """``text`` left-aligned in ``width`` terminal columns (CJK characters take two)."""
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - used)


def _as_json(report: CoverageReport, names: dict[int, tuple[str | None, str]]
             ) -> dict[str, Any]:
    return {
        "radius_m": report.radius_m,
        "districts": [{"district_id": d.district_id, "name": names.get(d.district_id,
                                                                       (None, ""))[1],
                       "communities": d.communities, "covered": d.covered,
                       "uncovered": d.uncovered, "unlocated": d.unlocated}
                      for d in report.districts],
        "communities": [{"community_id": c.community.id, "name": c.community.name,
                         "verdict": c.verdict.value,
                         "distance_m": None if c.distance_m is None else round(c.distance_m, 1),
                         "nearest_site_id": c.nearest_site.id if c.nearest_site else None}
                        for c in report.communities],
    }
