"""A 2.0.1 charger passing on an ISO 15118 car's needs: NotifyEVChargingNeeds.

Rules:
1. Sent once, right after the transaction started, when the car ``declares_needs``, has a
   departure and the station speaks 2.0.1 (1.6 has no such message).
2. The need is what the car lacks to reach its target: (target - arrival SoC) x capacity,
   in whole Wh; AC parameters from the car (6 A minimum, its maximum current, 230 V);
   the energy transfer mode from its phases.
3. The CSMS's answer status is returned; None when nothing was sent (not wanted, or the
   station is offline: the message is live-only, never queued).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from csms.handlers.ocppj import OcppVersion
from simulators.behaviour.ev import MIN_CURRENT_A, Ev
from simulators.model import iso_utc

if TYPE_CHECKING:
    from simulators.station import SimStation

_TRANSFER: Final = {1: "AC_single_phase", 2: "AC_two_phase", 3: "AC_three_phase"}


def needs_payload(evse_id: int, ev: Ev) -> dict[str, Any]:
    """Rule 2 (pure)."""
    assert ev.departure is not None
    energy = max(0.0, ev.target_soc_pct - ev.arrival_soc_pct) / 100.0 * ev.capacity_wh
    return {"evseId": evse_id, "chargingNeeds": {
        "requestedEnergyTransfer": _TRANSFER[ev.phases],
        "departureTime": iso_utc(ev.departure),
        "acChargingParameters": {
            "energyAmount": int(energy), "evMinCurrent": int(MIN_CURRENT_A),
            "evMaxCurrent": int(ev.max_current_a), "evMaxVoltage": 230,
        },
    }}


async def declare_needs(st: SimStation, evse_id: int, ev: Ev) -> str | None:
    """Rules 1 and 3."""
    if not ev.declares_needs or ev.departure is None or st.version is not OcppVersion.V201 \
            or not st.connected:
        return None
    answer = await st.call("NotifyEVChargingNeeds", needs_payload(evse_id, ev))
    status = answer.get("status")
    return status if isinstance(status, str) else None
