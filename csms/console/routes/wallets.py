"""Top-up and refund of a resident's wallet (roles that write ``billing``), each confirmed on
a second page; the idempotency key is made with the form, so a repeated submit moves money
once (the ledger keeps the first entry of a key)."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from fastapi import APIRouter, Form, HTTPException, Path, Request, status
from fastapi.responses import RedirectResponse, Response

from csms.api.access import Family
from csms.api.routes.billing import wallets as billing_wallets
from csms.api.routes.city import residents
from csms.console.deps import CsmsDep, SessionDep, need
from csms.console.render import page

router = APIRouter()
ResidentId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Kind = Literal["top-up", "refund"]


def new_ref(kind: str) -> str:
    return f"console-{kind}:{uuid.uuid4().hex}"


@router.post("/residents/{resident_id}/wallet/{kind}")
async def move(request: Request, resident_id: ResidentId, kind: Kind, csms: CsmsDep,
               session: SessionDep, amount_yuan: Annotated[str, Form(max_length=20)],
               ref: Annotated[str, Form(min_length=1, max_length=100)],
               memo: Annotated[str, Form(max_length=200)] = "",
               confirmed: Annotated[str, Form()] = "") -> Response:
    """Without ``confirmed``: the confirmation page; with it: the money moves."""
    need(session, Family.BILLING, "write")
    try:
        amount = Decimal(amount_yuan.strip())
    except InvalidOperation:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "amount_yuan: not a number") from None
    body = billing_wallets.MoneyIn(amount_yuan=amount, ref=ref, memo=memo)
    if not confirmed:
        found = await residents.get_resident(resident_id, csms, session.principal)
        return page(request, "wallet_confirm.html", session, active="residents",
                    resident=found, kind=kind, body=body)
    action = billing_wallets.top_up if kind == "top-up" else billing_wallets.refund
    await action(resident_id, body, csms, session.principal)
    return RedirectResponse(f"/console/residents/{resident_id}?moved={kind}", status_code=303)


