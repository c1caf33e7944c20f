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


def require_location(principal: Principal, location: store.Location) -> None:
    """403 unless a resource at ``location`` is in the principal's scope."""
    if not in_scope(principal, location.district_id, location.community_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "outside the token's scope")


async def require_community(csms: Csms, principal: Principal, community_id: int | None) -> None:
    require_location(principal, await store.location_of_community(csms.engine, community_id))


async def require_site(csms: Csms, principal: Principal, site_id: int | None) -> None:
    require_location(principal, await store.location_of_site(csms.engine, site_id))


async def require_station(csms: Csms, principal: Principal, station_id: str) -> None:
    require_location(principal, await store.location_of_station(csms.engine, station_id))
