"""OCPP 2.0.1 command translation: exact, schema-valid CALLs; answers as domain results."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csms.domain.commands import (
    ChangeAvailability,
    ChargingProfile,
    ChargingSchedule,
    ClearChargingProfile,
    Command,
    CommandResult,
    CommandStatus,
    CompositeSchedule,
    GetCompositeSchedule,
    GetSettings,
    ProfileKind,
    ProfilePurpose,
    RemoteStart,
    RemoteStop,
    Reset,
    ResetKind,
    SchedulePeriod,
    SetChargingProfile,
    SetSetting,
    SettingKey,
    SettingsReport,
    SettingValue,
    TriggerableMessage,
    TriggerMessage,
    UnlockConnector,
)
from csms.domain.model import IdToken
from csms.errors import CommandNotSupported
from csms.handlers.commands.limits import wire_limit
from csms.handlers.commands.v201 import from_answer, profile_payload, to_call
from csms.handlers.ocppj import OcppVersion, Schemas

Payload = dict[str, Any]

SCHEMAS = Schemas(OcppVersion.V201)
STATION = "CS-1"
AT = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
AT_WIRE = "2024-05-01T08:30:00.000Z"
LATER_WIRE = "2024-05-02T08:30:00.000Z"
TAG = IdToken("04A1B2C3")
HEARTBEAT = SettingKey("HeartbeatInterval", component="OCPPCommCtrlr")
EVSE_AVAILABLE = SettingKey("Available", component="EVSE", evse_id=1)
CONNECTOR_TYPE = SettingKey("ConnectorType", component="Connector", instance="left", evse_id=2)

DEFAULT_PROFILE = ChargingProfile(
    profile_id=7, stack_level=1, purpose=ProfilePurpose.TX_DEFAULT, kind=ProfileKind.RECURRING,
    schedule=ChargingSchedule(
        rate_unit="A",
        periods=(SchedulePeriod(0, 16.04), SchedulePeriod(3600, 10.06, 3)),
        duration_s=86400, start_at=AT, min_rate=6.06,
    ),
    recurrency="Daily", valid_from=AT, valid_to=AT + timedelta(days=1),
)
DEFAULT_PROFILE_WIRE: Payload = {
    "id": 7, "stackLevel": 1, "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Recurring", "recurrencyKind": "Daily",
    "validFrom": AT_WIRE, "validTo": LATER_WIRE,
    "chargingSchedule": [{
        "id": 7, "startSchedule": AT_WIRE, "duration": 86400, "chargingRateUnit": "A",
        "chargingSchedulePeriod": [
            {"startPeriod": 0, "limit": 16.0},
            {"startPeriod": 3600, "limit": 10.0, "numberPhases": 3},
        ],
        "minChargingRate": 6.0,
    }],
}
MAX_PROFILE = ChargingProfile(
    profile_id=1, stack_level=0, purpose=ProfilePurpose.STATION_MAX,
    kind=ProfileKind.ABSOLUTE,
    schedule=ChargingSchedule("W", (SchedulePeriod(0, 22000.0),)),
)
MAX_PROFILE_WIRE: Payload = {
    "id": 1, "stackLevel": 0, "chargingProfilePurpose": "ChargingStationMaxProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": [{
        "id": 1, "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 22000.0}],
    }],
}
TX_PROFILE = ChargingProfile(
    profile_id=9, stack_level=0, purpose=ProfilePurpose.TX, kind=ProfileKind.RELATIVE,
    schedule=ChargingSchedule("A", (SchedulePeriod(0, 32.0, 1),), duration_s=3600),
    transaction_ref="f3b2c1d0-tx",
)
TX_PROFILE_WIRE: Payload = {
    "id": 9, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
    "chargingProfileKind": "Relative", "transactionId": "f3b2c1d0-tx",
    "chargingSchedule": [{
        "id": 9, "duration": 3600, "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 32.0, "numberPhases": 1}],
    }],
}
START_PROFILE = replace(TX_PROFILE, transaction_ref=None)
START_PROFILE_WIRE = {k: v for k, v in TX_PROFILE_WIRE.items() if k != "transactionId"}


def sent(command: Command) -> tuple[str, Payload]:
    """to_call's CALL, checked against the 2.0.1 request schema."""
    action, payload = to_call(STATION, command)
    SCHEMAS.check_request(action, payload, "1")
    return action, payload


