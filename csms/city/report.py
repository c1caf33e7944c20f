"""The monthly district report: a pure function from one month's plain data to its figures.

Rules (the month is ``[start, end)``, aware UTC, the calendar month in local time):
1. Places: a charger counts in the district of its site's community; a charger without a
   site counts only in the city total. A community is *built* when a charger stands at one
   of its sites, *in progress* when it has a site but no charger yet. Pilot progress is
   built communities over the district's ``pilot_target``.
2. Sessions count in the month they ENDED (``start <= ended_at < end``). Energy is whole Wh
   (kWh as Decimal, 3 places); charging hours are ended minus started, Decimal, 2 places.
3. Availability = usable connector time / (connectors x the month's length). Each connector
   (connector id >= 1) has the status it had at ``start`` (the last change before it,
   carried in) and then its changes in the month; a connector is *usable* while its status
   is in :data:`USABLE` and its charger is neither offline (from a disconnect to the next
   connect in the connection log) nor Unavailable/Faulted as a whole (its EVSE 0 /
   connector 0 status, OCPP 1.6 connectorId 0) (csms.city.availability). Time before a
   connector's first known status is not usable. The month's length is ``end - start``, so
   28-31 days and any daylight-saving shift are measured, not assumed.
4. Alarms: those raised in the month, by level (1 personal safety, 2 equipment, 3 notice);
   time to clear is the mean over those also cleared before ``end`` (hours); *open at month
   end* counts every alarm raised before ``end`` and not cleared before it. So a report
   depends on the month's data only, never on the day it is generated.
5. Orderly charging: the peak of any site's measured load in the month, the site limit at
   that instant and the headroom left (limit - measured); sites that ever exceeded their
   limit. Valley energy is the kWh of the ended sessions' charge details priced in the
   ``valley`` period, and its share of the priced kWh.
6. Residents served: distinct residents of the month's charged sessions; packages sold:
   subscriptions purchased in the month, and their price (fen, int).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from csms.city.availability import USABLE as USABLE
from csms.city.availability import ConnectionEvent as ConnectionEvent
from csms.city.availability import Offline as Offline
from csms.city.availability import StatusChange as StatusChange
from csms.city.availability import charger_down
from csms.city.availability import offline_windows as offline_windows
from csms.city.availability import status_at as status_at
from csms.city.availability import usable_seconds as usable_seconds
from csms.city.coverage import DistrictCoverage

STATUSES = ("Available", "Occupied", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE",
            "Finishing", "Reserved", "Unavailable", "Faulted", "Unknown")
LEVELS = (1, 2, 3)
VALLEY = "valley"


@dataclass(frozen=True, slots=True)
class District:
    id: int
    code: str | None
    name: str
    short_name: str | None = None
    pilot_target: int | None = None


@dataclass(frozen=True, slots=True)
class Community:
    id: int
    district_id: int
    name: str


@dataclass(frozen=True, slots=True)
class Site:
    id: int
    community_id: int


@dataclass(frozen=True, slots=True)
class Charger:
    id: str
    site_id: int | None


@dataclass(frozen=True, slots=True)
class Connector:
    station_id: str
    evse_id: int
    connector_id: int


@dataclass(frozen=True, slots=True)
class Evse:
    station_id: str
    evse_id: int
    power_w: int | None  # rated power; None: unknown


@dataclass(frozen=True, slots=True)
class Session:
    id: int
    station_id: str
    started_at: datetime | None
    ended_at: datetime
    energy_wh: int


@dataclass(frozen=True, slots=True)
class ChargeDetail:
    session_id: int
    resident_id: int | None
    period: str
    energy_kwh: Decimal


@dataclass(frozen=True, slots=True)
class Alarm:
    id: int
    level: int
    district_id: int | None
    raised_at: datetime
    cleared_at: datetime | None


@dataclass(frozen=True, slots=True)
class LoadPoint:
    site_id: int
    at: datetime
    limit_w: float
    measured_w: float


@dataclass(frozen=True, slots=True)
class Sale:
    community_id: int | None
    purchased_at: datetime
    price_fen: int


@dataclass(frozen=True, slots=True)
class MonthData:
    """Everything the figures need, gathered by csms.store.city.report."""

    month: str  # "2026-11"
    start: datetime
    end: datetime
    districts: Sequence[District] = ()
    communities: Sequence[Community] = ()
    sites: Sequence[Site] = ()
    chargers: Sequence[Charger] = ()
    connectors: Sequence[Connector] = ()
    evses: Sequence[Evse] = ()
    status_changes: Sequence[StatusChange] = ()  # the carried-in one and the month's
    offline: Sequence[Offline] = ()
    sessions: Sequence[Session] = ()  # ended in the month
    details: Sequence[ChargeDetail] = ()  # of those sessions
    alarms: Sequence[Alarm] = ()  # raised before end, not cleared before start
    load: Sequence[LoadPoint] = ()  # in the month
    sales: Sequence[Sale] = ()  # purchased in the month
    coverage: Sequence[DistrictCoverage] = ()


@dataclass(frozen=True, slots=True)
class Figures:
    """One district's (or the city's) month; ``district_id`` None is the city."""

    district_id: int | None
    code: str | None
    name: str
    communities: int = 0
    communities_built: int = 0
    communities_in_progress: int = 0
    covered_1km: int = 0
    uncovered_1km: int = 0
    unlocated: int = 0
    sites: int = 0
    chargers: int = 0
    connectors: int = 0
    connectors_by_status: dict[str, int] = field(default_factory=dict)
    installed_kw: Decimal = Decimal("0.000")
    sessions: int = 0
    energy_kwh: Decimal = Decimal("0.000")
    charging_hours: Decimal = Decimal("0.00")
    availability: Decimal | None = None  # share, 4 places
    alarms_by_level: dict[int, int] = field(default_factory=dict)
    hours_to_clear_by_level: dict[int, Decimal | None] = field(default_factory=dict)
    open_alarms_by_level: dict[int, int] = field(default_factory=dict)
    peak_site_load_kw: Decimal | None = None
    limit_at_peak_kw: Decimal | None = None
    headroom_at_peak_kw: Decimal | None = None
    sites_over_limit: int = 0
    valley_kwh: Decimal = Decimal("0.000")
    valley_share: Decimal | None = None
    residents_served: int = 0
    packages_sold: int = 0
    package_sales_fen: int = 0
    pilot_target: int | None = None
    pilot_progress: Decimal | None = None  # built / target, 4 places


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    month: str
    start: datetime
    end: datetime
    city: Figures | None  # None: a one-district report
    districts: tuple[Figures, ...]

    def of_district(self, district_id: int) -> MonthlyReport:
        """The report of one district: its figures only."""
        return MonthlyReport(self.month, self.start, self.end, None,
                             tuple(f for f in self.districts if f.district_id == district_id))


def _q(value: Decimal, places: str) -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _kw(watts: float) -> Decimal:
    return _q(Decimal(repr(float(watts))) / 1000, "0.001")


@dataclass(slots=True)
class _Places:
    community_district: dict[int, int]
    site_district: dict[int, int]
    station_district: dict[str, int | None]
    site_community: dict[int, int]


def _places(data: MonthData) -> _Places:
    cd = {c.id: c.district_id for c in data.communities}
    sc = {s.id: s.community_id for s in data.sites}
    sd = {s.id: cd[s.community_id] for s in data.sites if s.community_id in cd}
    st = {c.id: (None if c.site_id is None else sd.get(c.site_id)) for c in data.chargers}
    return _Places(cd, sd, st, sc)


def monthly_report(data: MonthData) -> MonthlyReport:
    """Every district's figures and the city's (rules 1-6)."""
    places = _places(data)
    city = _figures(data, places, None, District(0, None, "全市"))
    districts = tuple(_figures(data, places, d.id, d)
                      for d in sorted(data.districts, key=lambda d: d.id))
    return MonthlyReport(data.month, data.start, data.end, city, districts)


def _figures(data: MonthData, p: _Places, district_id: int | None,
             district: District) -> Figures:
    def mine(d: int | None) -> bool:
        return district_id is None or d == district_id

    communities = [c for c in data.communities if mine(c.district_id)]
    sites = [s for s in data.sites if mine(p.site_district.get(s.id))]
    chargers = [c for c in data.chargers if mine(p.station_district.get(c.id))]
    stations = {c.id for c in chargers}
    charged_sites = {c.site_id for c in chargers if c.site_id is not None}
    built = {p.site_community[s] for s in charged_sites if s in p.site_community}
    with_site = {s.community_id for s in sites}
    connectors = [c for c in data.connectors if c.station_id in stations
                  and c.connector_id >= 1]
    history: dict[tuple[str, int, int], list[StatusChange]] = {}
    for change in data.status_changes:
        key = (change.station_id, change.evse_id, change.connector_id)
        history.setdefault(key, []).append(change)
    by_status = Counter(status_at(history.get((c.station_id, c.evse_id, c.connector_id), ()),
                                  data.end) for c in connectors)
    month_s = (data.end - data.start).total_seconds()
    down = [*data.offline, *charger_down(data.status_changes, data.start, data.end)]
    usable = sum(usable_seconds(history.get((c.station_id, c.evse_id, c.connector_id), ()),
                                [o for o in down if o.station_id == c.station_id],
                                data.start, data.end) for c in connectors)
    availability = (None if not connectors or month_s <= 0
                    else _q(Decimal(repr(usable / (len(connectors) * month_s))), "0.0001"))
    installed = sum((e.power_w or 0 for e in data.evses if e.station_id in stations), 0)
    sessions = [s for s in data.sessions if s.station_id in stations
                and data.start <= s.ended_at < data.end]
    ids = {s.id for s in sessions}
    details = [d for d in data.details if d.session_id in ids]
    wh = sum(s.energy_wh for s in sessions)
    seconds = sum(max(timedelta(0), s.ended_at - s.started_at).total_seconds()
                  for s in sessions if s.started_at is not None)
    priced = sum((d.energy_kwh for d in details), Decimal(0))
    valley = sum((d.energy_kwh for d in details if d.period == VALLEY), Decimal(0))
    alarms = [a for a in data.alarms if mine(a.district_id)]
    peak, over = _peak(data.load, {s.id for s in sites})
    built_n = len(built & {c.id for c in communities})
    target = district.pilot_target if district_id is not None else sum(
        d.pilot_target or 0 for d in data.districts) or None
    coverage = [c for c in data.coverage if mine(c.district_id)]
    raised, hours, open_ = _alarm_figures(alarms, data.start, data.end)
    sold = [x for x in data.sales if data.start <= x.purchased_at < data.end and mine(
        None if x.community_id is None else p.community_district.get(x.community_id))]
    return Figures(
        district_id=district_id, code=district.code, name=district.name,
        communities=len(communities), communities_built=built_n,
        communities_in_progress=len((with_site - built) & {c.id for c in communities}),
        covered_1km=sum(c.covered for c in coverage),
        uncovered_1km=sum(c.uncovered for c in coverage),
        unlocated=sum(c.unlocated for c in coverage),
        sites=len(sites), chargers=len(chargers), connectors=len(connectors),
        connectors_by_status={s: by_status.get(s, 0) for s in STATUSES},
        installed_kw=_q(Decimal(installed) / 1000, "0.001"),
        sessions=len(sessions), energy_kwh=_q(Decimal(wh) / 1000, "0.001"),
        charging_hours=_q(Decimal(round(seconds)) / 3600, "0.01"),
        availability=availability, alarms_by_level=raised, hours_to_clear_by_level=hours,
        open_alarms_by_level=open_,
        peak_site_load_kw=None if peak is None else _kw(peak.measured_w),
        limit_at_peak_kw=None if peak is None else _kw(peak.limit_w),
        headroom_at_peak_kw=None if peak is None else _kw(peak.limit_w - peak.measured_w),
        sites_over_limit=over, valley_kwh=_q(valley, "0.001"),
        valley_share=None if priced == 0 else _q(valley / priced, "0.0001"),
        residents_served=len({d.resident_id for d in details if d.resident_id is not None}),
        packages_sold=len(sold), package_sales_fen=sum(x.price_fen for x in sold),
        pilot_target=target,
        pilot_progress=None if not target else _q(Decimal(built_n) / target, "0.0001"),
    )


def _alarm_figures(alarms: Sequence[Alarm], start: datetime, end: datetime
                   ) -> tuple[dict[int, int], dict[int, Decimal | None], dict[int, int]]:
    """Rule 4."""
    raised = [a for a in alarms if start <= a.raised_at < end]
    hours: dict[int, Decimal | None] = {}
    for level in LEVELS:
        cleared = [(a.cleared_at - a.raised_at).total_seconds() for a in raised
                   if a.level == level and a.cleared_at is not None and a.cleared_at < end]
        hours[level] = (None if not cleared else
                        _q(Decimal(round(sum(cleared))) / 3600 / len(cleared), "0.01"))
    open_ = Counter(a.level for a in alarms if a.raised_at < end
                    and (a.cleared_at is None or a.cleared_at >= end))
    count = Counter(a.level for a in raised)
    return ({lv: count.get(lv, 0) for lv in LEVELS}, hours,
            {lv: open_.get(lv, 0) for lv in LEVELS})


def _peak(points: Sequence[LoadPoint], sites: set[int]) -> tuple[LoadPoint | None, int]:
    """Rule 5: the highest measured point (ties: the earliest) and sites over their limit."""
    mine = [pt for pt in points if pt.site_id in sites]
    peak = min(mine, key=lambda pt: (-pt.measured_w, pt.at, pt.site_id), default=None)
    over = len({pt.site_id for pt in mine if pt.measured_w > pt.limit_w})
    return peak, over
