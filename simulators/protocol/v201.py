"""OCPP 2.0.1 spelling of the station's own messages (commands:
:mod:`simulators.protocol.v201_commands`).

Rules:
1. Simulated connector ``n`` is EVSE ``n`` with connector 1.
2. The station issues transaction ids itself; every TransactionEvent of a transaction
   carries the next seqNo, from 0.
3. Started says Authorized (or RemoteStart when a remoteStartId came with it); Updated says
   MeterValuePeriodic, or Trigger for a triggered sample; Ended names the stop reason and
   the trigger that goes with it.
4. Meter values outside a transaction, and triggered MeterValues, go in MeterValues.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from csms.handlers.ocppj import OcppVersion
from simulators.model import Hardware, Identity, Status, Transaction
from simulators.sampling import ENERGY, MeterSample, Reading, readings
from simulators.settings import (
    AUTHORIZE_REMOTE_START,
    HEARTBEAT_INTERVAL,
    METER_INTERVAL,
    Setting,
    SettingsStore,
)

if TYPE_CHECKING:
    from csms.handlers.rpc import Handler
    from simulators.protocol.reactions import Reactions

Payload = dict[str, Any]
VariableKey = tuple[str, str]

MEASURANDS: Final = (
    ENERGY, "Power.Active.Import", "Current.Import", "Voltage", "Current.Offered",
    "Power.Offered", "SoC", "Frequency",
)

_OCCUPIED: Final = frozenset({
    Status.PREPARING, Status.OCCUPIED, Status.CHARGING, Status.SUSPENDED_EV,
    Status.SUSPENDED_EVSE, Status.FINISHING,
})
_REASONS: Final = frozenset({
    "DeAuthorized", "EmergencyStop", "EnergyLimitReached", "EVDisconnected", "GroundFault",
    "ImmediateReset", "Local", "LocalOutOfCredit", "MasterPass", "Other", "OvercurrentFault",
    "PowerLoss", "PowerQuality", "Reboot", "Remote", "SOCLimitReached", "StoppedByEV",
    "TimeLimitReached", "Timeout",
})
_REASON_FROM_V16: Final = {"HardReset": "ImmediateReset", "SoftReset": "Reboot"}
_STOP_TRIGGERS: Final = {
    "Local": "StopAuthorized", "Remote": "RemoteStop", "ImmediateReset": "ResetCommand",
    "Reboot": "ResetCommand", "HardReset": "ResetCommand", "SoftReset": "ResetCommand",
    "UnlockCommand": "UnlockCommand", "EVDisconnected": "EVCommunicationLost",
    "EnergyLimitReached": "EnergyLimitReached", "SOCLimitReached": "EnergyLimitReached",
    "TimeLimitReached": "TimeLimitReached", "DeAuthorized": "Deauthorized",
    "MasterPass": "StopAuthorized", "StoppedByEV": "ChargingStateChanged",
}


def stop_reason(reason: str) -> tuple[str, str]:
    """``reason`` (either version's spelling) as (stoppedReason, triggerReason)."""
    trigger = _STOP_TRIGGERS.get(reason, "AbnormalCondition")
    if reason in _REASONS:
        return reason, trigger
    return _REASON_FROM_V16.get(reason, "Other"), trigger


def sampled_value(reading: Reading, context: str) -> Payload:
    """One 2.0.1 sampledValue."""
    value: Payload = {
        "value": round(reading.value, 3), "context": context, "measurand": reading.measurand,
        "unitOfMeasure": {"unit": reading.unit},
    }
    if reading.phase is not None:
        value["phase"] = reading.phase
    if reading.location is not None:
        value["location"] = reading.location
    return value


def meter_value(sample: MeterSample) -> Payload:
    """One 2.0.1 MeterValueType holding the sample's readings."""
    return {
        "timestamp": sample.timestamp,
        "sampledValue": [sampled_value(r, sample.context) for r in readings(sample, MEASURANDS)],
    }


def default_settings(hardware: Hardware) -> SettingsStore[VariableKey]:
    """A small device model: the variables a CSMS commonly reads and sets."""
    return SettingsStore({
        ("OCPPCommCtrlr", "HeartbeatInterval"): Setting(
            "300", kind="int", role=HEARTBEAT_INTERVAL),
        ("OCPPCommCtrlr", "WebSocketPingInterval"): Setting("0", kind="int"),
        ("OCPPCommCtrlr", "ResetRetries"): Setting("3", kind="int"),
        ("SampledDataCtrlr", "TxUpdatedInterval"): Setting("60", kind="int", role=METER_INTERVAL),
        ("SampledDataCtrlr", "TxUpdatedMeasurands"): Setting(",".join(MEASURANDS)),
        ("SampledDataCtrlr", "TxEndedMeasurands"): Setting(ENERGY),
        ("AlignedDataCtrlr", "Interval"): Setting("0", kind="int"),
        ("AuthCtrlr", "AuthorizeRemoteStart"): Setting(
            "false", kind="bool", role=AUTHORIZE_REMOTE_START),
        ("AuthCtrlr", "LocalPreAuthorize"): Setting("false", kind="bool"),
        ("TxCtrlr", "EVConnectionTimeOut"): Setting("60", kind="int"),
        ("TxCtrlr", "StopTxOnInvalidId"): Setting("true", kind="bool"),
        ("SmartChargingCtrlr", "Enabled"): Setting("true", readonly=True, kind="bool"),
        ("SmartChargingCtrlr", "RateUnit"): Setting("A,W", readonly=True),
        ("SmartChargingCtrlr", "PeriodsPerSchedule"): Setting("24", readonly=True, kind="int"),
        ("SmartChargingCtrlr", "ProfileStackLevel"): Setting("8", readonly=True, kind="int"),
        ("ChargingStation", "SupplyPhases"): Setting(
            str(hardware.phases), readonly=True, kind="int"),
        ("DeviceDataCtrlr", "ItemsPerMessageGetVariables"): Setting(
            "4", readonly=True, kind="int"),
        ("DeviceDataCtrlr", "ItemsPerMessageSetVariables"): Setting(
            "8", readonly=True, kind="int"),
        ("DeviceDataCtrlr", "ItemsPerMessageGetReport"): Setting("4", readonly=True, kind="int"),
        ("MonitoringCtrlr", "Enabled"): Setting("true", kind="bool"),
        ("MonitoringCtrlr", "ItemsPerMessageSetVariableMonitoring"): Setting(
            "4", readonly=True, kind="int"),
        ("MonitoringCtrlr", "ItemsPerMessageClearVariableMonitoring"): Setting(
            "4", readonly=True, kind="int"),
    })


class V201Dialect:
    """OCPP 2.0.1; see the module rules."""

    version = OcppVersion.V201

    def default_settings(self, connectors: int, hardware: Hardware) -> SettingsStore[Any]:
        return default_settings(hardware)

    def boot_notification(self, identity: Identity, reason: str) -> Payload:
        station: Payload = {
            "vendorName": identity.vendor, "model": identity.model,
            "firmwareVersion": identity.firmware,
        }
        if identity.serial is not None:
            station["serialNumber"] = identity.serial
        return {"reason": reason, "chargingStation": station}

    def status_notification(
        self, connector_id: int, status: Status, *, error_code: str | None, charging: bool,
        timestamp: str, vendor_error_code: str | None = None,
    ) -> Payload:
        wire = "Occupied" if status in _OCCUPIED else status.value
        return {
            "timestamp": timestamp, "connectorStatus": wire,
            "evseId": connector_id, "connectorId": 1,
        }

    def authorize(self, id_tag: str, token_type: str) -> Payload:
        return {"idToken": {"idToken": id_tag, "type": token_type}}

    def id_status(self, response: Payload) -> str | None:
        info = response.get("idTokenInfo")
        return str(info["status"]) if isinstance(info, dict) else None

    def start_transaction(self, tx: Transaction, sample: MeterSample) -> tuple[str, Payload]:
        info: Payload = {"transactionId": tx.transaction_id, "chargingState": "Charging"}
        trigger = "Authorized"
        if tx.remote_start_id is not None:
            info["remoteStartId"] = tx.remote_start_id
            trigger = "RemoteStart"
        return "TransactionEvent", {
            "eventType": "Started", "timestamp": sample.timestamp, "triggerReason": trigger,
            "seqNo": tx.next_seq(), "transactionInfo": info,
            "evse": {"id": tx.connector_id, "connectorId": 1},
            "idToken": {"idToken": tx.id_tag, "type": tx.token_type},
            "meterValue": [meter_value(sample)],
            **({} if tx.reservation_id is None else {"reservationId": tx.reservation_id}),
        }

    def transaction_started(self, tx: Transaction, response: Payload) -> None:
        tx.auth_status = self.id_status(response)

    def meter_values(
        self, connector_id: int, tx: Transaction | None, sample: MeterSample, *,
        standalone: bool,
    ) -> tuple[str, Payload]:
        if tx is None or standalone:
            return "MeterValues", {"evseId": connector_id, "meterValue": [meter_value(sample)]}
        trigger = "Trigger" if sample.context == "Trigger" else "MeterValuePeriodic"
        return "TransactionEvent", {
            "eventType": "Updated", "timestamp": sample.timestamp, "triggerReason": trigger,
            "seqNo": tx.next_seq(),
            "transactionInfo": {
                "transactionId": tx.transaction_id, "chargingState": tx.charging_state,
            },
            "meterValue": [meter_value(sample)],
        }

    def stop_transaction(
        self, tx: Transaction, sample: MeterSample, reason: str, id_tag: str | None
    ) -> tuple[str, Payload]:
        stopped, trigger = stop_reason(reason)
        state = "Idle" if stopped == "EVDisconnected" else "EVConnected"
        payload: Payload = {
            "eventType": "Ended", "timestamp": sample.timestamp, "triggerReason": trigger,
            "seqNo": tx.next_seq(),
            "transactionInfo": {
                "transactionId": tx.transaction_id, "chargingState": state,
                "stoppedReason": stopped,
            },
            "meterValue": [meter_value(sample)],
        }
        if id_tag is not None:
            payload["idToken"] = {"idToken": id_tag, "type": tx.token_type}
        return "TransactionEvent", payload

    def handlers(self, reactions: Reactions, settings: SettingsStore[Any]) -> dict[str, Handler]:
        from simulators.device.v201 import V201Device
        from simulators.protocol.v201_commands import V201Commands

        return {**V201Commands(reactions, settings).handlers(),
                **V201Device(reactions.station, settings).handlers()}
