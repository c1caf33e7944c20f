"""Commands, results and errors survive the trip to another node unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_args

import pytest

from csms.domain.commands import (
    ChargingProfile,
    ChargingSchedule,
    ClearChargingProfile,
    Command,
    CommandStatus,
    CompositeSchedule,
    ProfileKind,
    ProfilePurpose,
    RemoteStart,
    SchedulePeriod,
    SetChargingProfile,
    SettingKey,
    SettingsReport,
    SettingValue,
)
from csms.domain.model import IdToken
from csms.errors import (
    CommandError,
    CommandNotSupported,
    CommandRejected,
    CommandTimeout,
    InvalidResponse,
    StationOffline,
)
from csms.services.commands import codec

AT = datetime(2026, 11, 28, 19, 30, tzinfo=UTC)
SCHEDULE = ChargingSchedule("A", (SchedulePeriod(0, 16.0), SchedulePeriod(600, 6.0, 1)),
                            duration_s=3600, start_at=AT, min_rate=6.0)
PROFILE = ChargingProfile(3, 1, ProfilePurpose.TX, ProfileKind.ABSOLUTE, SCHEDULE,
                          valid_to=AT, transaction_ref="42")


class TestCommandsAndResults:
    @pytest.mark.parametrize("command", [
        RemoteStart(IdToken("RES-1", "ISO14443"), 1, 7, PROFILE),
        SetChargingProfile(1, PROFILE),
        ClearChargingProfile(purpose=ProfilePurpose.TX_DEFAULT),
    ])
    def test_a_command_round_trips(self, command: Command) -> None:
        """Nested profiles, enums and aware times come back equal."""
        assert command == codec.decode_command(codec.encode_command(command))

    def test_every_command_type_is_known(self) -> None:
        """A command type added to the domain is carried without touching the codec."""
        assert {c.__name__ for c in get_args(Command)} == set(codec._COMMANDS)

    @pytest.mark.parametrize("result", [
        CommandStatus("Rejected", "busy"),
        SettingsReport((SettingValue(SettingKey("HeartbeatInterval"), "Accepted", "300",
                                     False),), ("Nope",)),
        CompositeSchedule("Accepted", 1, SCHEDULE),
    ])
    def test_a_result_round_trips(self, result: Any) -> None:
        assert result == codec.decode_result(codec.encode_result(result))

    @pytest.mark.parametrize("message", [
        {"type": "RemoteStart", "data": {"id_token": "not an object"}},
        {"type": "Shutdown", "data": {}},
        {"data": {}},
        "garbage",
    ])
    def test_a_malformed_message_fails_loudly(self, message: Any) -> None:
        with pytest.raises(codec.CodecError):
            codec.decode_command(message)


class TestErrors:
    @pytest.mark.parametrize("error", [
        StationOffline("CP1"),
        CommandTimeout("CP1", "Reset", 2.5),
        CommandRejected("CP1", "Reset", "NotImplemented", "no", {"a": 1}),
        CommandNotSupported("CP1", "GetSettings", "2.0.1"),
        InvalidResponse("CP1", "Reset", "status missing"),
        CommandError("CP1", "something else"),
    ])
    def test_an_error_round_trips_with_its_type_and_message(
        self, error: CommandError
    ) -> None:
        decoded = codec.decode_error(codec.encode_error(error))
        assert type(error) is type(decoded)
        assert str(error) == str(decoded)
        assert error.station_id == decoded.station_id

    def test_a_rejection_keeps_its_code(self) -> None:
        error = CommandRejected("CP1", "Reset", "NotImplemented", "no", None)
        decoded = codec.decode_error(codec.encode_error(error))
        assert isinstance(decoded, CommandRejected)
        assert "NotImplemented" == decoded.code

    def test_undecodable_error_fields_fail_loudly(self) -> None:
        with pytest.raises(codec.CodecError):
            codec.decode_error({"kind": "timeout", "station_id": "CP1"})
