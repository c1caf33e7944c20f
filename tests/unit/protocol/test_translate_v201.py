"""OCPP 2.0.1 payloads to domain types and back (csms.handlers.translate.v201): pure."""

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
from csms.handlers.translate import v201 as t201

Payload = dict[str, Any]

NOW = datetime(2026, 11, 27, 12, 30, tzinfo=UTC)
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CST = timezone(timedelta(hours=8))
TX_ID = "3f2c8a1e-5b7d-4e21-9c0a-7d1e2f3a4b5c"

BOOT: Payload = {
    "reason": "PowerUp",
    "chargingStation": {
        "model": "Terra AC W22",
        "vendorName": "ABB",
        "serialNumber": "TACW22-2291-0042",
        "firmwareVersion": "1.8.21",
        "modem": {"iccid": "89860318760123456789", "imsi": "460011234567890"},
    },
}

STATUS: Payload = {
    "timestamp": "2026-11-27T20:15:00.000+08:00",
    "connectorStatus": "Occupied",
    "evseId": 2,
    "connectorId": 1,
}

EIGHT_VALUES: list[Payload] = [
    {"value": 1523.418, "context": "Sample.Periodic",
     "measurand": "Energy.Active.Import.Register", "location": "Outlet",
     "unitOfMeasure": {"unit": "kWh"}},
    {"value": 7.0125, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "kW"}},
    {"value": 10.2, "measurand": "Current.Import", "phase": "L1", "unitOfMeasure": {"unit": "A"}},
    {"value": 10.1, "measurand": "Current.Import", "phase": "L2", "unitOfMeasure": {"unit": "A"}},
    {"value": 10.3, "measurand": "Current.Import", "phase": "L3", "unitOfMeasure": {"unit": "A"}},
    {"value": 229.8, "measurand": "Voltage", "phase": "L1-N", "unitOfMeasure": {"unit": "V"}},
    {"value": 64, "measurand": "SoC", "location": "EV", "unitOfMeasure": {"unit": "Percent"}},
    {"value": 50.0, "measurand": "Frequency", "unitOfMeasure": {"unit": "Hz"}},
]

METER_VALUES: Payload = {
    "evseId": 2,
    "meterValue": [{"timestamp": "2026-11-27T20:15:00.000+08:00", "sampledValue": EIGHT_VALUES}],
}

TX_STARTED: Payload = {
    "eventType": "Started",
    "timestamp": "2026-11-27T12:00:00.000Z",
    "triggerReason": "Authorized",
    "seqNo": 0,
    "reservationId": 7,
    "transactionInfo": {"transactionId": TX_ID, "chargingState": "EVConnected"},
    "evse": {"id": 2, "connectorId": 1},
    "idToken": {"idToken": "04A1B2C3D4E5F6", "type": "ISO14443"},
    "meterValue": [{
        "timestamp": "2026-11-27T12:00:00.000Z",
        "sampledValue": [{"value": 1520.34, "context": "Transaction.Begin",
                          "measurand": "Energy.Active.Import.Register",
                          "unitOfMeasure": {"unit": "kWh"}}],
    }],
}

TX_UPDATED: Payload = {
    "eventType": "Updated",
    "timestamp": "2026-11-27T20:15:00.000+08:00",
    "triggerReason": "MeterValuePeriodic",
    "seqNo": 3,
    "offline": True,
    "transactionInfo": {"transactionId": TX_ID, "chargingState": "Charging"},
    "meterValue": [{"timestamp": "2026-11-27T20:15:00.000+08:00", "sampledValue": EIGHT_VALUES}],
}

TX_ENDED: Payload = {
    "eventType": "Ended",
    "timestamp": "2026-11-27T14:00:00.000Z",
    "triggerReason": "EVDeparted",
    "seqNo": 9,
    "transactionInfo": {"transactionId": TX_ID, "chargingState": "Idle",
                        "stoppedReason": "EVDisconnected"},
    "evse": {"id": 2},
}

