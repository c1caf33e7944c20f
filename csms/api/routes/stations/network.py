"""Sites and charge points, with their connectors, passwords and registration (family
``network``).

Scope: a scoped token sees the sites of its communities and the charge points on them; a
charge point without a site is visible only to unscoped tokens. A single site or charge
point that does not exist is 404; one that exists outside the token's scope is 403. Admin and
operator write.

A charge point's registration status is what it is told at its next BootNotification; its
password (OCPP security profiles 1 and 2) is checked at its next connection. Neither change
is pushed to the charger by these endpoints.
"""

from __future__ import annotations

import asyncio
import functools
import zoneinfo
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Body, Depends, HTTPException, Path, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from csms import passwords
from csms.api.access import Family, Principal
from csms.api.deps import CsmsDep, require
from csms.api.models import (
    FORBIDDEN,
    MAX_ID,
    ONE,
    WRITE,
    WRITE_ONE,
    AsNumber,
    Id,
    Latitude,
    Longitude,
    NotNull,
    Page,
    PagingDep,
    Printable,
    QueryId,
    found,
    page_of,
    require_reference_scope,
    store_errors,
)
from csms.api.scope import require_site, require_station, visible_communities
from csms.app import Csms
from csms.domain.commands import CloseConnection
from csms.domain.model import RegistrationStatus, StationEventReported
from csms.errors import CommandError, StationOffline
from csms.store.access import location_of_community, location_of_site
from csms.store.network import ChargePoint, ChargePointFilter, Network

log = structlog.get_logger(__name__)
router = APIRouter(tags=["sites and charge points"])
Reader = Annotated[Principal, Depends(require(Family.NETWORK, "read"))]
Writer = Annotated[Principal, Depends(require(Family.NETWORK, "write"))]
SiteId = Annotated[int, Path(ge=1, le=MAX_ID)]
StationId = Annotated[str, Path(min_length=1, max_length=48)]


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _zone(value: str) -> str:
    if value not in _zones():
        raise ValueError("is not an IANA time zone, e.g. Asia/Shanghai")
    return value


SiteName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=200), Printable]
Kva = Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=2,
                               description="transformer capacity, kVA"), AsNumber]
PowerW = Annotated[int, Field(ge=0, le=MAX_ID, description="site power limit, W")]
TimeZone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_zone)]
StationKey = Annotated[str, StringConstraints(
    min_length=1, max_length=48, pattern=r"^[^/\s\x00-\x1f\x7f]+$")]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                         max_length=50), Printable]
Password = Annotated[str, StringConstraints(min_length=16, max_length=40,
                                            pattern=r"^[\x21-\x7e]+$")]


class SiteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    community_id: Id
    name: SiteName
    transformer_kva: Kva | None = None
    max_power_w: PowerW | None = None
    timezone: TimeZone = "Asia/Shanghai"
    latitude: Latitude | None = Field(default=None, description="null: at its community")
    longitude: Longitude | None = None


class SitePatch(BaseModel):
    """Only the fields given change; the limits may be set to null."""

    model_config = ConfigDict(extra="forbid")

    community_id: Annotated[Id | None, NotNull] = None
    name: Annotated[SiteName | None, NotNull] = None
    transformer_kva: Kva | None = None
    max_power_w: PowerW | None = None
    timezone: Annotated[TimeZone | None, NotNull] = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None


class SiteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    community_id: int
    name: str
    transformer_kva: Kva | None
    max_power_w: int | None
    timezone: str
    latitude: Latitude | None
    longitude: Longitude | None


class ChargePointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: StationKey = Field(description="the charge point identity, last segment of its URL")
    site_id: Id | None = None
    vendor: Label | None = Field(default=None, description="replaced by what it reports")
    model: Label | None = Field(default=None, description="replaced by what it reports")
    registration_status: RegistrationStatus = RegistrationStatus.ACCEPTED


class ChargePointPatch(BaseModel):
    """Only the fields given change; ``site_id`` null takes it off its site."""

    model_config = ConfigDict(extra="forbid")

    site_id: Id | None = None
    vendor: Label | None = None
    model: Label | None = None
    security_profile: Literal[0, 1, 2, 3] | None = Field(
        default=None, description="the lowest OCPP security profile it is held to (null: the"
        " server's); lowering it is only ever done here, and audited")


class ChargePointOut(BaseModel):
    id: str
    site_id: int | None
    community_id: int | None
    registration_status: RegistrationStatus
    has_password: bool
    connected: bool = Field(description="connected to this node now")
    ocpp_version: str | None
    vendor: str | None
    model: str | None
    serial_number: str | None
    firmware_version: str | None
    created_at: datetime
    last_boot_at: datetime | None
    security_profile: int | None
    last_seen_at: datetime | None


class RegistrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: RegistrationStatus


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Password | None = Field(
        default=None, description="16 to 40 printable ASCII characters; left out: generate")


class PasswordOut(BaseModel):
    charge_point: ChargePointOut
    password: str | None = Field(
        description="the generated password, shown only here; null when it was given")


class ConnectorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    evse_id: int
    connector_id: int
    status: str
    error_code: str | None
    vendor_error_code: str | None
    status_at: datetime
    max_current_a: float | None
    phases: int | None


def _repo(csms: Csms) -> Network:
    return Network(csms.engine, csms.store.writer)


def _out(csms: Csms, record: ChargePoint) -> ChargePointOut:
    return ChargePointOut(**asdict(record), connected=csms.connections.get(record.id) is not None)


async def _community_in_scope(csms: Csms, principal: Principal, community_id: int) -> None:
    if principal.scoped:
        require_reference_scope(principal, await location_of_community(csms.engine,
                                                                       community_id))


async def _site_in_scope(csms: Csms, principal: Principal, site_id: int | None) -> None:
    if principal.scoped and site_id is not None:
        require_reference_scope(principal, await location_of_site(csms.engine, site_id))


@router.get("/sites", response_model=Page[SiteOut], responses=FORBIDDEN)
async def list_sites(csms: CsmsDep, principal: Reader, page: PagingDep,
                     community_id: QueryId = None) -> Page[SiteOut]:
    """Sites by id, optionally of one community; a scoped token lists only its own."""
    listed = await _repo(csms).sites(await visible_communities(csms, principal), community_id,
                                     page.limit, page.offset)
    return page_of([SiteOut.model_validate(s) for s in listed.items], listed.total, page)


@router.get("/sites/{site_id}", response_model=SiteOut, responses=ONE)
async def get_site(site_id: SiteId, csms: CsmsDep, principal: Reader) -> SiteOut:
    """One site, with its transformer and power limit."""
    await require_site(csms, principal, site_id)
    return SiteOut.model_validate(found(await _repo(csms).site(site_id), "site"))


@router.post("/sites", status_code=status.HTTP_201_CREATED, response_model=SiteOut,
             responses=WRITE)
async def create_site(body: SiteIn, csms: CsmsDep, principal: Writer) -> SiteOut:
    """Add a site (a car park or charging area) to a community."""
    await _community_in_scope(csms, principal, body.community_id)
    with store_errors():
        out = SiteOut.model_validate(await _repo(csms).add_site(body.model_dump(),
                                                                principal.actor))
    await _platform_sites(csms, out.id)
    return out


@router.patch("/sites/{site_id}", response_model=SiteOut, responses=WRITE_ONE)
async def update_site(site_id: SiteId, body: SitePatch, csms: CsmsDep,
                      principal: Writer) -> SiteOut:
    """Change a site's name, limits, time zone or community."""
    await require_site(csms, principal, site_id)
    if body.community_id is not None:
        await _community_in_scope(csms, principal, body.community_id)
    with store_errors():
        out = SiteOut.model_validate(await _repo(csms).update_site(
            site_id, body.model_dump(exclude_unset=True), principal.actor))
    await _platform_sites(csms, site_id)
    return out


