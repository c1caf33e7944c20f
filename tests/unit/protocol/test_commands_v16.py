"""OCPP 1.6 command translation: exact, schema-valid CALLs; answers as domain results."""

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
from csms.handlers.commands.v16 import from_answer, profile_payload, to_call
from csms.handlers.ocppj import OcppVersion, Schemas

Payload = dict[str, Any]

SCHEMAS = Schemas(OcppVersion.V16)
STATION = "CP-1"
AT = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
AT_WIRE = "2024-05-01T08:30:00.000Z"
LATER_WIRE = "2024-05-02T08:30:00.000Z"
TAG = IdToken("04A1B2C3")

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
    "chargingProfileId": 7, "stackLevel": 1, "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Recurring", "recurrencyKind": "Daily",
    "validFrom": AT_WIRE, "validTo": LATER_WIRE,
    "chargingSchedule": {
        "duration": 86400, "startSchedule": AT_WIRE, "chargingRateUnit": "A",
        "chargingSchedulePeriod": [
            {"startPeriod": 0, "limit": 16.0},
            {"startPeriod": 3600, "limit": 10.0, "numberPhases": 3},
        ],
        "minChargingRate": 6.0,
    },
}
MAX_PROFILE = ChargingProfile(
    profile_id=1, stack_level=0, purpose=ProfilePurpose.STATION_MAX,
    kind=ProfileKind.ABSOLUTE,
    schedule=ChargingSchedule("W", (SchedulePeriod(0, 22000.0),)),
)
MAX_PROFILE_WIRE: Payload = {
    "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "ChargePointMaxProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {
        "chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 22000.0}],
    },
}
TX_PROFILE = ChargingProfile(
    profile_id=9, stack_level=0, purpose=ProfilePurpose.TX, kind=ProfileKind.RELATIVE,
    schedule=ChargingSchedule("A", (SchedulePeriod(0, 32.0, 1),), duration_s=3600),
    transaction_ref="42",
)
TX_PROFILE_WIRE: Payload = {
    "chargingProfileId": 9, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
    "chargingProfileKind": "Relative", "transactionId": 42,
    "chargingSchedule": {
        "duration": 3600, "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 32.0, "numberPhases": 1}],
    },
}


def sent(command: Command) -> tuple[str, Payload]:
    """to_call's CALL, checked against the 1.6 request schema."""
    action, payload = to_call(STATION, command)
    SCHEMAS.check_request(action, payload, "1")
    return action, payload


def received(command: Command, payload: Payload) -> CommandResult:
    """from_answer of ``payload``, checked against the 1.6 response schema first."""
    action, _ = to_call(STATION, command)
    SCHEMAS.check_response(action, payload, "1")
    return from_answer(command, payload)


