"""The simulated 2.0.1 charger's device model side, over the loopback CSMS: limits refused
like a real charger, reports in parts, monitors that trip and clear."""

from __future__ import annotations

from typing import Any

import pytest

from csms.handlers.ocppj import OcppVersion
from csms.handlers.rpc import CallFailed
from simulators.protocol.loopback import station_on_loopback

V201 = OcppVersion.V201


def item(component: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"component": {"name": component}, "variable": {"name": name}, **extra}


async def test_more_items_than_the_limit_is_a_callerror() -> None:
    async with station_on_loopback(V201) as (csms, _):
        four = [item("OCPPCommCtrlr", "HeartbeatInterval")] * 4
        answer = await csms.call("CP-1", "GetVariables", {"getVariableData": four})
        assert 4 == len(answer["getVariableResult"])
        with pytest.raises(CallFailed) as refused:
            await csms.call("CP-1", "GetVariables", {"getVariableData": [*four, four[0]]})
    assert "OccurrenceConstraintViolation" in str(refused.value)


async def test_base_report_comes_in_parts() -> None:
    async with station_on_loopback(V201, connectors=2) as (csms, st):
        answer = await csms.call("CP-1", "GetBaseReport",
                                 {"requestId": 5, "reportBase": "FullInventory"})
        await st.settle()
        parts = csms.messages("CP-1", "NotifyReport")
    assert {"status": "Accepted"} == answer
    assert list(range(len(parts))) == [p["seqNo"] for p in parts]
    assert [True] * (len(parts) - 1) + [False] == [p["tbc"] for p in parts]
    assert {5} == {p["requestId"] for p in parts}
    names = {(d["component"]["name"], d["variable"]["name"],
              d["component"].get("evse", {}).get("id")) for p in parts for d in p["reportData"]}
    assert {("EVSE", "Current", 1), ("EVSE", "Current", 2),
            ("DeviceDataCtrlr", "ItemsPerMessageGetVariables", None)} <= names


async def test_a_threshold_trips_once_and_clears() -> None:
    async with station_on_loopback(V201) as (csms, st):
        answer = await csms.call("CP-1", "SetVariableMonitoring", {"setMonitoringData": [
            {"value": 80, "type": "UpperThreshold", "severity": 0,
             **item("TemperatureSensor", "Temperature")},
            {"value": 1, "type": "UpperThreshold", "severity": 0, **item("EVSE", "Nope")}]})
        for temperature in (70.0, 90.0, 95.0, 60.0):
            await st.send_meter_values(1, temperature_c=temperature)
        events = [e for m in csms.messages("CP-1", "NotifyEvent") for e in m["eventData"]]
    assert ["Accepted", "UnknownComponent"] == [
        r["status"] for r in answer["setMonitoringResult"]]
    assert [("90", False), ("60", True)] == [(e["actualValue"], e["cleared"]) for e in events]
    assert {answer["setMonitoringResult"][0]["id"]} == {e["variableMonitoringId"]
                                                        for e in events}