def received(command: Command, payload: Payload) -> CommandResult:
    """from_answer of ``payload``, checked against the 2.0.1 response schema first."""
    action, _ = to_call(STATION, command)
    SCHEMAS.check_response(action, payload, "1")
    return from_answer(command, payload)


def wire_key(key: SettingKey) -> Payload:
    """The component/variable pair of ``key`` as the test data spells it."""
    component: Payload = {"name": key.component}
    if key.instance is not None:
        component["instance"] = key.instance
    if key.evse_id is not None:
        component["evse"] = {"id": key.evse_id}
    return {"component": component, "variable": {"name": key.variable}}


CALLS = [
    pytest.param(
        RemoteStart(TAG), "RequestStartTransaction",
        {"idToken": {"idToken": "04A1B2C3", "type": "ISO14443"}, "remoteStartId": 1},
        id="remote-start",
    ),
    pytest.param(
        RemoteStart(IdToken("NL-ABC-C12345678-X", "eMAID"), evse_id=2, remote_start_id=5,
                    charging_profile=START_PROFILE),
        "RequestStartTransaction",
        {
            "idToken": {"idToken": "NL-ABC-C12345678-X", "type": "eMAID"}, "remoteStartId": 5,
            "evseId": 2, "chargingProfile": START_PROFILE_WIRE,
        },
        id="remote-start-profile",
    ),
    pytest.param(
        RemoteStop("f3b2c1d0-tx"), "RequestStopTransaction", {"transactionId": "f3b2c1d0-tx"},
        id="remote-stop",
    ),
    pytest.param(Reset(), "Reset", {"type": "OnIdle"}, id="reset-soft"),
    pytest.param(Reset(ResetKind.HARD), "Reset", {"type": "Immediate"}, id="reset-hard"),
    pytest.param(
        ChangeAvailability(0, operative=False, connector_id=1), "ChangeAvailability",
        {"operationalStatus": "Inoperative"}, id="availability-station",
    ),
    pytest.param(
        ChangeAvailability(2, operative=True), "ChangeAvailability",
        {"operationalStatus": "Operative", "evse": {"id": 2}}, id="availability-evse",
    ),
    pytest.param(
        ChangeAvailability(2, operative=False, connector_id=2), "ChangeAvailability",
        {"operationalStatus": "Inoperative", "evse": {"id": 2, "connectorId": 2}},
        id="availability-connector",
    ),
    pytest.param(
        UnlockConnector(3), "UnlockConnector", {"evseId": 3, "connectorId": 1}, id="unlock",
    ),
    pytest.param(
        UnlockConnector(1, 2), "UnlockConnector", {"evseId": 1, "connectorId": 2},
        id="unlock-second-connector",
    ),
    pytest.param(
        GetSettings((HEARTBEAT, EVSE_AVAILABLE, CONNECTOR_TYPE)), "GetVariables",
        {"getVariableData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
            {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Available"}},
            {
                "component": {"name": "Connector", "instance": "left", "evse": {"id": 2}},
                "variable": {"name": "ConnectorType"},
            },
        ]},
        id="get-settings",
    ),
    pytest.param(
        SetSetting(HEARTBEAT, "300"), "SetVariables",
        {"setVariableData": [{
            "attributeValue": "300", "component": {"name": "OCPPCommCtrlr"},
            "variable": {"name": "HeartbeatInterval"},
        }]},
        id="set-setting",
    ),
    pytest.param(
        TriggerMessage(TriggerableMessage.STATUS_NOTIFICATION, evse_id=1), "TriggerMessage",
        {"requestedMessage": "StatusNotification", "evse": {"id": 1}}, id="trigger-status",
    ),
    pytest.param(
        TriggerMessage(TriggerableMessage.DIAGNOSTICS_STATUS), "TriggerMessage",
        {"requestedMessage": "LogStatusNotification"}, id="trigger-log-status",
    ),
    pytest.param(
        TriggerMessage(TriggerableMessage.TRANSACTION_EVENT, evse_id=2), "TriggerMessage",
        {"requestedMessage": "TransactionEvent", "evse": {"id": 2}}, id="trigger-tx-event",
    ),
    pytest.param(
        TriggerMessage(TriggerableMessage.BOOT_NOTIFICATION, evse_id=0), "TriggerMessage",
        {"requestedMessage": "BootNotification"}, id="trigger-station",
    ),
    pytest.param(
        SetChargingProfile(1, DEFAULT_PROFILE), "SetChargingProfile",
        {"evseId": 1, "chargingProfile": DEFAULT_PROFILE_WIRE}, id="profile-default",
    ),
    pytest.param(
        SetChargingProfile(0, MAX_PROFILE), "SetChargingProfile",
        {"evseId": 0, "chargingProfile": MAX_PROFILE_WIRE}, id="profile-station-max",
    ),
    pytest.param(
        SetChargingProfile(2, TX_PROFILE), "SetChargingProfile",
        {"evseId": 2, "chargingProfile": TX_PROFILE_WIRE}, id="profile-tx",
    ),
    pytest.param(ClearChargingProfile(), "ClearChargingProfile", {}, id="clear-all"),
    pytest.param(
        ClearChargingProfile(profile_id=7), "ClearChargingProfile", {"chargingProfileId": 7},
        id="clear-id",
    ),
    pytest.param(
        ClearChargingProfile(evse_id=1, purpose=ProfilePurpose.STATION_MAX, stack_level=0),
        "ClearChargingProfile",
        {"chargingProfileCriteria": {
            "evseId": 1, "chargingProfilePurpose": "ChargingStationMaxProfile", "stackLevel": 0,
        }},
        id="clear-criteria",
    ),
    pytest.param(
        GetCompositeSchedule(1, 3600), "GetCompositeSchedule",
        {"duration": 3600, "evseId": 1}, id="composite",
    ),
    pytest.param(
        GetCompositeSchedule(0, 600, rate_unit="W"), "GetCompositeSchedule",
        {"duration": 600, "evseId": 0, "chargingRateUnit": "W"}, id="composite-unit",
    ),
]


