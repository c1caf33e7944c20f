"""Firmware and log commands on the wire: each version's message, valid against the
official schema, and the answers as domain results."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from csms.domain.commands import CommandStatus
from csms.domain.commands_files import GetLog, LogAnswer, LogKind, UpdateFirmware
from csms.errors import CommandNotSupported
from csms.handlers.commands import v16 as commands_v16
from csms.handlers.commands import v201 as commands_v201
from csms.handlers.ocppj import OcppVersion, Schemas
from simulators.device.files import new_version

AT = datetime(2028, 2, 29, 4, 0, tzinfo=UTC)
URL = "http://csms.example:8080/firmware/download/tok/fw.bin"
PLAIN = UpdateFirmware(7, URL, AT, retries=3, retry_interval_s=60)
SIGNED = UpdateFirmware(8, URL, AT, install_at=AT, signing_certificate="PEM",
                        signature="c2ln")
V16, V201 = Schemas(OcppVersion.V16), Schemas(OcppVersion.V201)


def test_plain_1_6_update_has_no_request_id() -> None:
    action, payload = commands_v16.to_call("CP", PLAIN)
    V16.check_request(action, payload, "1")
    assert ("UpdateFirmware", {"location": URL, "retrieveDate": "2028-02-29T04:00:00.000Z",
                               "retries": 3, "retryInterval": 60}) == (action, payload)
    assert CommandStatus("Accepted") == commands_v16.from_answer(PLAIN, {})


def test_a_signed_1_6_update_is_the_security_extension_message() -> None:
    action, payload = commands_v16.to_call("CP", SIGNED)
    V16.check_request(action, payload, "1")
    assert ("SignedUpdateFirmware", 8, "c2ln", "PEM") == (
        action, payload["requestId"], payload["firmware"]["signature"],
        payload["firmware"]["signingCertificate"])
    assert CommandStatus("InvalidCertificate") == commands_v16.from_answer(
        SIGNED, {"status": "InvalidCertificate"})


@pytest.mark.parametrize("command", [PLAIN, SIGNED])
def test_2_0_1_update_firmware(command: UpdateFirmware) -> None:
    action, payload = commands_v201.to_call("CP", command)
    V201.check_request(action, payload, "1")
    assert ("UpdateFirmware", command.request_id, URL) == (
        action, payload["requestId"], payload["firmware"]["location"])
    assert command.signed == ("signature" in payload["firmware"])
    answer = {"status": "Rejected", "statusInfo": {"reasonCode": "Busy"}}
    assert CommandStatus("Rejected", "Busy") == commands_v201.from_answer(command, answer)


def test_half_a_signature_is_not_sent() -> None:
    with pytest.raises(CommandNotSupported, match="both"):
        commands_v16.to_call("CP", UpdateFirmware(1, URL, AT, signature="x"))


def test_too_long_a_location_is_not_sent() -> None:
    with pytest.raises(CommandNotSupported, match="512"):
        commands_v201.to_call("CP", UpdateFirmware(1, "http://x/" + "a" * 600, AT))


def test_1_6_diagnostics_is_get_diagnostics() -> None:
    command = GetLog(5, "http://csms/uploads/t", oldest=AT, latest=AT)
    action, payload = commands_v16.to_call("CP", command)
    V16.check_request(action, payload, "1")
    assert ("GetDiagnostics", "2028-02-29T04:00:00.000Z") == (action, payload["startTime"])
    assert LogAnswer("Accepted", "d.log") == commands_v16.from_answer(
        command, {"fileName": "d.log"})
    assert LogAnswer("NoFile") == commands_v16.from_answer(command, {})


@pytest.mark.parametrize("command", [
    GetLog(5, "http://csms/uploads/t", LogKind.SECURITY),
    GetLog(5, "http://csms/uploads/t", security_extension=True)])
def test_1_6_get_log_of_the_security_extension(command: GetLog) -> None:
    action, payload = commands_v16.to_call("CP", command)
    V16.check_request(action, payload, "1")
    assert ("GetLog", command.kind.value, 5) == (action, payload["logType"],
                                                 payload["requestId"])
    assert LogAnswer("Rejected") == commands_v16.from_answer(command, {"status": "Rejected"})


def test_2_0_1_get_log() -> None:
    command = GetLog(9, "http://csms/uploads/t", LogKind.SECURITY, oldest=AT, retries=1)
    action, payload = commands_v201.to_call("CP", command)
    V201.check_request(action, payload, "1")
    assert ("GetLog", "SecurityLog", "2028-02-29T04:00:00.000Z") == (
        action, payload["logType"], payload["log"]["oldestTimestamp"])
    assert LogAnswer("Accepted", "s.log", None) == commands_v201.from_answer(
        command, {"status": "Accepted", "filename": "s.log"})


def test_the_simulator_reads_the_version_from_the_file() -> None:
    assert "sim-2.0" == new_version(b"SIMFW sim-2.0\nrest")
    assert new_version(b"other").startswith("sha-")
