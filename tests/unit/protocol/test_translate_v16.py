"""OCPP 1.6 payloads to domain types and back (csms.handlers.translate.v16): pure."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from csms.domain.model import (
    Authorization,
    AuthorizationStatus,
    BootVerdict,
    ConnectorStatus,
    IdToken,
    MeterSample,
    RegistrationStatus,
    SampledValue,
    SessionEventKind,
)
from csms.handlers.ocppj import OcppVersion, Schemas
from csms.handlers.translate import v16 as t16

Payload = dict[str, Any]

NOW = datetime(2026, 11, 27, 12, 30, tzinfo=UTC)
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CST = timezone(timedelta(hours=8))

BOOT: Payload = {
    "chargePointVendor": "Wallbox",
    "chargePointModel": "Pulsar Plus",
    "chargePointSerialNumber": "WB-2291-0042",
    "chargeBoxSerialNumber": "BOX-0042",
    "firmwareVersion": "5.17.2",
    "meterType": "DZG DWZ-E",
}

STATUS: Payload = {
    "connectorId": 2,
    "errorCode": "GroundFailure",
    "status": "Faulted",
    "timestamp": "2026-11-27T20:15:00+08:00",
    "info": "RCD tripped",
    "vendorErrorCode": "E-0x31",
}

START: Payload = {
    "connectorId": 2,
    "idTag": "04A1B2C3D4E5F6",
    "meterStart": 1520340,
    "reservationId": 7,
    "timestamp": "2026-11-27T12:00:00.000Z",
}

EIGHT_VALUES: list[Payload] = [
    {"value": "1523418", "context": "Sample.Periodic", "format": "Raw",
     "measurand": "Energy.Active.Import.Register", "location": "Outlet", "unit": "Wh"},
    {"value": "7012.5", "context": "Sample.Periodic", "measurand": "Power.Active.Import",
     "unit": "W"},
    {"value": "10.2", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
    {"value": "10.1", "measurand": "Current.Import", "phase": "L2", "unit": "A"},
    {"value": "10.3", "measurand": "Current.Import", "phase": "L3", "unit": "A"},
    {"value": "229.8", "measurand": "Voltage", "phase": "L1-N", "unit": "V"},
    {"value": "64", "measurand": "SoC", "location": "EV", "unit": "Percent"},
    {"value": "41.5", "measurand": "Temperature", "location": "Body", "unit": "Celsius"},
]

METER_VALUES: Payload = {
    "connectorId": 2,
    "transactionId": 1042,
    "meterValue": [{"timestamp": "2026-11-27T20:15:00.000+08:00", "sampledValue": EIGHT_VALUES}],
}

STOP: Payload = {
    "transactionId": 1042,
    "idTag": "04A1B2C3D4E5F6",
    "meterStop": 1534018,
    "timestamp": "2026-11-27T14:00:00.000Z",
    "reason": "EVDisconnected",
    "transactionData": [
        {"timestamp": "2026-11-27T12:00:00.000Z", "sampledValue": [
            {"value": "1520340", "context": "Transaction.Begin",
             "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]},
        {"timestamp": "2026-11-27T14:00:00.000Z", "sampledValue": [
            {"value": "1534.018", "context": "Transaction.End",
             "measurand": "Energy.Active.Import.Register", "unit": "kWh"}]},
    ],
}

SECURITY_EVENT: Payload = {
    "type": "InvalidCentralSystemCertificate",
    "timestamp": "2026-11-27T20:00:00.000+08:00",
    "techInfo": "certificate expired 2026-11-01",
}


def one_value(sampled_value: Payload) -> tuple[SampledValue, ...]:
    """The values 1.6 ``samples`` keeps from one entry holding ``sampled_value``."""
    entry = {"timestamp": "2026-11-27T12:00:00Z", "sampledValue": [sampled_value]}
    (sample,) = t16.samples([entry])
    return sample.values


class TestFixturesAreValid:
    @pytest.mark.parametrize(
        ("action", "payload"),
        [("BootNotification", BOOT), ("StatusNotification", STATUS),
         ("StartTransaction", START), ("MeterValues", METER_VALUES),
         ("StopTransaction", STOP), ("SecurityEventNotification", SECURITY_EVENT)],
    )
    def test_payload_is_schema_valid(self, action: str, payload: Payload) -> None:
        """The payloads these tests translate are valid OCPP 1.6 requests."""
        Schemas(OcppVersion.V16).check_request(action, payload, "m")


class TestEvseOf:
    @pytest.mark.parametrize(
        ("connector_id", "expected"), [(0, (0, 0)), (1, (1, 1)), (2, (2, 1)), (12, (12, 1))]
    )
    def test_mapping(self, connector_id: int, expected: tuple[int, int]) -> None:
        """1.6 connector n is EVSE n connector 1; connector 0 is (0, 0)."""
        assert expected == t16.evse_of(connector_id)


class TestBoot:
    def test_fields(self) -> None:
        """BootNotification gives vendor, model, serial, firmware, no reason, at now."""
        booted = t16.boot("CP-0042", BOOT, NOW)
        assert "CP-0042" == booted.station_id
        assert "Wallbox" == booted.vendor
        assert "Pulsar Plus" == booted.model
        assert "WB-2291-0042" == booted.serial_number
        assert "5.17.2" == booted.firmware_version
        assert booted.reason is None
        assert NOW == booted.at

    def test_serial_falls_back_to_charge_box(self) -> None:
        """Without chargePointSerialNumber the chargeBoxSerialNumber is the serial."""
        payload = {k: v for k, v in BOOT.items() if k != "chargePointSerialNumber"}
        assert "BOX-0042" == t16.boot("CP", payload, NOW).serial_number

    def test_minimal(self) -> None:
        """Only vendor and model: serial and firmware are None."""
        booted = t16.boot("CP", {"chargePointVendor": "Acme", "chargePointModel": "AC7"}, NOW)
        assert booted.serial_number is None
        assert booted.firmware_version is None

    def test_answer(self) -> None:
        """The answer carries status, interval and current time in UTC with Z."""
        verdict = BootVerdict(
            RegistrationStatus.PENDING, 300, datetime(2026, 11, 27, 20, 0, 0, 123456, CST)
        )
        answer = t16.boot_answer(verdict)
        assert {"status": "Pending", "currentTime": "2026-11-27T12:00:00.123Z",
                "interval": 300} == answer

    @pytest.mark.parametrize("status", list(RegistrationStatus))
    def test_answer_is_schema_valid(self, status: RegistrationStatus) -> None:
        """Every boot answer is a valid 1.6 BootNotification response."""
        answer = t16.boot_answer(BootVerdict(status, 300, NOW))
        Schemas(OcppVersion.V16).check_response("BootNotification", answer, "m")


class TestStatus:
    def test_fault(self) -> None:
        """A fault keeps its code, vendor code and info; evse mapped; time to UTC."""
        changed = t16.status("CP", STATUS, NOW)
        assert (2, 1) == (changed.evse_id, changed.connector_id)
        assert ConnectorStatus.FAULTED == changed.status
        assert "GroundFailure" == changed.error_code
        assert "E-0x31" == changed.vendor_error_code
        assert "RCD tripped" == changed.info
        assert datetime(2026, 11, 27, 12, 15, tzinfo=UTC) == changed.at
        assert UTC == changed.at.tzinfo

    def test_no_error_is_none(self) -> None:
        """errorCode NoError is stored as error_code None."""
        payload = {"connectorId": 1, "errorCode": "NoError", "status": "Available",
                   "timestamp": "2026-11-27T12:00:00Z"}
        assert t16.status("CP", payload, NOW).error_code is None

    def test_without_timestamp_uses_now(self) -> None:
        """A StatusNotification without timestamp happened at ``now``."""
        payload = {"connectorId": 1, "errorCode": "NoError", "status": "Charging"}
        changed = t16.status("CP", payload, NOW)
        assert NOW == changed.at
        assert changed.vendor_error_code is None
        assert changed.info is None

    def test_station_connector(self) -> None:
        """Connector 0 (the whole station) is EVSE 0 connector 0."""
        payload = {"connectorId": 0, "errorCode": "NoError", "status": "Unavailable"}
        changed = t16.status("CP", payload, NOW)
        assert (0, 0) == (changed.evse_id, changed.connector_id)

    @pytest.mark.parametrize(
        "status",
        ["Available", "Preparing", "Charging", "SuspendedEVSE", "SuspendedEV", "Finishing",
         "Reserved", "Unavailable", "Faulted"],
    )
    def test_every_1_6_status_maps(self, status: str) -> None:
        """Every 1.6 ChargePointStatus has a domain ConnectorStatus of the same name."""
        payload = {"connectorId": 1, "errorCode": "NoError", "status": status}
        assert status == t16.status("CP", payload, NOW).status.value


class TestIdTagInfo:
    @pytest.mark.parametrize(
        ("status", "wire"),
        [
            (AuthorizationStatus.ACCEPTED, "Accepted"),
            (AuthorizationStatus.BLOCKED, "Blocked"),
            (AuthorizationStatus.EXPIRED, "Expired"),
            (AuthorizationStatus.INVALID, "Invalid"),
            (AuthorizationStatus.UNKNOWN, "Invalid"),
            (AuthorizationStatus.NO_CREDIT, "Blocked"),
        ],
    )
    def test_status(self, status: AuthorizationStatus, wire: str) -> None:
        """1.6 lacks Unknown and NoCredit: they go out as Invalid and Blocked."""
        assert {"status": wire} == t16.id_tag_info(Authorization(status))

    def test_expiry_and_parent(self) -> None:
        """Expiry is written in UTC with Z; the group is the parentIdTag."""
        auth = Authorization(
            AuthorizationStatus.ACCEPTED, datetime(2027, 12, 31, 16, 0, tzinfo=UTC), "ROOM-3-201"
        )
        assert {"status": "Accepted", "expiryDate": "2027-12-31T16:00:00.000Z",
                "parentIdTag": "ROOM-3-201"} == t16.id_tag_info(auth)

    @pytest.mark.parametrize("status", list(AuthorizationStatus))
    def test_schema_valid(self, status: AuthorizationStatus) -> None:
        """Every verdict gives a valid 1.6 Authorize and StartTransaction answer."""
        info = t16.id_tag_info(Authorization(status, NOW, "GROUP-1"))
        schemas = Schemas(OcppVersion.V16)
        schemas.check_response("Authorize", {"idTagInfo": info}, "m")
        schemas.check_response("StartTransaction", {"idTagInfo": info, "transactionId": 1}, "m")


class TestStartTransaction:
    def test_fields(self) -> None:
        """StartTransaction: Started event on EVSE n connector 1, meterStart in Wh."""
        event = t16.start_transaction("CP", START)
        assert SessionEventKind.STARTED == event.kind
        assert "CP" == event.station_id
        assert (2, 1) == (event.evse_id, event.connector_id)
        assert event.transaction_ref is None
        assert IdToken("04A1B2C3D4E5F6") == event.id_token
        assert 1520340.0 == event.meter_wh
        assert isinstance(event.meter_wh, float)
        assert 7 == event.reservation_id
        assert T0 == event.at
        assert UTC == event.at.tzinfo
        assert () == event.samples
        assert event.seq_no is None

    def test_without_reservation(self) -> None:
        """No reservationId: reservation_id None."""
        payload = {k: v for k, v in START.items() if k != "reservationId"}
        assert t16.start_transaction("CP", payload).reservation_id is None

    def test_offset_timestamp(self) -> None:
        """A timestamp with +08:00 is converted to UTC."""
        payload = {**START, "timestamp": "2026-11-27T20:00:00+08:00"}
        at = t16.start_transaction("CP", payload).at
        assert T0 == at
        assert UTC == at.tzinfo


class TestStopTransaction:
    def test_fields(self) -> None:
        """StopTransaction: Ended event for the transaction id as a string."""
        event = t16.stop_transaction("CP", STOP)
        assert SessionEventKind.ENDED == event.kind
        assert "1042" == event.transaction_ref
        assert event.evse_id is None
        assert event.connector_id is None
        assert IdToken("04A1B2C3D4E5F6") == event.id_token
        assert 1534018.0 == event.meter_wh
        assert "EVDisconnected" == event.stop_reason
        assert datetime(2026, 11, 27, 14, 0, tzinfo=UTC) == event.at

    def test_transaction_data(self) -> None:
        """transactionData becomes samples, units kept as sent."""
        event = t16.stop_transaction("CP", STOP)
        assert (
            MeterSample(T0, (SampledValue(1520340.0, unit="Wh", context="Transaction.Begin"),)),
            MeterSample(datetime(2026, 11, 27, 14, 0, tzinfo=UTC),
                        (SampledValue(1534.018, unit="kWh", context="Transaction.End"),)),
        ) == event.samples

    def test_defaults(self) -> None:
        """No idTag, reason or transactionData: no token, reason Local, no samples."""
        payload = {"transactionId": 7, "meterStop": 100, "timestamp": "2026-11-27T12:00:00Z"}
        event = t16.stop_transaction("CP", payload)
        assert event.id_token is None
        assert "Local" == event.stop_reason
        assert () == event.samples


class TestMeterValues:
    def test_eight_values(self) -> None:
        """All eight numeric values become SampledValues with their attributes."""
        reported = t16.meter_values("CP", METER_VALUES)
        assert (2, 1) == (reported.evse_id, reported.connector_id)
        assert "1042" == reported.transaction_ref
        (sample,) = reported.samples
        assert datetime(2026, 11, 27, 12, 15, tzinfo=UTC) == sample.at
        assert UTC == sample.at.tzinfo
        assert (
            SampledValue(1523418.0, "Energy.Active.Import.Register", "Wh", None,
                         "Sample.Periodic", "Outlet"),
            SampledValue(7012.5, "Power.Active.Import", "W", None, "Sample.Periodic", None),
            SampledValue(10.2, "Current.Import", "A", "L1"),
            SampledValue(10.1, "Current.Import", "A", "L2"),
            SampledValue(10.3, "Current.Import", "A", "L3"),
            SampledValue(229.8, "Voltage", "V", "L1-N"),
            SampledValue(64.0, "SoC", "Percent", None, None, "EV"),
            SampledValue(41.5, "Temperature", "Celsius", None, None, "Body"),
        ) == sample.values

    def test_without_transaction(self) -> None:
        """MeterValues outside a transaction: transaction_ref None."""
        payload = {k: v for k, v in METER_VALUES.items() if k != "transactionId"}
        assert t16.meter_values("CP", payload).transaction_ref is None

    def test_station_meter(self) -> None:
        """MeterValues of connector 0 belong to EVSE 0 connector 0."""
        payload = {**METER_VALUES, "connectorId": 0}
        reported = t16.meter_values("CP", payload)
        assert (0, 0) == (reported.evse_id, reported.connector_id)

    def test_entries_keep_their_order(self) -> None:
        """Several meterValue entries give samples in order, each with its timestamp."""
        payload = copy.deepcopy(METER_VALUES)
        payload["meterValue"].append(
            {"timestamp": "2026-11-27T12:16:00Z", "sampledValue": [{"value": "1523535"}]}
        )
        reported = t16.meter_values("CP", payload)
        assert [datetime(2026, 11, 27, 12, 15, tzinfo=UTC),
                datetime(2026, 11, 27, 12, 16, tzinfo=UTC)] == [s.at for s in reported.samples]


class TestSamples:
    def test_string_value_parsed_to_float(self) -> None:
        """1.6 values are strings on the wire and floats in the domain."""
        (value,) = one_value({"value": "7012.5", "measurand": "Power.Active.Import",
                              "unit": "W"})
        assert 7012.5 == value.value
        assert isinstance(value.value, float)

    def test_default_measurand_and_unit(self) -> None:
        """A bare value is an Energy.Active.Import.Register reading in Wh."""
        assert (SampledValue(1523418.0, "Energy.Active.Import.Register", "Wh"),) == one_value(
            {"value": "1523418"}
        )

    def test_energy_measurand_defaults_to_wh(self) -> None:
        """An Energy measurand without unit is in Wh."""
        (value,) = one_value({"value": "12", "measurand": "Energy.Active.Import.Interval"})
        assert "Wh" == value.unit

    def test_other_measurand_has_no_default_unit(self) -> None:
        """A non-energy measurand without unit keeps unit None."""
        (value,) = one_value({"value": "7000", "measurand": "Power.Active.Import"})
        assert value.unit is None

    def test_kwh_kept_as_sent(self) -> None:
        """A kWh reading keeps value and unit (scaling is the session math's job)."""
        assert (SampledValue(1523.418, unit="kWh"),) == one_value(
            {"value": "1523.418", "unit": "kWh"}
        )

    def test_signed_data_skipped(self) -> None:
        """A SignedData value is skipped, even when it happens to parse as a number."""
        assert () == one_value({"value": "1523418", "format": "SignedData"})
        assert () == one_value({"value": "AQIDBAUG+/8=", "format": "SignedData"})

    def test_raw_format_kept(self) -> None:
        """format Raw is an ordinary value."""
        assert 1 == len(one_value({"value": "1523418", "format": "Raw"}))

    @pytest.mark.parametrize("text", ["", "abc", "12,5", "1.2.3", "0x1F", "12 kWh"])
    def test_non_numeric_skipped(self, text: str) -> None:
        """A value that is not a number is skipped, not an error."""
        assert () == one_value({"value": text})

    @pytest.mark.parametrize("text", ["NaN", "nan", "inf", "Infinity", "-Infinity"])
    def test_non_finite_skipped(self, text: str) -> None:
        """NaN and infinities are not plain numbers: skipped like other non-numbers."""
        assert () == one_value({"value": text})

    def test_skipping_keeps_the_others(self) -> None:
        """Skipped values do not drop the numeric ones of the same entry."""
        entry = {"timestamp": "2026-11-27T12:00:00Z", "sampledValue": [
            {"value": "AQID", "format": "SignedData"},
            {"value": "n/a", "measurand": "SoC", "unit": "Percent"},
            {"value": "1523418"},
        ]}
        (sample,) = t16.samples([entry])
        assert (SampledValue(1523418.0, unit="Wh"),) == sample.values

    def test_all_skipped_keeps_the_sample(self) -> None:
        """An entry whose values are all skipped is a sample with no values."""
        entry = {"timestamp": "2026-11-27T12:00:00Z",
                 "sampledValue": [{"value": "AQID", "format": "SignedData"}]}
        assert (MeterSample(T0, ()),) == t16.samples([entry])

    def test_empty(self) -> None:
        """No entries, no samples."""
        assert () == t16.samples([])


class TestSecurityEvent:
    def test_fields(self) -> None:
        """SecurityEventNotification: code is the type, time converted to UTC."""
        event = t16.security_event("CP", SECURITY_EVENT)
        assert "CP" == event.station_id
        assert "security_event" == event.kind
        assert "InvalidCentralSystemCertificate" == event.code
        assert T0 == event.at
        assert UTC == event.at.tzinfo
        assert SECURITY_EVENT == event.details

    def test_details_are_a_copy(self) -> None:
        """Changing the payload afterwards does not change the event's details."""
        payload = dict(SECURITY_EVENT)
        event = t16.security_event("CP", payload)
        payload["type"] = "Other"
        assert SECURITY_EVENT == event.details


class TestReport:
    def test_firmware_status(self) -> None:
        """FirmwareStatusNotification: code is the status, details the payload."""
        event = t16.report("CP", "firmware_status", {"status": "Installed"}, NOW)
        assert "CP" == event.station_id
        assert "firmware_status" == event.kind
        assert NOW == event.at
        assert "Installed" == event.code
        assert {"status": "Installed"} == event.details

    def test_diagnostics_status(self) -> None:
        """DiagnosticsStatusNotification: code is the status."""
        event = t16.report("CP", "diagnostics_status", {"status": "UploadFailed"}, NOW)
        assert "UploadFailed" == event.code

    def test_data_transfer(self) -> None:
        """DataTransfer: code is the messageId."""
        payload = {"vendorId": "com.wallbox", "messageId": "CableTemp", "data": "41.5"}
        event = t16.report("CP", "data_transfer", payload, NOW)
        assert "CableTemp" == event.code
        assert payload == event.details

    def test_data_transfer_without_message_id(self) -> None:
        """DataTransfer without messageId: code None."""
        event = t16.report("CP", "data_transfer", {"vendorId": "com.wallbox"}, NOW)
        assert event.code is None

    def test_details_are_a_copy(self) -> None:
        """Changing the payload afterwards does not change the event's details."""
        payload: Payload = {"status": "Installed"}
        event = t16.report("CP", "firmware_status", payload, NOW)
        payload["status"] = "Idle"
        assert {"status": "Installed"} == event.details