@router.delete("/sites/{site_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=WRITE_ONE)
async def delete_site(site_id: SiteId, csms: CsmsDep, principal: Writer) -> None:
    """Delete a site that has no charge points (409 otherwise)."""
    await require_site(csms, principal, site_id)
    with store_errors():
        await _repo(csms).delete_site(site_id, principal.actor)


@router.get("/charge-points", response_model=Page[ChargePointOut], responses=FORBIDDEN)
async def list_charge_points(
    csms: CsmsDep, principal: Reader, page: PagingDep, site_id: QueryId = None,
    community_id: QueryId = None, registration_status: RegistrationStatus | None = None,
) -> Page[ChargePointOut]:
    """Charge points by id, filtered by site, community and registration status. A scoped
    token lists only those on sites of its communities."""
    where = ChargePointFilter(await visible_communities(csms, principal), site_id,
                              community_id, registration_status)
    listed = await _repo(csms).charge_points(where, page.limit, page.offset)
    return page_of([_out(csms, cp) for cp in listed.items], listed.total, page)


@router.get("/charge-points/{station_id}", response_model=ChargePointOut, responses=ONE)
async def get_charge_point(station_id: StationId, csms: CsmsDep,
                           principal: Reader) -> ChargePointOut:
    """One charge point: its site, registration, what it reported at boot, when seen."""
    await require_station(csms, principal, station_id)
    return _out(csms, found(await _repo(csms).charge_point(station_id), "charge point"))


@router.post("/charge-points", status_code=status.HTTP_201_CREATED,
             response_model=ChargePointOut, responses=WRITE)
async def create_charge_point(body: ChargePointIn, csms: CsmsDep,
                              principal: Writer) -> ChargePointOut:
    """Register a charge point (409 if the id is taken); give it a password with
    ``POST /charge-points/{id}/password``."""
    await _site_in_scope(csms, principal, body.site_id)
    values = {**body.model_dump(), "created_at": csms.stations.now()}
    with store_errors():
        added = await _repo(csms).add_charge_point(values, principal.actor)
    await _platform_sites(csms, added.site_id)
    return _out(csms, added)


@router.patch("/charge-points/{station_id}", response_model=ChargePointOut,
              responses=WRITE_ONE)
async def update_charge_point(station_id: StationId, body: ChargePointPatch, csms: CsmsDep,
                              principal: Writer) -> ChargePointOut:
    """Move a charge point to a site (or off it), or correct its vendor and model."""
    await require_station(csms, principal, station_id)
    await _site_in_scope(csms, principal, body.site_id)
    before = await _repo(csms).charge_point(station_id)
    with store_errors():
        changed = await _repo(csms).update_charge_point(
            station_id, body.model_dump(exclude_unset=True), principal.actor)
    await _platform_sites(csms, changed.site_id, None if before is None else before.site_id)
    return _out(csms, changed)


async def _platform_sites(csms: Csms, *site_ids: int | None) -> None:
    """Station info for the municipal platform after a change (csms.services.platform.pushes)."""
    if csms.platform is not None:
        for site_id in {s for s in site_ids if s is not None}:
            await csms.platform.queue_station_info(site_id)


@router.delete("/charge-points/{station_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=WRITE_ONE)
async def delete_charge_point(station_id: StationId, csms: CsmsDep,
                              principal: Writer) -> None:
    """Delete a charge point that is not connected and has no history (sessions, status
    changes, meter values, events, commands); 409 otherwise: reject it instead."""
    await require_station(csms, principal, station_id)
    if csms.connections.get(station_id) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, "the charge point is connected")
    with store_errors():
        await _repo(csms).delete_charge_point(station_id, principal.actor)


@router.post("/charge-points/{station_id}/password", response_model=PasswordOut,
             responses=ONE)
async def set_password(
    station_id: StationId, csms: CsmsDep, principal: Writer,
    body: Annotated[PasswordIn | None, Body()] = None,
) -> PasswordOut:
    """Set the charge point's Basic-auth password, or generate one (returned only in this
    answer). Only its salted hash is stored."""
    await require_station(csms, principal, station_id)
    given = body.password if body is not None else None
    password = given or passwords.generate()
    hashed = await asyncio.to_thread(passwords.hash_password, password)
    with store_errors():
        record = await _repo(csms).set_password(station_id, hashed, principal.actor)
    await _disconnect(csms, station_id, "password changed", principal.actor)
    return PasswordOut(charge_point=_out(csms, record),
                       password=None if given else password)


@router.put("/charge-points/{station_id}/registration", response_model=ChargePointOut,
            responses=ONE)
async def set_registration(station_id: StationId, body: RegistrationIn, csms: CsmsDep,
                           principal: Writer) -> ChargePointOut:
    """Accept, hold (Pending) or reject a charge point; it is told at its next boot. A
    rejected one connected to this node is disconnected at once (and refused from then on)."""
    await require_station(csms, principal, station_id)
    with store_errors():
        record = await _repo(csms).update_charge_point(
            station_id, {"registration_status": body.status.value}, principal.actor)
    if body.status is RegistrationStatus.REJECTED:
        await _disconnect(csms, station_id, "charge point rejected", principal.actor)
    return _out(csms, record)


async def _disconnect(csms: Csms, station_id: str, reason: str, actor: str) -> None:
    """Close the charge point's connection on whichever node holds it, if any, saying why
    (the close reason, a station event and an audit row)."""
    try:
        await csms.commands.send(station_id, CloseConnection(reason), requested_by=actor)
    except StationOffline:  # connected nowhere (or the bus is down: it reconnects refused)
        return
    except CommandError as exc:
        log.warning("network.disconnect_failed", station_id=station_id, error=str(exc))
        return
    details: dict[str, object] = {"reason": reason, "by": actor}
    await csms.stations.reported([StationEventReported(
        station_id, "disconnected_by_csms", csms.stations.now(), code=reason,
        details=details)])
    await csms.store.security_audit(station_id, "disconnect", details)


@router.get("/charge-points/{station_id}/connectors", response_model=list[ConnectorOut],
            responses=ONE)
async def list_connectors(station_id: StationId, csms: CsmsDep,
                          principal: Reader) -> list[ConnectorOut]:
    """The charge point's connectors (as it reported them) with their current status."""
    await require_station(csms, principal, station_id)
    return [ConnectorOut.model_validate(c) for c in await _repo(csms).connectors(station_id)]
