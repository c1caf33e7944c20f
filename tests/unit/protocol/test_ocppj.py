"""OCPP-J framing and schema validation (csms.handlers.ocppj): pure, no I/O."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from csms.handlers.ocppj import (
    CALL,
    CALLERROR,
    CALLRESULT,
    UNKNOWN_MESSAGE_ID,
    Call,
    CallError,
    CallResult,
    ErrorCode,
    OcppError,
    OcppVersion,
    Schemas,
    constrain,
    encode_call,
    encode_error,
    encode_result,
    parse_frame,
    wire_code,
)

Payload = dict[str, Any]

# --- realistic payloads -------------------------------------------------------------------

BOOT_16: Payload = {
    "chargePointVendor": "Wallbox",
    "chargePointModel": "Pulsar Plus",
    "chargePointSerialNumber": "WB-2291-0042",
    "firmwareVersion": "5.17.2",
    "iccid": "89860318760123456789",
    "imsi": "460011234567890",
    "meterType": "DZG DWZ-E",
    "meterSerialNumber": "DZG-77120034",
}

BOOT_201: Payload = {
    "reason": "PowerUp",
    "chargingStation": {
        "model": "Terra AC W22",
        "vendorName": "ABB",
        "serialNumber": "TACW22-2291-0042",
        "firmwareVersion": "1.8.21",
        "modem": {"iccid": "89860318760123456789", "imsi": "460011234567890"},
    },
}

BOOT_RESPONSE: Payload = {
    "status": "Accepted", "currentTime": "2026-11-27T12:00:00.000Z", "interval": 300,
}

METER_VALUES_16: Payload = {
    "connectorId": 1,
    "transactionId": 1042,
    "meterValue": [{
        "timestamp": "2026-11-27T12:15:00.000Z",
        "sampledValue": [
            {"value": "1523418", "context": "Sample.Periodic", "format": "Raw",
             "measurand": "Energy.Active.Import.Register", "location": "Outlet", "unit": "Wh"},
            {"value": "7012.5", "context": "Sample.Periodic",
             "measurand": "Power.Active.Import", "unit": "W"},
            {"value": "10.2", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
            {"value": "10.1", "measurand": "Current.Import", "phase": "L2", "unit": "A"},
            {"value": "10.3", "measurand": "Current.Import", "phase": "L3", "unit": "A"},
            {"value": "229.8", "measurand": "Voltage", "phase": "L1-N", "unit": "V"},
            {"value": "64", "measurand": "SoC", "location": "EV", "unit": "Percent"},
            {"value": "41.5", "measurand": "Temperature", "location": "Body", "unit": "Celsius"},
        ],
    }],
}

METER_VALUES_201: Payload = {
    "evseId": 1,
    "meterValue": [{
        "timestamp": "2026-11-27T12:15:00.000Z",
        "sampledValue": [
            {"value": 1523.418, "context": "Sample.Periodic",
             "measurand": "Energy.Active.Import.Register", "location": "Outlet",
             "unitOfMeasure": {"unit": "kWh"}},
            {"value": 7.0125, "measurand": "Power.Active.Import",
             "unitOfMeasure": {"unit": "kW"}},
            {"value": 10.2, "measurand": "Current.Import", "phase": "L1",
             "unitOfMeasure": {"unit": "A"}},
            {"value": 10.1, "measurand": "Current.Import", "phase": "L2",
             "unitOfMeasure": {"unit": "A"}},
            {"value": 10.3, "measurand": "Current.Import", "phase": "L3",
             "unitOfMeasure": {"unit": "A"}},
            {"value": 229.8, "measurand": "Voltage", "phase": "L1-N",
             "unitOfMeasure": {"unit": "V"}},
            {"value": 64, "measurand": "SoC", "location": "EV",
             "unitOfMeasure": {"unit": "Percent"}},
            {"value": 50.0, "measurand": "Frequency", "unitOfMeasure": {"unit": "Hz"}},
        ],
    }],
}

START_TRANSACTION_16: Payload = {
    "connectorId": 2,
    "idTag": "04A1B2C3D4E5F6",
    "meterStart": 1520340,
    "reservationId": 7,
    "timestamp": "2026-11-27T12:00:00.000Z",
}

TRANSACTION_EVENT_201: Payload = {
    "eventType": "Started",
    "timestamp": "2026-11-27T12:00:00.000Z",
    "triggerReason": "Authorized",
    "seqNo": 0,
    "offline": False,
    "numberOfPhasesUsed": 3,
    "transactionInfo": {
        "transactionId": "3f2c8a1e-5b7d-4e21-9c0a-7d1e2f3a4b5c",
        "chargingState": "EVConnected",
    },
    "evse": {"id": 1, "connectorId": 1},
    "idToken": {"idToken": "04A1B2C3D4E5F6", "type": "ISO14443"},
    "meterValue": [{
        "timestamp": "2026-11-27T12:00:00.000Z",
        "sampledValue": [{
            "value": 1520.34, "context": "Transaction.Begin",
            "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "kWh"},
        }],
    }],
}

SET_CHARGING_PROFILE_16: Payload = {
    "connectorId": 1,
    "csChargingProfiles": {
        "chargingProfileId": 12,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
        },
    },
}

V16_CODES = {
    "NotImplemented", "NotSupported", "InternalError", "ProtocolError", "SecurityError",
    "FormationViolation", "PropertyConstraintViolation", "OccurenceConstraintViolation",
    "TypeConstraintViolation", "GenericError",
}
V201_CODES = {
    "FormatViolation", "GenericError", "InternalError", "MessageTypeNotSupported",
    "NotImplemented", "NotSupported", "OccurrenceConstraintViolation",
    "PropertyConstraintViolation", "ProtocolError", "RpcFrameworkError", "SecurityError",
    "TypeConstraintViolation",
}


def frame(*parts: Any) -> str:
    return json.dumps(list(parts))


def parse_error(raw: str | bytes) -> OcppError:
    with pytest.raises(OcppError) as caught:
        parse_frame(raw)
    return caught.value


def check_error(schemas: Schemas, action: str, payload: Payload, message_id: str) -> OcppError:
    with pytest.raises(OcppError) as caught:
        schemas.check_request(action, payload, message_id)
    return caught.value


def with_changes(payload: Payload, *path: str | int, value: Any) -> Payload:
    """A deep copy of ``payload`` with the item at ``path`` set to ``value``."""
    changed = copy.deepcopy(payload)
    target: Any = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


def without(payload: Payload, *path: str | int) -> Payload:
    """A deep copy of ``payload`` without the item at ``path``."""
    changed = copy.deepcopy(payload)
    target: Any = changed
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return changed


class TestParseFrame:
    def test_call(self) -> None:
        """A CALL gives message id, action and payload as sent."""
        message = parse_frame(frame(CALL, "19223201", "BootNotification", BOOT_16))
        assert Call("19223201", "BootNotification", BOOT_16) == message

    def test_call_from_bytes(self) -> None:
        """A binary frame holding UTF-8 JSON is parsed like a text frame."""
        message = parse_frame(frame(CALL, "m-1", "Heartbeat", {}).encode())
        assert Call("m-1", "Heartbeat", {}) == message

    def test_call_keeps_non_ascii_text(self) -> None:
        """Non-ASCII strings in the payload survive parsing unchanged."""
        payload = {"vendorId": "cn.community", "data": "望京花园 3号楼"}
        message = parse_frame(json.dumps([2, "m", "DataTransfer", payload], ensure_ascii=False))
        assert Call("m", "DataTransfer", payload) == message

    def test_callresult(self) -> None:
        """A CALLRESULT gives message id and payload."""
        message = parse_frame(frame(CALLRESULT, "abc", {"status": "Accepted"}))
        assert CallResult("abc", {"status": "Accepted"}) == message

    def test_callerror_with_details(self) -> None:
        """A five-element CALLERROR gives code, description and details."""
        message = parse_frame(
            frame(CALLERROR, "abc", "NotSupported", "no such thing", {"hint": "x"})
        )
        assert CallError("abc", "NotSupported", "no such thing", {"hint": "x"}) == message

    def test_callerror_without_details(self) -> None:
        """A four-element CALLERROR gets empty details."""
        message = parse_frame(frame(CALLERROR, "abc", "GenericError", "oops"))
        assert CallError("abc", "GenericError", "oops", {}) == message

    def test_callerror_with_non_object_details(self) -> None:
        """CALLERROR details that are not an object are replaced by empty details."""
        message = parse_frame(frame(CALLERROR, "abc", "GenericError", "oops", ["x"]))
        assert CallError("abc", "GenericError", "oops", {}) == message

    def test_id_of_36_characters_is_accepted(self) -> None:
        """A message id of exactly 36 characters (a UUID) is valid."""
        message_id = "3f2c8a1e-5b7d-4e21-9c0a-7d1e2f3a4b5c"
        assert 36 == len(message_id)
        assert Call(message_id, "Heartbeat", {}) == parse_frame(
            frame(CALL, message_id, "Heartbeat", {})
        )

    @pytest.mark.parametrize("raw", ["", "hello", "[2, \"a\"", "{'a': 1}", "[2,,]"])
    def test_not_json(self, raw: str) -> None:
        """Text that is not JSON: RpcFrameworkError, message id -1."""
        error = parse_error(raw)
        assert ErrorCode.RPC_FRAMEWORK_ERROR == error.code
        assert UNKNOWN_MESSAGE_ID == error.message_id

    def test_invalid_utf8_bytes(self) -> None:
        """A binary frame that is not UTF-8: RpcFrameworkError, message id -1."""
        error = parse_error(b'[2, "a", "Heartbeat", {}]\xff')
        assert ErrorCode.RPC_FRAMEWORK_ERROR == error.code
        assert UNKNOWN_MESSAGE_ID == error.message_id

    @pytest.mark.parametrize("raw", ['{"a": 1}', '"text"', "42", "null", "true"])
    def test_not_an_array(self, raw: str) -> None:
        """JSON that is not an array: RpcFrameworkError, message id -1."""
        error = parse_error(raw)
        assert ErrorCode.RPC_FRAMEWORK_ERROR == error.code
        assert UNKNOWN_MESSAGE_ID == error.message_id

    @pytest.mark.parametrize("raw", ["[]", "[2]"])
    def test_short_array_without_id(self, raw: str) -> None:
        """An array too short to hold a message id: RpcFrameworkError, message id -1."""
        error = parse_error(raw)
        assert ErrorCode.RPC_FRAMEWORK_ERROR == error.code
        assert UNKNOWN_MESSAGE_ID == error.message_id

    @pytest.mark.parametrize("raw", ['[2, "m-7"]', '[3, "m-7"]'])
    def test_short_array_with_readable_id(self, raw: str) -> None:
        """A short array whose id can be read: RpcFrameworkError carrying that id."""
        error = parse_error(raw)
        assert ErrorCode.RPC_FRAMEWORK_ERROR == error.code
        assert "m-7" == error.message_id

    @pytest.mark.parametrize("message_id", [19223201, None, 1.5, ["a"], {"id": "a"}, True])
    def test_non_string_id(self, message_id: Any) -> None:
        """A message id that is not a string: RpcFrameworkError, message id -1."""
        error = parse_error(frame(CALL, message_id, "Heartbeat", {}))
        assert ErrorCode.RPC_FRAMEWORK_ERROR == error.code
        assert UNKNOWN_MESSAGE_ID == error.message_id

    def test_empty_id(self) -> None:
        """An empty message id: RpcFrameworkError, message id -1."""
        error = parse_error(frame(CALL, "", "Heartbeat", {}))
        assert ErrorCode.RPC_FRAMEWORK_ERROR == error.code
        assert UNKNOWN_MESSAGE_ID == error.message_id

    def test_id_longer_than_36(self) -> None:
        """A message id of 37 characters: RpcFrameworkError, message id -1."""
        error = parse_error(frame(CALL, "x" * 37, "Heartbeat", {}))
        assert ErrorCode.RPC_FRAMEWORK_ERROR == error.code
        assert UNKNOWN_MESSAGE_ID == error.message_id

    @pytest.mark.parametrize("payload", [[], "text", 42, None, [{"a": 1}]])
    def test_call_with_non_object_payload(self, payload: Any) -> None:
        """A CALL whose payload is not an object: FormatViolation with the call's id."""
        error = parse_error(frame(CALL, "m-3", "Heartbeat", payload))
        assert ErrorCode.FORMAT_VIOLATION == error.code
        assert "m-3" == error.message_id

    @pytest.mark.parametrize(
        "parts",
        [
            (CALL, "m-4", "Heartbeat"),
            (CALL, "m-4", "Heartbeat", {}, {}),
            (CALL, "m-4", 7, {}),
            (CALL, "m-4", None, {}),
        ],
        ids=["no-payload", "extra-element", "numeric-action", "null-action"],
    )
    def test_malformed_call(self, parts: tuple[Any, ...]) -> None:
        """A CALL that is not [2, id, action, payload]: RpcFrameworkError with its id."""
        error = parse_error(frame(*parts))
        assert ErrorCode.RPC_FRAMEWORK_ERROR == error.code
        assert "m-4" == error.message_id

    @pytest.mark.parametrize("type_id", [0, 1, 5, 99, -2, "2"])
    def test_unknown_message_type(self, type_id: Any) -> None:
        """A message type id other than 2, 3, 4: MessageTypeNotSupported with the id."""
        error = parse_error(frame(type_id, "m-5", "Heartbeat", {}))
        assert ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED == error.code
        assert "m-5" == error.message_id

    @pytest.mark.parametrize(
        "parts",
        [
            (CALLRESULT, "m-6", []),
            (CALLRESULT, "m-6", "Accepted"),
            (CALLRESULT, "m-6", None),
            (CALLRESULT, "m-6", {}, {}),
        ],
        ids=["array-payload", "string-payload", "null-payload", "extra-element"],
    )
    def test_malformed_callresult(self, parts: tuple[Any, ...]) -> None:
        """A CALLRESULT that is not [3, id, object]: RpcFrameworkError with its id."""
        error = parse_error(frame(*parts))
        assert ErrorCode.RPC_FRAMEWORK_ERROR == error.code
        assert "m-6" == error.message_id

    @pytest.mark.parametrize(
        "parts",
        [
            (CALLERROR, "m-8", "GenericError"),
            (CALLERROR, "m-8", "GenericError", "oops", {}, "extra"),
        ],
        ids=["too-short", "too-long"],
    )
    def test_malformed_callerror(self, parts: tuple[Any, ...]) -> None:
        """A CALLERROR with the wrong number of elements: RpcFrameworkError with its id."""
        error = parse_error(frame(*parts))
        assert ErrorCode.RPC_FRAMEWORK_ERROR == error.code
        assert "m-8" == error.message_id


