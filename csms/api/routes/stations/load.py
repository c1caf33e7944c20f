"""Orderly charging: a site's load settings, feeders, base load, allocations and series
(family ``load``).

Every role that reads ``load`` sees the sites in its scope; admin and operator write. A
write changes the database (audited) and asks the load service to re-allocate the site at
once; the chargers get new profiles from that pass, not from the request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from csms.api.access import Family, Principal
from csms.api.deps import CsmsDep, require
from csms.api.models import MAX_ID, ONE, WRITE_ONE, Printable, UtcTime, store_errors
from csms.api.scope import require_site, require_station
from csms.app import Csms
from csms.smartcharging.site import headroom
from csms.store.load.config import LoadConfig, read_feeders, read_site_load
from csms.store.load.store import EvseDefaults, LoadStore

router = APIRouter(tags=["orderly charging"])
Reader = Annotated[Principal, Depends(require(Family.LOAD, "read"))]
Writer = Annotated[Principal, Depends(require(Family.LOAD, "write"))]
SiteId = Annotated[int, Path(ge=1, le=MAX_ID)]
FeederId = Annotated[int, Path(ge=1, le=MAX_ID)]
StationId = Annotated[str, Path(min_length=1, max_length=48)]
EvseId = Annotated[int, Path(ge=0, le=1000)]
Watts = Annotated[float, Field(ge=0, le=1e9)]
From = Annotated[UtcTime | None, Query(alias="from", description="at or after (ISO time)")]
To = Annotated[UtcTime | None, Query(alias="to", description="before (ISO time)")]


class SiteLoadIn(BaseModel):
    """The site's electrical settings: headroom = loading_factor x transformer_kva x 1000 x
    power_factor - base load - margin_w, at most hard_cap_w."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    transformer_kva: float = Field(gt=0, le=100_000)
    loading_factor: float = Field(default=0.8, gt=0, le=1.5)
    power_factor: float = Field(default=1.0, gt=0, le=1)
    margin_w: Watts = 0.0
    supply_phases: int = Field(default=3, ge=1, le=3)
    voltage_v: float = Field(default=220.0, ge=100, le=400)
    hard_cap_w: Watts | None = None
    reading_max_age_s: int = Field(default=300, ge=1, le=86_400,
                                   description="a live reading older than this is stale: "
                                   "the base-load profile is used instead")


class FeederOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    parent_id: int | None
    name: str
    limit_w: float


class SiteLoadOut(SiteLoadIn):
    model_config = ConfigDict(from_attributes=True)

    site_id: int
    updated_at: datetime
    feeders: list[FeederOut] = []
    headroom_w: float | None = None
    base_load_w: float | None = None
    base_load_source: str | None = None


class ProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workday_w: list[Watts] = Field(min_length=24, max_length=24,
                                   description="base load by local hour 0..23, W")
    rest_day_w: list[Watts] | None = Field(default=None, min_length=24, max_length=24)


class ProfileOut(BaseModel):
    workday_w: list[float] = Field(description="base load by local hour 0..23, W")
    rest_day_w: list[float]


class ReadingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    load_w: Watts
    at: UtcTime | None = Field(default=None, description="default: now")


class FeederIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100), Printable]
    limit_w: Watts
    parent_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class EvseLoadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feeder_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    max_current_a: float | None = Field(default=None, gt=0, le=1000)
    phases: int | None = Field(default=None, ge=1, le=3)


class EvseLoadOut(EvseLoadIn):
    model_config = ConfigDict(from_attributes=True)

    station_id: str
    evse_id: int


class AllocationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    station_id: str
    evse_id: int
    session_id: int
    limit_a: float
    reason: str
    phases: int
    max_a: float
    sent_limit_a: float | None
    lease_until: datetime | None
    refused: bool
    measured_w: float | None


class AllocationsOut(BaseModel):
    at: datetime | None
    headroom_w: float | None
    allocated_w: float | None
    measured_w: float | None
    overloaded: bool
    connectors: list[AllocationOut]
    safe_shares_a: dict[str, float]
    node: str | None = None  # in a cluster: the node that owns the site and made this


class SeriesPointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    limit_w: float
    allocated_w: float
    measured_w: float
    base_load_w: float


def _config(csms: Csms) -> LoadConfig:
    return LoadConfig(csms.store.writer)


def _changed(csms: Csms, site_id: int) -> None:
    if csms.load is not None:
        csms.load.site_changed(site_id)


async def _site_out(csms: Csms, site_id: int) -> SiteLoadOut:
    async with csms.engine.connect() as conn:
        record = await read_site_load(conn, site_id)
        if record is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "the site has no load settings")
        feeders = await read_feeders(conn, site_id)
    out = SiteLoadOut.model_validate(record)
    out.feeders = [FeederOut.model_validate(f) for f in feeders]
    model = await LoadStore(csms.engine, csms.store.writer).site_model(site_id, EvseDefaults())
    if model is not None:
        now = headroom(model.limits, csms.stations.now(), model.profile, model.reading)
        out.headroom_w, out.base_load_w = now.available_w, now.base_load_w
        out.base_load_source = now.source
    return out


@router.get("/sites/{site_id}/load", response_model=SiteLoadOut, responses=ONE)
async def get_site_load(site_id: SiteId, csms: CsmsDep, principal: Reader) -> SiteLoadOut:
    """The site's load settings, feeders and headroom now (404: none configured)."""
    await require_site(csms, principal, site_id)
    return await _site_out(csms, site_id)


@router.put("/sites/{site_id}/load", response_model=SiteLoadOut, responses=WRITE_ONE)
async def put_site_load(site_id: SiteId, body: SiteLoadIn, csms: CsmsDep,
                        principal: Writer) -> SiteLoadOut:
    """Create or replace the site's load settings."""
    await require_site(csms, principal, site_id)
    with store_errors():
        await _config(csms).put_site(site_id, body.model_dump(), principal.actor)
    _changed(csms, site_id)
    return await _site_out(csms, site_id)


@router.put("/sites/{site_id}/load/base-load-profile", status_code=status.HTTP_204_NO_CONTENT,
            responses=WRITE_ONE)
async def put_profile(site_id: SiteId, body: ProfileIn, csms: CsmsDep,
                      principal: Writer) -> None:
    """Replace the base-load profile (rest days default to the workday values)."""
    await require_site(csms, principal, site_id)
    with store_errors():
        await _config(csms).put_profile(site_id, body.workday_w, body.rest_day_w,
                                        principal.actor)
    _changed(csms, site_id)


@router.get("/sites/{site_id}/load/base-load-profile", response_model=ProfileOut,
            responses=ONE)
async def get_profile(site_id: SiteId, csms: CsmsDep, principal: Reader) -> ProfileOut:
    """The base-load profile by local hour (404 when none is set)."""
    await require_site(csms, principal, site_id)
    profile = await LoadStore(csms.engine, csms.store.writer).base_load_profile(site_id)
    if profile is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the site has no base-load profile")
    return ProfileOut(workday_w=list(profile.workday_w), rest_day_w=list(profile.rest_day_w))


@router.post("/sites/{site_id}/load/base-load-readings", status_code=status.HTTP_204_NO_CONTENT,
             responses=WRITE_ONE)
async def post_reading(site_id: SiteId, body: ReadingIn, csms: CsmsDep,
                       principal: Writer) -> None:
    """A live base-load reading from the building meter (W); the latest one counts while
    it is fresher than ``reading_max_age_s``."""
    await require_site(csms, principal, site_id)
    with store_errors():
        await _config(csms).put_reading(site_id, body.load_w, body.at or csms.stations.now(),
                                        principal.actor)
    _changed(csms, site_id)


@router.post("/sites/{site_id}/load/feeders", status_code=status.HTTP_201_CREATED,
             response_model=FeederOut, responses=WRITE_ONE)
async def add_feeder(site_id: SiteId, body: FeederIn, csms: CsmsDep,
                     principal: Writer) -> FeederOut:
    """A sub-circuit of the site with its own limit (W), under another feeder or the site."""
    await require_site(csms, principal, site_id)
    with store_errors():
        record = await _config(csms).add_feeder(site_id, body.name, body.limit_w,
                                                body.parent_id, principal.actor)
    _changed(csms, site_id)
    return FeederOut.model_validate(record)