class TestToCall:
    @pytest.mark.parametrize(("command", "action", "payload"), CALLS)
    def test_exact_call(self, command: Command, action: str, payload: Payload) -> None:
        """Each command becomes exactly the expected, schema-valid 2.0.1 CALL."""
        assert sent(command) == (action, payload)

    @pytest.mark.parametrize("message", list(TriggerableMessage))
    def test_every_trigger_is_schema_valid(self, message: TriggerableMessage) -> None:
        """Every domain trigger has a 2.0.1 MessageTriggerEnumType name."""
        action, payload = sent(TriggerMessage(message, evse_id=1))
        assert action == "TriggerMessage"
        assert payload["evse"] == {"id": 1}

    def test_profile_payload_rounds_limits_down(self) -> None:
        """2.0.1 limits take at most one decimal: rounded down, never up."""
        schedule = profile_payload(DEFAULT_PROFILE)["chargingSchedule"][0]
        assert [p["limit"] for p in schedule["chargingSchedulePeriod"]] == [16.0, 10.0]
        assert schedule["minChargingRate"] == 6.0

    def test_profile_payload_refuses_a_long_transaction(self) -> None:
        """profile_payload raises ValueError for a transaction ref over 36 characters."""
        with pytest.raises(ValueError, match="at most 36"):
            profile_payload(replace(TX_PROFILE, transaction_ref="t" * 37))