class TestEncode:
    def test_call_round_trip(self) -> None:
        """encode_call then parse_frame gives the same CALL back."""
        encoded = encode_call("m-1", "BootNotification", BOOT_201)
        assert Call("m-1", "BootNotification", BOOT_201) == parse_frame(encoded)

    def test_call_wire_shape(self) -> None:
        """encode_call writes the array [2, id, action, payload]."""
        encoded = encode_call("m-1", "Heartbeat", {})
        assert [2, "m-1", "Heartbeat", {}] == json.loads(encoded)

    def test_result_round_trip(self) -> None:
        """encode_result then parse_frame gives the same CALLRESULT back."""
        encoded = encode_result("m-2", BOOT_RESPONSE)
        assert CallResult("m-2", BOOT_RESPONSE) == parse_frame(encoded)
        assert [3, "m-2", BOOT_RESPONSE] == json.loads(encoded)

    def test_round_trip_keeps_non_ascii(self) -> None:
        """Chinese text in a payload survives encode and parse."""
        payload = {"vendorId": "cn.community", "data": "望京花园 3号楼 B2 车位 17"}
        assert Call("m", "DataTransfer", payload) == parse_frame(
            encode_call("m", "DataTransfer", payload)
        )

    def test_error_round_trip_2_0_1(self) -> None:
        """encode_error in 2.0.1 gives a CALLERROR with the 2.0.1 code and the details."""
        encoded = encode_error(
            "m-3", ErrorCode.FORMAT_VIOLATION, "bad", OcppVersion.V201, {"path": "data"}
        )
        assert CallError("m-3", "FormatViolation", "bad", {"path": "data"}) == parse_frame(
            encoded
        )

    def test_error_round_trip_1_6_spelling(self) -> None:
        """encode_error in 1.6 writes the 1.6 spelling of the code."""
        encoded = encode_error(
            "m-3", ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, "missing", OcppVersion.V16
        )
        assert CallError("m-3", "OccurenceConstraintViolation", "missing", {}) == parse_frame(
            encoded
        )

    def test_error_always_has_five_elements(self) -> None:
        """A CALLERROR without details still carries an empty details object."""
        encoded = encode_error("-1", ErrorCode.RPC_FRAMEWORK_ERROR, "x", OcppVersion.V201)
        assert [4, "-1", "RpcFrameworkError", "x", {}] == json.loads(encoded)

    def test_error_description_truncated_to_255(self) -> None:
        """A description longer than 255 characters is cut to 255."""
        encoded = encode_error("m", ErrorCode.GENERIC_ERROR, "d" * 400, OcppVersion.V201)
        assert "d" * 255 == json.loads(encoded)[3]


