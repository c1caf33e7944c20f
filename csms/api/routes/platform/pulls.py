"""What the municipal platform pulls: ``POST /evcs/v1/{interface}`` with T/CEC 102.4
envelopes (csms.services.platform.pulls). Not the operator API: no CSMS bearer token, the
platform's own token from ``query_token``. Mounted only with ``[platform] enabled``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from csms.api.deps import CsmsDep
from csms.city.tcec import envelope as env
from csms.services.platform.delivery import keys_of

router = APIRouter(prefix="/evcs/v1", tags=["evcs"])
Interface = Literal["query_token", "query_stations_info", "query_station_status",
                    "query_station_stats", "check_charge_orders"]


@router.post("/{interface}")
async def evcs(interface: Interface, request: Request, csms: CsmsDep,
               authorization: Annotated[str | None, Header()] = None) -> JSONResponse:
    """Answer a platform call: always HTTP 200 with ``{Ret, Msg, Data, Sig}``."""
    assert csms.platform is not None
    body: Any
    try:
        body = await request.json()
    except ValueError:
        sealed = env.build_answer(keys_of(csms.settings.platform), env.BAD_ENVELOPE,
                                  "the body is not JSON", None)
        return JSONResponse(sealed)
    return JSONResponse(await csms.platform.answers.answer(interface, body, authorization))