NOT_SUPPORTED = [
    pytest.param(GetSettings(), "explicit keys", id="get-all-settings"),
    pytest.param(
        GetSettings((HEARTBEAT, SettingKey("HeartbeatInterval"))), "component",
        id="get-key-without-component",
    ),
    pytest.param(
        SetSetting(SettingKey("HeartbeatInterval"), "300"), "component",
        id="set-key-without-component",
    ),
    pytest.param(RemoteStart(IdToken("04A1", "RFID")), "IdTokenEnumType", id="token-kind"),
    pytest.param(RemoteStart(IdToken("A" * 37)), "idToken holds at most 36", id="long-token"),
    pytest.param(RemoteStop("t" * 37), "transactionId holds at most 36", id="long-tx"),
    pytest.param(
        SetChargingProfile(1, replace(TX_PROFILE, transaction_ref="t" * 37)), "at most 36",
        id="profile-long-tx",
    ),
    pytest.param(
        SetSetting(HEARTBEAT, "v" * 1001), "attributeValue holds at most 1000",
        id="long-value",
    ),
    pytest.param(
        SetSetting(SettingKey("V", component="C" * 51), "1"), "component name", id="long-component",
    ),
    pytest.param(
        SetSetting(SettingKey("V", component="C", instance="i" * 51), "1"), "instance",
        id="long-instance",
    ),
    pytest.param(
        GetSettings((SettingKey("V" * 51, component="C"),)), "variable", id="long-variable",
    ),
]


class TestNotSupported:
    @pytest.mark.parametrize(("command", "reason"), NOT_SUPPORTED)
    def test_refused_before_sending(self, command: Command, reason: str) -> None:
        """A command 2.0.1 cannot express raises CommandNotSupported naming why."""
        with pytest.raises(CommandNotSupported, match=reason) as caught:
            to_call(STATION, command)
        assert caught.value.station_id == STATION
        assert type(command).__name__ in str(caught.value)
        assert "OCPP 2.0.1" in str(caught.value)


def rejected(reason: str) -> Payload:
    """A Rejected answer with a statusInfo reason."""
    return {"status": "Rejected", "statusInfo": {"reasonCode": reason}}


GET_VARIABLES_ANSWER: Payload = {"getVariableResult": [
    {"attributeStatus": "Accepted", "attributeValue": "300", **wire_key(HEARTBEAT)},
    {"attributeStatus": "Accepted", "attributeValue": "true", **wire_key(EVSE_AVAILABLE)},
    {"attributeStatus": "UnknownComponent", **wire_key(CONNECTOR_TYPE)},
    {
        "attributeStatus": "UnknownVariable", "attributeType": "Actual",
        **wire_key(SettingKey("Nope", component="AuthCtrlr")),
    },
    {
        "attributeStatus": "Rejected", "attributeStatusInfo": {"reasonCode": "WriteOnly"},
        **wire_key(SettingKey("BasicAuthPassword", component="SecurityCtrlr")),
    },
]}
GET_VARIABLES_REPORT = SettingsReport(
    values=(
        SettingValue(HEARTBEAT, "Accepted", "300"),
        SettingValue(EVSE_AVAILABLE, "Accepted", "true"),
        SettingValue(CONNECTOR_TYPE, "UnknownComponent"),
        SettingValue(SettingKey("Nope", component="AuthCtrlr"), "UnknownVariable"),
        SettingValue(SettingKey("BasicAuthPassword", component="SecurityCtrlr"), "Rejected"),
    ),
    unknown=("Connector.ConnectorType", "AuthCtrlr.Nope"),
)
GET_VARIABLES = GetSettings((
    HEARTBEAT, EVSE_AVAILABLE, CONNECTOR_TYPE, SettingKey("Nope", component="AuthCtrlr"),
    SettingKey("BasicAuthPassword", component="SecurityCtrlr"),
))