class TestWireCode:
    @pytest.mark.parametrize(
        ("code", "spelling"),
        [
            (ErrorCode.FORMAT_VIOLATION, "FormationViolation"),
            (ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, "OccurenceConstraintViolation"),
            (ErrorCode.RPC_FRAMEWORK_ERROR, "FormationViolation"),
            (ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, "NotSupported"),
            (ErrorCode.TYPE_CONSTRAINT_VIOLATION, "TypeConstraintViolation"),
            (ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, "PropertyConstraintViolation"),
            (ErrorCode.NOT_IMPLEMENTED, "NotImplemented"),
            (ErrorCode.INTERNAL_ERROR, "InternalError"),
        ],
    )
    def test_1_6_spelling(self, code: ErrorCode, spelling: str) -> None:
        """1.6 spells FormationViolation and OccurenceConstraintViolation its own way."""
        assert spelling == wire_code(code, OcppVersion.V16)

    @pytest.mark.parametrize("code", list(ErrorCode))
    def test_1_6_codes_exist_in_1_6(self, code: ErrorCode) -> None:
        """Every code written on a 1.6 connection is one OCPP 1.6 defines."""
        assert wire_code(code, OcppVersion.V16) in V16_CODES

    @pytest.mark.parametrize("code", list(ErrorCode))
    def test_2_0_1_spelling_is_the_value(self, code: ErrorCode) -> None:
        """On 2.0.1 every code is written as its 2.0.1 name, one OCPP 2.0.1 defines."""
        assert code.value == wire_code(code, OcppVersion.V201)
        assert wire_code(code, OcppVersion.V201) in V201_CODES

    def test_2_0_1_has_both_corrected_spellings(self) -> None:
        """2.0.1 writes FormatViolation and OccurrenceConstraintViolation."""
        assert "FormatViolation" == wire_code(ErrorCode.FORMAT_VIOLATION, OcppVersion.V201)
        assert "OccurrenceConstraintViolation" == wire_code(
            ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, OcppVersion.V201
        )


