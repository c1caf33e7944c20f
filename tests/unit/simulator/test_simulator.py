"""SimStation against the loopback CSMS: the station's own messages, in both versions, and
the plumbing (auth header, raw frames, retransmission, connection loss, stats)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from csms.handlers.ocppj import CallError, CallResult, OcppVersion
from csms.handlers.rpc import CallFailed, ConnectionLost
from simulators.model import SimulatorError
from simulators.protocol.loopback import LoopbackCsms, station_on_loopback
from simulators.station import SimStation
from simulators.waiting import wait_until

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
VERSIONS = pytest.mark.parametrize("version", list(OcppVersion))


@VERSIONS
async def test_boot_heartbeat_status_and_authorize(version: OcppVersion) -> None:
    async with station_on_loopback(version, boot=False, csms=LoopbackCsms(
        tag_status={"BAD": "Blocked"})) as (csms, st):
        assert await st.boot() == "Accepted"
        assert st.boot_status == "Accepted"
        assert ISO_Z.match(await st.heartbeat()) is not None
        await st.send_status(1, "Available")
        assert await st.authorize("TAG1") == "Accepted"
        assert await st.authorize("BAD") == "Blocked"
        boot = csms.messages("CP-1", "BootNotification")[0]
        status = csms.messages("CP-1", "StatusNotification")[0]
    if version is OcppVersion.V16:
        assert boot["chargePointVendor"] == "SimVendor"
        assert status["status"] == "Available"
        assert status["errorCode"] == "NoError"
    else:
        assert boot == {"reason": "PowerUp", "chargingStation": {
            "vendorName": "SimVendor", "model": "SimModel", "firmwareVersion": "sim-0.1"}}
        assert status["connectorStatus"] == "Available"
        assert (status["evseId"], status["connectorId"]) == (1, 1)
    assert ISO_Z.match(status["timestamp"]) is not None


@pytest.mark.parametrize(("status", "v16", "v201"), [
    ("Preparing", "Preparing", "Occupied"),
    ("Occupied", "Preparing", "Occupied"),
    ("Charging", "Charging", "Occupied"),
    ("Faulted", "Faulted", "Faulted"),
    ("Unavailable", "Unavailable", "Unavailable"),
])
async def test_status_names_are_mapped_per_version(status: str, v16: str, v201: str) -> None:
    for version, expected, field in ((OcppVersion.V16, v16, "status"),
                                     (OcppVersion.V201, v201, "connectorStatus")):
        async with station_on_loopback(version) as (csms, st):
            await st.send_status(1, status)
            assert csms.messages("CP-1", "StatusNotification")[-1][field] == expected
            assert st.connector(1).status == status


async def test_v16_session_messages() -> None:
    async with station_on_loopback(OcppVersion.V16, meter_start_wh=1000) as (csms, st):
        tx = await st.start_transaction(1, "TAG1")
        assert tx == "1"
        await st.send_meter_values(1, energy_wh=1500, power_w=7360)
        assert await st.stop_transaction(1, reason="Local", energy_wh=2000) is None
        start = csms.messages("CP-1", "StartTransaction")[0]
        meter = csms.messages("CP-1", "MeterValues")[0]
        stop = csms.messages("CP-1", "StopTransaction")[0]
    assert start["meterStart"] == 1000
    assert start["idTag"] == "TAG1"
    assert meter["transactionId"] == 1
    values = meter["meterValue"][0]["sampledValue"]
    assert len(values) == 8
    assert values[0] == {"value": "1500", "context": "Sample.Periodic",
                         "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
    assert {v["measurand"] for v in values} >= {"Power.Active.Import", "Temperature", "SoC"}
    assert (stop["transactionId"], stop["meterStop"], stop["reason"]) == (1, 2000, "Local")
    assert st.transaction(1) is None
    assert st.stats.energy_wh == pytest.approx(1000)


async def test_v201_session_messages() -> None:
    async with station_on_loopback(OcppVersion.V201) as (csms, st):
        tx = await st.start_transaction(1, "TAG1", token_type="ISO14443")
        await st.send_meter_values(1, energy_wh=500, power_w=7360)
        await st.send_meter_values(1, energy_wh=900, power_w=7360)
        assert await st.stop_transaction(1, reason="Remote", energy_wh=1000) is None
        events = csms.messages("CP-1", "TransactionEvent")
    assert [e["eventType"] for e in events] == ["Started", "Updated", "Updated", "Ended"]
    assert [e["seqNo"] for e in events] == [0, 1, 2, 3]
    assert {e["transactionInfo"]["transactionId"] for e in events} == {tx}
    assert events[0]["triggerReason"] == "Authorized"
    assert events[0]["idToken"] == {"idToken": "TAG1", "type": "ISO14443"}
    assert events[0]["evse"] == {"id": 1, "connectorId": 1}
    assert len(events[1]["meterValue"][0]["sampledValue"]) == 8
    assert events[2]["meterValue"][0]["sampledValue"][0]["value"] == 900
    ended = events[3]
    assert ended["triggerReason"] == "RemoteStop"
    assert ended["transactionInfo"]["stoppedReason"] == "Remote"
    assert ended["meterValue"][0]["sampledValue"][0]["context"] == "Transaction.End"


async def test_v201_meter_values_outside_a_transaction_use_meter_values() -> None:
    async with station_on_loopback(OcppVersion.V201) as (csms, st):
        await st.send_meter_values(1)
        sent = csms.messages("CP-1", "MeterValues")
    assert sent[0]["evseId"] == 1
    power = [v for v in sent[0]["meterValue"][0]["sampledValue"]
             if v["measurand"] == "Power.Active.Import"]
    assert power[0]["value"] == 0


@VERSIONS
async def test_energy_register_is_monotonic(version: OcppVersion) -> None:
    async with station_on_loopback(version, meter_start_wh=100) as (_, st):
        await st.start_transaction(1, "TAG1")
        with pytest.raises(SimulatorError):
            await st.send_meter_values(1, energy_wh=50)
        with pytest.raises(SimulatorError):
            await st.start_transaction(1, "TAG1")
        await st.stop_transaction(1)
        with pytest.raises(SimulatorError):
            await st.stop_transaction(1)


async def test_explicit_timestamps_pass_through() -> None:
    when = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
    async with station_on_loopback(OcppVersion.V16) as (csms, st):
        await st.send_status(1, "Available", timestamp=when)
        await st.send_status(1, "Available", timestamp="2024-05-01T08:30:00Z")
        with pytest.raises(SimulatorError):
            await st.send_status(1, "Available", timestamp=datetime(2024, 5, 1))  # noqa: DTZ001
        stamps = [m["timestamp"] for m in csms.messages("CP-1", "StatusNotification")]
    assert stamps == ["2024-05-01T08:30:00.000Z", "2024-05-01T08:30:00Z"]


async def test_basic_auth_header_only_with_password() -> None:
    async with LoopbackCsms() as csms:
        async with station_on_loopback(OcppVersion.V16, csms=csms, password="s3cret"):
            pass
        async with station_on_loopback(OcppVersion.V201, csms=csms, station_id="CP-2"):
            pass
    assert csms.authorization["CP-1"] == "Basic Q1AtMTpzM2NyZXQ="  # CP-1:s3cret
    assert csms.authorization["CP-2"] is None


async def test_boot_pending_starts_no_heartbeat() -> None:
    csms = LoopbackCsms(boot_status="Pending", heartbeat_interval_s=1)
    async with station_on_loopback(OcppVersion.V16, csms=csms, boot=False) as (_, st):
        assert await st.boot() == "Pending"
        assert "heartbeat" not in st.link.services


async def test_accepted_boot_heartbeats_at_the_interval() -> None:
    csms = LoopbackCsms(heartbeat_interval_s=1)
    async with station_on_loopback(OcppVersion.V201, csms=csms) as (server, st):
        setting = st.settings.get(("OCPPCommCtrlr", "HeartbeatInterval"))
        assert setting is not None
        assert setting.value == "1"
        await server.wait_for("CP-1", "Heartbeat", timeout_s=3)


@VERSIONS
async def test_send_raw_gets_the_csms_error(version: OcppVersion) -> None:
    async with station_on_loopback(version) as (_, st):
        answer = await st.send_raw("this is not json")
        assert isinstance(answer, CallError)
        assert answer.message_id == "-1"
        bad = await st.send_raw('[2, "raw-1", "Heartbeat", {"unexpected": 1}]')
        assert isinstance(bad, CallError)
        assert bad.message_id == "raw-1"
        good = await st.send_raw('[2, "raw-2", "Heartbeat", {}]')
        assert isinstance(good, CallResult)
    expected = "FormationViolation" if version is OcppVersion.V16 else "FormatViolation"
    assert bad.code == expected


async def test_resend_and_replay_last() -> None:
    async with station_on_loopback(OcppVersion.V16) as (csms, st):
        await st.start_transaction(1, "TAG1")
        await st.stop_transaction(1, energy_wh=10)
        first = st.last_payload("StopTransaction")
        await st.resend_last("StopTransaction")
        replay = await st.replay_last("StopTransaction")
        stops = csms.messages("CP-1", "StopTransaction")
        frames = [f for d, f in st.link.frames if d == "out" and "StopTransaction" in f]
    assert stops == [first, first, first]
    assert isinstance(replay, CallResult)
    assert frames[0] != frames[1]  # new message id
    assert frames[2] == frames[1]  # the last one, byte for byte
    with pytest.raises(SimulatorError):
        st.last_payload("Authorize")


async def test_unsupported_command_gets_a_callerror() -> None:
    async with station_on_loopback(OcppVersion.V201) as (csms, st):
        with pytest.raises(CallFailed) as info:
            # a command the simulator does not play (no display messages)
            await csms.call("CP-1", "ClearDisplayMessage", {"id": 1})
        assert info.value.error.code == "NotSupported"
        assert st.received == []


async def test_connection_closed_by_csms_makes_calls_raise() -> None:
    async with station_on_loopback(OcppVersion.V201) as (csms, st):
        await csms.disconnect("CP-1")
        await wait_until(lambda: not st.connected, what="station disconnected")
        with pytest.raises(ConnectionLost):
            await st.heartbeat()


async def test_body_errors_come_out_unwrapped() -> None:
    async with LoopbackCsms() as csms:
        st = SimStation("CP-1", OcppVersion.V16, csms.url)
        with pytest.raises(KeyError):
            async with st.running():
                raise KeyError("boom")
        assert not st.connected
        with pytest.raises(ConnectionLost):
            await st.heartbeat()


async def test_stats_count_messages_answers_and_errors() -> None:
    async with station_on_loopback(OcppVersion.V16) as (csms, st):
        await st.authorize("TAG1")
        with pytest.raises(CallFailed):  # the loopback CSMS does not handle DataTransfer
            await st.call("DataTransfer", {"vendorId": "sim"})
        await csms.call("CP-1", "ChangeConfiguration", {"key": "Nope", "value": "1"})
        summary = st.stats.summary()
    assert summary["messages_sent"] == {"Authorize": 1, "BootNotification": 1, "DataTransfer": 1}
    assert summary["answers_by_status"] == {"Accepted": 2}
    assert summary["call_errors"] == {"DataTransfer:NotSupported": 1}
    assert summary["commands_received"] == {"ChangeConfiguration": 1}
    assert summary["stations_connected"] == 1
    assert summary["latency_ms"]["count"] == 2



async def test_follow_up_messages_leave_after_the_answer() -> None:
    async with station_on_loopback(OcppVersion.V16) as (csms, st):
        await csms.call("CP-1", "RemoteStartTransaction", {"idTag": "T1", "connectorId": 1})
        await st.settle()
    out = [frame for direction, frame in st.link.frames if direction == "out"]
    answer = next(i for i, frame in enumerate(out) if frame.startswith("[3,"))
    assert '"Preparing"' in out[answer + 1]
    assert '"StartTransaction"' in out[answer + 2]


async def test_a_failed_follow_up_is_recorded_and_leaves_the_state_clean() -> None:
    csms = LoopbackCsms(unsupported={"StartTransaction"})
    async with station_on_loopback(OcppVersion.V16, csms=csms) as (server, st):
        answer = await server.call("CP-1", "RemoteStartTransaction", {"idTag": "T1"})
        assert answer == {"status": "Accepted"}
        await st.settle()
        assert st.connected
        assert [type(error) for _, error in st.errors] == [CallFailed]
        assert not st.connector(1).busy
        assert await st.heartbeat()


async def test_stray_frames_and_bad_construction() -> None:
    async with station_on_loopback(OcppVersion.V201) as (_, st):
        await st.send_frame('[3, "nobody-asked", {}]')
        assert await st.heartbeat()
    with pytest.raises(SimulatorError):
        SimStation("CP-0", OcppVersion.V16, "ws://127.0.0.1:1/", connectors=0)