CALLS = [
    pytest.param(
        RemoteStart(TAG), "RemoteStartTransaction", {"idTag": "04A1B2C3"}, id="remote-start",
    ),
    pytest.param(
        RemoteStart(TAG, evse_id=2, remote_start_id=5, charging_profile=TX_PROFILE),
        "RemoteStartTransaction",
        {"idTag": "04A1B2C3", "connectorId": 2, "chargingProfile": TX_PROFILE_WIRE},
        id="remote-start-profile",
    ),
    pytest.param(
        RemoteStop("1234"), "RemoteStopTransaction", {"transactionId": 1234}, id="remote-stop",
    ),
    pytest.param(Reset(), "Reset", {"type": "Soft"}, id="reset-soft"),
    pytest.param(Reset(ResetKind.HARD), "Reset", {"type": "Hard"}, id="reset-hard"),
    pytest.param(
        ChangeAvailability(0, operative=False), "ChangeAvailability",
        {"connectorId": 0, "type": "Inoperative"}, id="availability-station",
    ),
    pytest.param(
        ChangeAvailability(2, operative=True, connector_id=1), "ChangeAvailability",
        {"connectorId": 2, "type": "Operative"}, id="availability-evse",
    ),
    pytest.param(UnlockConnector(3), "UnlockConnector", {"connectorId": 3}, id="unlock"),
    pytest.param(GetSettings(), "GetConfiguration", {}, id="get-all-settings"),
    pytest.param(
        GetSettings((SettingKey("HeartbeatInterval"), SettingKey("MeterValueSampleInterval"))),
        "GetConfiguration", {"key": ["HeartbeatInterval", "MeterValueSampleInterval"]},
        id="get-settings",
    ),
    pytest.param(
        SetSetting(SettingKey("HeartbeatInterval"), "300"), "ChangeConfiguration",
        {"key": "HeartbeatInterval", "value": "300"}, id="set-setting",
    ),
    pytest.param(
        TriggerMessage(TriggerableMessage.STATUS_NOTIFICATION, evse_id=1), "TriggerMessage",
        {"requestedMessage": "StatusNotification", "connectorId": 1}, id="trigger-status",
    ),
    pytest.param(
        TriggerMessage(TriggerableMessage.DIAGNOSTICS_STATUS), "TriggerMessage",
        {"requestedMessage": "DiagnosticsStatusNotification"}, id="trigger-diagnostics",
    ),
    pytest.param(
        SetChargingProfile(1, DEFAULT_PROFILE), "SetChargingProfile",
        {"connectorId": 1, "csChargingProfiles": DEFAULT_PROFILE_WIRE}, id="profile-default",
    ),
    pytest.param(
        SetChargingProfile(0, MAX_PROFILE), "SetChargingProfile",
        {"connectorId": 0, "csChargingProfiles": MAX_PROFILE_WIRE}, id="profile-station-max",
    ),
    pytest.param(
        SetChargingProfile(2, TX_PROFILE), "SetChargingProfile",
        {"connectorId": 2, "csChargingProfiles": TX_PROFILE_WIRE}, id="profile-tx",
    ),
    pytest.param(ClearChargingProfile(), "ClearChargingProfile", {}, id="clear-all"),
    pytest.param(
        ClearChargingProfile(profile_id=7), "ClearChargingProfile", {"id": 7}, id="clear-id",
    ),
    pytest.param(
        ClearChargingProfile(evse_id=1, purpose=ProfilePurpose.STATION_MAX, stack_level=0),
        "ClearChargingProfile",
        {"connectorId": 1, "chargingProfilePurpose": "ChargePointMaxProfile", "stackLevel": 0},
        id="clear-criteria",
    ),
    pytest.param(
        GetCompositeSchedule(1, 3600), "GetCompositeSchedule",
        {"connectorId": 1, "duration": 3600}, id="composite",
    ),
    pytest.param(
        GetCompositeSchedule(0, 600, rate_unit="W"), "GetCompositeSchedule",
        {"connectorId": 0, "duration": 600, "chargingRateUnit": "W"}, id="composite-unit",
    ),
]


class TestToCall:
    @pytest.mark.parametrize(("command", "action", "payload"), CALLS)
    def test_exact_call(self, command: Command, action: str, payload: Payload) -> None:
        """Each command becomes exactly the expected, schema-valid 1.6 CALL."""
        assert sent(command) == (action, payload)

    @pytest.mark.parametrize(
        "message", [m for m in TriggerableMessage if m is not TriggerableMessage.TRANSACTION_EVENT]
    )
    def test_every_1_6_trigger_is_schema_valid(self, message: TriggerableMessage) -> None:
        """Every message 1.6 can trigger is named from its enum."""
        action, payload = sent(TriggerMessage(message, evse_id=1))
        assert action == "TriggerMessage"
        assert payload["connectorId"] == 1

    def test_profile_payload_rounds_down_to_one_decimal(self) -> None:
        """Limits and minChargingRate go to the wire rounded down to a tenth (never up)."""
        schedule = profile_payload(DEFAULT_PROFILE)["chargingSchedule"]
        assert [p["limit"] for p in schedule["chargingSchedulePeriod"]] == [16.0, 10.0]
        assert schedule["minChargingRate"] == 6.0

    def test_profile_payload_refuses_a_non_integer_transaction(self) -> None:
        """profile_payload raises ValueError for a transaction ref 1.6 cannot carry."""
        with pytest.raises(ValueError, match="integers"):
            profile_payload(replace(TX_PROFILE, transaction_ref="tx-9"))


NOT_SUPPORTED = [
    pytest.param(RemoteStop("abc"), "not 'abc'", id="stop-text-ref"),
    pytest.param(RemoteStop("1_000"), "integers", id="stop-underscore-ref"),
    pytest.param(RemoteStop("12.5"), "integers", id="stop-decimal-ref"),
    pytest.param(RemoteStop(" 12"), "integers", id="stop-padded-ref"),
    pytest.param(
        TriggerMessage(TriggerableMessage.TRANSACTION_EVENT), "TransactionEvent",
        id="trigger-transaction-event",
    ),
    pytest.param(
        GetSettings((SettingKey("HeartbeatInterval", component="OCPPCommCtrlr"),)),
        "no component", id="get-component-key",
    ),
    pytest.param(
        SetSetting(SettingKey("Enabled", evse_id=1), "true"), "no component",
        id="set-evse-key",
    ),
    pytest.param(SetSetting(SettingKey("K" * 51), "1"), "key holds at most 50", id="long-key"),
    pytest.param(
        SetSetting(SettingKey("K"), "v" * 501), "value holds at most 500", id="long-value",
    ),
    pytest.param(RemoteStart(IdToken("A" * 21)), "idTag holds at most 20", id="long-id-tag"),
    pytest.param(
        SetChargingProfile(1, replace(TX_PROFILE, transaction_ref="tx-9")), "integers",
        id="profile-text-ref",
    ),
    pytest.param(
        RemoteStart(TAG, charging_profile=replace(TX_PROFILE, transaction_ref="tx-9")),
        "integers", id="start-profile-text-ref",
    ),
    pytest.param(
        ChangeAvailability(1, operative=True, connector_id=2), "one connector per EVSE",
        id="availability-second-connector",
    ),
    pytest.param(UnlockConnector(1, 2), "one connector per EVSE", id="unlock-second-connector"),
]


