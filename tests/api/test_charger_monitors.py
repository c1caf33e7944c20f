"""2.0.1 monitoring for safety end to end: the real server, the simulator as the charger,
SQLite and PostgreSQL. The ``[safety]`` thresholds become the charger's own monitors (after
boot when configured, or on demand), and the charger's NotifyEvent raises the alarm."""

from __future__ import annotations

from typing import Any

import httpx

from csms.api.access import Role
from csms.app import Csms, running
from csms.config import SafetyConfig, Settings
from csms.store.queries import Window
from csms.store.safety.alarms import StoredAlarm
from csms.store.safety.queries import AlarmFilter, AlarmQueries
from simulators.station import SimStation
from tests.api.conftest import TokenFactory, bearer
from tests.conftest import eventually, make_settings, ocpp_url

V201 = "ocpp2.0.1"


def monitoring_settings(database_url: str, **safety: Any) -> Settings:
    base = make_settings(database_url)
    section = SafetyConfig.model_validate({**base.safety.model_dump(), **safety})
    return base.model_copy(update={"safety": section})


async def alarms(csms: Csms, **where: Any) -> list[StoredAlarm]:
    found = await AlarmQueries(csms.engine).alarms(AlarmFilter(**where), Window(100))
    return list(found.items)


async def command(http: httpx.AsyncClient, secret: str, station_id: str, name: str,
                  body: dict[str, Any] | None = None) -> httpx.Response:
    return await http.post(f"/charge-points/{station_id}/commands/{name}", json=body or {},
                           headers=bearer(secret))


async def ok(http: httpx.AsyncClient, secret: str, station_id: str, name: str,
             body: dict[str, Any] | None = None) -> Any:
    answer = await command(http, secret, station_id, name, body)
    assert 200 == answer.status_code, (name, answer.text)
    return answer.json()


def monitors_sent(sim: SimStation) -> list[tuple[str, str, int, str, float, int]]:
    return [(m["component"]["name"], m["variable"]["name"],
             (m["component"].get("evse") or {}).get("id", 0), m["type"], m["value"],
             m["severity"])
            for a, p in sim.received if a == "SetVariableMonitoring"
            for m in p["setMonitoringData"]]


async def test_monitors_set_after_boot_and_over_temperature_reported_by_the_charger(
    database_url: str,
) -> None:
    """safety.charger_monitors: after the boot the charger gets the thresholds of
    ``[safety]`` as monitors; 95 °C on the charger (2.0.1 meter values carry no
    temperature) comes as its NotifyEvent and opens over_temperature; 25 °C clears it."""
    settings = monitoring_settings(database_url, charger_monitors=True, max_temperature_c=85,
                                   nominal_voltage_v=220, over_voltage_ratio=0.07,
                                   under_voltage_ratio=0.10)
    async with running(settings) as csms:
        sim = SimStation("CP-MON", V201, ocpp_url(csms))
        async with sim.running():
            await sim.boot()
            await sim.send_status(1, "Available")
            await eventually(lambda: _async(monitors_sent(sim)), lambda sent: len(sent) == 3)
            # no device model yet: the safe default, one monitor a message
            assert [1, 1, 1] == [len(p["setMonitoringData"]) for a, p in sim.received
                                 if a == "SetVariableMonitoring"]
            assert [("TemperatureSensor", "Temperature", 0, "UpperThreshold", 85, 0),
                    ("EVSE", "Voltage", 1, "UpperThreshold", 235.4, 3),
                    ("EVSE", "Voltage", 1, "LowerThreshold", 198, 3)] == monitors_sent(sim)
            stored = await eventually(lambda: csms_monitors(csms, "CP-MON"),
                                      lambda found: len(found) == 3)
            assert {"safety"} == {m.origin for m in stored}
            assert sorted(sim.monitors.monitors) == sorted(m.monitor.monitor_id for m in stored)
            await sim.send_meter_values(1, temperature_c=95.0)
            [alarm] = await eventually(lambda: alarms(csms, code="over_temperature"))
            assert ("CP-MON", "TemperatureSensor", "Alerting") == (
                alarm.station_id, alarm.evidence["component"], alarm.evidence["trigger"])
            await sim.send_meter_values(1, temperature_c=25.0)
            await eventually(lambda: alarms(csms, code="over_temperature", open=False))
        assert [True, False] == [not e["cleared"] for e in sim.monitors.sent]


