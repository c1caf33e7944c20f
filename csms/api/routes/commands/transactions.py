"""Commands about transactions and EVSEs (family ``commands``, write): GetTransactionStatus
(2.0.1), Reset of one EVSE (2.0.1) and ExtendedTriggerMessage (1.6 security extension;
TriggerMessage in 2.0.1), GetChargingProfiles and CustomerInformation (2.0.1; their answer
includes the report parts the charger sends afterwards, joined by requestId). Answers,
errors, audit and command log as in :mod:`csms.api.routes.commands.live`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from csms.api import commands as m
from csms.api import commands_tx as mt
from csms.api.access import Principal
from csms.api.deps import CsmsDep
from csms.api.routes.commands.common import COMMANDS, ERRORS, Commander
from csms.api.routes.commands.common import audit_command as audit
from csms.api.routes.commands.common import command_failure as failure
from csms.api.routes.commands.common import send_command as send
from csms.api.routes.safety.status import visible_charge_point
from csms.api.routes.sessions.records import StationPath
from csms.app import Csms
from csms.errors import CommandError
from csms.services.reports import ReportAnswer, ReportCollector

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


@router.post(f"{COMMANDS}/get-charging-profiles", response_model=mt.ChargingProfilesOut,
             responses=ERRORS)
async def get_charging_profiles(station_id: StationPath, body: mt.GetChargingProfilesIn,
                                csms: CsmsDep, principal: Commander
                                ) -> mt.ChargingProfilesOut | JSONResponse:
    """The charging profiles installed on the charger (2.0.1 GetChargingProfiles), with the
    ReportChargingProfiles parts it sends for the request, waited for up to ``wait_s``."""
    answer = await _report(csms, principal, station_id, "get-charging-profiles", body)
    return answer if isinstance(answer, JSONResponse) else mt.ChargingProfilesOut.of(answer)


@router.post(f"{COMMANDS}/customer-information", response_model=mt.CustomerInformationOut,
             responses=ERRORS)
async def customer_information(station_id: StationPath, body: mt.CustomerInformationIn,
                               csms: CsmsDep, principal: Commander
                               ) -> mt.CustomerInformationOut | JSONResponse:
    """A resident's data request (2.0.1 CustomerInformation): report what the charger keeps
    about them (NotifyCustomerInformation parts, joined) and/or clear it."""
    answer = await _report(csms, principal, station_id, "customer-information", body)
    return answer if isinstance(answer, JSONResponse) else mt.CustomerInformationOut.of(answer)


async def _report(csms: Csms, principal: Principal, station_id: str, name: str,
                  body: mt.GetChargingProfilesIn | mt.CustomerInformationIn
                  ) -> ReportAnswer | JSONResponse:
    await visible_charge_point(csms, principal, station_id)
    actor = principal.actor
    reports = _collector(csms)
    command = body.command_for(reports.next_request_id())
    await audit(csms, actor, station_id, name, body)
    try:
        return await reports.request(station_id, command, wait_s=body.wait_s,
                                     timeout_s=body.timeout_s, requested_by=actor)
    except CommandError as exc:
        return failure(exc)


def _collector(csms: Csms) -> ReportCollector:
    assert csms.reports is not None, "composed in csms.app.running"
    return csms.reports
