"""SignCertificate (both versions) and the 2.0.1 ISO 15118 certificate messages.

Without a certificate authority (``certificates.enabled`` false) the answers are the
refusals OCPP allows: SignCertificate Rejected, GetCertificateStatus and
Get15118EVCertificate Failed. Each request is also kept as a station event, as before.
"""

from __future__ import annotations

from csms.handlers.context import ContextHandler, StationContext
from csms.handlers.rpc import Payload
from csms.handlers.translate.common import report
from csms.security.ca import HashData


def _sign(kind: str) -> ContextHandler:
    async def handle(ctx: StationContext, p: Payload) -> Payload:
        event = {key: value for key, value in p.items() if key != "csr"}
        await ctx.service.reported([report(ctx.station_id, kind, event, ctx.service.now())])
        hooks = ctx.service.certificates
        if hooks is None:
            return {"status": "Rejected"}
        ok = await hooks.sign_requested(ctx.station_id, p["csr"], p.get("certificateType"))
        return {"status": "Accepted" if ok else "Rejected"}

    return handle


sign_certificate = _sign("sign_certificate")


async def get_certificate_status(ctx: StationContext, p: Payload) -> Payload:
    await ctx.service.reported([report(ctx.station_id, "get_certificate_status", p,
                                       ctx.service.now())])
    hooks = ctx.service.certificates
    if hooks is None:
        return {"status": "Failed", "statusInfo": {"reasonCode": "NoResponder"}}
    raw = p["ocspRequestData"]
    answer = await hooks.certificate_status(HashData(
        raw["hashAlgorithm"], raw["issuerNameHash"], raw["issuerKeyHash"],
        raw["serialNumber"]))
    out: Payload = {"status": answer.status}
    if answer.value is not None:
        out["ocspResult"] = answer.value
    if answer.reason is not None:
        out["statusInfo"] = {"reasonCode": answer.reason}
    return out


async def get_15118_ev_certificate(ctx: StationContext, p: Payload) -> Payload:
    event = {key: value for key, value in p.items() if key != "exiRequest"}
    await ctx.service.reported([report(ctx.station_id, "get_15118_ev_certificate", event,
                                       ctx.service.now())])
    hooks = ctx.service.certificates
    if hooks is None:
        return {"status": "Failed", "exiResponse": "",
                "statusInfo": {"reasonCode": "NoResponder"}}
    answer = await hooks.ev_certificate(p["exiRequest"])
    out: Payload = {"status": answer.status, "exiResponse": answer.value or ""}
    if answer.reason is not None:
        out["statusInfo"] = {"reasonCode": answer.reason}
    return out
