"""Tariffs, packages and session charges (family ``billing``).

Tariffs and packages are versions (tables_billing Rule 2): POST creates a new version, and
there is no PATCH or DELETE; a session's charge, stored when it ended, never changes.
Scope: a tariff lies in its community (or its site's); a package in every community it
applies to; a session's charge where its charge point stands. Admin and operator write,
each write audited; money is decimal yuan as a string ("8.51"), exact.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi import status as http_status
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Row, select

from csms.api.access import Family, Principal, in_scope
from csms.api.deps import CsmsDep, require
from csms.api.models import (
    FORBIDDEN,
    MAX_ID,
    ONE,
    WRITE,
    Id,
    Page,
    PagingDep,
    found,
    page_of,
    require_reference_scope,
    store_errors,
)
from csms.api.scope import require_location, visible_communities
from csms.app import Csms
from csms.services.billing.tariffs import PackageBody, TariffBody
from csms.store import tables as t
from csms.store.access import location_of_community, location_of_site, location_of_station
from csms.store.billing.admin import BillingAdmin
from csms.store.billing.reads import BillingReads, Charge
from csms.store.billing.rows import plain, yuan
from csms.store.rows import utc

router = APIRouter(tags=["billing: tariffs and packages"])
Reader = Annotated[Principal, Depends(require(Family.BILLING, "read"))]
Writer = Annotated[Principal, Depends(require(Family.BILLING, "write"))]
TariffId = Annotated[int, Path(ge=1, le=MAX_ID)]
PackageId = Annotated[int, Path(ge=1, le=MAX_ID)]
SessionId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class TariffIn(TariffBody):
    """A tariff version for exactly one of a community or a site."""

    community_id: Id | None = None
    site_id: Id | None = None

    @model_validator(mode="after")
    def _one_place(self) -> TariffIn:
        if (self.community_id is None) == (self.site_id is None):
            raise ValueError("give exactly one of community_id and site_id")
        return self


class SegmentOut(BaseModel):
    start: str
    end: str
    period: str
    yuan_per_kwh: Decimal
    day_types: list[str]


class ScheduleOut(BaseModel):
    default_yuan_per_kwh: Decimal
    default_period: str
    segments: list[SegmentOut]


class TariffOut(BaseModel):
    id: int
    community_id: int | None
    site_id: int | None
    name: str
    effective_from: datetime
    zone: str
    currency: str
    electricity: ScheduleOut
    service: ScheduleOut
    holidays: list[str]
    workdays: list[str]
    created_at: datetime


class PackageOut(BaseModel):
    id: int
    code: str
    version: int
    name: str
    price_yuan: Decimal
    included_kwh: Decimal
    coverage: str
    periods: list[str] | None
    zone: str
    communities: list[int]
    created_at: datetime


class DetailOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    starts_at: datetime
    ends_at: datetime
    period: str
    tariff_id: int
    energy_kwh: Decimal
    electricity_yuan_per_kwh: Decimal
    service_yuan_per_kwh: Decimal
    electricity_yuan: Decimal
    service_yuan: Decimal


class ChargeOut(BaseModel):
    """A session's charge: full price (details sum to it), package kWh, what was paid."""

    model_config = ConfigDict(from_attributes=True)

    session_id: int
    resident_id: int | None
    started_at: datetime
    ended_at: datetime
    energy_kwh: Decimal
    electricity_yuan: Decimal
    service_yuan: Decimal
    total_yuan: Decimal
    package_kwh: Decimal
    due_yuan: Decimal = Field(description="what the resident pays after packages")
    wallet_yuan: Decimal = Field(description="taken from the wallet")
    shortfall_yuan: Decimal = Field(description="booked as owed (credit floor reached)")
    details: list[DetailOut]


def _schedule(row: Row[Any], segments: list[Row[Any]], component: str) -> ScheduleOut:
    return ScheduleOut(
        default_yuan_per_kwh=plain(getattr(row, f"{component}_yuan_per_kwh")),
        default_period=getattr(row, f"{component}_period"),
        segments=[SegmentOut(start=s.starts.strftime("%H:%M"), end=s.ends.strftime("%H:%M"),
                             period=s.period, yuan_per_kwh=plain(s.yuan_per_kwh),
                             day_types=s.day_types.split(","))
                  for s in segments if s.component == component])


def _tariff(row: Row[Any], segments: list[Row[Any]]) -> TariffOut:
    return TariffOut(
        id=row.id, community_id=row.community_id, site_id=row.site_id, name=row.name,
        effective_from=utc(row.effective_from), zone=row.zone, currency=row.currency,
        electricity=_schedule(row, segments, "electricity"),
        service=_schedule(row, segments, "service"), holidays=row.holidays,
        workdays=row.workdays, created_at=utc(row.created_at))


def _package(row: Row[Any]) -> PackageOut:
    return PackageOut(
        id=row.id, code=row.code, version=row.version, name=row.name,
        price_yuan=yuan(row.price_fen), included_kwh=plain(row.included_kwh),
        coverage=row.coverage,
        periods=row.periods.split(",") if row.periods else None, zone=row.zone,
        communities=row.communities, created_at=utc(row.created_at))


async def _tariff_place(csms: Csms, row: Row[Any]) -> Any:
    if row.site_id is not None:
        return await location_of_site(csms.engine, row.site_id)
    return await location_of_community(csms.engine, row.community_id)