class TestNotSupported:
    @pytest.mark.parametrize(("command", "reason"), NOT_SUPPORTED)
    def test_refused_before_sending(self, command: Command, reason: str) -> None:
        """A command 1.6 cannot express raises CommandNotSupported naming why."""
        with pytest.raises(CommandNotSupported, match=reason) as caught:
            to_call(STATION, command)
        assert caught.value.station_id == STATION
        assert type(command).__name__ in str(caught.value)
        assert "OCPP 1.6" in str(caught.value)


ANSWERS = [
    pytest.param(RemoteStart(TAG), {"status": "Accepted"}, CommandStatus("Accepted"), id="start"),
    pytest.param(RemoteStop("7"), {"status": "Rejected"}, CommandStatus("Rejected"), id="stop"),
    pytest.param(Reset(), {"status": "Accepted"}, CommandStatus("Accepted"), id="reset"),
    pytest.param(
        ChangeAvailability(1, operative=False), {"status": "Scheduled"},
        CommandStatus("Scheduled"), id="availability",
    ),
    pytest.param(
        UnlockConnector(1), {"status": "UnlockFailed"}, CommandStatus("UnlockFailed"),
        id="unlock",
    ),
    pytest.param(
        SetSetting(SettingKey("HeartbeatInterval"), "300"), {"status": "RebootRequired"},
        CommandStatus("RebootRequired"), id="set-setting",
    ),
    pytest.param(
        TriggerMessage(TriggerableMessage.HEARTBEAT), {"status": "NotImplemented"},
        CommandStatus("NotImplemented"), id="trigger",
    ),
    pytest.param(
        SetChargingProfile(1, DEFAULT_PROFILE), {"status": "NotSupported"},
        CommandStatus("NotSupported"), id="set-profile",
    ),
    pytest.param(
        ClearChargingProfile(profile_id=3), {"status": "Unknown"}, CommandStatus("Unknown"),
        id="clear-profile",
    ),
    pytest.param(
        GetSettings((SettingKey("HeartbeatInterval"), SettingKey("NumberOfConnectors"),
                     SettingKey("AuthorizationKey"), SettingKey("Foo"))),
        {
            "configurationKey": [
                {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
                {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
                {"key": "AuthorizationKey", "readonly": False},
            ],
            "unknownKey": ["Foo"],
        },
        SettingsReport(
            values=(
                SettingValue(SettingKey("HeartbeatInterval"), "Accepted", "300", False),
                SettingValue(SettingKey("NumberOfConnectors"), "Accepted", "2", True),
                SettingValue(SettingKey("AuthorizationKey"), "Accepted", None, False),
            ),
            unknown=("Foo",),
        ),
        id="get-settings",
    ),
    pytest.param(GetSettings(), {}, SettingsReport(()), id="get-settings-empty"),
    pytest.param(
        GetCompositeSchedule(1, 3600),
        {
            "status": "Accepted", "connectorId": 1, "scheduleStart": AT_WIRE,
            "chargingSchedule": {
                "duration": 3600, "startSchedule": AT_WIRE, "chargingRateUnit": "A",
                "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": 16},
                    {"startPeriod": 1800, "limit": 8.5, "numberPhases": 1},
                ],
                "minChargingRate": 6.0,
            },
        },
        CompositeSchedule("Accepted", 1, ChargingSchedule(
            "A", (SchedulePeriod(0, 16.0), SchedulePeriod(1800, 8.5, 1)),
            duration_s=3600, start_at=AT, min_rate=6.0,
        )),
        id="composite",
    ),
    pytest.param(
        GetCompositeSchedule(2, 600),
        {
            "status": "Accepted", "connectorId": 2, "scheduleStart": "2024-05-01T10:30:00+02:00",
            "chargingSchedule": {
                "chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 0}],
            },
        },
        CompositeSchedule("Accepted", 2, ChargingSchedule(
            "W", (SchedulePeriod(0, 0.0),), start_at=AT,
        )),
        id="composite-start-from-answer",
    ),
    pytest.param(
        GetCompositeSchedule(1, 3600), {"status": "Rejected"}, CompositeSchedule("Rejected"),
        id="composite-rejected",
    ),
]


