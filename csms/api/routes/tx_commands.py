"""Commands about transactions and EVSEs (family ``commands``, write): GetTransactionStatus
(2.0.1), Reset of one EVSE (2.0.1) and ExtendedTriggerMessage (1.6 security extension;
TriggerMessage in 2.0.1). Answers, errors, audit and command log as in
:mod:`csms.api.routes.live`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from csms.api import commands as m
from csms.api import commands_tx as mt
from csms.api.deps import CsmsDep
from csms.api.routes.live import COMMANDS, ERRORS, Commander
from csms.api.routes.live import _send as send
from csms.api.routes.sessions import StationPath

router = APIRouter(tags=["live state and commands"])


@router.post(f"{COMMANDS}/transaction-status", response_model=mt.TransactionStatusOut,
             responses=ERRORS)
async def transaction_status(station_id: StationPath, body: mt.TransactionStatusIn,
                             csms: CsmsDep, principal: Commander
                             ) -> mt.TransactionStatusOut | JSONResponse:
    """Whether a transaction still runs on the charger and whether it still has messages
    queued about it (2.0.1 GetTransactionStatus; 1.6 cannot ask: 422)."""
    return await send(csms, principal, station_id, "transaction-status", body,
                      mt.TransactionStatusOut)


@router.post(f"{COMMANDS}/reset-evse", response_model=m.CommandStatusOut, responses=ERRORS)
async def reset_evse(station_id: StationPath, body: mt.ResetEvseIn, csms: CsmsDep,
                     principal: Commander) -> m.CommandStatusOut | JSONResponse:
    """Reset one EVSE (2.0.1 Reset with evseId: Immediate, or OnIdle after its transaction;
    1.6 resets only the whole charge point: 422)."""
    return await send(csms, principal, station_id, "reset-evse", body, m.CommandStatusOut)


@router.post(f"{COMMANDS}/extended-trigger", response_model=m.CommandStatusOut,
             responses=ERRORS)
async def extended_trigger(station_id: StationPath, body: mt.ExtendedTriggerIn, csms: CsmsDep,
                           principal: Commander) -> m.CommandStatusOut | JSONResponse:
    """Ask for a message now, including LogStatusNotification and SignChargePointCertificate
    (1.6 ExtendedTriggerMessage, 2.0.1 TriggerMessage)."""
    return await send(csms, principal, station_id, "extended-trigger", body,
                      m.CommandStatusOut)
