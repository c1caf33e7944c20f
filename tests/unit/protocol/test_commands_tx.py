"""The transaction and smart-charging commands of issue 13 point 7 in both translations, the
report collector's joining rule and the rule that ends a forgotten transaction (pure)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from csms.domain.commands import CommandStatus
from csms.domain.commands_tx import (
    CustomerInformation,
    ExtendedTrigger,
    ExtendedTriggerable,
    GetChargingProfiles,
    GetTransactionStatus,
    ResetEvse,
    TransactionStatus,
)
from csms.domain.model import IdToken, StationEventReported
from csms.errors import CommandNotSupported
from csms.handlers.commands import v16 as commands_v16
from csms.handlers.commands import v201 as commands_v201
from csms.handlers.ocppj import OcppVersion, Schemas
from csms.services.events import EventBus
from csms.services.reports import CUSTOMER, PROFILES, ReportCollector
from csms.services.sessions.tx_checks import not_ongoing

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def valid_201(action: str, payload: dict[str, Any]) -> None:
    Schemas(OcppVersion.V201).check_request(action, payload, "m")


@pytest.mark.parametrize(("command", "action", "payload"), [
    (GetTransactionStatus("TX-1"), "GetTransactionStatus", {"transactionId": "TX-1"}),
    (GetTransactionStatus(), "GetTransactionStatus", {}),
    (ResetEvse(2, immediate=True), "Reset", {"type": "Immediate", "evseId": 2}),
    (ResetEvse(1), "Reset", {"type": "OnIdle", "evseId": 1}),
    (ExtendedTrigger(ExtendedTriggerable.SIGN_CERTIFICATE, 0), "TriggerMessage",
     {"requestedMessage": "SignChargingStationCertificate"}),
    (GetChargingProfiles(5, 1, "TxProfile", 2, (7, 8)), "GetChargingProfiles",
     {"requestId": 5, "evseId": 1, "chargingProfile": {
         "chargingProfilePurpose": "TxProfile", "stackLevel": 2, "chargingProfileId": [7, 8]}}),
    (GetChargingProfiles(6), "GetChargingProfiles", {"requestId": 6, "chargingProfile": {}}),
    (CustomerInformation(9, True, False, id_token=IdToken("ab", "ISO14443")),
     "CustomerInformation", {"requestId": 9, "report": True, "clear": False,
                             "idToken": {"idToken": "ab", "type": "ISO14443"}}),
])
def test_v201_calls_are_schema_valid(command: Any, action: str,
                                     payload: dict[str, Any]) -> None:
    assert (action, payload) == commands_v201.to_call("CP", command)
    valid_201(action, payload)


@pytest.mark.parametrize("command", [
    ResetEvse(0), GetTransactionStatus("x" * 37), GetChargingProfiles(1, purpose="Nope"),
    CustomerInformation(1, True, False), CustomerInformation(1, True, False, "x" * 65),
])
def test_v201_refuses_what_it_cannot_express(command: Any) -> None:
    with pytest.raises(CommandNotSupported):
        commands_v201.to_call("CP", command)


@pytest.mark.parametrize("command", [
    GetTransactionStatus("1"), ResetEvse(1), GetChargingProfiles(1),
    CustomerInformation(1, True, False, "resident"),
])
def test_v16_cannot_express_them(command: Any) -> None:
    with pytest.raises(CommandNotSupported):
        commands_v16.to_call("CP", command)


def test_v16_extended_trigger_is_schema_valid() -> None:
    action, payload = commands_v16.to_call(
        "CP", ExtendedTrigger(ExtendedTriggerable.LOG_STATUS, 2))
    assert ("ExtendedTriggerMessage",
            {"requestedMessage": "LogStatusNotification", "connectorId": 2}) == (action, payload)
    Schemas(OcppVersion.V16).check_request(action, payload, "m")
    assert CommandStatus("Accepted") == commands_v16.from_answer(
        ExtendedTrigger(ExtendedTriggerable.HEARTBEAT), {"status": "Accepted"})


def test_transaction_status_answer() -> None:
    assert TransactionStatus(True, None) == commands_v201.from_answer(
        GetTransactionStatus(), {"messagesInQueue": True})
    assert TransactionStatus(False, False) == commands_v201.from_answer(
        GetTransactionStatus("T"), {"messagesInQueue": False, "ongoingIndicator": False})


@pytest.mark.parametrize(("queued", "ongoing", "gone"), [
    (False, False, True), (True, False, False), (False, True, False), (False, None, False),
])
def test_only_a_transaction_neither_ongoing_nor_queued_is_forgotten(
    queued: bool, ongoing: bool | None, gone: bool
) -> None:
    assert gone == not_ongoing(TransactionStatus(queued, ongoing))


class _Commands:
    """A command service whose charger sends the parts out of order, before the answer."""

    def __init__(self, bus: EventBus, kind: str, parts: list[dict[str, Any]]) -> None:
        self._bus, self._kind, self._parts = bus, kind, parts

    async def send(self, station_id: str, command: Any, **_: Any) -> CommandStatus:
        for part in self._parts:
            self._bus.publish(StationEventReported(
                station_id, self._kind, T0, details={"requestId": command.request_id, **part}))
        return CommandStatus("Accepted")


async def test_customer_parts_are_joined_in_seq_no_order_until_tbc_false() -> None:
    bus = EventBus()
    parts = [{"seqNo": 1, "data": "b", "tbc": False}, {"seqNo": 0, "data": "a", "tbc": True}]
    collector = ReportCollector(_Commands(bus, CUSTOMER, parts), bus,  # type: ignore[arg-type]
                                lambda: T0)
    request_id = collector.next_request_id()
    answer = await collector.request("CP", CustomerInformation(request_id, True, False, "r"),
                                     wait_s=1.0)
    assert (True, "ab") == (answer.complete, "".join(p["data"] for p in answer.parts))


async def test_an_unfinished_report_is_returned_incomplete_after_the_wait() -> None:
    bus = EventBus()
    collector = ReportCollector(
        _Commands(bus, PROFILES, [{"evseId": 1, "tbc": True}]), bus,  # type: ignore[arg-type]
        lambda: T0)
    answer = await asyncio.wait_for(collector.request(
        "CP", GetChargingProfiles(collector.next_request_id()), wait_s=0.05), 5)
    assert (False, 1) == (answer.complete, len(answer.parts))


def test_request_ids_are_distinct_and_within_31_bits() -> None:
    collector = ReportCollector(None, EventBus(), lambda: T0)  # type: ignore[arg-type]
    ids = [collector.next_request_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(1 <= i < 2**31 for i in ids)
