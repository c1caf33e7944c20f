"""The municipal platform feed's outbox (family ``commands``: admin and operator): pushes
with their status, attempts and last error; retry parked ones; queue station info.

Pushes are described in csms.services.platform.pushes and csms.services.platform.delivery.
Without ``[platform] enabled`` every endpoint answers 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel

from csms.api.access import Family, Principal
from csms.api.deps import CsmsDep, require
from csms.api.models import FORBIDDEN, ONE, Id, Page, PagingDep, found, page_of
from csms.app import Csms
from csms.services.platform.pushes import PlatformFeed
from csms.store.access import audit
from csms.store.platform import Push
from csms.store.writer import WriteTx

router = APIRouter(prefix="/platform", tags=["platform"])
Reader = Annotated[Principal, Depends(require(Family.COMMANDS, "read"))]
Writer = Annotated[Principal, Depends(require(Family.COMMANDS, "write"))]
Status = Literal["pending", "delivered", "parked", "superseded"]


class PushOut(BaseModel):
    id: int
    interface: str
    push_key: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    data: dict[str, Any]

    @classmethod
    def of(cls, p: Push) -> PushOut:
        return cls(id=p.id, interface=p.interface, push_key=p.push_key, status=p.status,
                   attempts=p.attempts, created_at=p.created_at,
                   next_attempt_at=p.next_attempt_at, delivered_at=p.delivered_at,
                   last_error=p.last_error, data=p.payload)


class Queued(BaseModel):
    count: int


def _feed(csms: Csms) -> PlatformFeed:
    if csms.platform is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the platform feed is not enabled")
    return csms.platform


async def _audit(csms: Csms, principal: Principal, action: str, resource_id: str,
                 details: dict[str, Any]) -> None:
    now = csms.stations.now()

    async def unit(tx: WriteTx) -> None:
        audit(tx, principal.actor, action, "platform_push", resource_id, details, at=now)

    await csms.store.writer.submit(unit)


@router.get("/pushes", response_model=Page[PushOut], responses=FORBIDDEN)
async def list_pushes(
    csms: CsmsDep, _: Reader, window: PagingDep,
    status_is: Annotated[Status | None, Query(alias="status")] = None,
    interface: Annotated[str | None, Query(max_length=60)] = None,
) -> Page[PushOut]:
    """Pushes to the platform, newest first: parked ones are those that ran out of attempts."""
    items, total = await _feed(csms).pushes.pushes(status_is, interface, window.limit,
                                                   window.offset)
    return page_of([PushOut.of(p) for p in items], total, window)


@router.get("/pushes/{push_id}", response_model=PushOut, responses=ONE)
async def get_push(push_id: Id, csms: CsmsDep, _: Reader) -> PushOut:
    return PushOut.of(found(await _feed(csms).pushes.get(push_id), "push"))


@router.post("/pushes/{push_id}/retry", response_model=Queued, responses=ONE)
async def retry_push(push_id: Id, csms: CsmsDep, principal: Writer) -> Queued:
    """A parked push back to pending, sent at once; 404 if there is no such parked push."""
    feed = _feed(csms)
    count = await feed.pushes.retry(push_id, csms.stations.now())
    if not count:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such parked push")
    await _audit(csms, principal, "retry", str(push_id), {})
    feed.deliverer.wake()
    return Queued(count=count)


@router.post("/pushes/retry", response_model=Queued, responses=FORBIDDEN)
async def retry_all(csms: CsmsDep, principal: Writer) -> Queued:
    """Every parked push back to pending; how many."""
    feed = _feed(csms)
    count = await feed.pushes.retry(None, csms.stations.now())
    await _audit(csms, principal, "retry", "*", {"count": count})
    feed.deliverer.wake()
    return Queued(count=count)


@router.post("/station-info", response_model=Queued, responses=FORBIDDEN)
async def push_station_info(csms: CsmsDep, principal: Writer,
                            site_id: Annotated[int | None, Query(ge=1)] = None) -> Queued:
    """Queue notification_stationInfo for one site or every site (after changes)."""
    count = await _feed(csms).queue_station_info(site_id)
    await _audit(csms, principal, "station_info", str(site_id or "*"), {"count": count})
    return Queued(count=count)
