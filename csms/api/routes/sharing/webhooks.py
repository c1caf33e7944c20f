"""Webhook subscriptions (family ``admin``): create, list, read, deactivate; and the
delivery status of their outbox.

A subscription has a target URL, a secret (for the ``X-CSMS-Signature`` HMAC; write-only),
a scope (a district, a community, or everything), the notice kinds it wants and, for
alarms, the least severe level it wants (3 = all). Deliveries are described in
csms.services.sharing.webhooks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.exceptions import RequestValidationError
from pydantic import AnyHttpUrl, BaseModel, Field, StringConstraints, model_validator
from sqlalchemy import select

from csms.api.access import Family, Principal
from csms.api.deps import CsmsDep, require
from csms.api.models import (
    FORBIDDEN,
    ONE,
    Id,
    Page,
    PagingDep,
    Printable,
    QueryId,
    found,
    page_of,
)
from csms.app import Csms
from csms.store import tables as t
from csms.store.access import location_of_community
from csms.store.sharing.outbox import Delivery, Outbox, Subscription

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
Reader = Annotated[Principal, Depends(require(Family.ADMIN, "read"))]
Writer = Annotated[Principal, Depends(require(Family.ADMIN, "write"))]
Kind = Literal["alarm", "connector_status", "station_event", "report"]


class SubscriptionIn(BaseModel):
    url: AnyHttpUrl = Field(description="where notices are POSTed (http or https)")
    secret: Annotated[str, StringConstraints(min_length=16, max_length=200), Printable]
    district_id: Id | None = None
    community_id: Id | None = None
    kinds: list[Kind] = Field(default=["alarm"], min_length=1)
    min_level: int = Field(default=3, ge=1, le=3, description="alarms of this level or more "
                           "severe (1 personal safety, 2 equipment, 3 notice)")
    description: Annotated[str, StringConstraints(max_length=200), Printable] | None = None

    @model_validator(mode="after")
    def _one_scope(self) -> SubscriptionIn:
        if self.district_id is not None and self.community_id is not None:
            raise ValueError("a subscription is scoped to a district or a community, not both")
        if len(str(self.url)) > 500:
            raise ValueError("url is longer than 500 characters")
        return self


class SubscriptionOut(BaseModel):
    id: int
    url: str
    district_id: int | None
    community_id: int | None
    kinds: list[str]
    min_level: int
    active: bool
    description: str | None
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, s: Subscription) -> SubscriptionOut:
        return cls(id=s.id, url=s.url, district_id=s.district_id, community_id=s.community_id,
                   kinds=list(s.kinds), min_level=s.min_level, active=s.active,
                   description=s.description, created_by=s.created_by,
                   created_at=s.created_at)


class DeliveryOut(BaseModel):
    id: int
    delivery_id: str
    subscription_id: int
    kind: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None

    @classmethod
    def of(cls, d: Delivery) -> DeliveryOut:
        return cls(id=d.id, delivery_id=d.delivery_id, subscription_id=d.subscription_id,
                   kind=d.kind, status=d.status, attempts=d.attempts,
                   created_at=d.created_at, next_attempt_at=d.next_attempt_at,
                   delivered_at=d.delivered_at, last_error=d.last_error)


def _outbox(csms: Csms) -> Outbox:
    assert csms.sharing is not None
    return csms.sharing.outbox


async def _check_scope(csms: Csms, body: SubscriptionIn) -> None:
    """422 naming the field if the district or community does not exist."""
    missing = None
    if body.community_id is not None:
        if await location_of_community(csms.engine, body.community_id) is None:
            missing = "community_id"
    elif body.district_id is not None:
        async with csms.engine.connect() as conn:
            if (await conn.execute(select(t.districts.c.id).where(
                    t.districts.c.id == body.district_id))).one_or_none() is None:
                missing = "district_id"
    if missing is not None:
        raise RequestValidationError([{"type": "unknown_reference", "loc": ("body", missing),
                                       "msg": f"no such {missing[:-3]}",
                                       "input": getattr(body, missing)}])


@router.post("/subscriptions", status_code=status.HTTP_201_CREATED,
             response_model=SubscriptionOut, responses=FORBIDDEN)
async def create_subscription(body: SubscriptionIn, csms: CsmsDep,
                              principal: Writer) -> SubscriptionOut:
    """Subscribe a URL to notices in a scope; audited (without the secret)."""
    await _check_scope(csms, body)
    values = body.model_dump()
    values["url"] = str(body.url)
    created = await _outbox(csms).add(values, principal.actor, csms.stations.now())
    assert csms.sharing is not None
    csms.sharing.subscriptions_changed()
    return SubscriptionOut.of(created)


@router.get("/subscriptions", response_model=list[SubscriptionOut], responses=FORBIDDEN)
async def list_subscriptions(csms: CsmsDep, _: Reader) -> list[SubscriptionOut]:
    """Every subscription, active or not (secrets are never shown)."""
    return [SubscriptionOut.of(s) for s in await _outbox(csms).subscriptions()]


@router.get("/subscriptions/{subscription_id}", response_model=SubscriptionOut,
            responses=ONE)
async def get_subscription(subscription_id: Id, csms: CsmsDep, _: Reader) -> SubscriptionOut:
    return SubscriptionOut.of(found(await _outbox(csms).get(subscription_id),
                                    "subscription"))


@router.delete("/subscriptions/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=ONE)
async def delete_subscription(subscription_id: Id, csms: CsmsDep, principal: Writer) -> None:
    """Deactivate: no new deliveries are queued; pending ones are still sent."""
    if not await _outbox(csms).deactivate(subscription_id, principal.actor,
                                          csms.stations.now()):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such active subscription")
    assert csms.sharing is not None
    csms.sharing.subscriptions_changed()


@router.get("/deliveries", response_model=Page[DeliveryOut], responses=FORBIDDEN)
async def list_deliveries(
    csms: CsmsDep, _: Reader, window: PagingDep, subscription_id: QueryId = None,
    status_is: Annotated[Literal["pending", "delivered", "failed"] | None,
                         Query(alias="status")] = None,
) -> Page[DeliveryOut]:
    """Deliveries, newest first: their status, attempts and last error."""
    items, total = await _outbox(csms).deliveries(subscription_id, status_is, window.limit,
                                                  window.offset)
    return page_of([DeliveryOut.of(d) for d in items], total, window)