NOTIFY_EVENT: Payload = {
    "generatedAt": "2026-11-27T12:20:00.000Z",
    "seqNo": 0,
    "tbc": False,
    "eventData": [
        {"eventId": 101, "timestamp": "2026-11-27T20:19:58.000+08:00", "trigger": "Alerting",
         "actualValue": "true", "eventNotificationType": "HardWiredNotification",
         "techCode": "RCD-30mA",
         "component": {"name": "ChargingStation"}, "variable": {"name": "Problem"}},
        {"eventId": 102, "timestamp": "2026-11-27T12:19:59.000Z", "trigger": "Delta",
         "actualValue": "Faulted", "eventNotificationType": "HardWiredNotification",
         "component": {"name": "Connector", "evse": {"id": 2, "connectorId": 1}},
         "variable": {"name": "AvailabilityState"}},
        {"eventId": 103, "timestamp": "2026-11-27T12:20:00.000Z", "trigger": "Periodic",
         "actualValue": "48.5", "eventNotificationType": "PreconfiguredMonitor",
         "component": {"name": "EVSE", "evse": {"id": 1}},
         "variable": {"name": "Temperature", "instance": "Body"}},
    ],
}

SECURITY_EVENT: Payload = {
    "type": "FirmwareUpdated",
    "timestamp": "2026-11-27T20:00:00.000+08:00",
    "techInfo": "1.8.20 -> 1.8.21",
}

NOTIFY_REPORT: Payload = {
    "requestId": 5,
    "generatedAt": "2026-11-27T12:00:00.000Z",
    "seqNo": 0,
    "tbc": False,
    "reportData": [{
        "component": {"name": "OCPPCommCtrlr"},
        "variable": {"name": "HeartbeatInterval"},
        "variableAttribute": [{"type": "Actual", "value": "300", "mutability": "ReadWrite"}],
    }],
}


def values_of(*sampled_values: Payload) -> tuple[SampledValue, ...]:
    """The SampledValues 2.0.1 ``samples`` gives for one entry holding ``sampled_values``."""
    entry = {"timestamp": "2026-11-27T12:00:00Z", "sampledValue": list(sampled_values)}
    (sample,) = t201.samples([entry])
    return sample.values


class TestFixturesAreValid:
    @pytest.mark.parametrize(
        ("action", "payload"),
        [("BootNotification", BOOT), ("StatusNotification", STATUS),
         ("MeterValues", METER_VALUES), ("TransactionEvent", TX_STARTED),
         ("TransactionEvent", TX_UPDATED), ("TransactionEvent", TX_ENDED),
         ("NotifyEvent", NOTIFY_EVENT), ("SecurityEventNotification", SECURITY_EVENT),
         ("NotifyReport", NOTIFY_REPORT)],
    )
    def test_payload_is_schema_valid(self, action: str, payload: Payload) -> None:
        """The payloads these tests translate are valid OCPP 2.0.1 requests."""
        Schemas(OcppVersion.V201).check_request(action, payload, "m")


class TestBoot:
    def test_fields(self) -> None:
        """BootNotification gives vendor, model, serial, firmware, reason, at now."""
        booted = t201.boot("CP-0042", BOOT, NOW)
        assert "CP-0042" == booted.station_id
        assert "ABB" == booted.vendor
        assert "Terra AC W22" == booted.model
        assert "TACW22-2291-0042" == booted.serial_number
        assert "1.8.21" == booted.firmware_version
        assert "PowerUp" == booted.reason
        assert NOW == booted.at

    def test_minimal(self) -> None:
        """Only model and vendor: serial and firmware are None."""
        payload = {"reason": "Watchdog", "chargingStation": {"model": "M", "vendorName": "V"}}
        booted = t201.boot("CP", payload, NOW)
        assert booted.serial_number is None
        assert booted.firmware_version is None
        assert "Watchdog" == booted.reason

    def test_answer(self) -> None:
        """The answer carries status, interval and current time in UTC with Z."""
        verdict = BootVerdict(
            RegistrationStatus.ACCEPTED, 60, datetime(2026, 11, 27, 20, 0, 0, 999999, CST)
        )
        assert {"status": "Accepted", "currentTime": "2026-11-27T12:00:00.999Z",
                "interval": 60} == t201.boot_answer(verdict)

    @pytest.mark.parametrize("status", list(RegistrationStatus))
    def test_answer_is_schema_valid(self, status: RegistrationStatus) -> None:
        """Every boot answer is a valid 2.0.1 BootNotification response."""
        answer = t201.boot_answer(BootVerdict(status, 300, NOW))
        Schemas(OcppVersion.V201).check_response("BootNotification", answer, "m")


