"""Answers to the CSMS's OCPP 1.6 commands: the wire shape around :class:`Reactions`.

Each handler reads the (already validated) request, asks the neutral behaviour for a
decision and spells the answer; nothing here awaits a CALL (see
:mod:`simulators.protocol.reactions`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from simulators.device.certificates import handlers as certificate_handlers
from simulators.device.files import v16_handlers
from simulators.device.pricing import v16_cost_text
from simulators.model import Purpose, iso_utc
from simulators.protocol import tx_commands
from simulators.settings import Change, SettingsStore
from simulators.smartcharging.profiles import Limit, StoredProfile, wire_periods

if TYPE_CHECKING:
    from csms.handlers.rpc import Handler
    from simulators.protocol.reactions import Reactions

Payload = dict[str, Any]

_PURPOSES: Final = {
    "ChargePointMaxProfile": Purpose.STATION_MAX,
    "TxDefaultProfile": Purpose.TX_DEFAULT,
    "TxProfile": Purpose.TX,
}
_CHANGE: Final = {
    Change.ACCEPTED: "Accepted", Change.REJECTED: "Rejected", Change.UNKNOWN: "NotSupported",
}
_UNLOCK: Final = {"Unlocked": "Unlocked", "UnknownConnector": "UnlockFailed"}
TRIGGERABLE: Final = frozenset(
    {"BootNotification", "Heartbeat", "StatusNotification", "MeterValues",
     "FirmwareStatusNotification", "DiagnosticsStatusNotification"}
)


def parse_profile(raw: Payload, connector_id: int) -> StoredProfile:
    """A 1.6 ``csChargingProfiles`` (or RemoteStart ``chargingProfile``) as a stored profile."""
    schedule = raw["chargingSchedule"]
    unit = schedule["chargingRateUnit"]
    limits = tuple(
        Limit(unit, float(period["limit"]), period.get("numberPhases"))
        for period in schedule["chargingSchedulePeriod"]
    )
    tx = raw.get("transactionId")
    return StoredProfile(
        profile_id=raw["chargingProfileId"], connector_id=connector_id,
        stack_level=raw["stackLevel"], purpose=_PURPOSES[raw["chargingProfilePurpose"]],
        limits=limits, transaction_id=None if tx is None else str(tx), raw=raw,
    )


def _status(ok: bool, yes: str = "Accepted", no: str = "Rejected") -> Payload:
    return {"status": yes if ok else no}


class V16Commands:
    """The 1.6 command handlers of one station."""

    def __init__(self, reactions: Reactions, settings: SettingsStore[Any]) -> None:
        self._r = reactions
        self._settings = settings

    def handlers(self) -> dict[str, Handler]:
        """Action name to handler, for :class:`csms.handlers.rpc.RpcEndpoint`."""
        return {
            "RemoteStartTransaction": self.remote_start,
            "RemoteStopTransaction": self.remote_stop,
            "Reset": self.reset,
            "ChangeAvailability": self.change_availability,
            "UnlockConnector": self.unlock_connector,
            "GetConfiguration": self.get_configuration,
            "ChangeConfiguration": self.change_configuration,
            "TriggerMessage": self.trigger_message,
            "SetChargingProfile": self.set_charging_profile,
            "ClearChargingProfile": self.clear_charging_profile,
            "GetCompositeSchedule": self.get_composite_schedule,
            **v16_handlers(self._r.files),
            "DataTransfer": self.data_transfer,
            **tx_commands.v16_handlers(self._r.station),
            **certificate_handlers(self._r.station),
        }

    async def data_transfer(self, p: Payload) -> Payload:
        """California pricing (vendor org.openchargealliance.costmsg) is shown on the display
        and Accepted; anything else is UnknownVendorId / UnknownMessageId / Rejected."""
        status, text = v16_cost_text(p["vendorId"], p.get("messageId"), p.get("data"))
        if text:
            self._r.show(text)
        return {"status": status}

    async def remote_start(self, p: Payload) -> Payload:
        """Accepted and started on a free connector; Rejected if busy, unknown, or the
        profile is not a TxProfile."""
        raw = p.get("chargingProfile")
        profile = None if raw is None else parse_profile(raw, p.get("connectorId", 0))
        ok = self._r.remote_start(p.get("connectorId"), p["idTag"], profile=profile)
        return _status(ok)

    async def remote_stop(self, p: Payload) -> Payload:
        """Accepted if the transaction runs here (then stopped), else Rejected."""
        return _status(self._r.remote_stop(str(p["transactionId"])))

    async def reset(self, p: Payload) -> Payload:
        """Accepted; transactions stop (HardReset/SoftReset) and the station boots again."""
        return {"status": self._r.reset(hard=p["type"] == "Hard")}

    async def change_availability(self, p: Payload) -> Payload:
        """Accepted, Scheduled while charging, Rejected for an unknown connector."""
        status = self._r.change_availability(p["connectorId"], p["type"] == "Operative")
        return {"status": status}

    async def unlock_connector(self, p: Payload) -> Payload:
        """Unlocked (a running transaction stops first), UnlockFailed if unknown."""
        status = self._r.unlock(p["connectorId"], stop_transaction=True)
        return {"status": _UNLOCK[status]}

    async def get_configuration(self, p: Payload) -> Payload:
        """The requested keys (all if none) and the unknown ones."""
        keys = p.get("key") or [key for key, _ in self._settings]
        known = [
            {"key": key, "readonly": setting.readonly, "value": setting.value}
            for key in keys if (setting := self._settings.get(key)) is not None
        ]
        answer: Payload = {"configurationKey": known}
        unknown = [key for key in keys if self._settings.get(key) is None]
        if unknown:
            answer["unknownKey"] = unknown
        return answer

    async def change_configuration(self, p: Payload) -> Payload:
        """Accepted, Rejected (read-only or ill-typed), NotSupported (unknown key)."""
        return {"status": _CHANGE[self._settings.change(p["key"], p["value"])]}

    async def trigger_message(self, p: Payload) -> Payload:
        """Accepted and sent for Boot, Heartbeat, Status, MeterValues; else NotImplemented."""
        if p["requestedMessage"] not in TRIGGERABLE:
            return {"status": "NotImplemented"}
        return {"status": self._r.trigger(p["requestedMessage"], p.get("connectorId"))}

    async def set_charging_profile(self, p: Payload) -> Payload:
        """Accepted and stored, or Rejected (see :meth:`Reactions.set_profile`)."""
        profile = parse_profile(p["csChargingProfiles"], p["connectorId"])
        return _status(self._r.set_profile(profile))

    async def clear_charging_profile(self, p: Payload) -> Payload:
        """Accepted if a profile matched, else Unknown."""
        purpose = p.get("chargingProfilePurpose")
        cleared = self._r.clear_profiles(
            profile_id=p.get("id"), connector_id=p.get("connectorId"),
            purpose=None if purpose is None else _PURPOSES[purpose],
            stack_level=p.get("stackLevel"),
        )
        return _status(cleared, no="Unknown")

    async def get_composite_schedule(self, p: Payload) -> Payload:
        """The engine's composite schedule, or Rejected for an unknown connector."""
        composite = self._r.composite(p["connectorId"], p["duration"], p.get("chargingRateUnit"))
        if composite is None:
            return {"status": "Rejected"}
        start = iso_utc(composite.start)
        return {
            "status": "Accepted", "connectorId": composite.connector_id, "scheduleStart": start,
            "chargingSchedule": {
                "duration": composite.duration_s, "startSchedule": start,
                "chargingRateUnit": composite.unit,
                "chargingSchedulePeriod": wire_periods(composite),
            },
        }
