"""Firmware and log status notifications, both versions (the payloads agree: ``status`` and,
but for plain 1.6, an optional ``requestId``).

Each is kept as a station event first (as before), then recorded on the update or log
request it belongs to (csms.services.files.status). A failure of the latter is logged and
the charger still gets its answer: the station event already holds the status.
"""

from __future__ import annotations

import structlog

from csms.handlers.context import ContextHandler, StationContext
from csms.handlers.rpc import Payload
from csms.handlers.translate.common import report

log = structlog.get_logger(__name__)


def _tracked(kind: str, firmware: bool) -> ContextHandler:
    async def handle(ctx: StationContext, p: Payload) -> Payload:
        await ctx.service.reported([report(ctx.station_id, kind, p, ctx.service.now())])
        hooks = ctx.service.files
        if hooks is None:
            return {}
        request_id = p.get("requestId")
        try:
            if firmware:
                await hooks.firmware_status(ctx.station_id, request_id, p["status"])
            else:
                await hooks.log_status(ctx.station_id, request_id, p["status"])
        except Exception:  # the station event is kept; the charger gets its answer
            log.exception("files.status_failed", station_id=ctx.station_id, kind=kind)
        return {}

    return handle


firmware_status = _tracked("firmware_status", firmware=True)
diagnostics_status = _tracked("diagnostics_status", firmware=False)
log_status = _tracked("log_status", firmware=False)