class TestStatus:
    def test_occupied(self) -> None:
        """StatusNotification: EVSE and connector as sent, time in UTC, no error code."""
        changed = t201.status("CP", STATUS)
        assert (2, 1) == (changed.evse_id, changed.connector_id)
        assert ConnectorStatus.OCCUPIED == changed.status
        assert datetime(2026, 11, 27, 12, 15, tzinfo=UTC) == changed.at
        assert UTC == changed.at.tzinfo
        assert changed.error_code is None
        assert changed.vendor_error_code is None
        assert changed.info is None

    def test_faulted_sets_error_code(self) -> None:
        """A Faulted connector gets error_code "Faulted"."""
        changed = t201.status("CP", {**STATUS, "connectorStatus": "Faulted"})
        assert ConnectorStatus.FAULTED == changed.status
        assert "Faulted" == changed.error_code

    @pytest.mark.parametrize("status", ["Available", "Occupied", "Reserved", "Unavailable"])
    def test_other_states_have_no_error(self, status: str) -> None:
        """Every non-faulted 2.0.1 state maps by name and has no error code."""
        changed = t201.status("CP", {**STATUS, "connectorStatus": status})
        assert status == changed.status.value
        assert changed.error_code is None


class TestIdToken:
    def test_value_and_type(self) -> None:
        """An IdTokenType gives value and kind."""
        assert IdToken("E-CN-ABC-123456-7", "eMAID") == t201.id_token(
            {"idToken": "E-CN-ABC-123456-7", "type": "eMAID"}
        )


class TestIdTokenInfo:
    @pytest.mark.parametrize("status", list(AuthorizationStatus))
    def test_status_unchanged(self, status: AuthorizationStatus) -> None:
        """2.0.1 has every status, Unknown and NoCredit included: sent as they are."""
        assert {"status": status.value} == t201.id_token_info(Authorization(status))

    def test_expiry_and_group(self) -> None:
        """Expiry is cacheExpiryDateTime in UTC with Z; the group is a Central token."""
        auth = Authorization(
            AuthorizationStatus.ACCEPTED, datetime(2028, 1, 1, 0, 0, tzinfo=CST), "ROOM-3-201"
        )
        assert {
            "status": "Accepted",
            "cacheExpiryDateTime": "2027-12-31T16:00:00.000Z",
            "groupIdToken": {"idToken": "ROOM-3-201", "type": "Central"},
        } == t201.id_token_info(auth)

    @pytest.mark.parametrize("status", list(AuthorizationStatus))
    def test_schema_valid(self, status: AuthorizationStatus) -> None:
        """Every verdict gives a valid 2.0.1 Authorize answer."""
        info = t201.id_token_info(Authorization(status, NOW, "GROUP-1"))
        Schemas(OcppVersion.V201).check_response("Authorize", {"idTokenInfo": info}, "m")


class TestTransactionEvent:
    def test_started(self) -> None:
        """Started: kind, time, EVSE, transaction id, token, seqNo, trigger, state."""
        event = t201.transaction_event("CP", TX_STARTED)
        assert "CP" == event.station_id
        assert SessionEventKind.STARTED == event.kind
        assert T0 == event.at
        assert (2, 1) == (event.evse_id, event.connector_id)
        assert TX_ID == event.transaction_ref
        assert IdToken("04A1B2C3D4E5F6", "ISO14443") == event.id_token
        assert 0 == event.seq_no
        assert False is event.offline
        assert "Authorized" == event.trigger_reason
        assert event.stop_reason is None
        assert "EVConnected" == event.charging_state
        assert 7 == event.reservation_id
        assert event.meter_wh is None

    def test_started_samples(self) -> None:
        """The event's meterValue becomes samples."""
        event = t201.transaction_event("CP", TX_STARTED)
        assert (MeterSample(T0, (SampledValue(1520.34, unit="kWh",
                                              context="Transaction.Begin"),)),) == event.samples

    def test_updated_offline(self) -> None:
        """Updated: offline flag, seqNo, no EVSE, no token, time converted to UTC."""
        event = t201.transaction_event("CP", TX_UPDATED)
        assert SessionEventKind.UPDATED == event.kind
        assert True is event.offline
        assert 3 == event.seq_no
        assert "MeterValuePeriodic" == event.trigger_reason
        assert "Charging" == event.charging_state
        assert event.evse_id is None
        assert event.connector_id is None
        assert event.id_token is None
        assert event.reservation_id is None
        assert datetime(2026, 11, 27, 12, 15, tzinfo=UTC) == event.at
        assert UTC == event.at.tzinfo
        (sample,) = event.samples
        assert 8 == len(sample.values)

    def test_ended(self) -> None:
        """Ended: stoppedReason is the stop reason; no meterValue gives no samples."""
        event = t201.transaction_event("CP", TX_ENDED)
        assert SessionEventKind.ENDED == event.kind
        assert "EVDisconnected" == event.stop_reason
        assert "EVDeparted" == event.trigger_reason
        assert 9 == event.seq_no
        assert () == event.samples

    def test_ended_without_stopped_reason_stopped_locally(self) -> None:
        """Ended without stoppedReason: the spec's default, Local (as 1.6 StopTransaction)."""
        info = {k: v for k, v in TX_ENDED["transactionInfo"].items() if k != "stoppedReason"}
        event = t201.transaction_event("CP", {**TX_ENDED, "transactionInfo": info})
        assert "Local" == event.stop_reason

    def test_only_ended_gets_the_default_stop_reason(self) -> None:
        """Started and Updated carry no stop reason, so none is invented for them."""
        assert None is t201.transaction_event("CP", TX_UPDATED).stop_reason

    def test_remote_start_id(self) -> None:
        """transactionInfo.remoteStartId names the RequestStartTransaction answered; None
        without it."""
        info = {**TX_STARTED["transactionInfo"], "remoteStartId": 41}
        event = t201.transaction_event("CP", {**TX_STARTED, "transactionInfo": info})
        assert (41, None) == (event.remote_start_id,
                              t201.transaction_event("CP", TX_STARTED).remote_start_id)

    def test_evse_without_connector_is_connector_1(self) -> None:
        """An evse object without connectorId is taken as that EVSE's connector 1."""
        event = t201.transaction_event("CP", TX_ENDED)
        assert (2, 1) == (event.evse_id, event.connector_id)

    def test_evse_with_other_connector(self) -> None:
        """An explicit connectorId is kept."""
        payload = {**TX_ENDED, "evse": {"id": 3, "connectorId": 2}}
        event = t201.transaction_event("CP", payload)
        assert (3, 2) == (event.evse_id, event.connector_id)

    def test_does_not_change_the_payload(self) -> None:
        """Translation leaves the payload as it was."""
        payload = copy.deepcopy(TX_STARTED)
        t201.transaction_event("CP", payload)
        assert TX_STARTED == payload


