"""OCPP 1.6J spelling of the station's own messages (commands:
:mod:`simulators.protocol.v16_commands`).

Rules:
1. Transaction ids are the CSMS's integers, kept as strings by the station.
2. Sampled values are strings; the eight sent per MeterValues are :data:`MEASURANDS`.
3. Statuses map one to one except Occupied, which is Charging during a transaction and
   Preparing otherwise; stop reasons only 2.0.1 knows become their 1.6 kin or Other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from csms.handlers.ocppj import OcppVersion
from simulators.model import Hardware, Identity, Status, Transaction
from simulators.sampling import ENERGY, MeterSample, Reading, format_value, readings
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

MEASURANDS: Final = (
    ENERGY, "Power.Active.Import", "Current.Import", "Voltage", "Current.Offered",
    "Power.Offered", "Temperature", "SoC",
)

_REASONS: Final = frozenset({
    "EmergencyStop", "EVDisconnected", "HardReset", "Local", "Other", "PowerLoss", "Reboot",
    "Remote", "SoftReset", "UnlockCommand", "DeAuthorized",
})
_REASON_FROM_V201: Final = {"ImmediateReset": "HardReset"}


def stop_reason(reason: str) -> str:
    """``reason`` (either version's spelling) as a 1.6 StopTransaction reason."""
    if reason in _REASONS:
        return reason
    return _REASON_FROM_V201.get(reason, "Other")


def sampled_value(reading: Reading, context: str) -> Payload:
    """One 1.6 sampledValue."""
    value: Payload = {
        "value": format_value(reading.value), "context": context,
        "measurand": reading.measurand, "unit": reading.unit,
    }
    if reading.phase is not None:
        value["phase"] = reading.phase
    if reading.location is not None:
        value["location"] = reading.location
    return value


def meter_value(sample: MeterSample) -> Payload:
    """One 1.6 meterValue element holding the sample's readings."""
    return {
        "timestamp": sample.timestamp,
        "sampledValue": [sampled_value(r, sample.context) for r in readings(sample, MEASURANDS)],
    }


def default_settings(connectors: int) -> SettingsStore[str]:
    """The Core, RemoteTrigger and SmartCharging keys a small 1.6 charger reports."""
    return SettingsStore({
        "HeartbeatInterval": Setting("300", kind="int", role=HEARTBEAT_INTERVAL),
        "MeterValueSampleInterval": Setting("60", kind="int", role=METER_INTERVAL),
        "ClockAlignedDataInterval": Setting("0", kind="int"),
        "MeterValuesSampledData": Setting(",".join(MEASURANDS)),
        "StopTxnSampledData": Setting(ENERGY),
        "NumberOfConnectors": Setting(str(connectors), readonly=True, kind="int"),
        "AuthorizeRemoteTxRequests": Setting("false", kind="bool", role=AUTHORIZE_REMOTE_START),
        "LocalAuthorizeOffline": Setting("true", kind="bool"),
        "LocalPreAuthorize": Setting("false", kind="bool"),
        "StopTransactionOnInvalidId": Setting("true", kind="bool"),
        "ConnectionTimeOut": Setting("60", kind="int"),
        "ResetRetries": Setting("3", kind="int"),
        "TransactionMessageAttempts": Setting("3", kind="int"),
        "TransactionMessageRetryInterval": Setting("30", kind="int"),
        "UnlockConnectorOnEVSideDisconnect": Setting("true", kind="bool"),
        "WebSocketPingInterval": Setting("0", kind="int"),
        "SupportedFeatureProfiles": Setting("Core,RemoteTrigger,SmartCharging", readonly=True),
        "ChargeProfileMaxStackLevel": Setting("8", readonly=True, kind="int"),
        "ChargingScheduleAllowedChargingRateUnit": Setting("Current,Power", readonly=True),
        "ChargingScheduleMaxPeriods": Setting("24", readonly=True, kind="int"),
        "MaxChargingProfilesInstalled": Setting("16", readonly=True, kind="int"),
        "GetConfigurationMaxKeys": Setting("50", readonly=True, kind="int"),
    })


class V16Dialect:
    """OCPP 1.6J; see the module rules."""

    version = OcppVersion.V16

    def default_settings(self, connectors: int, hardware: Hardware) -> SettingsStore[Any]:
        return default_settings(connectors)

    def boot_notification(self, identity: Identity, reason: str) -> Payload:
        payload: Payload = {
            "chargePointVendor": identity.vendor,
            "chargePointModel": identity.model,
            "firmwareVersion": identity.firmware,
        }
        if identity.serial is not None:
            payload["chargePointSerialNumber"] = identity.serial
        return payload

    def status_notification(
        self, connector_id: int, status: Status, *, error_code: str | None, charging: bool,
        timestamp: str, vendor_error_code: str | None = None,
    ) -> Payload:
        wire = status.value
        if status is Status.OCCUPIED:
            wire = "Charging" if charging else "Preparing"
        default_code = "OtherError" if status is Status.FAULTED else "NoError"
        payload: Payload = {
            "connectorId": connector_id, "errorCode": error_code or default_code,
            "status": wire, "timestamp": timestamp,
        }
        if vendor_error_code is not None:
            payload["vendorErrorCode"] = vendor_error_code
        return payload

    def authorize(self, id_tag: str, token_type: str) -> Payload:
        return {"idTag": id_tag}

    def id_status(self, response: Payload) -> str | None:
        info = response.get("idTagInfo")
        return str(info["status"]) if isinstance(info, dict) else None

    def start_transaction(self, tx: Transaction, sample: MeterSample) -> tuple[str, Payload]:
        return "StartTransaction", {
            "connectorId": tx.connector_id, "idTag": tx.id_tag,
            "meterStart": round(sample.energy_wh), "timestamp": sample.timestamp,
            **({} if tx.reservation_id is None else {"reservationId": tx.reservation_id}),
        }

    def transaction_started(self, tx: Transaction, response: Payload) -> None:
        tx.transaction_id = str(response["transactionId"])
        tx.auth_status = self.id_status(response)

    def meter_values(
        self, connector_id: int, tx: Transaction | None, sample: MeterSample, *,
        standalone: bool,
    ) -> tuple[str, Payload]:
        payload: Payload = {"connectorId": connector_id, "meterValue": [meter_value(sample)]}
        if tx is not None:
            payload["transactionId"] = int(tx.transaction_id)
        return "MeterValues", payload

    def stop_transaction(
        self, tx: Transaction, sample: MeterSample, reason: str, id_tag: str | None
    ) -> tuple[str, Payload]:
        payload: Payload = {
            "transactionId": int(tx.transaction_id), "meterStop": round(sample.energy_wh),
            "timestamp": sample.timestamp, "reason": stop_reason(reason),
            "transactionData": [meter_value(sample)],
        }
        if id_tag is not None:
            payload["idTag"] = id_tag
        return "StopTransaction", payload

    def handlers(self, reactions: Reactions, settings: SettingsStore[Any]) -> dict[str, Handler]:
        from simulators.protocol.v16_commands import V16Commands

        return V16Commands(reactions, settings).handlers()
