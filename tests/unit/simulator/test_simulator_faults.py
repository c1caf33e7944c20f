"""Fault injection against the loopback CSMS (both versions), fault specs and random faults,
and the price/cost display messages."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from csms.handlers.ocppj import OcppVersion
from simulators.behaviour.ev import Ev
from simulators.behaviour.faults import FaultKind, ScheduledFault, parse_fault, random_faults
from simulators.behaviour.offline import Backoff
from simulators.clock import SimClock
from simulators.device.pricing import COSTMSG_VENDOR, v16_cost_text
from simulators.protocol.loopback import station_on_loopback
from simulators.waiting import wait_until

V16, V201 = OcppVersion.V16, OcppVersion.V201
K = FaultKind


def values(payload: dict[str, Any], measurand: str) -> list[float]:
    """Every sampled value of ``measurand`` in a MeterValues / TransactionEvent payload."""
    return [float(sv["value"]) for mv in payload.get("meterValue", [])
            for sv in mv["sampledValue"] if sv.get("measurand") == measurand]


class TestSpecs:
    def test_parse_a_full_spec(self) -> None:
        """Kind, time, connector and healing time."""
        assert parse_fault("GroundFailure@60:2+300") == ScheduledFault(K.GROUND_FAILURE, 60, 2, 300)
        assert parse_fault("EnergyStall@5") == ScheduledFault(K.ENERGY_STALL, 5, 1, None)

    @pytest.mark.parametrize("text", ["Nope@1", "GroundFailure", "GroundFailure@x"])
    def test_bad_specs_name_the_problem(self, text: str) -> None:
        """An unknown kind, a missing time or a non-number is a ValueError naming the spec."""
        with pytest.raises(ValueError, match="fault"):
            parse_fault(text)

    def test_random_faults_repeat_with_a_seed(self) -> None:
        """Poisson arrivals within the duration, same seed same faults."""
        def make() -> list[ScheduledFault]:
            return random_faults(
                random.Random(3), (K.GROUND_FAILURE, K.HIGH_TEMPERATURE), 6, 3600, 2, 60)

        faults = make()
        assert faults == make()
        assert 1 <= len(faults) <= 20
        assert all(0 <= f.at_s < 3600 and f.connector_id in (1, 2) for f in faults)


@pytest.mark.parametrize("kind", [K.GROUND_FAILURE, K.HIGH_TEMPERATURE, K.OVER_VOLTAGE,
                                  K.UNDER_VOLTAGE, K.POWER_METER, K.OVER_CURRENT])
async def test_v16_tripping_fault_reports_faulted_with_the_code_and_clears(kind: K) -> None:
    """Faulted with errorCode and vendorErrorCode; clearing sends NoError Available."""
    async with station_on_loopback(V16) as (csms, st):
        await st.faults.inject(kind, 1)
        faulted = csms.messages("CP-1", "StatusNotification")[-1]
        assert (faulted["status"], faulted["errorCode"]) == ("Faulted", kind.value)
        assert faulted["vendorErrorCode"] == f"SIM-{kind.value}"
        assert st.stats.faulted == 1
        await st.faults.clear(kind, 1)
        cleared = csms.messages("CP-1", "StatusNotification")[-1]
        assert (cleared["status"], cleared["errorCode"]) == ("Available", "NoError")
        assert st.stats.faults[kind.value] == 1
        assert st.stats.faulted == 0


async def test_v16_measurands_of_faults() -> None:
    """HighTemperature: Temperature from 70 °C; OverVoltage: 264.5 V; OverCurrentFailure:
    Current.Import above Current.Offered before it trips."""
    async with station_on_loopback(V16) as (csms, st):
        await st.faults.inject(K.HIGH_TEMPERATURE, 1)
        await st.faults.inject(K.OVER_VOLTAGE, 1)
        await st.faults.inject(K.OVER_CURRENT, 1)
        sent = csms.messages("CP-1", "MeterValues")
    assert values(sent[0], "Temperature") == [70]
    assert values(sent[1], "Voltage") == [264.5]
    over = sent[2]
    assert values(over, "Current.Import")[0] > values(over, "Current.Offered")[0]


async def test_v201_fault_sends_status_and_notify_event_and_clears() -> None:
    """Faulted plus NotifyEvent RCD.Tripped=true (Delta, techCode); cleared=true after."""
    async with station_on_loopback(V201) as (csms, st):
        await st.faults.inject(K.GROUND_FAILURE, 1)
        assert csms.messages("CP-1", "StatusNotification")[-1]["connectorStatus"] == "Faulted"
        [raised] = csms.messages("CP-1", "NotifyEvent")[0]["eventData"]
        assert (raised["component"], raised["variable"]) == (
            {"name": "RCD", "evse": {"id": 1, "connectorId": 1}}, {"name": "Tripped"})
        assert (raised["trigger"], raised["actualValue"], raised["techCode"]) == (
            "Delta", "true", "GroundFailure")
        await st.faults.clear(K.GROUND_FAILURE, 1)
        [cleared] = csms.messages("CP-1", "NotifyEvent")[1]["eventData"]
        assert (cleared["cleared"], cleared["actualValue"]) == (True, "false")
        assert csms.messages("CP-1", "StatusNotification")[-1]["connectorStatus"] == "Available"


async def test_v201_high_temperature_reports_a_rising_temperature_by_notify_event() -> None:
    """2.0.1 has no Temperature measurand: TemperatureSensor.Temperature events, rising."""
    async with station_on_loopback(V201, clock=SimClock(speed=600)) as (csms, st):
        st.settings.change(("SampledDataCtrlr", "TxUpdatedInterval"), "60")
        await st.faults.inject(K.HIGH_TEMPERATURE, 1)
        await wait_until(lambda: len(csms.messages("CP-1", "NotifyEvent")) >= 4)
        events = [e["eventData"][0] for e in csms.messages("CP-1", "NotifyEvent")]
    temps = [float(e["actualValue"]) for e in events if e["variable"]["name"] == "Temperature"]
    assert 70 <= temps[0] < 75  # 0.5 °C per simulated minute from 70 °C
    assert temps == sorted(temps)
    assert temps[-1] > 70
    assert events[0]["component"]["name"] == "TemperatureSensor"


async def test_fault_stops_the_ev_and_clearing_resumes_it() -> None:
    """A ground failure during a session: the draw drops to 0, then resumes after clearing."""
    async with station_on_loopback(V16, clock=SimClock(speed=60)) as (_, st):
        await st.plug_in(1, Ev(), "TAG-1")
        assert st.draw(1).power_w > 0
        await st.faults.inject(K.GROUND_FAILURE, 1)
        await wait_until(lambda: st.draw(1).power_w == 0)
        await st.faults.clear(K.GROUND_FAILURE, 1)
        await wait_until(lambda: st.draw(1).power_w > 0)


async def test_energy_backwards_and_stall() -> None:
    """The register goes back by 1 kWh; a stalled register stays put while power flows."""
    async with station_on_loopback(V16, meter_start_wh=5000) as (csms, st):
        await st.start_transaction(1, "T1")
        await st.faults.inject(K.ENERGY_BACKWARDS, 1)
        last = csms.messages("CP-1", "MeterValues")[-1]
        assert values(last, "Energy.Active.Import.Register") == [4000]
        await st.faults.inject(K.ENERGY_STALL, 1)
        await st.send_meter_values(1, power_w=7000)
        await st.send_meter_values(1, power_w=7000)
        readings = [values(m, "Energy.Active.Import.Register")[0]
                    for m in csms.messages("CP-1", "MeterValues")[-2:]]
        assert readings == [4000, 4000]


async def test_connection_lost_does_not_return() -> None:
    """ConnectionLost cuts the connection and turns reconnecting off."""
    async with station_on_loopback(V16, reconnect=Backoff(base_s=0.01, cap_s=0.02)) as (_, st):
        await st.faults.inject(K.CONNECTION_LOST)
        assert not st.connected
        assert st.link.backoff is None
        assert st.link.reconnects == 0


async def test_scheduled_fault_fires_in_simulated_time() -> None:
    """At 600x a fault 60 simulated seconds away fires after about 0.1 real s, then heals."""
    async with station_on_loopback(V16, clock=SimClock(speed=600)) as (csms, st):
        st.faults.schedule(K.UNDER_VOLTAGE, 1, at_s=60, clear_after_s=60)
        await csms.wait_for("CP-1", "StatusNotification", count=2)
        await wait_until(lambda: not st.faults.active)
        codes = [m["errorCode"] for m in csms.messages("CP-1", "StatusNotification")]
    assert codes == ["UnderVoltage", "NoError"]


class TestPricing:
    def test_california_messages_are_displayed(self) -> None:
        """SetUserPrice shows its priceText; FinalCost without text shows the cost exactly."""
        price = orjson.dumps({"idToken": "T1", "priceText": "0.35 CNY/kWh"}).decode()
        assert v16_cost_text(COSTMSG_VENDOR, "SetUserPrice", price) == (
            "Accepted", "0.35 CNY/kWh")
        final = orjson.dumps({"transactionId": 1, "cost": 12.1}).decode()
        assert v16_cost_text(COSTMSG_VENDOR, "FinalCost", final) == (
            "Accepted", "FinalCost: 12.1")

    def test_other_vendors_and_messages_are_refused(self) -> None:
        """UnknownVendorId, UnknownMessageId, Rejected for data that is not an object."""
        assert v16_cost_text("acme", "SetUserPrice", "{}")[0] == "UnknownVendorId"
        assert v16_cost_text(COSTMSG_VENDOR, "Other", "{}")[0] == "UnknownMessageId"
        assert v16_cost_text(COSTMSG_VENDOR, "FinalCost", "[1]")[0] == "Rejected"

    async def test_both_versions_put_costs_on_the_display(self) -> None:
        """1.6 DataTransfer costmsg and 2.0.1 CostUpdated end up on the display."""
        async with station_on_loopback(V16) as (csms, st):
            data = orjson.dumps({"transactionId": 1, "cost": 3.5, "priceText": "3.50"}).decode()
            answer = await csms.call("CP-1", "DataTransfer", {
                "vendorId": COSTMSG_VENDOR, "messageId": "RunningCost", "data": data})
            assert answer == {"status": "Accepted"}
            assert st.display == ["3.50"]
        async with station_on_loopback(V201) as (csms, st):
            assert await csms.call("CP-1", "CostUpdated",
                                   {"totalCost": 7.25, "transactionId": "tx-1"}) == {}
            assert st.display == ["Transaction tx-1: total cost 7.25"]
            assert st.stats.displayed == 1