async def _sites_of(csms: Csms, communities: set[int]) -> set[int]:
    async with csms.engine.connect() as conn:
        rows = await conn.execute(select(t.sites.c.id).where(
            t.sites.c.community_id.in_(communities)))
        return set(rows.scalars().all())


def charge_out(charge: Charge) -> ChargeOut:
    return ChargeOut.model_validate(charge)


@router.post("/tariffs", status_code=http_status.HTTP_201_CREATED, response_model=TariffOut,
             responses=WRITE)
async def create_tariff(body: TariffIn, csms: CsmsDep, principal: Writer) -> TariffOut:
    """A new tariff version for a community or a site. It prices sessions from
    ``effective_from`` on; ended sessions keep their stored charge (409 if a version of the
    same place already starts at that instant; 422 naming an unknown community or site)."""
    place = (await location_of_site(csms.engine, body.site_id) if body.site_id
             else await location_of_community(csms.engine, body.community_id))
    require_reference_scope(principal, place)
    spec = body.spec(body.community_id, body.site_id)
    with store_errors():
        tariff_id = await BillingAdmin(csms.store.writer).create_tariff(
            spec, csms.stations.now(), principal.actor)
    row, segments = found(await BillingReads(csms.engine).tariff(tariff_id), "tariff")
    return _tariff(row, segments)


@router.get("/tariffs", response_model=Page[TariffOut], responses=FORBIDDEN)
async def list_tariffs(csms: CsmsDep, principal: Reader, page: PagingDep) -> Page[TariffOut]:
    """Tariff versions by id; a scoped token lists those of its communities and their sites."""
    visible = await visible_communities(csms, principal)
    sites = None if visible is None else await _sites_of(csms, visible)
    reads = BillingReads(csms.engine)
    listed = await reads.tariffs(visible, sites, page.limit, page.offset)
    items = []
    for row in listed.items:
        full = found(await reads.tariff(row.id), "tariff")
        items.append(_tariff(*full))
    return page_of(items, listed.total, page)


@router.get("/tariffs/{tariff_id}", response_model=TariffOut, responses=ONE)
async def get_tariff(tariff_id: TariffId, csms: CsmsDep, principal: Reader) -> TariffOut:
    """One tariff version with its time-of-use segments."""
    row, segments = found(await BillingReads(csms.engine).tariff(tariff_id), "tariff")
    require_location(principal, await _tariff_place(csms, row), "tariff")
    return _tariff(row, segments)


@router.post("/packages", status_code=http_status.HTTP_201_CREATED, response_model=PackageOut,
             responses=WRITE)
async def create_package(body: PackageBody, csms: CsmsDep, principal: Writer) -> PackageOut:
    """A new package; with the code of an existing one, its next version (existing
    subscriptions keep the version they bought)."""
    for community in body.communities:
        require_reference_scope(principal, await location_of_community(csms.engine, community))
    with store_errors():
        package_id = await BillingAdmin(csms.store.writer).create_package(
            body.spec(), csms.stations.now(), principal.actor)
    return _package(found(await BillingReads(csms.engine).package(package_id), "package"))


@router.get("/packages", response_model=Page[PackageOut], responses=FORBIDDEN)
async def list_packages(csms: CsmsDep, principal: Reader, page: PagingDep,
                        community_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                        ) -> Page[PackageOut]:
    """Packages by id (every version); a scoped token lists those that apply to one of its
    communities."""
    visible = await visible_communities(csms, principal)
    listed = await BillingReads(csms.engine).packages(MAX_ID, 0)
    rows = [r for r in listed.items
            if (visible is None or set(r.communities) & visible)
            and (community_id is None or community_id in r.communities)]
    window = rows[page.offset:page.offset + page.limit]
    return page_of([_package(r) for r in window], len(rows), page)


@router.get("/packages/{package_id}", response_model=PackageOut, responses=ONE)
async def get_package(package_id: PackageId, csms: CsmsDep, principal: Reader) -> PackageOut:
    """One package version."""
    row = found(await BillingReads(csms.engine).package(package_id), "package")
    if principal.scoped:
        visible = await visible_communities(csms, principal) or set()
        if not set(row.communities) & visible:
            raise HTTPException(http_status.HTTP_403_FORBIDDEN, "outside the token's scope")
    return _package(row)


@router.get("/sessions/{session_id}/charge", response_model=ChargeOut, responses=ONE)
async def get_session_charge(session_id: SessionId, csms: CsmsDep,
                             principal: Reader) -> ChargeOut:
    """The session's charge as posted when it ended (404 if it was not priced)."""
    async with csms.engine.connect() as conn:
        station = (await conn.execute(select(t.sessions.c.station_id).where(
            t.sessions.c.id == session_id))).scalar_one_or_none()
    if station is None:
        raise HTTPException(http_status.HTTP_404_NOT_FOUND, "no such session")
    location = await location_of_station(csms.engine, station)
    if location is not None and not in_scope(principal, location.district_id,
                                             location.community_id):
        raise HTTPException(http_status.HTTP_403_FORBIDDEN, "outside the token's scope")
    charge = found(await BillingReads(csms.engine).charge(session_id), "charge")
    return charge_out(charge)
