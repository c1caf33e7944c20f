"""Districts and the residential communities in them (family ``organisation``).

Scope: a district token sees its district and that district's communities; a property token
sees its community and the district it lies in; lists show only those. A single district or
community that does not exist is 404; one that exists outside the token's scope is 403 (so a
scoped token learns that an id exists, never what it holds). Only admin writes here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from csms.api.access import Family, Principal
from csms.api.deps import CsmsDep, require
from csms.api.models import (
    FORBIDDEN,
    MAX_ID,
    ONE,
    WRITE,
    WRITE_ONE,
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
from csms.api.scope import require_community, visible_communities
from csms.app import Csms
from csms.store.access import Location, location_of_community
from csms.store.organisation import District, Organisation

router = APIRouter(tags=["districts and communities"])
Reader = Annotated[Principal, Depends(require(Family.ORGANISATION, "read"))]
Writer = Annotated[Principal, Depends(require(Family.ORGANISATION, "write"))]
DistrictId = Annotated[int, Path(ge=1, le=MAX_ID)]
CommunityId = Annotated[int, Path(ge=1, le=MAX_ID)]

DistrictName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                max_length=100), Printable]
DistrictCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                max_length=12, pattern=r"^[0-9A-Za-z-]+$")]
ShortName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=50), Printable]
Target = Annotated[int, Field(ge=0, le=100_000,
                              description="the plan's pilot-year target, communities")]
CommunityName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                 max_length=200), Printable]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                           max_length=400), Printable]


class DistrictIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: DistrictName
    code: DistrictCode | None = Field(default=None, description="administrative division code")
    short_name: ShortName | None = None
    pilot_target: Target | None = None


class DistrictPatch(BaseModel):
    """Only the fields given change; ``code`` may be set to null."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[DistrictName | None, NotNull] = None
    code: DistrictCode | None = None
    short_name: ShortName | None = None
    pilot_target: Target | None = None


class DistrictOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str | None
    name: str
    short_name: str | None
    pilot_target: int | None


class CommunityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    district_id: Id
    name: CommunityName
    address: Address | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None


class CommunityPatch(BaseModel):
    """Only the fields given change; address and coordinates may be set to null."""

    model_config = ConfigDict(extra="forbid")

    district_id: Annotated[Id | None, NotNull] = None
    name: Annotated[CommunityName | None, NotNull] = None
    address: Address | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None


class CommunityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    district_id: int
    name: str
    address: str | None
    latitude: Latitude | None
    longitude: Longitude | None


def _repo(csms: Csms) -> Organisation:
    return Organisation(csms.engine, csms.store.writer)


async def visible_districts(csms: Csms, principal: Principal) -> set[int] | None:
    """The district ids a principal may see; None means all."""
    if principal.district_id is not None:
        return {principal.district_id}
    if principal.community_id is not None:
        location = await location_of_community(csms.engine, principal.community_id)
        return {location.district_id} if location and location.district_id else set()
    return None


async def _visible_district(csms: Csms, principal: Principal, district_id: int) -> District:
    district = found(await _repo(csms).district(district_id), "district")
    visible = await visible_districts(csms, principal)
    if visible is not None and district_id not in visible:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "outside the token's scope")
    return district


@router.get("/districts", response_model=Page[DistrictOut], responses=FORBIDDEN)
async def list_districts(csms: CsmsDep, principal: Reader, page: PagingDep) -> Page[DistrictOut]:
    """Districts by id. A scoped token lists only its own district."""
    listed = await _repo(csms).districts(await visible_districts(csms, principal), page.limit,
                                         page.offset)
    return page_of([DistrictOut.model_validate(d) for d in listed.items], listed.total, page)


@router.get("/districts/{district_id}", response_model=DistrictOut, responses=ONE)
async def get_district(district_id: DistrictId, csms: CsmsDep,
                       principal: Reader) -> DistrictOut:
    """One district."""
    return DistrictOut.model_validate(await _visible_district(csms, principal, district_id))


@router.post("/districts", status_code=status.HTTP_201_CREATED, response_model=DistrictOut,
             responses=WRITE)
async def create_district(body: DistrictIn, csms: CsmsDep, principal: Writer) -> DistrictOut:
    """Add a district. Its name and its code are unique (409 if taken)."""
    with store_errors():
        created = await _repo(csms).add_district(body.model_dump(), principal.actor)
    return DistrictOut.model_validate(created)


@router.patch("/districts/{district_id}", response_model=DistrictOut, responses=WRITE_ONE)
async def update_district(district_id: DistrictId, body: DistrictPatch, csms: CsmsDep,
                          principal: Writer) -> DistrictOut:
    """Rename a district or change its code."""
    with store_errors():
        changed = await _repo(csms).update_district(
            district_id, body.model_dump(exclude_unset=True), principal.actor)
    return DistrictOut.model_validate(changed)


@router.delete("/districts/{district_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=WRITE_ONE)
async def delete_district(district_id: DistrictId, csms: CsmsDep, principal: Writer) -> None:
    """Delete a district that has no communities and no API tokens (409 otherwise)."""
    with store_errors():
        await _repo(csms).delete_district(district_id, principal.actor)


@router.get("/communities", response_model=Page[CommunityOut], responses=FORBIDDEN)
async def list_communities(csms: CsmsDep, principal: Reader, page: PagingDep,
                           district_id: QueryId = None) -> Page[CommunityOut]:
    """Communities by id, optionally of one district. A scoped token lists only the
    communities in its scope."""
    listed = await _repo(csms).communities(await visible_communities(csms, principal),
                                           district_id, page.limit, page.offset)
    return page_of([CommunityOut.model_validate(c) for c in listed.items], listed.total, page)


@router.get("/communities/{community_id}", response_model=CommunityOut, responses=ONE)
async def get_community(community_id: CommunityId, csms: CsmsDep,
                        principal: Reader) -> CommunityOut:
    """One community, with its address and coordinates."""
    await require_community(csms, principal, community_id)
    community = found(await _repo(csms).community(community_id), "community")
    return CommunityOut.model_validate(community)


@router.post("/communities", status_code=status.HTTP_201_CREATED, response_model=CommunityOut,
             responses=WRITE)
async def create_community(body: CommunityIn, csms: CsmsDep,
                           principal: Writer) -> CommunityOut:
    """Add a community to a district (422 naming ``district_id`` if there is no such
    district)."""
    require_reference_scope(principal, Location(body.district_id, None))
    with store_errors():
        created = await _repo(csms).add_community(body.model_dump(), principal.actor)
    return CommunityOut.model_validate(created)


@router.patch("/communities/{community_id}", response_model=CommunityOut, responses=WRITE_ONE)
async def update_community(community_id: CommunityId, body: CommunityPatch, csms: CsmsDep,
                           principal: Writer) -> CommunityOut:
    """Change a community's name, address, coordinates or district."""
    await require_community(csms, principal, community_id)
    if body.district_id is not None:
        require_reference_scope(principal, Location(body.district_id, None))
    with store_errors():
        changed = await _repo(csms).update_community(
            community_id, body.model_dump(exclude_unset=True), principal.actor)
    return CommunityOut.model_validate(changed)


@router.delete("/communities/{community_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=WRITE_ONE)
async def delete_community(community_id: CommunityId, csms: CsmsDep,
                           principal: Writer) -> None:
    """Delete a community that has no sites, residents or API tokens (409 otherwise)."""
    await require_community(csms, principal, community_id)
    with store_errors():
        await _repo(csms).delete_community(community_id, principal.actor)