class TestSchemasValidPayloads:
    @pytest.mark.parametrize(
        ("action", "payload"),
        [
            ("BootNotification", BOOT_16),
            ("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "AC7"}),
            ("MeterValues", METER_VALUES_16),
            ("StartTransaction", START_TRANSACTION_16),
            ("Heartbeat", {}),
            ("SetChargingProfile", SET_CHARGING_PROFILE_16),
        ],
        ids=["boot", "boot-minimal", "meter-values", "start-transaction", "heartbeat",
             "set-charging-profile"],
    )
    def test_1_6_requests_pass(self, action: str, payload: Payload) -> None:
        """Realistic 1.6 requests validate without error."""
        Schemas(OcppVersion.V16).check_request(action, payload, "m")

    @pytest.mark.parametrize(
        ("action", "payload"),
        [
            ("BootNotification", BOOT_201),
            ("MeterValues", METER_VALUES_201),
            ("TransactionEvent", TRANSACTION_EVENT_201),
            ("Heartbeat", {}),
        ],
        ids=["boot", "meter-values", "transaction-event", "heartbeat"],
    )
    def test_2_0_1_requests_pass(self, action: str, payload: Payload) -> None:
        """Realistic 2.0.1 requests validate without error."""
        Schemas(OcppVersion.V201).check_request(action, payload, "m")

    def test_sampled_value_count(self) -> None:
        """The MeterValues samples carry eight sampled values each."""
        assert 8 == len(METER_VALUES_16["meterValue"][0]["sampledValue"])
        assert 8 == len(METER_VALUES_201["meterValue"][0]["sampledValue"])

    def test_2_0_1_transaction_event_ended_passes(self) -> None:
        """An Ended TransactionEvent with a stoppedReason validates."""
        ended = copy.deepcopy(TRANSACTION_EVENT_201)
        ended.update(eventType="Ended", triggerReason="EVDeparted", seqNo=7)
        ended["transactionInfo"].update(stoppedReason="EVDisconnected", chargingState="Idle")
        Schemas(OcppVersion.V201).check_request("TransactionEvent", ended, "m")

    @pytest.mark.parametrize("limit", [0.1, 6.0, 7.3, 16.1, 32.0, 0.3, 2.2])
    def test_1_6_limit_with_one_decimal_passes(self, limit: float) -> None:
        """1.6 charging limits with one decimal are multiples of 0.1 despite float error."""
        payload = with_changes(
            SET_CHARGING_PROFILE_16, "csChargingProfiles", "chargingSchedule",
            "chargingSchedulePeriod", 0, "limit", value=limit,
        )
        Schemas(OcppVersion.V16).check_request("SetChargingProfile", payload, "m")

    def test_1_6_response_passes(self) -> None:
        """A valid 1.6 BootNotification answer validates."""
        Schemas(OcppVersion.V16).check_response("BootNotification", BOOT_RESPONSE, "m")

    def test_2_0_1_responses_pass(self) -> None:
        """Valid 2.0.1 BootNotification and Authorize answers validate."""
        schemas = Schemas(OcppVersion.V201)
        schemas.check_response("BootNotification", BOOT_RESPONSE, "m")
        schemas.check_response(
            "Authorize",
            {"idTokenInfo": {"status": "Accepted",
                             "cacheExpiryDateTime": "2027-12-31T16:00:00.000Z"}},
            "m",
        )

    def test_repeated_checks_use_the_same_result(self) -> None:
        """Validating twice (compiled validator cached) gives the same outcome."""
        schemas = Schemas(OcppVersion.V16)
        schemas.check_request("StartTransaction", START_TRANSACTION_16, "m")
        schemas.check_request("StartTransaction", START_TRANSACTION_16, "m")
        bad = without(START_TRANSACTION_16, "idTag")
        for _ in range(2):
            assert ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION == check_error(
                schemas, "StartTransaction", bad, "m"
            ).code


class TestSchemasViolations:
    @pytest.mark.parametrize(
        ("version", "action", "payload"),
        [
            (OcppVersion.V16, "StartTransaction",
             with_changes(START_TRANSACTION_16, "connectorId", value="2")),
            (OcppVersion.V16, "StartTransaction",
             with_changes(START_TRANSACTION_16, "meterStart", value=1520.5)),
            (OcppVersion.V16, "MeterValues",
             with_changes(METER_VALUES_16, "meterValue", 0, "sampledValue", 0, "value",
                          value=1523418)),
            (OcppVersion.V16, "BootNotification",
             with_changes(BOOT_16, "chargePointVendor", value=42)),
            (OcppVersion.V201, "TransactionEvent",
             with_changes(TRANSACTION_EVENT_201, "seqNo", value="0")),
            (OcppVersion.V201, "MeterValues",
             with_changes(METER_VALUES_201, "meterValue", 0, "sampledValue", 0, "value",
                          value="1523.418")),
            (OcppVersion.V201, "BootNotification",
             with_changes(BOOT_201, "chargingStation", value="ABB Terra")),
        ],
        ids=["16-connector-string", "16-meter-start-float", "16-value-number",
             "16-vendor-number", "201-seqno-string", "201-value-string",
             "201-station-string"],
    )
    def test_wrong_type(self, version: OcppVersion, action: str, payload: Payload) -> None:
        """A field of the wrong JSON type: TypeConstraintViolation with the call's id."""
        error = check_error(Schemas(version), action, payload, "m-10")
        assert ErrorCode.TYPE_CONSTRAINT_VIOLATION == error.code
        assert "m-10" == error.message_id

    @pytest.mark.parametrize(
        ("version", "action", "payload"),
        [
            (OcppVersion.V16, "StartTransaction", without(START_TRANSACTION_16, "idTag")),
            (OcppVersion.V16, "BootNotification", without(BOOT_16, "chargePointModel")),
            (OcppVersion.V16, "MeterValues",
             without(METER_VALUES_16, "meterValue", 0, "timestamp")),
            (OcppVersion.V201, "TransactionEvent",
             without(TRANSACTION_EVENT_201, "triggerReason")),
            (OcppVersion.V201, "TransactionEvent",
             without(TRANSACTION_EVENT_201, "transactionInfo", "transactionId")),
            (OcppVersion.V201, "BootNotification",
             without(BOOT_201, "chargingStation", "vendorName")),
        ],
        ids=["16-id-tag", "16-model", "16-timestamp", "201-trigger", "201-transaction-id",
             "201-vendor"],
    )
    def test_missing_required_field(
        self, version: OcppVersion, action: str, payload: Payload
    ) -> None:
        """A missing required field: OccurrenceConstraintViolation with the call's id."""
        error = check_error(Schemas(version), action, payload, "m-11")
        assert ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION == error.code
        assert "m-11" == error.message_id

    def test_missing_required_field_1_6_wire_spelling(self) -> None:
        """On 1.6 the missing-field error goes out as OccurenceConstraintViolation."""
        error = check_error(
            Schemas(OcppVersion.V16), "StartTransaction", without(START_TRANSACTION_16, "idTag"),
            "m-11",
        )
        assert "OccurenceConstraintViolation" == wire_code(error.code, OcppVersion.V16)

    @pytest.mark.parametrize(
        ("version", "payload"),
        [
            (OcppVersion.V16, with_changes(METER_VALUES_16, "meterValue", value=[])),
            (OcppVersion.V16,
             with_changes(METER_VALUES_16, "meterValue", 0, "sampledValue", value=[])),
            (OcppVersion.V201, with_changes(METER_VALUES_201, "meterValue", value=[])),
        ],
        ids=["16-no-meter-value", "16-no-sampled-value", "201-no-meter-value"],
    )
    def test_empty_required_array(self, version: OcppVersion, payload: Payload) -> None:
        """An array below its minItems: OccurrenceConstraintViolation."""
        error = check_error(Schemas(version), "MeterValues", payload, "m-12")
        assert ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION == error.code
        assert "m-12" == error.message_id

    @pytest.mark.parametrize(
        ("version", "action", "payload"),
        [
            (OcppVersion.V16, "StartTransaction",
             with_changes(START_TRANSACTION_16, "bogus", value=1)),
            (OcppVersion.V16, "MeterValues",
             with_changes(METER_VALUES_16, "meterValue", 0, "sampledValue", 0, "signed",
                          value="x")),
            (OcppVersion.V201, "TransactionEvent",
             with_changes(TRANSACTION_EVENT_201, "transactionInfo", "bogus", value=1)),
            (OcppVersion.V201, "BootNotification",
             with_changes(BOOT_201, "chargingStation", "vendorId", value="ABB")),
        ],
        ids=["16-top-level", "16-sampled-value", "201-transaction-info", "201-station"],
    )
    def test_extra_property(self, version: OcppVersion, action: str, payload: Payload) -> None:
        """A property the schema does not define: FormatViolation with the call's id."""
        error = check_error(Schemas(version), action, payload, "m-13")
        assert ErrorCode.FORMAT_VIOLATION == error.code
        assert "m-13" == error.message_id

    def test_extra_property_1_6_wire_spelling(self) -> None:
        """On 1.6 the extra-property error goes out as FormationViolation."""
        error = check_error(
            Schemas(OcppVersion.V16), "StartTransaction",
            with_changes(START_TRANSACTION_16, "bogus", value=1), "m-13",
        )
        assert "FormationViolation" == wire_code(error.code, OcppVersion.V16)

    @pytest.mark.parametrize(
        ("version", "action", "payload"),
        [
            (OcppVersion.V16, "MeterValues",
             with_changes(METER_VALUES_16, "meterValue", 0, "sampledValue", 0, "measurand",
                          value="Energy.Active.Import.Total")),
            (OcppVersion.V16, "MeterValues",
             with_changes(METER_VALUES_16, "meterValue", 0, "sampledValue", 2, "phase",
                          value="L4")),
            (OcppVersion.V201, "TransactionEvent",
             with_changes(TRANSACTION_EVENT_201, "triggerReason", value="Whatever")),
            (OcppVersion.V201, "TransactionEvent",
             with_changes(TRANSACTION_EVENT_201, "eventType", value="Paused")),
            (OcppVersion.V201, "BootNotification",
             with_changes(BOOT_201, "reason", value="Nope")),
        ],
        ids=["16-measurand", "16-phase", "201-trigger", "201-event-type", "201-reason"],
    )
    def test_enum_value_not_allowed(
        self, version: OcppVersion, action: str, payload: Payload
    ) -> None:
        """A value outside the enum: PropertyConstraintViolation with the call's id."""
        error = check_error(Schemas(version), action, payload, "m-14")
        assert ErrorCode.PROPERTY_CONSTRAINT_VIOLATION == error.code
        assert "m-14" == error.message_id

    @pytest.mark.parametrize(
        ("version", "action", "payload"),
        [
            (OcppVersion.V16, "StartTransaction",
             with_changes(START_TRANSACTION_16, "idTag", value="A" * 21)),
            (OcppVersion.V16, "BootNotification",
             with_changes(BOOT_16, "chargePointVendor", value="V" * 21)),
            (OcppVersion.V201, "TransactionEvent",
             with_changes(TRANSACTION_EVENT_201, "transactionInfo", "transactionId",
                          value="t" * 37)),
            (OcppVersion.V201, "BootNotification",
             with_changes(BOOT_201, "chargingStation", "model", value="M" * 21)),
        ],
        ids=["16-id-tag", "16-vendor", "201-transaction-id", "201-model"],
    )
    def test_string_too_long(self, version: OcppVersion, action: str, payload: Payload) -> None:
        """A string over its maxLength: PropertyConstraintViolation with the call's id."""
        error = check_error(Schemas(version), action, payload, "m-15")
        assert ErrorCode.PROPERTY_CONSTRAINT_VIOLATION == error.code
        assert "m-15" == error.message_id

    def test_string_at_max_length_passes(self) -> None:
        """A 1.6 idTag of exactly 20 characters is valid."""
        payload = with_changes(START_TRANSACTION_16, "idTag", value="A" * 20)
        Schemas(OcppVersion.V16).check_request("StartTransaction", payload, "m")

    @pytest.mark.parametrize("limit", [7.35, 16.05, 0.01, 31.99])
    def test_1_6_limit_not_multiple_of_0_1(self, limit: float) -> None:
        """A 1.6 charging limit that is not a multiple of 0.1: PropertyConstraintViolation."""
        payload = with_changes(
            SET_CHARGING_PROFILE_16, "csChargingProfiles", "chargingSchedule",
            "chargingSchedulePeriod", 0, "limit", value=limit,
        )
        error = check_error(Schemas(OcppVersion.V16), "SetChargingProfile", payload, "m-16")
        assert ErrorCode.PROPERTY_CONSTRAINT_VIOLATION == error.code
        assert "m-16" == error.message_id

    def test_timestamp_not_a_date_time_is_rejected(self) -> None:
        """A timestamp that is not an RFC 3339 date-time is refused with the call's id."""
        payload = with_changes(START_TRANSACTION_16, "timestamp", value="27/11/2026 12:00")
        error = check_error(Schemas(OcppVersion.V16), "StartTransaction", payload, "m-17")
        assert "m-17" == error.message_id

    def test_error_details_name_the_field(self) -> None:
        """The error details carry the path of the broken field and the broken rule."""
        payload = with_changes(START_TRANSACTION_16, "idTag", value="A" * 21)
        error = check_error(Schemas(OcppVersion.V16), "StartTransaction", payload, "m")
        assert "maxLength" == error.details["rule"]
        assert "idTag" in error.details["path"]

    def test_invalid_response(self) -> None:
        """An answer with a status outside the enum: PropertyConstraintViolation."""
        bad = with_changes(BOOT_RESPONSE, "status", value="Maybe")
        with pytest.raises(OcppError) as caught:
            Schemas(OcppVersion.V16).check_response("BootNotification", bad, "m-18")
        assert ErrorCode.PROPERTY_CONSTRAINT_VIOLATION == caught.value.code
        assert "m-18" == caught.value.message_id

    def test_response_missing_required_field(self) -> None:
        """A 2.0.1 Authorize answer without idTokenInfo: OccurrenceConstraintViolation."""
        with pytest.raises(OcppError) as caught:
            Schemas(OcppVersion.V201).check_response("Authorize", {}, "m-19")
        assert ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION == caught.value.code
        assert "m-19" == caught.value.message_id


class TestSchemasActions:
    @pytest.mark.parametrize(
        ("version", "action"),
        [
            (OcppVersion.V16, "FlyToTheMoon"),
            (OcppVersion.V16, "TransactionEvent"),
            (OcppVersion.V16, "bootNotification"),
            (OcppVersion.V16, "../v201/schemas/BootNotificationRequest"),
            (OcppVersion.V16, ""),
            (OcppVersion.V201, "StartTransaction"),
            (OcppVersion.V201, "BootNotificationRequest"),
            (OcppVersion.V201, "FlyToTheMoon"),
        ],
    )
    def test_unknown_action_is_not_implemented(self, version: OcppVersion, action: str) -> None:
        """An action the version does not define: NotImplemented with the call's id."""
        error = check_error(Schemas(version), action, {}, "m-20")
        assert ErrorCode.NOT_IMPLEMENTED == error.code
        assert "m-20" == error.message_id

    def test_unknown_action_response_is_not_implemented(self) -> None:
        """check_response for an unknown action: NotImplemented with the id."""
        with pytest.raises(OcppError) as caught:
            Schemas(OcppVersion.V201).check_response("FlyToTheMoon", {}, "m-21")
        assert ErrorCode.NOT_IMPLEMENTED == caught.value.code
        assert "m-21" == caught.value.message_id

    @pytest.mark.parametrize(
        ("version", "action", "expected"),
        [
            (OcppVersion.V16, "BootNotification", True),
            (OcppVersion.V16, "StartTransaction", True),
            (OcppVersion.V16, "StopTransaction", True),
            (OcppVersion.V16, "TransactionEvent", False),
            (OcppVersion.V16, "NotifyEvent", False),
            (OcppVersion.V201, "TransactionEvent", True),
            (OcppVersion.V201, "NotifyEvent", True),
            (OcppVersion.V201, "BootNotification", True),
            (OcppVersion.V201, "StartTransaction", False),
            (OcppVersion.V201, "DiagnosticsStatusNotification", False),
            (OcppVersion.V16, "heartbeat", False),
            (OcppVersion.V201, "Heart beat", False),
        ],
    )
    def test_has_action(self, version: OcppVersion, action: str, expected: bool) -> None:
        """has_action is true exactly for the actions the version defines."""
        assert expected is Schemas(version).has_action(action)

    @pytest.mark.parametrize("version", list(OcppVersion))
    def test_response_schema_name_is_not_an_action(self, version: OcppVersion) -> None:
        """"BootNotificationResponse" names an answer's schema, not an action."""
        assert False is Schemas(version).has_action("BootNotificationResponse")

    @pytest.mark.parametrize("version", list(OcppVersion))
    def test_call_named_like_a_response_is_not_implemented(self, version: OcppVersion) -> None:
        """A CALL with action "AuthorizeResponse" is NotImplemented, not validated."""
        error = check_error(Schemas(version), "AuthorizeResponse", {}, "m-22")
        assert ErrorCode.NOT_IMPLEMENTED == error.code
        assert "m-22" == error.message_id

    @pytest.mark.parametrize("version", list(OcppVersion))
    def test_request_named_like_a_response_does_not_break_responses(
        self, version: OcppVersion
    ) -> None:
        """Checking a CALL named "BootNotificationResponse" leaves answer validation intact."""
        schemas = Schemas(version)
        with pytest.raises(OcppError):
            schemas.check_request("BootNotificationResponse", {}, "m-23")
        schemas.check_response("BootNotification", BOOT_RESPONSE, "m-24")

    @pytest.mark.parametrize("version", list(OcppVersion))
    def test_checked_response_does_not_become_an_action(self, version: OcppVersion) -> None:
        """After an Authorize answer is validated, "AuthorizeResponse" is still no action."""
        schemas = Schemas(version)
        answer: Payload = (
            {"idTagInfo": {"status": "Accepted"}} if version is OcppVersion.V16
            else {"idTokenInfo": {"status": "Accepted"}}
        )
        schemas.check_response("Authorize", answer, "m")
        assert False is schemas.has_action("AuthorizeResponse")


class TestValuesTheStoreCannotHold:
    """Rule 4: OCPP's 32-bit integers, ids from 0, no NUL; refused before any handler."""

    @pytest.mark.parametrize(
        ("version", "action", "payload", "code"),
        [
            (OcppVersion.V16, "StartTransaction",
             with_changes(START_TRANSACTION_16, "connectorId", value=2**31),
             ErrorCode.TYPE_CONSTRAINT_VIOLATION),
            (OcppVersion.V16, "StartTransaction",
             with_changes(START_TRANSACTION_16, "connectorId", value=2**63),
             ErrorCode.TYPE_CONSTRAINT_VIOLATION),
            (OcppVersion.V16, "StartTransaction",
             with_changes(START_TRANSACTION_16, "meterStart", value=-(2**31) - 1),
             ErrorCode.TYPE_CONSTRAINT_VIOLATION),
            (OcppVersion.V16, "StartTransaction",
             with_changes(START_TRANSACTION_16, "connectorId", value=-1),
             ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
            (OcppVersion.V201, "TransactionEvent",
             with_changes(TRANSACTION_EVENT_201, "seqNo", value=2**31),
             ErrorCode.TYPE_CONSTRAINT_VIOLATION),
            (OcppVersion.V201, "TransactionEvent",
             with_changes(TRANSACTION_EVENT_201, "seqNo", value=-1),
             ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
            (OcppVersion.V201, "TransactionEvent",
             with_changes(TRANSACTION_EVENT_201, "evse", value={"id": -1}),
             ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
            (OcppVersion.V201, "MeterValues",
             with_changes(METER_VALUES_201, "evseId", value=-3),
             ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
        ],
        ids=["16-connector-2^31", "16-connector-2^63", "16-meter-below-int32",
             "16-connector-negative", "201-seqno-2^31", "201-seqno-negative",
             "201-evse-id-negative", "201-evse-negative"],
    )
    def test_out_of_range(self, version: OcppVersion, action: str, payload: Payload,
                          code: ErrorCode) -> None:
        """Beyond 32 bits: TypeConstraintViolation; a negative id: PropertyConstraint."""
        assert code == check_error(Schemas(version), action, payload, "m").code

    def test_the_limits_themselves_pass(self) -> None:
        """connectorId 0 and 2^31 - 1, meterStart -2^31: valid."""
        schemas = Schemas(OcppVersion.V16)
        for changes in ({"connectorId": 0}, {"connectorId": 2**31 - 1},
                        {"meterStart": -(2**31)}):
            schemas.check_request("StartTransaction", {**START_TRANSACTION_16, **changes}, "m")

    def test_existing_bounds_are_kept(self) -> None:
        """A schema's own tighter bound stays (stateOfCharge 0-100 is a number, untouched);
        an integer's own minimum is not lowered."""
        schema: Payload = {"type": "object", "properties": {
            "a": {"type": "integer", "minimum": 5}, "connectorId": {"type": "integer"},
            "soc": {"type": "number", "minimum": 0, "maximum": 100}}}
        props = constrain(schema)["properties"]
        assert {"type": "integer", "minimum": 5, "maximum": 2**31 - 1} == props["a"]
        assert 0 == props["connectorId"]["minimum"]
        assert {"type": "number", "minimum": 0, "maximum": 100} == props["soc"]
        assert "maximum" not in schema["properties"]["a"]  # the original is not changed

    @pytest.mark.parametrize("payload", [
        {"vendorId": "x", "data": "a\u0000b"}, {"vendorId": "x\u0000"},
        {"vendorId": "x", "data": {"nested": ["ok", "n\u0000"]}},
        {"vendorId": "x", "data": {"k\u0000": 1}},
    ])
    def test_nul_in_a_call_is_refused(self, payload: Payload) -> None:
        """NUL in any string of a CALL: PropertyConstraintViolation with the call's id."""
        error = parse_error(frame(CALL, "m-nul", "DataTransfer", payload))
        assert ErrorCode.PROPERTY_CONSTRAINT_VIOLATION == error.code
        assert "m-nul" == error.message_id

    def test_an_escaped_backslash_before_u0000_is_no_nul(self) -> None:
        """The text backslash-u0000 (an escaped backslash) is not NUL: accepted."""
        payload = {"vendorId": "x", "data": "\\u0000"}
        assert Call("m", "DataTransfer", payload) == parse_frame(
            frame(CALL, "m", "DataTransfer", payload))

    def test_nul_in_a_callerror_is_replaced(self) -> None:
        """A CALLERROR's text loses its NUL; details holding one are dropped."""
        message = parse_frame(frame(CALLERROR, "e", "Generic\u0000", "d\u0000",
                                    {"x": "\u0000"}))
        assert CallError("e", "Generic\ufffd", "d\ufffd", {}) == message

    @pytest.mark.parametrize("value", ["1e400", "-1e400", "NaN", "Infinity", '"\\ud800"',
                                       "1" * 30 + "e400"])
    def test_json_only_a_lenient_parser_reads_keeps_the_id(self, value: str) -> None:
        """1e400, NaN, a lone surrogate: FormatViolation carrying the frame's id."""
        error = parse_error('[2, "m-x", "DataTransfer", {"vendorId": "x", "data": ' + value
                            + "}]")
        assert ErrorCode.FORMAT_VIOLATION == error.code
        assert "m-x" == error.message_id

    def test_unreadable_id_stays_unknown(self) -> None:
        """1e400 where the id would be: RpcFrameworkError, message id -1."""
        error = parse_error('[2, 1e400, "Heartbeat", {}]')
        assert ErrorCode.RPC_FRAMEWORK_ERROR == error.code
        assert UNKNOWN_MESSAGE_ID == error.message_id
