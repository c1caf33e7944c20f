"""Residents and their id tokens, the cards they charge with (family ``residents``).

Scope: a scoped token sees the residents of its communities and their id tokens; an id token
without a resident is visible only to unscoped tokens. A single resident or id token that does
not exist is 404; one that exists outside the token's scope is 403. Admin and operator write.

An id token's status and expiry are read at every Authorize/transaction start, so a change
applies to the next one.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi import status as http_status
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
    NotNull,
    Page,
    PagingDep,
    Printable,
    QueryId,
    UtcTime,
    found,
    page_of,
    require_reference_scope,
    store_errors,
)
from csms.api.scope import require_location, visible_communities
from csms.app import Csms
from csms.store.access import location_of_community
from csms.store.residents import IdTokenFilter, Residents

router = APIRouter(tags=["residents and id tokens"])
Reader = Annotated[Principal, Depends(require(Family.RESIDENTS, "read"))]
Writer = Annotated[Principal, Depends(require(Family.RESIDENTS, "write"))]
ResidentId = Annotated[int, Path(ge=1, le=MAX_ID)]
TokenKey = Annotated[str, Path(min_length=1, max_length=36)]


class TokenStatus(StrEnum):
    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    NO_CREDIT = "NoCredit"


class TokenKind(StrEnum):
    """OCPP 2.0.1 IdTokenEnumType."""

    CENTRAL = "Central"
    EMAID = "eMAID"
    ISO14443 = "ISO14443"
    ISO15693 = "ISO15693"
    KEY_CODE = "KeyCode"
    LOCAL = "Local"
    MAC_ADDRESS = "MacAddress"
    NO_AUTHORIZATION = "NoAuthorization"


def _text(max_length: int) -> object:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


PersonName = Annotated[str, _text(100), Printable]
Unit = Annotated[str, _text(50), Printable]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=30,
                                         pattern=r"^\+?[0-9][0-9 ()-]{2,29}$")]
TokenText = Annotated[str, StringConstraints(min_length=1, max_length=36,
                                             pattern=r"^[!-.0-~]+$")]
GroupId = Annotated[str, _text(36), Printable]
Owner = Annotated[str, _text(200), Printable]


class ResidentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    community_id: Id
    name: PersonName
    unit: Unit | None = Field(default=None, description='building and room, e.g. "3-201"')
    phone: Phone | None = None


class ResidentPatch(BaseModel):
    """Only the fields given change; ``unit`` and ``phone`` may be set to null."""

    model_config = ConfigDict(extra="forbid")

    community_id: Annotated[Id | None, NotNull] = None
    name: Annotated[PersonName | None, NotNull] = None
    unit: Unit | None = None
    phone: Phone | None = None


class ResidentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    community_id: int
    name: str
    unit: str | None
    phone: str | None
    created_at: datetime


class IdTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_token: TokenText = Field(description="the card's id as chargers send it (e.g. its UID)")
    kind: TokenKind = TokenKind.ISO14443
    status: TokenStatus = TokenStatus.ACCEPTED
    expires_at: UtcTime | None = Field(default=None, description="with an offset; UTC out")
    group_id: GroupId | None = None
    owner: Owner | None = Field(default=None, description="free text, e.g. a room")
    resident_id: Id | None = None


class IdTokenPatch(BaseModel):
    """Only the fields given change; all but ``kind`` and ``status`` may be set to null."""

    model_config = ConfigDict(extra="forbid")

    kind: Annotated[TokenKind | None, NotNull] = None
    status: Annotated[TokenStatus | None, NotNull] = None
    expires_at: UtcTime | None = None
    group_id: GroupId | None = None
    owner: Owner | None = None
    resident_id: Id | None = None


class IdTokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id_token: str
    kind: str
    status: str
    expires_at: datetime | None
    group_id: str | None
    owner: str | None
    resident_id: int | None
    community_id: int | None = Field(description="the resident's community")
    created_at: datetime


def _repo(csms: Csms) -> Residents:
    return Residents(csms.engine, csms.store.writer)


async def _visible_resident(csms: Csms, principal: Principal, resident_id: int) -> None:
    require_location(principal, await _repo(csms).location_of_resident(resident_id),
                     "resident")


async def _visible_token(csms: Csms, principal: Principal, id_token: str) -> None:
    require_location(principal, await _repo(csms).location_of_id_token(id_token), "id token")


async def _references_in_scope(csms: Csms, principal: Principal, *,
                               community_id: int | None = None,
                               resident_id: int | None = None) -> None:
    """403 if a write names a community or resident outside a scoped principal's scope."""
    if not principal.scoped:
        return
    if community_id is not None:
        require_reference_scope(principal, await location_of_community(csms.engine,
                                                                       community_id))
    if resident_id is not None:
        require_reference_scope(principal, await _repo(csms).location_of_resident(resident_id))


@router.get("/residents", response_model=Page[ResidentOut], responses=FORBIDDEN)
async def list_residents(csms: CsmsDep, principal: Reader, page: PagingDep,
                         community_id: QueryId = None) -> Page[ResidentOut]:
    """Residents by id, optionally of one community; a scoped token lists only its own."""
    listed = await _repo(csms).residents(await visible_communities(csms, principal),
                                         community_id, page.limit, page.offset)
    return page_of([ResidentOut.model_validate(r) for r in listed.items], listed.total, page)


