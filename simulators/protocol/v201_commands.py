"""Answers to the CSMS's OCPP 2.0.1 commands: the wire shape around :class:`Reactions`.

EVSE ``n`` is simulated connector ``n`` with a single connector 1 (see
:mod:`simulators.protocol.v201`); the device model is keyed by ``(component name, variable
name)``; instances and EVSE-scoped components are not modelled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from simulators.device.certificates import SIGN_TRIGGERS
from simulators.device.certificates import handlers as certificate_handlers
from simulators.device.files import v201_handlers
from simulators.device.pricing import v201_cost_text
from simulators.device.v201 import check_items
from simulators.model import Purpose, iso_utc
from simulators.protocol import tx_commands
from simulators.settings import Change, Setting, SettingsStore
from simulators.smartcharging.profiles import Limit, StoredProfile, wire_periods

if TYPE_CHECKING:
    from csms.handlers.rpc import Handler
    from simulators.protocol.reactions import Reactions

Payload = dict[str, Any]

_CHANGE: Final = {
    Change.ACCEPTED: "Accepted", Change.REJECTED: "Rejected", Change.UNKNOWN: "UnknownVariable",
}
TRIGGERABLE: Final = frozenset({
    "BootNotification", "Heartbeat", "StatusNotification", "MeterValues", "TransactionEvent",
    "FirmwareStatusNotification", "LogStatusNotification",
})


def parse_profile(raw: Payload, evse_id: int) -> StoredProfile:
    """A 2.0.1 ``ChargingProfileType`` as a stored profile (limits of all its schedules)."""
    limits = tuple(
        Limit(schedule["chargingRateUnit"], float(period["limit"]), period.get("numberPhases"))
        for schedule in raw["chargingSchedule"]
        for period in schedule["chargingSchedulePeriod"]
    )
    return StoredProfile(
        profile_id=raw["id"], connector_id=evse_id, stack_level=raw["stackLevel"],
        purpose=Purpose(raw["chargingProfilePurpose"]), limits=limits,
        transaction_id=raw.get("transactionId"), raw=raw,
    )


def _status(ok: bool, yes: str = "Accepted", no: str = "Rejected") -> Payload:
    return {"status": yes if ok else no}


class V201Commands:
    """The 2.0.1 command handlers of one station."""

    def __init__(self, reactions: Reactions, settings: SettingsStore[Any]) -> None:
        self._r = reactions
        self._settings = settings
        self._components = {component for (component, _), _ in settings}

    def handlers(self) -> dict[str, Handler]:
        """Action name to handler, for :class:`csms.handlers.rpc.RpcEndpoint`."""
        return {
            "RequestStartTransaction": self.request_start,
            "RequestStopTransaction": self.request_stop,
            "Reset": self.reset,
            "ChangeAvailability": self.change_availability,
            "UnlockConnector": self.unlock_connector,
            "GetVariables": self.get_variables,
            "SetVariables": self.set_variables,
            "TriggerMessage": self.trigger_message,
            "SetChargingProfile": self.set_charging_profile,
            "ClearChargingProfile": self.clear_charging_profile,
            "GetCompositeSchedule": self.get_composite_schedule,
            **v201_handlers(self._r.files),
            "CostUpdated": self.cost_updated,
            **tx_commands.v201_handlers(self._r.station),
            **certificate_handlers(self._r.station),
        }

    async def cost_updated(self, p: Payload) -> Payload:
        """The running total cost, shown on the display."""
        self._r.show(v201_cost_text(p["totalCost"], p["transactionId"]))
        return {}

    async def request_start(self, p: Payload) -> Payload:
        """Accepted and started on a free EVSE (Started carries the remoteStartId);
        Rejected if busy, unknown, or the profile is not a TxProfile."""
        raw = p.get("chargingProfile")
        profile = None if raw is None else parse_profile(raw, p.get("evseId", 0))
        token = p["idToken"]
        ok = self._r.remote_start(
            p.get("evseId"), token["idToken"], token_type=token["type"],
            remote_start_id=p["remoteStartId"], profile=profile,
        )
        return _status(ok)

    async def request_stop(self, p: Payload) -> Payload:
        """Accepted if the transaction runs here (then ended), else Rejected."""
        return _status(self._r.remote_stop(p["transactionId"]))

    async def reset(self, p: Payload) -> Payload:
        """Immediate: Accepted; OnIdle: Scheduled while a transaction runs; Rejected for an
        unknown EVSE."""
        immediate = p["type"] == "Immediate"
        status = self._r.reset(
            hard=immediate, when_idle=not immediate, connector_id=p.get("evseId")
        )
        return {"status": status}

    async def change_availability(self, p: Payload) -> Payload:
        """Accepted, Scheduled while charging, Rejected for an unknown EVSE or connector."""
        evse = p.get("evse") or {}
        if evse.get("connectorId", 1) != 1:
            return {"status": "Rejected"}
        operative = p["operationalStatus"] == "Operative"
        return {"status": self._r.change_availability(evse.get("id"), operative)}

    async def unlock_connector(self, p: Payload) -> Payload:
        """Unlocked, UnknownConnector, or OngoingAuthorizedTransaction."""
        if p["connectorId"] != 1:
            return {"status": "UnknownConnector"}
        return {"status": self._r.unlock(p["evseId"], stop_transaction=False)}

    async def get_variables(self, p: Payload) -> Payload:
        """One result per requested variable, Actual attribute only; more items than
        ItemsPerMessageGetVariables: CALLERROR OccurrenceConstraintViolation."""
        check_items(self._settings, "DeviceDataCtrlr", "ItemsPerMessageGetVariables",
                    len(p["getVariableData"]))
        return {"getVariableResult": [self._get(item) for item in p["getVariableData"]]}

    def _get(self, item: Payload) -> Payload:
        result, setting = self._lookup(item)
        if setting is not None:
            result["attributeValue"] = setting.value
        return result

    async def set_variables(self, p: Payload) -> Payload:
        """One result per variable: Accepted, Rejected (read-only or ill-typed),
        UnknownComponent, UnknownVariable, NotSupportedAttributeType; more items than
        ItemsPerMessageSetVariables: CALLERROR OccurrenceConstraintViolation."""
        check_items(self._settings, "DeviceDataCtrlr", "ItemsPerMessageSetVariables",
                    len(p["setVariableData"]))
        return {"setVariableResult": [self._set(item) for item in p["setVariableData"]]}

    def _set(self, item: Payload) -> Payload:
        result, setting = self._lookup(item)
        if setting is not None:
            key = (item["component"]["name"], item["variable"]["name"])
            result["attributeStatus"] = _CHANGE[self._settings.change(key, item["attributeValue"])]
        return result

    def _lookup(self, item: Payload) -> tuple[Payload, Setting | None]:
        """The result skeleton for ``item`` and its setting when the status is Accepted."""
        component, variable = item["component"], item["variable"]
        result: Payload = {"component": component, "variable": variable}
        if "attributeType" in item:
            result["attributeType"] = item["attributeType"]
        setting = self._settings.get((component["name"], variable["name"]))
        if item.get("attributeType", "Actual") != "Actual":
            result["attributeStatus"] = "NotSupportedAttributeType"
        elif component["name"] not in self._components:
            result["attributeStatus"] = "UnknownComponent"
        elif setting is None:
            result["attributeStatus"] = "UnknownVariable"
        else:
            result["attributeStatus"] = "Accepted"
            return result, setting
        return result, None

    async def trigger_message(self, p: Payload) -> Payload:
        """Accepted and sent for Boot, Heartbeat, Status, MeterValues, TransactionEvent
        (Rejected without a transaction), SignChargingStationCertificate (a CSR follows:
        simulators.device.certificates); NotImplemented otherwise."""
        if p["requestedMessage"] in SIGN_TRIGGERS:
            return {"status": self._r.station.certificates.triggered()}
        if p["requestedMessage"] not in TRIGGERABLE:
            return {"status": "NotImplemented"}
        evse = p.get("evse") or {}
        return {"status": self._r.trigger(p["requestedMessage"], evse.get("id"))}

    async def set_charging_profile(self, p: Payload) -> Payload:
        """Accepted and stored, or Rejected (see :meth:`Reactions.set_profile`)."""
        profile = parse_profile(p["chargingProfile"], p["evseId"])
        return _status(self._r.set_profile(profile))

    async def clear_charging_profile(self, p: Payload) -> Payload:
        """Accepted if a profile matched, else Unknown."""
        criteria = p.get("chargingProfileCriteria") or {}
        purpose = criteria.get("chargingProfilePurpose")
        cleared = self._r.clear_profiles(
            profile_id=p.get("chargingProfileId"), connector_id=criteria.get("evseId"),
            purpose=None if purpose is None else Purpose(purpose),
            stack_level=criteria.get("stackLevel"),
        )
        return _status(cleared, no="Unknown")

    async def get_composite_schedule(self, p: Payload) -> Payload:
        """The engine's composite schedule, or Rejected for an unknown EVSE."""
        composite = self._r.composite(p["evseId"], p["duration"], p.get("chargingRateUnit"))
        if composite is None:
            return {"status": "Rejected"}
        return {
            "status": "Accepted",
            "schedule": {
                "evseId": composite.connector_id, "duration": composite.duration_s,
                "scheduleStart": iso_utc(composite.start), "chargingRateUnit": composite.unit,
                "chargingSchedulePeriod": wire_periods(composite),
            },
        }
