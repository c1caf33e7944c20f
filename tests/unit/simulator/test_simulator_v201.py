"""SimStation's answers to every OCPP 2.0.1 command the CSMS may send, and what follows them."""

from __future__ import annotations

from typing import Any

import pytest

from csms.handlers.ocppj import OcppVersion
from simulators.protocol.loopback import station_on_loopback

V201 = OcppVersion.V201
TOKEN = {"idToken": "T1", "type": "ISO14443"}


def profile(purpose: str, limit: float, *, profile_id: int = 1, unit: str = "A",
            stack_level: int = 0, **extra: Any) -> dict[str, Any]:
    """A 2.0.1 ChargingProfileType with one schedule of one period."""
    return {
        "id": profile_id, "stackLevel": stack_level, "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": [{"id": 1, "chargingRateUnit": unit,
                              "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}]}],
        **extra,
    }


def variable(component: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"component": {"name": component}, "variable": {"name": name}, **extra}


async def test_request_start_transaction() -> None:
    async with station_on_loopback(V201, connectors=2) as (csms, st):
        request = {"idToken": TOKEN, "remoteStartId": 42, "evseId": 2}
        assert await csms.call("CP-1", "RequestStartTransaction", request) == {
            "status": "Accepted"}
        assert await csms.call("CP-1", "RequestStartTransaction", request) == {
            "status": "Rejected"}
        await st.settle()
        [started] = await csms.wait_for("CP-1", "TransactionEvent")
        statuses = [m["connectorStatus"] for m in csms.messages("CP-1", "StatusNotification")]
        tx = st.transaction(2)
    assert started["eventType"] == "Started"
    assert started["triggerReason"] == "RemoteStart"
    assert started["seqNo"] == 0
    assert started["transactionInfo"]["remoteStartId"] == 42
    assert started["evse"] == {"id": 2, "connectorId": 1}
    assert tx is not None
    assert started["transactionInfo"]["transactionId"] == tx.transaction_id
    assert statuses == ["Occupied", "Occupied"]
    assert st.errors == []


@pytest.mark.parametrize("extra", [
    {"evseId": 0}, {"evseId": 3}, {"evseId": 1, "chargingProfile": profile("TxDefaultProfile", 8)},
])
async def test_request_start_rejections(extra: dict[str, Any]) -> None:
    async with station_on_loopback(V201) as (csms, st):
        request = {"idToken": TOKEN, "remoteStartId": 1, **extra}
        assert await csms.call("CP-1", "RequestStartTransaction", request) == {
            "status": "Rejected"}
        await st.settle()
        assert csms.messages("CP-1", "TransactionEvent") == []


async def test_request_start_with_tx_profile_keeps_it_for_the_transaction() -> None:
    async with station_on_loopback(V201) as (csms, st):
        request = {"idToken": TOKEN, "remoteStartId": 1, "chargingProfile": profile("TxProfile", 6)}
        await csms.call("CP-1", "RequestStartTransaction", request)
        await st.settle()
        [stored] = st.profiles.profiles
        tx = st.transaction(1)
        assert tx is not None
        assert (stored.connector_id, stored.transaction_id) == (1, tx.transaction_id)
        assert st.offered_power_w(1) == 6 * 230 * 3


async def test_request_stop_transaction() -> None:
    async with station_on_loopback(V201) as (csms, st):
        tx = await st.start_transaction(1, "T1")
        unknown = await csms.call("CP-1", "RequestStopTransaction", {"transactionId": "nope"})
        assert unknown == {"status": "Rejected"}
        answer = await csms.call("CP-1", "RequestStopTransaction", {"transactionId": tx})
        assert answer == {"status": "Accepted"}
        await st.settle()
        ended = csms.messages("CP-1", "TransactionEvent")[-1]
        assert ended["eventType"] == "Ended"
        assert ended["seqNo"] == 1
        assert ended["triggerReason"] == "RemoteStop"
        assert ended["transactionInfo"]["stoppedReason"] == "Remote"
        assert st.transaction(1) is None


async def test_reset_immediate_and_on_idle() -> None:
    async with station_on_loopback(V201, reboot_delay_s=0.05) as (csms, st):
        await st.start_transaction(1, "T1")
        assert await csms.call("CP-1", "Reset", {"type": "OnIdle"}) == {"status": "Scheduled"}
        await st.settle()
        assert len(csms.messages("CP-1", "BootNotification")) == 1  # not yet
        await st.stop_transaction(1)
        await st.settle()
        await st.wait_sent("BootNotification", count=2)
        await st.settle()
        boots = csms.messages("CP-1", "BootNotification")
        assert [b["reason"] for b in boots] == ["PowerUp", "RemoteReset"]
        await st.start_transaction(1, "T1")
        assert await csms.call("CP-1", "Reset", {"type": "Immediate"}) == {"status": "Accepted"}
        await st.settle()
        ended = csms.messages("CP-1", "TransactionEvent")[-1]
        assert ended["transactionInfo"]["stoppedReason"] == "ImmediateReset"
        assert ended["triggerReason"] == "ResetCommand"
        await st.wait_sent("BootNotification", count=3)
        await st.settle()
        assert len(csms.messages("CP-1", "BootNotification")) == 3
        unknown = await csms.call("CP-1", "Reset", {"type": "Immediate", "evseId": 5})
        assert unknown == {"status": "Rejected"}


async def test_change_availability() -> None:
    async with station_on_loopback(V201, connectors=2) as (csms, st):
        await st.start_transaction(1, "T1")
        whole = {"operationalStatus": "Inoperative"}
        assert await csms.call("CP-1", "ChangeAvailability", whole) == {"status": "Scheduled"}
        await st.settle()
        assert [(m["evseId"], m["connectorStatus"]) for m in csms.messages(
            "CP-1", "StatusNotification")] == [(2, "Unavailable")]
        await st.stop_transaction(1)
        await st.settle()
        assert csms.messages("CP-1", "StatusNotification")[-1]["connectorStatus"] == "Unavailable"
        one = {"operationalStatus": "Operative", "evse": {"id": 2}}
        assert await csms.call("CP-1", "ChangeAvailability", one) == {"status": "Accepted"}
        for evse in ({"id": 9}, {"id": 2, "connectorId": 2}):
            request = {"operationalStatus": "Operative", "evse": evse}
            assert await csms.call("CP-1", "ChangeAvailability", request) == {"status": "Rejected"}


async def test_unlock_connector() -> None:
    async with station_on_loopback(V201) as (csms, st):
        async def unlock(evse_id: int, connector_id: int = 1) -> str:
            answer = await csms.call("CP-1", "UnlockConnector",
                                     {"evseId": evse_id, "connectorId": connector_id})
            return str(answer["status"])

        assert await unlock(1) == "Unlocked"
        assert await unlock(4) == "UnknownConnector"
        assert await unlock(1, 2) == "UnknownConnector"
        await st.start_transaction(1, "T1")
        assert await unlock(1) == "OngoingAuthorizedTransaction"


async def test_get_variables() -> None:
    async with station_on_loopback(V201) as (csms, _):
        answer = await csms.call("CP-1", "GetVariables", {"getVariableData": [
            variable("OCPPCommCtrlr", "HeartbeatInterval"),
            variable("OCPPCommCtrlr", "Nope"),
            variable("NoSuchCtrlr", "HeartbeatInterval"),
            variable("OCPPCommCtrlr", "HeartbeatInterval", attributeType="Target"),
        ]})
    results = answer["getVariableResult"]
    assert [r["attributeStatus"] for r in results] == [
        "Accepted", "UnknownVariable", "UnknownComponent", "NotSupportedAttributeType"]
    assert results[0]["attributeValue"] == "300"
    assert results[0]["component"] == {"name": "OCPPCommCtrlr"}
    assert "attributeValue" not in results[1]


async def test_set_variables() -> None:
    async with station_on_loopback(V201) as (csms, st):
        answer = await csms.call("CP-1", "SetVariables", {"setVariableData": [
            variable("SampledDataCtrlr", "TxUpdatedInterval", attributeValue="15"),
            variable("SampledDataCtrlr", "TxUpdatedInterval", attributeValue="often"),
            variable("SmartChargingCtrlr", "Enabled", attributeValue="false"),
            variable("SampledDataCtrlr", "Nope", attributeValue="1"),
            variable("NoSuchCtrlr", "X", attributeValue="1"),
            variable("AuthCtrlr", "LocalPreAuthorize", attributeValue="true",
                     attributeType="MaxSet"),
        ]})
        setting = st.settings.get(("SampledDataCtrlr", "TxUpdatedInterval"))
    assert [r["attributeStatus"] for r in answer["setVariableResult"]] == [
        "Accepted", "Rejected", "Rejected", "UnknownVariable", "UnknownComponent",
        "NotSupportedAttributeType"]
    assert setting is not None
    assert setting.value == "15"


@pytest.mark.parametrize("message", ["BootNotification", "Heartbeat", "StatusNotification",
                                     "MeterValues"])
async def test_trigger_message_sends_the_message(message: str) -> None:
    async with station_on_loopback(V201) as (csms, st):
        before = len(csms.messages("CP-1", message))
        answer = await csms.call("CP-1", "TriggerMessage", {"requestedMessage": message})
        assert answer == {"status": "Accepted"}
        await st.settle()
        assert len(csms.messages("CP-1", message)) == before + 1


async def test_trigger_transaction_event_and_refusals() -> None:
    async with station_on_loopback(V201) as (csms, st):
        request = {"requestedMessage": "TransactionEvent", "evse": {"id": 1}}
        assert await csms.call("CP-1", "TriggerMessage", request) == {"status": "Rejected"}
        await st.start_transaction(1, "T1")
        assert await csms.call("CP-1", "TriggerMessage", request) == {"status": "Accepted"}
        await st.settle()
        updated = csms.messages("CP-1", "TransactionEvent")[-1]
        assert (updated["eventType"], updated["triggerReason"]) == ("Updated", "Trigger")
        request = {"requestedMessage": "PublishFirmwareStatusNotification"}
        assert await csms.call("CP-1", "TriggerMessage", request) == {"status": "NotImplemented"}
        request = {"requestedMessage": "Heartbeat", "evse": {"id": 7}}
        assert await csms.call("CP-1", "TriggerMessage", request) == {"status": "Rejected"}


async def test_set_and_clear_charging_profiles() -> None:
    async with station_on_loopback(V201) as (csms, st):
        async def set_(evse_id: int, body: dict[str, Any]) -> str:
            answer = await csms.call("CP-1", "SetChargingProfile",
                                     {"evseId": evse_id, "chargingProfile": body})
            return str(answer["status"])

        assert await set_(1, profile("TxDefaultProfile", 16)) == "Accepted"
        assert await set_(1, profile("TxProfile", 10, profile_id=2)) == "Rejected"
        assert await set_(1, profile("ChargingStationMaxProfile", 20, profile_id=3)) == "Rejected"
        assert await set_(0, profile("ChargingStationMaxProfile", 20, profile_id=3)) == "Accepted"
        tx = await st.start_transaction(1, "T1")
        assert await set_(1, profile("TxProfile", 10, profile_id=4, transactionId="x")) == (
            "Rejected")
        assert await set_(1, profile("TxProfile", 10, profile_id=4, transactionId=tx)) == (
            "Accepted")
        clear = csms.call
        assert await clear("CP-1", "ClearChargingProfile", {"chargingProfileId": 3}) == {
            "status": "Accepted"}
        criteria = {"chargingProfileCriteria": {"evseId": 1, "chargingProfilePurpose": "TxProfile"}}
        assert await clear("CP-1", "ClearChargingProfile", criteria) == {"status": "Accepted"}
        assert await clear("CP-1", "ClearChargingProfile", criteria) == {"status": "Unknown"}
        assert [p.profile_id for p in st.profiles.profiles] == [1]


async def test_get_composite_schedule() -> None:
    async with station_on_loopback(V201) as (csms, _):
        body = profile("TxDefaultProfile", 7360, unit="W")
        await csms.call("CP-1", "SetChargingProfile", {"evseId": 1, "chargingProfile": body})
        amps = await csms.call("CP-1", "GetCompositeSchedule", {"evseId": 1, "duration": 300})
        watts = await csms.call("CP-1", "GetCompositeSchedule",
                                {"evseId": 1, "duration": 300, "chargingRateUnit": "W"})
        station = await csms.call("CP-1", "GetCompositeSchedule", {"evseId": 0, "duration": 300})
        unknown = await csms.call("CP-1", "GetCompositeSchedule", {"evseId": 4, "duration": 300})
    schedule = amps["schedule"]
    assert amps["status"] == "Accepted"
    assert (schedule["evseId"], schedule["duration"], schedule["chargingRateUnit"]) == (1, 300, "A")
    assert schedule["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 10.7, "numberPhases": 3}]  # 7360/690
    assert watts["schedule"]["chargingSchedulePeriod"][0]["limit"] == 7360
    assert station["schedule"]["chargingSchedulePeriod"][0]["limit"] == 32
    assert unknown == {"status": "Rejected"}