class TestMeterValues:
    def test_eight_values(self) -> None:
        """MeterValues: EVSE as sent, no connector, no transaction, eight values."""
        reported = t201.meter_values("CP", METER_VALUES)
        assert 2 == reported.evse_id
        assert reported.connector_id is None
        assert reported.transaction_ref is None
        (sample,) = reported.samples
        assert datetime(2026, 11, 27, 12, 15, tzinfo=UTC) == sample.at
        assert (
            SampledValue(1523.418, "Energy.Active.Import.Register", "kWh", None,
                         "Sample.Periodic", "Outlet"),
            SampledValue(7.0125, "Power.Active.Import", "kW"),
            SampledValue(10.2, "Current.Import", "A", "L1"),
            SampledValue(10.1, "Current.Import", "A", "L2"),
            SampledValue(10.3, "Current.Import", "A", "L3"),
            SampledValue(229.8, "Voltage", "V", "L1-N"),
            SampledValue(64.0, "SoC", "Percent", None, None, "EV"),
            SampledValue(50.0, "Frequency", "Hz"),
        ) == sample.values


class TestSamples:
    def test_multiplier_scales_value(self) -> None:
        """kWh with multiplier 3: value * 10**3, unit kept as kWh."""
        (value,) = values_of({"value": 12.5, "unitOfMeasure": {"unit": "kWh", "multiplier": 3}})
        assert SampledValue(12500.0, unit="kWh") == value

    def test_negative_multiplier(self) -> None:
        """W with multiplier -1: value * 10**-1."""
        (value,) = values_of({"value": 70125, "measurand": "Power.Active.Import",
                              "unitOfMeasure": {"unit": "W", "multiplier": -1}})
        assert pytest.approx(7012.5) == value.value
        assert "W" == value.unit

    def test_zero_or_absent_multiplier(self) -> None:
        """Multiplier 0 or absent leaves the value as sent."""
        assert (SampledValue(1523.418, unit="kWh"), SampledValue(1523.418, unit="kWh")) == (
            values_of({"value": 1523.418, "unitOfMeasure": {"unit": "kWh", "multiplier": 0}},
                      {"value": 1523.418, "unitOfMeasure": {"unit": "kWh"}})
        )

    def test_multiplier_without_unit(self) -> None:
        """A multiplier on the default unit scales a Wh value."""
        (value,) = values_of({"value": 1.5, "unitOfMeasure": {"multiplier": 3}})
        assert SampledValue(1500.0, "Energy.Active.Import.Register", "Wh") == value

    def test_default_measurand_and_unit(self) -> None:
        """A bare value is an Energy.Active.Import.Register reading in Wh."""
        assert (SampledValue(1523418.0, "Energy.Active.Import.Register", "Wh"),) == values_of(
            {"value": 1523418}
        )

    def test_other_measurand_has_no_default_unit(self) -> None:
        """A non-energy measurand without unitOfMeasure keeps unit None."""
        (value,) = values_of({"value": 7000, "measurand": "Power.Active.Import"})
        assert value.unit is None

    def test_integer_value_becomes_float(self) -> None:
        """An integer value on the wire is a float in the domain."""
        (value,) = values_of({"value": 64, "measurand": "SoC"})
        assert isinstance(value.value, float)

    def test_timestamp_converted(self) -> None:
        """Each entry's timestamp is parsed to aware UTC."""
        entry = {"timestamp": "2026-11-27T07:00:00-05:00", "sampledValue": [{"value": 1}]}
        (sample,) = t201.samples([entry])
        assert T0 == sample.at
        assert UTC == sample.at.tzinfo

    def test_empty(self) -> None:
        """No entries, no samples."""
        assert () == t201.samples([])


