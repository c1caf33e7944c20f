"""OCPP 2.0.1 NotifyEVChargingNeeds: recorded, fed to load management, answered honestly.

Rules:
1. The message is kept as a ``notify_ev_charging_needs`` station event (its payload in the
   details); load management (csms.services.load.service) reads the energy amount and departure
   from that event and uses them in the allocator's urgency and in valley shifting.
2. The answer (:func:`needs_status`, pure): ``Accepted`` when load management runs here and
   the need states an energy amount and a departure (what the allocator and the valley
   planner use); ``Rejected`` otherwise (the CSMS will not schedule for it).
"""

from __future__ import annotations

from csms.handlers.context import StationContext
from csms.handlers.rpc import Payload
from csms.handlers.translate.common import report
from csms.services.load.service import charging_needs

KIND = "notify_ev_charging_needs"


def needs_status(payload: Payload, load_enabled: bool) -> str:
    """Rule 2."""
    return "Accepted" if load_enabled and charging_needs(payload) is not None else "Rejected"


async def notify_ev_charging_needs(ctx: StationContext, p: Payload) -> Payload:
    await ctx.service.reported([report(ctx.station_id, KIND, p, ctx.service.now())])
    return {"status": needs_status(p, ctx.service.charging_needs_used)}
