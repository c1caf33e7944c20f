"""Scope checks for the API: which communities a principal sees, and 403 outside them."""

from __future__ import annotations

from fastapi import HTTPException, status

from csms.api.access import Principal, in_scope
from csms.app import Csms
from csms.store import access as store


async def visible_communities(csms: Csms, principal: Principal) -> set[int] | None:
    """The community ids a principal may see; None means all (and unassigned resources)."""
    if principal.community_id is not None:
        return {principal.community_id}
    if principal.district_id is not None:
        return await store.communities_in_district(csms.engine, principal.district_id)
    return None


def require_location(principal: Principal, location: store.Location | None, what: str) -> None:
    """404 if the resource does not exist (``location`` None); 403 unless it lies in the
    principal's scope."""
    if location is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no such {what}")
    if not in_scope(principal, location.district_id, location.community_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "outside the token's scope")


async def require_community(csms: Csms, principal: Principal, community_id: int | None) -> None:
    """404 if the community does not exist, 403 if it is outside the principal's scope."""
    location = await store.location_of_community(csms.engine, community_id)
    require_location(principal, location, "community")


async def require_site(csms: Csms, principal: Principal, site_id: int | None) -> None:
    """404 if the site does not exist, 403 if it is outside the principal's scope."""
    require_location(principal, await store.location_of_site(csms.engine, site_id), "site")


async def require_station(csms: Csms, principal: Principal, station_id: str) -> None:
    """404 if the charge point does not exist, 403 if it is outside the principal's scope."""
    location = await store.location_of_station(csms.engine, station_id)
    require_location(principal, location, "charge point")