class TestNotifyEvents:
    def test_one_event_per_event_data(self) -> None:
        """NotifyEvent gives one notify_event per eventData entry, in order."""
        events = t201.notify_events("CP", NOTIFY_EVENT)
        assert 3 == len(events)
        assert ["notify_event"] * 3 == [e.kind for e in events]
        assert ["CP"] * 3 == [e.station_id for e in events]

    def test_code_is_component_dot_variable(self) -> None:
        """The code is "Component.Variable"."""
        codes = [e.code for e in t201.notify_events("CP", NOTIFY_EVENT)]
        assert ["ChargingStation.Problem", "Connector.AvailabilityState",
                "EVSE.Temperature"] == codes

    def test_time_is_the_entry_timestamp(self) -> None:
        """Each event happened at its own entry's timestamp, in UTC."""
        events = t201.notify_events("CP", NOTIFY_EVENT)
        assert datetime(2026, 11, 27, 12, 19, 58, tzinfo=UTC) == events[0].at
        assert UTC == events[0].at.tzinfo
        assert datetime(2026, 11, 27, 12, 19, 59, tzinfo=UTC) == events[1].at

    def test_evse_from_component(self) -> None:
        """The component's EVSE gives evse_id and connector_id; none gives None."""
        events = t201.notify_events("CP", NOTIFY_EVENT)
        assert [(None, None), (2, 1), (1, None)] == [(e.evse_id, e.connector_id)
                                                       for e in events]

    def test_details_are_the_entry(self) -> None:
        """Details hold the whole eventData entry."""
        events = t201.notify_events("CP", NOTIFY_EVENT)
        assert NOTIFY_EVENT["eventData"][0] == events[0].details


class TestSecurityEvent:
    def test_fields(self) -> None:
        """SecurityEventNotification: code is the type, time converted to UTC."""
        event = t201.security_event("CP", SECURITY_EVENT)
        assert "security_event" == event.kind
        assert "FirmwareUpdated" == event.code
        assert T0 == event.at
        assert SECURITY_EVENT == event.details


class TestReport:
    def test_notify_report_code_is_request_id(self) -> None:
        """NotifyReport has no status: the code is the requestId as a string."""
        event = t201.report("CP", "notify_report", NOTIFY_REPORT, NOW)
        assert "5" == event.code
        assert NOW == event.at
        assert "notify_report" == event.kind
        assert NOTIFY_REPORT == event.details

    def test_request_id_zero(self) -> None:
        """requestId 0 is a code "0", not missing."""
        event = t201.report("CP", "notify_report", {**NOTIFY_REPORT, "requestId": 0}, NOW)
        assert "0" == event.code

    def test_status_wins(self) -> None:
        """FirmwareStatusNotification with status and requestId: the code is the status."""
        event = t201.report("CP", "firmware_status",
                            {"status": "Installed", "requestId": 12}, NOW)
        assert "Installed" == event.code

    def test_log_status(self) -> None:
        """LogStatusNotification: the code is the status."""
        event = t201.report("CP", "log_status", {"status": "Uploaded", "requestId": 3}, NOW)
        assert "Uploaded" == event.code

    def test_data_transfer(self) -> None:
        """DataTransfer: the code is the messageId; without it, None."""
        payload = {"vendorId": "cn.community", "messageId": "ParkingSensor", "data": "free"}
        assert "ParkingSensor" == t201.report("CP", "data_transfer", payload, NOW).code
        assert t201.report("CP", "data_transfer", {"vendorId": "cn.community"}, NOW).code is None
