"""API tokens (admin only): create (the token is shown once), list, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field

from csms.api.access import Family, Principal, Role, scope_valid
from csms.api.deps import CsmsDep, require
from csms.api.tokens import new_token
from csms.store.access import ApiTokenRecord

router = APIRouter(prefix="/api-tokens", tags=["api tokens"])
Reader = Annotated[Principal, Depends(require(Family.ADMIN, "read"))]
Writer = Annotated[Principal, Depends(require(Family.ADMIN, "write"))]


class TokenIn(BaseModel):
    role: Role
    district_id: int | None = None
    community_id: int | None = None
    expires_at: datetime | None = None
    description: str | None = Field(default=None, max_length=200)


class TokenOut(BaseModel):
    id: str
    role: Role
    district_id: int | None
    community_id: int | None
    description: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, record: ApiTokenRecord) -> TokenOut:
        return cls(id=record.token_id, role=Role(record.role), district_id=record.district_id,
                   community_id=record.community_id, description=record.description,
                   created_by=record.created_by, created_at=record.created_at,
                   expires_at=record.expires_at, revoked_at=record.revoked_at)


class TokenCreated(TokenOut):
    token: str = Field(description="the bearer token; shown only in this response")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TokenCreated)
async def create_token(body: TokenIn, csms: CsmsDep, principal: Writer) -> TokenCreated:
    """Create a token; its secret is in this response only."""
    problem = scope_valid(body.role, body.district_id, body.community_id)
    if problem:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problem)
    token, record = new_token(
        body.role, created_by=principal.actor, now=csms.stations.now(),
        district_id=body.district_id, community_id=body.community_id,
        expires_at=body.expires_at, description=body.description,
    )
    try:
        await csms.access.add_token(record)
    except Exception as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "unknown district_id or community_id") from exc
    return TokenCreated(token=token, **TokenOut.of(record).model_dump())


@router.get("", response_model=list[TokenOut])
async def list_tokens(csms: CsmsDep, _: Reader) -> list[TokenOut]:
    """Every token, without secrets."""
    return [TokenOut.of(record) for record in await csms.access.list_tokens()]


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses={404: {"description": "no such active token"}})
async def revoke_token(token_id: str, csms: CsmsDep, principal: Writer) -> None:
    """Revoke a token at once."""
    if not await csms.access.revoke_token(token_id, principal.actor):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such active token")
