"""The audit log (family ``admin``, read): filtered pages of records, and a chain check."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, StringConstraints

from csms.api.access import Family, Principal
from csms.api.deps import CsmsDep, require
from csms.api.models import FORBIDDEN, Page, PagingDep, Printable, UtcTime, page_of
from csms.store.sharing.audit import AuditFilter, AuditRow, list_rows, verify_stored

router = APIRouter(prefix="/audit-log", tags=["audit"])
Reader = Annotated[Principal, Depends(require(Family.ADMIN, "read"))]
Text = Annotated[str | None, StringConstraints(max_length=100), Printable, Query()]


class AuditOut(BaseModel):
    id: int
    seq: int
    at: datetime
    actor: str
    action: str
    resource: str
    resource_id: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, row: AuditRow) -> AuditOut:
        r = row.record
        return cls(id=row.id, seq=r.seq, at=r.at, actor=r.actor, action=r.action,
                   resource=r.resource, resource_id=r.resource_id, details=r.details,
                   prev_hash=r.prev_hash, hash=r.hash)


class VerifyOut(BaseModel):
    ok: bool
    records: int
    head_seq: int | None = None  # the last record: keep it elsewhere as an anchor
    head_hash: str | None = None
    broken_seq: int | None = None
    broken_id: int | None = None
    problem: str | None = None
    detail: str | None = None


@router.get("", response_model=Page[AuditOut], responses=FORBIDDEN)
async def list_audit(
    csms: CsmsDep, _: Reader, window: PagingDep,
    since: Annotated[UtcTime | None, Query(description="at or after (ISO, with offset)")] = None,
    until: Annotated[UtcTime | None, Query(description="before (ISO, with offset)")] = None,
    actor: Text = None, action: Text = None, resource: Text = None, resource_id: Text = None,
) -> Page[AuditOut]:
    """Audit records, newest first."""
    rows, total = await list_rows(csms.engine, AuditFilter(
        since, until, actor, resource, resource_id, action), window.limit, window.offset)
    return page_of([AuditOut.of(r) for r in rows], total, window)


@router.get("/verify", response_model=VerifyOut, responses=FORBIDDEN)
async def verify_audit(csms: CsmsDep, _: Reader) -> VerifyOut:
    """Walk the hash chain (as ``csms audit verify``): the first bad record, if any."""
    verdict = await verify_stored(csms.engine)
    b = verdict.broken
    if b is None:
        return VerifyOut(ok=True, records=verdict.count, head_seq=verdict.head.seq,
                         head_hash=verdict.head.hash)
    return VerifyOut(ok=False, records=verdict.count, broken_seq=b.seq,
                     broken_id=verdict.row_id, problem=b.problem.value, detail=b.detail)