COMPOSITE_ANSWER: Payload = {"status": "Accepted", "schedule": {
    "evseId": 1, "duration": 3600, "scheduleStart": "2024-05-01T10:30:00+02:00",
    "chargingRateUnit": "A",
    "chargingSchedulePeriod": [
        {"startPeriod": 0, "limit": 16},
        {"startPeriod": 1800, "limit": 8.5, "numberPhases": 1, "phaseToUse": 1},
    ],
}}

ANSWERS = [
    pytest.param(
        RemoteStart(TAG), {"status": "Accepted", "transactionId": "f3b2c1d0-tx"},
        CommandStatus("Accepted"), id="start",
    ),
    pytest.param(
        RemoteStart(TAG, evse_id=9), rejected("UnknownEvse"),
        CommandStatus("Rejected", "UnknownEvse"), id="start-rejected",
    ),
    pytest.param(
        RemoteStop("f3b2c1d0-tx"), rejected("TxNotFound"),
        CommandStatus("Rejected", "TxNotFound"), id="stop",
    ),
    pytest.param(Reset(), {"status": "Scheduled"}, CommandStatus("Scheduled"), id="reset"),
    pytest.param(
        ChangeAvailability(1, operative=False), {"status": "Accepted"},
        CommandStatus("Accepted"), id="availability",
    ),
    pytest.param(
        UnlockConnector(1, 3), {"status": "UnknownConnector"}, CommandStatus("UnknownConnector"),
        id="unlock",
    ),
    pytest.param(
        SetSetting(HEARTBEAT, "300"),
        {"setVariableResult": [{"attributeStatus": "RebootRequired", **wire_key(HEARTBEAT)}]},
        CommandStatus("RebootRequired"), id="set-setting",
    ),
    pytest.param(
        SetSetting(HEARTBEAT, "-1"),
        {"setVariableResult": [{
            "attributeStatus": "Rejected", "attributeStatusInfo": {"reasonCode": "ValueTooLow"},
            **wire_key(HEARTBEAT),
        }]},
        CommandStatus("Rejected", "ValueTooLow"), id="set-setting-rejected",
    ),
    pytest.param(
        TriggerMessage(TriggerableMessage.TRANSACTION_EVENT),
        {"status": "NotImplemented", "statusInfo": {"reasonCode": "UnsupportedRequest"}},
        CommandStatus("NotImplemented", "UnsupportedRequest"), id="trigger",
    ),
    pytest.param(
        SetChargingProfile(1, DEFAULT_PROFILE), rejected("InvalidSchedule"),
        CommandStatus("Rejected", "InvalidSchedule"), id="set-profile",
    ),
    pytest.param(
        ClearChargingProfile(profile_id=3), {"status": "Unknown"}, CommandStatus("Unknown"),
        id="clear-profile",
    ),
    pytest.param(GET_VARIABLES, GET_VARIABLES_ANSWER, GET_VARIABLES_REPORT, id="get-settings"),
    pytest.param(
        GetCompositeSchedule(1, 3600), COMPOSITE_ANSWER,
        CompositeSchedule("Accepted", 1, ChargingSchedule(
            "A", (SchedulePeriod(0, 16.0), SchedulePeriod(1800, 8.5, 1)),
            duration_s=3600, start_at=AT,
        )),
        id="composite",
    ),
    pytest.param(
        GetCompositeSchedule(9, 3600), rejected("UnknownEvse"), CompositeSchedule("Rejected"),
        id="composite-rejected",
    ),
]


class TestFromAnswer:
    @pytest.mark.parametrize(("command", "payload", "expected"), ANSWERS)
    def test_answer(self, command: Command, payload: Payload, expected: CommandResult) -> None:
        """Each schema-valid 2.0.1 answer becomes exactly the expected domain result."""
        assert received(command, payload) == expected

    def test_composite_times_and_limits_are_normalised(self) -> None:
        """The schedule start comes back as aware UTC and integer limits as floats."""
        result = received(GetCompositeSchedule(1, 3600), COMPOSITE_ANSWER)
        assert isinstance(result, CompositeSchedule)
        assert result.schedule is not None
        assert result.schedule.start_at is not None
        assert result.schedule.start_at.tzinfo is UTC
        assert isinstance(result.schedule.periods[0].limit, float)


EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
instants = st.integers(0, 100 * 365 * 86_400_000).map(lambda ms: EPOCH + timedelta(milliseconds=ms))
limits = st.floats(min_value=0, max_value=1000, allow_nan=False)
periods = st.lists(
    st.builds(
        SchedulePeriod, start_s=st.integers(0, 7 * 86_400), limit=limits,
        number_phases=st.none() | st.integers(1, 3),
    ),
    min_size=1, max_size=5,
).map(tuple)
profiles = st.builds(
    ChargingProfile, profile_id=st.integers(1, 2**31 - 1), stack_level=st.integers(0, 10),
    purpose=st.sampled_from(ProfilePurpose), kind=st.sampled_from(ProfileKind),
    schedule=st.builds(
        ChargingSchedule, rate_unit=st.sampled_from(["A", "W"]), periods=periods,
        duration_s=st.none() | st.integers(1, 7 * 86_400), start_at=st.none() | instants,
        min_rate=st.none() | limits,
    ),
    recurrency=st.none() | st.sampled_from(["Daily", "Weekly"]),
    valid_from=st.none() | instants, valid_to=st.none() | instants,
    transaction_ref=st.none() | st.uuids().map(str),
)


class TestProperties:
    @settings(database=None, deadline=None)
    @given(evse_id=st.integers(0, 8), profile=profiles)
    def test_any_profile_is_schema_valid(self, evse_id: int, profile: ChargingProfile) -> None:
        """Any profile with limits in [0, 1000] and 1-5 periods is a valid SetChargingProfile."""
        _, payload = sent(SetChargingProfile(evse_id, profile))
        (schedule,) = payload["chargingProfile"]["chargingSchedule"]
        unit = profile.schedule.rate_unit
        assert [(p["startPeriod"], p["limit"]) for p in schedule["chargingSchedulePeriod"]] == [
            (p.start_s, wire_limit(p.limit, unit)) for p in profile.schedule.periods
        ]

    @settings(database=None, deadline=None)
    @given(evse_id=st.integers(1, 8), profile=profiles)
    def test_any_profile_starts_a_transaction(self, evse_id: int, profile: ChargingProfile) -> None:
        """Any such profile also rides a schema-valid RequestStartTransaction."""
        action, payload = sent(RemoteStart(TAG, evse_id=evse_id, charging_profile=profile))
        assert action == "RequestStartTransaction"
        assert payload["chargingProfile"] == profile_payload(profile)

    @settings(database=None, deadline=None)
    @given(
        evse_id=st.integers(0, 8), duration_s=st.integers(1, 86_400), start=instants,
        rate_unit=st.sampled_from(["A", "W"]), schedule_periods=periods,
    )
    def test_composite_schedule_round_trips(
        self, evse_id: int, duration_s: int, start: datetime, rate_unit: str,
        schedule_periods: tuple[SchedulePeriod, ...],
    ) -> None:
        """A composite schedule sent by a charger comes back as the same domain schedule
        (limits at the wire's precision, as a charger reports them)."""
        schedule = ChargingSchedule(rate_unit, tuple(
            replace(p, limit=wire_limit(p.limit, rate_unit)) for p in schedule_periods),
            duration_s, start)
        answer = {"status": "Accepted", "schedule": {
            "evseId": evse_id, "duration": duration_s, "scheduleStart": start.isoformat(),
            "chargingRateUnit": rate_unit,
            "chargingSchedulePeriod": profile_payload(
                replace(MAX_PROFILE, schedule=schedule)
            )["chargingSchedule"][0]["chargingSchedulePeriod"],
        }}
        result = received(GetCompositeSchedule(evse_id, duration_s), answer)
        assert result == CompositeSchedule("Accepted", evse_id, schedule)
