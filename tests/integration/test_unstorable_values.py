"""Schema-valid values the store cannot hold are refused at the protocol boundary, alike on
SQLite and PostgreSQL: the right CALLERROR, never an InternalError, and the batch they were
in is not poisoned (issue 14, defect 4)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from structlog.testing import capture_logs

from csms.app import Csms
from tests.integration.test_server import BOOT_16, call, raw

START = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "2026-11-27T12:00:00Z"}
STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
BOOT_201 = {"chargingStation": {"vendorName": "Acme", "model": "AC7"}, "reason": "PowerUp"}
EVENT_201 = {
    "eventType": "Started", "timestamp": "2026-11-27T12:00:00Z", "triggerReason": "Authorized",
    "seqNo": 0, "transactionInfo": {"transactionId": "TX-1"}, "evse": {"id": 1, "connectorId": 1},
}


def _with(payload: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**payload, **changes}


CASES_16 = [
    ("StatusNotification", _with(STATUS, timestamp="0001-01-01T00:00:00+14:00"),
     "PropertyConstraintViolation"),
    ("StatusNotification", _with(STATUS, timestamp="9999-12-31T23:59:59-14:00"),
     "PropertyConstraintViolation"),
    ("StatusNotification", _with(STATUS, connectorId=2**63), "TypeConstraintViolation"),
    ("StatusNotification", _with(STATUS, connectorId=2**31), "TypeConstraintViolation"),
    ("StatusNotification", _with(STATUS, connectorId=-1), "PropertyConstraintViolation"),
    ("MeterValues", {"connectorId": 2**40, "meterValue": [
        {"timestamp": "2026-11-27T12:00:00Z", "sampledValue": [{"value": "1"}]}]},
     "TypeConstraintViolation"),
    ("StartTransaction", _with(START, idTag="A\u0000B"), "PropertyConstraintViolation"),
    ("StartTransaction", _with(START, connectorId=-2), "PropertyConstraintViolation"),
    ("DataTransfer", {"vendorId": "x", "data": "nul \u0000 inside"},
     "PropertyConstraintViolation"),
]
CASES_201 = [
    ("TransactionEvent", _with(EVENT_201, seqNo=2**31), "TypeConstraintViolation"),
    ("TransactionEvent", _with(EVENT_201, seqNo=-1), "PropertyConstraintViolation"),
    ("TransactionEvent", _with(EVENT_201, evse={"id": 2**31}), "TypeConstraintViolation"),
    ("TransactionEvent", _with(EVENT_201, evse={"id": -1}), "PropertyConstraintViolation"),
    ("StatusNotification", {"timestamp": "2026-11-27T12:00:00Z", "connectorStatus": "Available",
                            "evseId": -1, "connectorId": 1}, "PropertyConstraintViolation"),
    ("DataTransfer", {"vendorId": "x", "data": {"k\u0000": 1}}, "PropertyConstraintViolation"),
]


class TestRefusedAlike:
    @pytest.mark.parametrize(("action", "payload", "code"), CASES_16)
    async def test_1_6(self, csms: Csms, action: str, payload: dict[str, Any],
                       code: str) -> None:
        """A 1.6 value the store cannot hold gets its CALLERROR; the connection lives on."""
        await self._refused(csms, "ocpp1.6", BOOT_16, action, payload, code)

    @pytest.mark.parametrize(("action", "payload", "code"), CASES_201)
    async def test_2_0_1(self, csms: Csms, action: str, payload: dict[str, Any],
                         code: str) -> None:
        """A 2.0.1 value the store cannot hold gets its CALLERROR; the connection lives on."""
        await self._refused(csms, "ocpp2.0.1", BOOT_201, action, payload, code)

    @staticmethod
    async def _refused(csms: Csms, version: str, boot: dict[str, Any], action: str,
                       payload: dict[str, Any], code: str) -> None:
        async with raw(csms, "CP-V", version) as ws:
            assert 3 == (await call(ws, "BootNotification", boot, "b"))[0]
            with capture_logs() as logs:
                answer = await call(ws, action, payload, "bad")
            assert [4, "bad", code] == answer[:3]
            assert not [e for e in logs if e["event"] == "ocpp.handler.failed"]
            assert 3 == (await call(ws, "Heartbeat", {}, "ok"))[0]


class TestUnreadableNumbers:
    @pytest.mark.parametrize("value", ["1e400", str(2**70) + ".5e400", "NaN", '"\\ud800"'])
    async def test_json_the_parser_refuses_keeps_its_message_id(self, csms: Csms,
                                                                value: str) -> None:
        """1e400, NaN, a lone surrogate: FormationViolation carrying the message id."""
        async with raw(csms, "CP-N") as ws:
            await ws.send('[2, "m-400", "DataTransfer", {"vendorId": "x", "data": ' + value + "}]")
            answer = orjson.loads(await ws.recv())
            assert [4, "m-400", "FormationViolation"] == answer[:3]

    async def test_an_integer_beyond_64_bits_is_a_type_error(self, csms: Csms) -> None:
        """An integer too big for 64 bits in an integer field: TypeConstraintViolation."""
        async with raw(csms, "CP-B") as ws:
            assert 3 == (await call(ws, "BootNotification", BOOT_16, "b"))[0]
            await ws.send('[2, "m-big", "StatusNotification", {"connectorId": ' + str(2**70)
                          + ', "errorCode": "NoError", "status": "Available"}]')
            answer = orjson.loads(await ws.recv())
            assert [4, "m-big", "TypeConstraintViolation"] == answer[:3]