@router.get("/residents/{resident_id}", response_model=ResidentOut, responses=ONE)
async def get_resident(resident_id: ResidentId, csms: CsmsDep,
                       principal: Reader) -> ResidentOut:
    """One resident."""
    await _visible_resident(csms, principal, resident_id)
    return ResidentOut.model_validate(found(await _repo(csms).resident(resident_id),
                                            "resident"))


@router.post("/residents", status_code=http_status.HTTP_201_CREATED, response_model=ResidentOut,
             responses=WRITE)
async def create_resident(body: ResidentIn, csms: CsmsDep, principal: Writer) -> ResidentOut:
    """Add a resident to a community (422 naming ``community_id`` if there is none)."""
    await _references_in_scope(csms, principal, community_id=body.community_id)
    values = {**body.model_dump(), "created_at": csms.stations.now()}
    with store_errors():
        return ResidentOut.model_validate(await _repo(csms).add_resident(values,
                                                                         principal.actor))


@router.patch("/residents/{resident_id}", response_model=ResidentOut, responses=WRITE_ONE)
async def update_resident(resident_id: ResidentId, body: ResidentPatch, csms: CsmsDep,
                          principal: Writer) -> ResidentOut:
    """Change a resident's name, unit, phone or community (their id tokens follow)."""
    await _visible_resident(csms, principal, resident_id)
    await _references_in_scope(csms, principal, community_id=body.community_id)
    with store_errors():
        return ResidentOut.model_validate(await _repo(csms).update_resident(
            resident_id, body.model_dump(exclude_unset=True), principal.actor))


@router.delete("/residents/{resident_id}", status_code=http_status.HTTP_204_NO_CONTENT,
               responses=WRITE_ONE)
async def delete_resident(resident_id: ResidentId, csms: CsmsDep, principal: Writer) -> None:
    """Delete a resident who has no id tokens (409 otherwise)."""
    await _visible_resident(csms, principal, resident_id)
    with store_errors():
        await _repo(csms).delete_resident(resident_id, principal.actor)


@router.get("/id-tokens", response_model=Page[IdTokenOut], responses=FORBIDDEN)
async def list_id_tokens(
    csms: CsmsDep, principal: Reader, page: PagingDep, status: TokenStatus | None = None,
    resident_id: QueryId = None, community_id: QueryId = None,
) -> Page[IdTokenOut]:
    """Id tokens in id order, filtered by status, resident and community. A scoped token
    lists only the tokens of residents of its communities."""
    where = IdTokenFilter(await visible_communities(csms, principal), status, resident_id,
                          community_id)
    listed = await _repo(csms).id_tokens(where, page.limit, page.offset)
    return page_of([IdTokenOut.model_validate(x) for x in listed.items], listed.total, page)


@router.get("/id-tokens/{id_token}", response_model=IdTokenOut, responses=ONE)
async def get_id_token(id_token: TokenKey, csms: CsmsDep, principal: Reader) -> IdTokenOut:
    """One id token: status, expiry, owner and resident."""
    await _visible_token(csms, principal, id_token)
    return IdTokenOut.model_validate(found(await _repo(csms).id_token(id_token), "id token"))


@router.post("/id-tokens", status_code=http_status.HTTP_201_CREATED, response_model=IdTokenOut,
             responses=WRITE)
async def create_id_token(body: IdTokenIn, csms: CsmsDep, principal: Writer) -> IdTokenOut:
    """Add an id token (409 if it exists; 422 naming ``resident_id`` if there is no such
    resident)."""
    await _references_in_scope(csms, principal, resident_id=body.resident_id)
    values = {**body.model_dump(), "created_at": csms.stations.now()}
    with store_errors():
        return IdTokenOut.model_validate(await _repo(csms).add_id_token(values,
                                                                        principal.actor))


@router.patch("/id-tokens/{id_token}", response_model=IdTokenOut, responses=WRITE_ONE)
async def update_id_token(id_token: TokenKey, body: IdTokenPatch, csms: CsmsDep,
                          principal: Writer) -> IdTokenOut:
    """Block or re-accept a token, change its expiry, owner or resident."""
    await _visible_token(csms, principal, id_token)
    await _references_in_scope(csms, principal, resident_id=body.resident_id)
    with store_errors():
        return IdTokenOut.model_validate(await _repo(csms).update_id_token(
            id_token, body.model_dump(exclude_unset=True), principal.actor))


@router.delete("/id-tokens/{id_token}", status_code=http_status.HTTP_204_NO_CONTENT,
               responses=WRITE_ONE)
async def delete_id_token(id_token: TokenKey, csms: CsmsDep, principal: Writer) -> None:
    """Delete an id token no session used (409 otherwise: block it instead)."""
    await _visible_token(csms, principal, id_token)
    with store_errors():
        await _repo(csms).delete_id_token(id_token, principal.actor)