@router.delete("/sites/{site_id}/load/feeders/{feeder_id}",
               status_code=status.HTTP_204_NO_CONTENT, responses=WRITE_ONE)
async def delete_feeder(site_id: SiteId, feeder_id: FeederId, csms: CsmsDep,
                        principal: Writer) -> None:
    """Remove a feeder with nothing under it (409 otherwise)."""
    await require_site(csms, principal, site_id)
    with store_errors():
        await _config(csms).delete_feeder(site_id, feeder_id, principal.actor)
    _changed(csms, site_id)


@router.put("/charge-points/{station_id}/evses/{evse_id}/load", response_model=EvseLoadOut,
            responses=WRITE_ONE)
async def put_evse_load(station_id: StationId, evse_id: EvseId, body: EvseLoadIn,
                        csms: CsmsDep, principal: Writer) -> EvseLoadOut:
    """An EVSE's feeder, maximum current and phases (EVSE 0: every EVSE of the charger)."""
    await require_station(csms, principal, station_id)
    with store_errors():
        record = await _config(csms).put_evse(station_id, evse_id, body.model_dump(),
                                              principal.actor)
    site = await LoadStore(csms.engine, csms.store.writer).site_of_station(station_id)
    if site is not None:
        _changed(csms, site)
    return EvseLoadOut.model_validate(record)


class NeedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    energy_wh: float = Field(gt=0, le=1e6, description="energy the car still needs, Wh")
    departure_at: UtcTime


@router.put("/charge-points/{station_id}/evses/{evse_id}/charging-needs",
            status_code=status.HTTP_204_NO_CONTENT, responses=WRITE_ONE)
async def put_charging_needs(station_id: StationId, evse_id: EvseId, body: NeedIn,
                             csms: CsmsDep, principal: Writer) -> None:
    """The running session on this EVSE needs ``energy_wh`` by ``departure_at`` (a
    resident's setting): used for urgency and valley shifting until the session ends. 409
    when load management is off on this node."""
    await require_station(csms, principal, station_id)
    if csms.load is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "load management is disabled")
    with store_errors():
        await _config(csms).record_need(station_id, evse_id, body.energy_wh,
                                        body.departure_at, principal.actor)
    csms.load.declare_need(station_id, evse_id, body.energy_wh, body.departure_at)


@router.get("/sites/{site_id}/load/allocations", response_model=AllocationsOut, responses=ONE)
async def get_allocations(site_id: SiteId, csms: CsmsDep, principal: Reader) -> AllocationsOut:
    """The current limit of every connector with a session, from the last pass of the node
    that allocates the site (in a cluster, whichever node is asked)."""
    await require_site(csms, principal, site_id)
    view = csms.load.view(site_id) if csms.load is not None else None
    remembered = None if view is not None or csms.load is None else (
        await csms.load.remembered(site_id))
    if remembered is not None:
        return AllocationsOut.model_validate({**remembered[1], "node": remembered[0]})
    if view is None:
        return AllocationsOut(at=None, headroom_w=None, allocated_w=None, measured_w=None,
                              overloaded=False, connectors=[], safe_shares_a={})
    return AllocationsOut(
        at=view.at, headroom_w=view.headroom.available_w, allocated_w=view.allocated_w,
        measured_w=view.measured_w, overloaded=view.overloaded,
        connectors=[AllocationOut.model_validate(c) for c in view.connectors],
        safe_shares_a=view.safe_shares_a,
        node=None if csms.load is None or csms.load.ownership is None
        else csms.load.ownership.node)


@router.get("/sites/{site_id}/load/series", response_model=list[SeriesPointOut], responses=ONE)
async def get_series(
    site_id: SiteId, csms: CsmsDep, principal: Reader, start: From = None, end: To = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[SeriesPointOut]:
    """The site's series (headroom as limit, allocated, measured, base load), oldest
    first, in ``[from, to)``."""
    await require_site(csms, principal, site_id)
    points = await LoadStore(csms.engine, csms.store.writer).series(site_id, start, end, limit)
    return [SeriesPointOut.model_validate(p) for p in points]
