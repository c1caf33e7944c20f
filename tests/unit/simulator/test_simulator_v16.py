"""SimStation's answers to every OCPP 1.6 command the CSMS may send, and what follows them."""

from __future__ import annotations

from typing import Any

import pytest

from csms.handlers.ocppj import OcppVersion
from simulators.model import Purpose
from simulators.protocol.loopback import station_on_loopback

V16 = OcppVersion.V16


def profile(purpose: str, limit: float, *, profile_id: int = 1, unit: str = "A",
            stack_level: int = 0, **extra: Any) -> dict[str, Any]:
    """A 1.6 csChargingProfiles with one period."""
    return {
        "chargingProfileId": profile_id, "stackLevel": stack_level,
        "chargingProfilePurpose": purpose, "chargingProfileKind": "Absolute",
        "chargingSchedule": {"chargingRateUnit": unit,
                             "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}]},
        **extra,
    }


async def test_remote_start_starts_a_transaction_after_answering() -> None:
    async with station_on_loopback(V16, connectors=2) as (csms, st):
        request = {"idTag": "T1", "connectorId": 2}
        answer = await csms.call("CP-1", "RemoteStartTransaction", request)
        assert answer == {"status": "Accepted"}
        busy = await csms.call("CP-1", "RemoteStartTransaction", request)
        assert busy == {"status": "Rejected"}
        await st.settle()
        start = (await csms.wait_for("CP-1", "StartTransaction"))[0]
        statuses = [m["status"] for m in csms.messages("CP-1", "StatusNotification")]
        tx = st.transaction(2)
    assert (start["connectorId"], start["idTag"]) == (2, "T1")
    assert statuses == ["Preparing", "Charging"]
    assert tx is not None
    assert tx.transaction_id == "1"
    assert st.received[0] == ("RemoteStartTransaction", {"idTag": "T1", "connectorId": 2})
    assert st.errors == []


@pytest.mark.parametrize("request_", [
    {"idTag": "T1", "connectorId": 0},
    {"idTag": "T1", "connectorId": 3},
    {"idTag": "T1", "connectorId": 1, "chargingProfile": profile("TxDefaultProfile", 16)},
])
async def test_remote_start_rejections(request_: dict[str, Any]) -> None:
    async with station_on_loopback(V16) as (csms, st):
        assert await csms.call("CP-1", "RemoteStartTransaction", request_) == {"status": "Rejected"}
        await st.settle()
        assert csms.messages("CP-1", "StartTransaction") == []


async def test_remote_start_without_connector_takes_a_free_one_and_keeps_its_profile() -> None:
    async with station_on_loopback(V16, connectors=2) as (csms, st):
        await st.start_transaction(1, "LOCAL")
        request = {"idTag": "T1", "chargingProfile": profile("TxProfile", 10)}
        assert await csms.call("CP-1", "RemoteStartTransaction", request) == {"status": "Accepted"}
        await st.settle()
        tx = st.transaction(2)
        assert tx is not None
        [stored] = st.profiles.profiles
        assert (stored.connector_id, stored.transaction_id) == (2, tx.transaction_id)
        await st.stop_transaction(2)
        assert st.profiles.profiles == []  # a TxProfile ends with its transaction


async def test_remote_start_authorizes_first_when_configured() -> None:
    async with station_on_loopback(V16) as (csms, st):
        csms.tag_status["BAD"] = "Invalid"
        await csms.call("CP-1", "ChangeConfiguration",
                        {"key": "AuthorizeRemoteTxRequests", "value": "true"})
        await csms.call("CP-1", "RemoteStartTransaction", {"idTag": "BAD", "connectorId": 1})
        await st.settle()
        assert csms.messages("CP-1", "Authorize") == [{"idTag": "BAD"}]
        assert csms.messages("CP-1", "StartTransaction") == []
        assert not st.connector(1).busy


async def test_remote_stop() -> None:
    async with station_on_loopback(V16) as (csms, st):
        tx = await st.start_transaction(1, "T1")
        unknown = await csms.call("CP-1", "RemoteStopTransaction", {"transactionId": 99})
        assert unknown == {"status": "Rejected"}
        answer = await csms.call("CP-1", "RemoteStopTransaction", {"transactionId": int(tx)})
        assert answer == {"status": "Accepted"}
        await st.settle()
        [stop] = csms.messages("CP-1", "StopTransaction")
        assert (stop["transactionId"], stop["reason"]) == (1, "Remote")
        assert csms.messages("CP-1", "StatusNotification")[-1]["status"] == "Available"


@pytest.mark.parametrize(("kind", "reason"), [("Soft", "SoftReset"), ("Hard", "HardReset")])
async def test_reset_stops_transactions_and_boots_again(kind: str, reason: str) -> None:
    async with station_on_loopback(V16, connectors=2, reboot_delay_s=0.05) as (csms, st):
        await st.start_transaction(1, "T1")
        assert await csms.call("CP-1", "Reset", {"type": kind}) == {"status": "Accepted"}
        await st.settle()
        await st.wait_sent("BootNotification", count=2)
        await st.settle()
        assert csms.messages("CP-1", "StopTransaction")[0]["reason"] == reason
        assert len(csms.messages("CP-1", "BootNotification")) == 2
        assert (st.link.reconnects, st.stats.reboots) == (1, 1)
        statuses = csms.messages("CP-1", "StatusNotification")
        assert [(m["connectorId"], m["status"]) for m in statuses] == [
            (1, "Available"), (2, "Available")]


async def test_change_availability() -> None:
    async with station_on_loopback(V16, connectors=2) as (csms, st):
        await st.start_transaction(1, "T1")
        request = {"connectorId": 0, "type": "Inoperative"}
        assert await csms.call("CP-1", "ChangeAvailability", request) == {"status": "Scheduled"}
        await st.settle()
        assert [(m["connectorId"], m["status"]) for m in csms.messages(
            "CP-1", "StatusNotification")] == [(2, "Unavailable")]
        await st.stop_transaction(1)
        await st.settle()
        assert csms.messages("CP-1", "StatusNotification")[-1]["status"] == "Unavailable"
        assert not st.connector(1).operative
        request = {"connectorId": 2, "type": "Operative"}
        assert await csms.call("CP-1", "ChangeAvailability", request) == {"status": "Accepted"}
        request = {"connectorId": 7, "type": "Operative"}
        assert await csms.call("CP-1", "ChangeAvailability", request) == {"status": "Rejected"}
        request = {"idTag": "T", "connectorId": 1}
        rejected = await csms.call("CP-1", "RemoteStartTransaction", request)
        assert rejected == {"status": "Rejected"}  # inoperative


async def test_unlock_connector() -> None:
    async with station_on_loopback(V16) as (csms, st):
        async def unlock(connector_id: int) -> str:
            answer = await csms.call("CP-1", "UnlockConnector", {"connectorId": connector_id})
            return str(answer["status"])

        assert await unlock(1) == "Unlocked"
        assert await unlock(4) == "UnlockFailed"
        await st.start_transaction(1, "T1")
        assert await unlock(1) == "Unlocked"
        await st.settle()
        assert csms.messages("CP-1", "StopTransaction")[0]["reason"] == "UnlockCommand"


async def test_get_configuration() -> None:
    async with station_on_loopback(V16, connectors=2) as (csms, _):
        everything = await csms.call("CP-1", "GetConfiguration", {})
        some = await csms.call("CP-1", "GetConfiguration",
                               {"key": ["NumberOfConnectors", "HeartbeatInterval", "Nope"]})
    keys = {k["key"] for k in everything["configurationKey"]}
    assert {"HeartbeatInterval", "MeterValueSampleInterval", "NumberOfConnectors"} <= keys
    assert "unknownKey" not in everything
    assert some == {
        "configurationKey": [
            {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
            {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
        ],
        "unknownKey": ["Nope"],
    }


@pytest.mark.parametrize(("key", "value", "status"), [
    ("MeterValueSampleInterval", "15", "Accepted"),
    ("MeterValueSampleInterval", "soon", "Rejected"),
    ("NumberOfConnectors", "4", "Rejected"),
    ("NoSuchKey", "1", "NotSupported"),
])
async def test_change_configuration(key: str, value: str, status: str) -> None:
    async with station_on_loopback(V16) as (csms, st):
        answer = await csms.call("CP-1", "ChangeConfiguration", {"key": key, "value": value})
        assert answer == {"status": status}
        setting = st.settings.get(key)
        if status == "Accepted":
            assert setting is not None
            assert setting.value == value


async def test_heartbeat_interval_change_restarts_heartbeats() -> None:
    async with station_on_loopback(V16) as (csms, _):
        await csms.call("CP-1", "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "1"})
        await csms.wait_for("CP-1", "Heartbeat", timeout_s=3)


@pytest.mark.parametrize("message", ["BootNotification", "Heartbeat", "StatusNotification",
                                     "MeterValues"])
async def test_trigger_message_sends_the_message(message: str) -> None:
    async with station_on_loopback(V16) as (csms, st):
        before = len(csms.messages("CP-1", message))
        answer = await csms.call("CP-1", "TriggerMessage", {"requestedMessage": message})
        assert answer == {"status": "Accepted"}
        await st.settle()
        assert len(csms.messages("CP-1", message)) == before + 1


async def test_trigger_message_meter_values_during_a_transaction_and_refusals() -> None:
    async with station_on_loopback(V16) as (csms, st):
        await st.start_transaction(1, "T1")
        request = {"requestedMessage": "MeterValues", "connectorId": 1}
        assert await csms.call("CP-1", "TriggerMessage", request) == {"status": "Accepted"}
        await st.settle()
        [meter] = csms.messages("CP-1", "MeterValues")
        assert meter["transactionId"] == 1
        assert meter["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"
        request = {"requestedMessage": "DiagnosticsStatusNotification"}  # simulators.device.files
        assert await csms.call("CP-1", "TriggerMessage", request) == {"status": "Accepted"}
        await st.settle()
        assert [{"status": "Idle"}] == csms.messages("CP-1", "DiagnosticsStatusNotification")
        request = {"requestedMessage": "Heartbeat", "connectorId": 9}
        assert await csms.call("CP-1", "TriggerMessage", request) == {"status": "Rejected"}


async def test_set_charging_profile() -> None:
    async with station_on_loopback(V16) as (csms, st):
        async def set_(connector_id: int, body: dict[str, Any]) -> str:
            answer = await csms.call("CP-1", "SetChargingProfile",
                                     {"connectorId": connector_id, "csChargingProfiles": body})
            return str(answer["status"])

        assert await set_(1, profile("TxDefaultProfile", 16)) == "Accepted"
        assert await set_(1, profile("TxProfile", 10, profile_id=2)) == "Rejected"  # no tx
        assert await set_(1, profile("ChargePointMaxProfile", 20, profile_id=3)) == "Rejected"
        assert await set_(0, profile("ChargePointMaxProfile", 20, profile_id=3)) == "Accepted"
        assert await set_(5, profile("TxDefaultProfile", 16, profile_id=4)) == "Rejected"
        tx = await st.start_transaction(1, "T1")
        other_tx = profile("TxProfile", 10, profile_id=5, transactionId=int(tx) + 1)
        assert await set_(1, other_tx) == "Rejected"
        assert await set_(1, profile("TxProfile", 10, profile_id=5)) == "Accepted"
        assert [p.purpose for p in st.profiles.profiles] == [
            Purpose.TX_DEFAULT, Purpose.STATION_MAX, Purpose.TX]
        await st.send_meter_values(1)
        values = csms.messages("CP-1", "MeterValues")[0]["meterValue"][0]["sampledValue"]
        offered = {v["measurand"]: v["value"] for v in values}
        assert offered["Current.Offered"] == "10"
        assert offered["Power.Active.Import"] == "6900"  # 10 A x 230 V x 3 phases


async def test_clear_charging_profile() -> None:
    async with station_on_loopback(V16) as (csms, st):
        for n, purpose in ((1, "TxDefaultProfile"), (2, "TxDefaultProfile")):
            await csms.call("CP-1", "SetChargingProfile", {"connectorId": 1, "csChargingProfiles":
                            profile(purpose, 16, profile_id=n, stack_level=n)})
        assert await csms.call("CP-1", "ClearChargingProfile", {"id": 1}) == {"status": "Accepted"}
        assert await csms.call("CP-1", "ClearChargingProfile", {"id": 1}) == {"status": "Unknown"}
        by_purpose = {"connectorId": 1, "chargingProfilePurpose": "TxDefaultProfile"}
        assert await csms.call("CP-1", "ClearChargingProfile", by_purpose) == {
            "status": "Accepted"}
        assert st.profiles.profiles == []


async def test_get_composite_schedule() -> None:
    async with station_on_loopback(V16) as (csms, _):
        plain = await csms.call("CP-1", "GetCompositeSchedule", {"connectorId": 1, "duration": 60})
        await csms.call("CP-1", "SetChargingProfile", {"connectorId": 0, "csChargingProfiles":
                        profile("ChargePointMaxProfile", 11040, unit="W")})
        await csms.call("CP-1", "SetChargingProfile", {"connectorId": 1, "csChargingProfiles":
                        profile("TxDefaultProfile", 20, profile_id=2)})
        amps = await csms.call("CP-1", "GetCompositeSchedule", {"connectorId": 1, "duration": 60})
        watts = await csms.call("CP-1", "GetCompositeSchedule",
                                {"connectorId": 1, "duration": 60, "chargingRateUnit": "W"})
        unknown = await csms.call("CP-1", "GetCompositeSchedule", {"connectorId": 3, "duration": 6})
    assert plain["status"] == "Accepted"
    assert plain["connectorId"] == 1
    assert plain["chargingSchedule"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 32, "numberPhases": 3}]
    assert amps["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == 16  # 11040 W / 690
    assert watts["chargingSchedule"]["chargingRateUnit"] == "W"
    assert watts["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == 11040
    assert unknown == {"status": "Rejected"}
