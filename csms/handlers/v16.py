"""OCPP 1.6 charger-initiated messages: translate, delegate to the service, translate back."""

from __future__ import annotations

from csms.domain.model import IdToken
from csms.handlers import translate_v16 as tr
from csms.handlers.context import StationContext, handler_map
from csms.handlers.rpc import Handler, Payload
from csms.handlers.timefmt import format_time


def handlers(ctx: StationContext) -> dict[str, Handler]:
    """The handler of every 1.6 action a charge point may send."""
    svc, sid = ctx.service, ctx.station_id

    async def boot_notification(p: Payload) -> Payload:
        verdict = await svc.boot(tr.boot(sid, p, svc.now()))
        ctx.registration = verdict.status
        return tr.boot_answer(verdict)

    async def heartbeat(_: Payload) -> Payload:
        return {"currentTime": format_time(await svc.heartbeat(sid))}

    async def status_notification(p: Payload) -> Payload:
        await svc.status_changed(tr.status(sid, p, svc.now()))
        return {}

    async def authorize(p: Payload) -> Payload:
        return {"idTagInfo": tr.id_tag_info(await svc.authorize(IdToken(p["idTag"])))}

    async def start_transaction(p: Payload) -> Payload:
        verdict = await svc.session_event(tr.start_transaction(sid, p))
        assert verdict.authorization is not None
        assert verdict.session_id is not None
        return {
            "transactionId": verdict.session_id,
            "idTagInfo": tr.id_tag_info(verdict.authorization),
        }

    async def stop_transaction(p: Payload) -> Payload:
        verdict = await svc.session_event(tr.stop_transaction(sid, p))
        if verdict.authorization is None:
            return {}
        return {"idTagInfo": tr.id_tag_info(verdict.authorization)}

    async def meter_values(p: Payload) -> Payload:
        await svc.meter_values(tr.meter_values(sid, p))
        return {}

    async def data_transfer(p: Payload) -> Payload:
        await svc.reported([tr.report(sid, "data_transfer", p, svc.now())])
        return {"status": "UnknownVendorId"}

    def reporter(kind: str, answer: Payload | None = None) -> Handler:
        async def report(p: Payload) -> Payload:
            await svc.reported([tr.report(sid, kind, p, svc.now())])
            return dict(answer or {})

        return report

    async def security_event(p: Payload) -> Payload:
        await svc.reported([tr.security_event(sid, p)])
        return {}

    return handler_map(ctx, {
        "BootNotification": boot_notification,
        "Heartbeat": heartbeat,
        "StatusNotification": status_notification,
        "Authorize": authorize,
        "StartTransaction": start_transaction,
        "StopTransaction": stop_transaction,
        "MeterValues": meter_values,
        "DataTransfer": data_transfer,
        "FirmwareStatusNotification": reporter("firmware_status"),
        "DiagnosticsStatusNotification": reporter("diagnostics_status"),
        # The 1.6 security extension (Improved security for OCPP 1.6-J).
        "SecurityEventNotification": security_event,
        "LogStatusNotification": reporter("log_status"),
        "SignedFirmwareStatusNotification": reporter("firmware_status"),
        "SignCertificate": reporter("sign_certificate", {"status": "Rejected"}),
    })
