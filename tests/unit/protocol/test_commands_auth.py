"""Local-list, cache and reservation commands as schema-valid 1.6 and 2.0.1 CALLs, and their
answers as domain results."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from csms.domain.commands import Command, CommandStatus
from csms.domain.commands_auth import (
    CancelReservation,
    ClearCache,
    GetLocalListVersion,
    LocalAuthEntry,
    LocalListVersion,
    ReserveNow,
    SendLocalList,
)
from csms.domain.model import Authorization, AuthorizationStatus, IdToken
from csms.errors import CommandNotSupported
from csms.handlers.commands import v16 as commands_v16
from csms.handlers.commands import v201 as commands_v201
from csms.handlers.ocppj import OcppVersion, Schemas
from csms.services.commands.codec import (
    decode_command,
    decode_result,
    encode_command,
    encode_result,
)

V16, V201 = Schemas(OcppVersion.V16), Schemas(OcppVersion.V201)
EXPIRES = datetime(2027, 1, 31, 23, 59, 50, tzinfo=UTC)
ENTRIES = (
    LocalAuthEntry(IdToken("04A1B2C3"), Authorization(AuthorizationStatus.ACCEPTED, EXPIRES,
                                                      "FAMILY-3")),
    LocalAuthEntry(IdToken("DEADBEEF"), Authorization(AuthorizationStatus.BLOCKED)),
    LocalAuthEntry(IdToken("GONE"), None),
)
COMMANDS: list[Command] = [
    SendLocalList(3, True, ENTRIES[:2]), SendLocalList(4, False, ENTRIES),
    SendLocalList(1, True, ()), GetLocalListVersion(), ClearCache(),
    ReserveNow(7, IdToken("04A1B2C3"), EXPIRES, 2, group_id="FAMILY-3"),
    ReserveNow(8, IdToken("04A1B2C3"), EXPIRES), CancelReservation(7),
]


def v16(command: Command) -> tuple[str, dict[str, Any]]:
    action, payload = commands_v16.to_call("CP-1", command)
    V16.check_request(action, payload, "1")
    return action, payload


def v201(command: Command) -> tuple[str, dict[str, Any]]:
    action, payload = commands_v201.to_call("CP-1", command)
    V201.check_request(action, payload, "1")
    return action, payload


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: type(c).__name__)
def test_every_command_is_schema_valid_in_both_versions(command: Command) -> None:
    """The official schemas accept every CALL (1.6 and 2.0.1)."""
    assert v16(command)[0] == v201(command)[0]


def test_1_6_send_local_list() -> None:
    """listVersion, updateType, idTag with idTagInfo (expiryDate, parentIdTag); a removal
    without idTagInfo."""
    assert ("SendLocalList", {"listVersion": 4, "updateType": "Differential",
                              "localAuthorizationList": [
        {"idTag": "04A1B2C3", "idTagInfo": {"status": "Accepted",
                                            "expiryDate": "2027-01-31T23:59:50.000Z",
                                            "parentIdTag": "FAMILY-3"}},
        {"idTag": "DEADBEEF", "idTagInfo": {"status": "Blocked"}},
        {"idTag": "GONE"}]}) == v16(SendLocalList(4, False, ENTRIES))


def test_2_0_1_send_local_list() -> None:
    """versionNumber, idToken objects, idTokenInfo; an empty full list omits the list."""
    _, payload = v201(SendLocalList(4, False, ENTRIES))
    assert {"versionNumber": 4, "updateType": "Differential"}.items() <= payload.items()
    assert [{"idToken": {"idToken": "GONE", "type": "ISO14443"}}] == \
        payload["localAuthorizationList"][2:]
    assert {"versionNumber": 1, "updateType": "Full"} == v201(SendLocalList(1, True))[1]


def test_reserve_now_any_connector() -> None:
    """1.6 connector 0; 2.0.1 without evseId."""
    command = ReserveNow(8, IdToken("04A1B2C3"), EXPIRES)
    assert 0 == v16(command)[1]["connectorId"]
    assert "evseId" not in v201(command)[1]


def test_connector_type_is_2_0_1_only() -> None:
    """1.6 cannot reserve by connector type: CommandNotSupported, nothing sent."""
    command = ReserveNow(8, IdToken("A"), EXPIRES, connector_type="cType2")
    assert "cType2" == v201(command)[1]["connectorType"]
    with pytest.raises(CommandNotSupported, match="connector type"):
        commands_v16.to_call("CP-1", command)


def test_a_1_6_id_tag_over_20_characters_is_not_sent() -> None:
    """CiString20 in 1.6."""
    with pytest.raises(CommandNotSupported, match="20 characters"):
        commands_v16.to_call("CP-1", SendLocalList(1, True, (
            LocalAuthEntry(IdToken("X" * 21), Authorization(AuthorizationStatus.ACCEPTED)),)))


def test_answers() -> None:
    """Versions as LocalListVersion, the rest as CommandStatus (2.0.1 with its reason)."""
    V16.check_response("GetLocalListVersion", {"listVersion": -1}, "1")
    assert LocalListVersion(-1) == commands_v16.from_answer(GetLocalListVersion(),
                                                            {"listVersion": -1})
    assert LocalListVersion(5) == commands_v201.from_answer(GetLocalListVersion(),
                                                            {"versionNumber": 5})
    assert CommandStatus("VersionMismatch") == commands_v16.from_answer(
        SendLocalList(2, False), {"status": "VersionMismatch"})
    assert CommandStatus("Occupied", "InUse") == commands_v201.from_answer(
        ReserveNow(1, IdToken("A"), EXPIRES),
        {"status": "Occupied", "statusInfo": {"reasonCode": "InUse"}})


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: type(c).__name__)
def test_every_command_crosses_nodes_unchanged(command: Command) -> None:
    """The cross-node command bus encodes and decodes each command (JSON) to an equal one."""
    wire = json.loads(json.dumps(encode_command(command)))
    assert command == decode_command(wire)
    result = LocalListVersion(4)
    assert result == decode_result(json.loads(json.dumps(encode_result(result))))