class TestFromAnswer:
    @pytest.mark.parametrize(("command", "payload", "expected"), ANSWERS)
    def test_answer(self, command: Command, payload: Payload, expected: CommandResult) -> None:
        """Each schema-valid 1.6 answer becomes exactly the expected domain result."""
        assert received(command, payload) == expected

    def test_composite_times_and_limits_are_normalised(self) -> None:
        """Schedule starts come back as aware UTC and integer limits as floats."""
        answer = {
            "status": "Accepted", "connectorId": 1,
            "chargingSchedule": {
                "startSchedule": "2024-05-01T10:30:00+02:00", "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
            },
        }
        result = received(GetCompositeSchedule(1, 60), answer)
        assert isinstance(result, CompositeSchedule)
        assert result.schedule is not None
        assert result.schedule.start_at == AT
        assert result.schedule.start_at.tzinfo is UTC
        assert isinstance(result.schedule.periods[0].limit, float)


EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
instants = st.integers(0, 100 * 365 * 86_400_000).map(lambda ms: EPOCH + timedelta(milliseconds=ms))


def schedules(limits: st.SearchStrategy[float]) -> st.SearchStrategy[ChargingSchedule]:
    """Charging schedules of 1-5 periods whose limits and minimum rate come from ``limits``."""
    periods = st.builds(
        SchedulePeriod, start_s=st.integers(0, 7 * 86_400), limit=limits,
        number_phases=st.none() | st.integers(1, 3),
    )
    return st.builds(
        ChargingSchedule, rate_unit=st.sampled_from(["A", "W"]),
        periods=st.lists(periods, min_size=1, max_size=5).map(tuple),
        duration_s=st.none() | st.integers(1, 7 * 86_400), start_at=st.none() | instants,
        min_rate=st.none() | limits,
    )


any_limits = st.floats(min_value=0, max_value=1000, allow_nan=False)
tenths = st.integers(0, 10_000).map(lambda n: n / 10)


def at_wire_precision(schedule: ChargingSchedule) -> ChargingSchedule:
    """The schedule with its limits as the wire carries them (whole watts for W)."""
    unit = schedule.rate_unit
    return replace(
        schedule, periods=tuple(replace(p, limit=wire_limit(p.limit, unit))
                                for p in schedule.periods),
        min_rate=None if schedule.min_rate is None else wire_limit(schedule.min_rate, unit))
profiles = st.builds(
    ChargingProfile, profile_id=st.integers(1, 2**31 - 1), stack_level=st.integers(0, 10),
    purpose=st.sampled_from(ProfilePurpose), kind=st.sampled_from(ProfileKind),
    schedule=schedules(any_limits), recurrency=st.none() | st.sampled_from(["Daily", "Weekly"]),
    valid_from=st.none() | instants, valid_to=st.none() | instants,
    transaction_ref=st.none() | st.integers(1, 2**31 - 1).map(str),
)


class TestProperties:
    @settings(database=None, deadline=None)
    @given(evse_id=st.integers(0, 8), profile=profiles)
    def test_any_profile_is_schema_valid(self, evse_id: int, profile: ChargingProfile) -> None:
        """Any profile with limits in [0, 1000] and 1-5 periods is a valid SetChargingProfile."""
        _, payload = sent(SetChargingProfile(evse_id, profile))
        periods = payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"]
        unit = profile.schedule.rate_unit
        assert [p["limit"] for p in periods] == [
            wire_limit(p.limit, unit) for p in profile.schedule.periods
        ]
        assert [p["startPeriod"] for p in periods] == [p.start_s for p in profile.schedule.periods]

    @settings(database=None, deadline=None)
    @given(connector_id=st.integers(0, 8), schedule=schedules(tenths).map(at_wire_precision))
    def test_composite_schedule_round_trips(
        self, connector_id: int, schedule: ChargingSchedule
    ) -> None:
        """A schedule on the wire as 1.6 writes it comes back from GetCompositeSchedule equal
        (limits at the wire's precision: tenths of an ampere, whole watts)."""
        wire = profile_payload(replace(MAX_PROFILE, schedule=schedule))["chargingSchedule"]
        answer = {"status": "Accepted", "connectorId": connector_id, "chargingSchedule": wire}
        result = received(GetCompositeSchedule(connector_id, 86_400), answer)
        assert result == CompositeSchedule("Accepted", connector_id, schedule)