async def csms_monitors(csms: Csms, station_id: str) -> list[Any]:
    assert csms.device_model is not None
    return await csms.device_model.store.monitors(station_id)


async def _async(value: Any) -> Any:
    return value


async def test_safety_monitors_on_demand_monitoring_report_and_over_current(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory
) -> None:
    """With the rated current known from the device model, applying adds an over-current
    monitor (32 A + 10 %) per EVSE; the 7 monitors go out as 4 + 3 (the station's
    ItemsPerMessageSetVariableMonitoring); applying again replaces them instead of adding more.
    40 A comes back as the charger's NotifyEvent (over_current). The monitoring report is
    stored; clearing, level and base go through."""
    secret = await token(Role.OPERATOR)
    sim = SimStation("CP-MOD", V201, ocpp_url(csms), connectors=2)
    async with sim.running():
        await sim.boot()
        await sim.send_status(1, "Available")
        await sim.send_status(2, "Available")
        await ok(http, secret, "CP-MOD", "get-base-report", {"wait_s": 10})
        first = await ok(http, secret, "CP-MOD", "apply-safety-monitors")
        again = await ok(http, secret, "CP-MOD", "apply-safety-monitors")
        assert ("EVSE", "Current", 2, "UpperThreshold", 35.2, 3) in monitors_sent(sim)
        assert [4, 3, 4, 3] == [len(p["setMonitoringData"]) for a, p in sim.received
                                if a == "SetVariableMonitoring"]
        assert 7 == len(sim.monitors.monitors)
        await sim.send_meter_values(1, current_a=40.0, power_w=0.0)
        [alarm] = await eventually(lambda: alarms(csms, code="over_current"))
        assert "Current" == alarm.evidence["variable"]
        report = await ok(http, secret, "CP-MOD", "get-monitoring-report",
                          {"criteria": ["ThresholdMonitoring"], "wait_s": 10})
        ids = [r["monitor_id"] for r in first["results"]]
        cleared = await ok(http, secret, "CP-MOD", "clear-variable-monitoring",
                           {"monitor_ids": [ids[0], 999]})
        level = await ok(http, secret, "CP-MOD", "set-monitoring-level", {"severity": 5})
        base = await ok(http, secret, "CP-MOD", "set-monitoring-base", {"base": "All"})
    assert ["Accepted"] * 7 == [r["status"] for r in first["results"]]
    assert ids == [r["monitor_id"] for r in again["results"]]
    assert "complete" == report["status"]
    assert [(ids[0], "Accepted"), (999, "NotFound")] == [
        (r["monitor_id"], r["status"]) for r in cleared["results"]]
    assert ("Accepted", "Accepted", 5) == (level["status"], base["status"], sim.monitors.level)
    listed = (await http.get("/charge-points/CP-MOD/monitors", headers=bearer(secret))).json()
    assert sorted(ids[1:]) == [m["monitor_id"] for m in listed]
    assert {"reported"} == {m["origin"] for m in listed}  # the report came after applying


async def test_monitoring_is_2_0_1_only(csms: Csms, http: httpx.AsyncClient,
                                        token: TokenFactory) -> None:
    secret = await token(Role.OPERATOR)
    sim = SimStation("CP-MON16", "ocpp1.6", ocpp_url(csms))
    monitor = {"key": {"variable": "Temperature", "component": "TemperatureSensor"},
               "kind": "UpperThreshold", "value": 80, "severity": 0}
    async with sim.running():
        await sim.boot()
        await eventually(lambda: _async(csms.connections.get("CP-MON16") is not None))
        refused = await command(http, secret, "CP-MON16", "set-variable-monitoring",
                                {"monitors": [monitor]})
        safety = await command(http, secret, "CP-MON16", "apply-safety-monitors")
    assert (422, 422) == (refused.status_code, safety.status_code)
    assert "2.0.1 only" in refused.json()["detail"]
