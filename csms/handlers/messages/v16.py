"""OCPP 1.6 charger-initiated messages: translate, delegate to the service, translate back."""

from __future__ import annotations

from csms.domain.model import IdToken
from csms.handlers.context import (
    BoundHandlers,
    ContextHandler,
    StationContext,
    handler_table,
    reporter,
)
from csms.handlers.messages import certificates, files
from csms.handlers.rpc import Payload
from csms.handlers.timefmt import format_time
from csms.handlers.translate import v16 as tr


async def boot_notification(ctx: StationContext, p: Payload) -> Payload:
    verdict = await ctx.service.boot(tr.boot(ctx.station_id, p, ctx.service.now()))
    ctx.registration = verdict.status
    return tr.boot_answer(verdict)


async def heartbeat(ctx: StationContext, _: Payload) -> Payload:
    return {"currentTime": format_time(await ctx.service.heartbeat(ctx.station_id))}


async def status_notification(ctx: StationContext, p: Payload) -> Payload:
    await ctx.service.status_changed(tr.status(ctx.station_id, p, ctx.service.now()))
    return {}


async def authorize(ctx: StationContext, p: Payload) -> Payload:
    return {"idTagInfo": tr.id_tag_info(await ctx.service.authorize(IdToken(p["idTag"])))}


async def start_transaction(ctx: StationContext, p: Payload) -> Payload:
    verdict = await ctx.service.session_event(tr.start_transaction(ctx.station_id, p))
    assert verdict.authorization is not None
    for change in verdict.changes:  # an older session on this connector ended with it
        if change.session_id != verdict.session_id and change.event.transaction_ref:
            ctx.sessions.pop(change.event.transaction_ref, None)
    if verdict.session_id is not None:
        ctx.sessions[verdict.transaction_ref] = verdict.session_id
    return {
        "transactionId": int(verdict.transaction_ref),
        "idTagInfo": tr.id_tag_info(verdict.authorization),
    }


async def stop_transaction(ctx: StationContext, p: Payload) -> Payload:
    verdict = await ctx.service.session_event(tr.stop_transaction(ctx.station_id, p))
    ctx.sessions.pop(verdict.transaction_ref, None)
    if verdict.authorization is None:
        return {}
    return {"idTagInfo": tr.id_tag_info(verdict.authorization)}


async def meter_values(ctx: StationContext, p: Payload) -> Payload:
    await ctx.service.meter_values(tr.meter_values(ctx.station_id, p), ctx.sessions)
    return {}


async def security_event(ctx: StationContext, p: Payload) -> Payload:
    await ctx.service.reported([tr.security_event(ctx.station_id, p)])
    return {}


HANDLERS: dict[str, ContextHandler] = handler_table({
    "BootNotification": boot_notification,
    "Heartbeat": heartbeat,
    "StatusNotification": status_notification,
    "Authorize": authorize,
    "StartTransaction": start_transaction,
    "StopTransaction": stop_transaction,
    "MeterValues": meter_values,
    "DataTransfer": reporter("data_transfer", {"status": "UnknownVendorId"}),
    "FirmwareStatusNotification": files.firmware_status,
    "DiagnosticsStatusNotification": files.diagnostics_status,
    # The 1.6 security extension (Improved security for OCPP 1.6-J).
    "SecurityEventNotification": security_event,
    "LogStatusNotification": files.log_status,
    "SignedFirmwareStatusNotification": files.firmware_status,
    "SignCertificate": certificates.sign_certificate,
})


def handlers(ctx: StationContext) -> BoundHandlers:
    """The handler of every 1.6 action a charge point may send, bound to ``ctx``."""
    return BoundHandlers(ctx, HANDLERS)
