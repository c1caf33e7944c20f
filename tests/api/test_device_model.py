"""The 2.0.1 device model end to end: the real server over real WebSockets, the simulator as
the charger, SQLite and PostgreSQL. GetVariables / SetVariables go out in messages the
station accepts (its ItemsPerMessage* limits), a base report arrives in several NotifyReport
parts and is stored, and a network profile is set."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from csms.api.access import Role
from csms.app import Csms
from csms.domain.commands import GetSettings, SettingKey, SettingsReport
from csms.errors import CommandRejected
from simulators.station import SimStation
from tests.api.conftest import TokenFactory, bearer
from tests.conftest import eventually, ocpp_url

V201 = "ocpp2.0.1"
FIVE = [("OCPPCommCtrlr", "HeartbeatInterval"), ("SampledDataCtrlr", "TxUpdatedInterval"),
        ("AuthCtrlr", "AuthorizeRemoteStart"), ("TxCtrlr", "EVConnectionTimeOut"),
        ("ChargingStation", "SupplyPhases")]


async def command(http: httpx.AsyncClient, secret: str, station_id: str, name: str,
                  body: dict[str, Any]) -> Any:
    answer = await http.post(f"/charge-points/{station_id}/commands/{name}", json=body,
                             headers=bearer(secret))
    assert 200 == answer.status_code, (name, answer.text)
    return answer.json()


def sizes(sim: SimStation, action: str, field: str) -> list[int]:
    return [len(p[field]) for a, p in sim.received if a == action]


def sent_items(sim: SimStation, action: str, field: str) -> list[tuple[str, str]]:
    return [(i["component"]["name"], i["variable"]["name"])
            for a, p in sim.received if a == action for i in p[field]]


async def test_get_variables_of_five_keys_with_a_limit_of_four(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory
) -> None:
    """The held-out run's case: 5 keys, the station's ItemsPerMessageGetVariables 4 (known
    from its base report). They go out as 4 + 1, the answers joined in request order; no
    message exceeds 4 items. Sent as one message of 5, the station refuses them."""
    secret = await token(Role.OPERATOR)
    sim = SimStation("CP-DM5", V201, ocpp_url(csms))
    keys = [{"component": c, "variable": v} for c, v in FIVE]
    async with sim.running():
        await sim.boot()
        await eventually(lambda: _connected(csms, "CP-DM5"))
        await command(http, secret, "CP-DM5", "get-base-report", {"wait_s": 10})
        report = await command(http, secret, "CP-DM5", "get-configuration", {"keys": keys})
        assert [4, 1] == sizes(sim, "GetVariables", "getVariableData")
        assert FIVE == sent_items(sim, "GetVariables", "getVariableData")
        connection = csms.connections.get("CP-DM5")
        assert connection is not None
        with pytest.raises(CommandRejected) as refused:  # past the batcher: one message of 5
            await connection.submit(GetSettings(tuple(
                SettingKey(v, component=c) for c, v in FIVE)), 5.0)
    assert "OccurrenceConstraintViolation" == refused.value.code
    assert FIVE == [(v["key"]["component"], v["key"]["variable"]) for v in report["values"]]
    assert ["Accepted"] * 5 == [v["status"] for v in report["values"]]
    assert ["300", "60", "false", "60", "3"] == [v["value"] for v in report["values"]]


async def test_get_variables_with_the_limit_unknown_one_item_a_message(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory
) -> None:
    """No device model stored: the safe default, one item per message, nothing else asked;
    the same joined answer."""
    secret = await token(Role.OPERATOR)
    sim = SimStation("CP-DM1", V201, ocpp_url(csms))
    keys = [{"component": c, "variable": v} for c, v in FIVE]
    async with sim.running():
        await sim.boot()
        await eventually(lambda: _connected(csms, "CP-DM1"))
        report = await command(http, secret, "CP-DM1", "get-configuration", {"keys": keys})
    assert [1] * 5 == sizes(sim, "GetVariables", "getVariableData")
    assert FIVE == sent_items(sim, "GetVariables", "getVariableData")
    assert ["300", "60", "false", "60", "3"] == [v["value"] for v in report["values"]]


async def test_base_report_in_parts_is_stored_and_gives_the_limits(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory
) -> None:
    """GetBaseReport FullInventory: the station sends several NotifyReport parts; the
    request completes with the last and the device model is readable by component. The
    stored limit is then used without asking: 5 keys go out as 4 + 1."""
    secret = await token(Role.OPERATOR)
    sim = SimStation("CP-DMR", V201, ocpp_url(csms))
    async with sim.running():
        await sim.boot()
        await eventually(lambda: _connected(csms, "CP-DMR"))
        report = await command(http, secret, "CP-DMR", "get-base-report",
                               {"base": "FullInventory", "wait_s": 10})
        parts = len([a for a, _ in sim.sent if a == "NotifyReport"])
        answer = await csms.commands.send("CP-DMR", GetSettings(tuple(
            SettingKey(v, component=c) for c, v in FIVE)))
        assert [4, 1] == sizes(sim, "GetVariables", "getVariableData")
    assert ("complete", "FullInventory") == (report["status"], report["kind"])
    assert parts == report["parts"]
    assert parts >= 3
    assert isinstance(answer, SettingsReport)
    assert 5 == len(answer.values)
    ddc = await _model(http, secret, "CP-DMR", "DeviceDataCtrlr")
    limits = {r["variable"]: (r["value"], r["mutability"], r["data_type"]) for r in ddc}
    assert ("4", "ReadOnly", "integer") == limits["ItemsPerMessageGetVariables"]
    evse = {r["variable"]: r for r in await _model(http, secret, "CP-DMR", "EVSE")}
    assert (1, 32.0, "A", True) == (evse["Current"]["evse_id"], evse["Current"]["max_limit"],
                                    evse["Current"]["unit"],
                                    evse["Current"]["supports_monitoring"])
    polled = await http.get(f"/device-model-reports/{report['request_id']}",
                            headers=bearer(secret))
    assert "complete" == polled.json()["status"]


async def test_set_variables_in_order_within_the_limit(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory
) -> None:
    """Nine settings, ItemsPerMessageSetVariables 8 (from the base report): 8 + 1
    messages, one result per setting in request order (a read-only one Rejected, an unknown
    one UnknownVariable)."""
    secret = await token(Role.OPERATOR)
    sim = SimStation("CP-DMS", V201, ocpp_url(csms))
    changes = [("OCPPCommCtrlr", "HeartbeatInterval", "120"),
               ("SampledDataCtrlr", "TxUpdatedInterval", "30"),
               ("SmartChargingCtrlr", "Enabled", "false"),
               ("AuthCtrlr", "LocalPreAuthorize", "true"),
               ("TxCtrlr", "EVConnectionTimeOut", "90"),
               ("TxCtrlr", "StopTxOnInvalidId", "false"),
               ("AlignedDataCtrlr", "Interval", "900"),
               ("OCPPCommCtrlr", "ResetRetries", "2"),
               ("OCPPCommCtrlr", "NoSuchVariable", "1")]
    body = {"settings": [{"key": {"component": c, "variable": v}, "value": x}
                         for c, v, x in changes]}
    async with sim.running():
        await sim.boot()
        await eventually(lambda: _connected(csms, "CP-DMS"))
        await command(http, secret, "CP-DMS", "get-base-report",
                      {"base": "ConfigurationInventory", "wait_s": 10})
        result = await command(http, secret, "CP-DMS", "set-variables", body)
        assert [8, 1] == sizes(sim, "SetVariables", "setVariableData")
    assert [(c, v) for c, v, _ in changes] == [
        (r["key"]["component"], r["key"]["variable"]) for r in result["results"]]
    assert ["Accepted", "Accepted", "Rejected", *["Accepted"] * 5, "UnknownVariable"] == [
        r["status"] for r in result["results"]]
    setting = sim.settings.get(("AlignedDataCtrlr", "Interval"))
    assert setting is not None
    assert "900" == setting.value


async def test_set_variables_on_1_6_is_one_change_configuration_per_key(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory
) -> None:
    secret = await token(Role.OPERATOR)
    sim = SimStation("CP-DM16", "ocpp1.6", ocpp_url(csms))
    body = {"settings": [{"key": {"variable": "HeartbeatInterval"}, "value": "120"},
                         {"key": {"variable": "MeterValueSampleInterval"}, "value": "30"}]}
    async with sim.running():
        await sim.boot()
        await eventually(lambda: _connected(csms, "CP-DM16"))
        result = await command(http, secret, "CP-DM16", "set-variables", body)
        refused = await http.post("/charge-points/CP-DM16/commands/get-base-report",
                                  json={}, headers=bearer(secret))
    assert 2 == len([a for a, _ in sim.received if a == "ChangeConfiguration"])
    assert ["Accepted", "Accepted"] == [r["status"] for r in result["results"]]
    assert 422 == refused.status_code


async def test_set_network_profile(csms: Csms, http: httpx.AsyncClient,
                                   token: TokenFactory) -> None:
    secret = await token(Role.OPERATOR)
    sim = SimStation("CP-DMN", V201, ocpp_url(csms))
    profile = {"csms_url": "wss://csms.example.cn/ocpp/", "security_profile": 2,
               "ocpp_interface": "Wireless0", "apn": "cmnet"}
    async with sim.running():
        await sim.boot()
        await eventually(lambda: _connected(csms, "CP-DMN"))
        ok = await command(http, secret, "CP-DMN", "set-network-profile",
                           {"slot": 1, "profile": profile})
        bad = await command(http, secret, "CP-DMN", "set-network-profile",
                            {"slot": 9, "profile": profile})
    assert ("Accepted", "Rejected") == (ok["status"], bad["status"])
    assert "wss://csms.example.cn/ocpp/" == sim.network_profiles[1]["ocppCsmsUrl"]


async def _model(http: httpx.AsyncClient, secret: str, station_id: str,
                 component: str) -> list[dict[str, Any]]:
    answer = await http.get(f"/charge-points/{station_id}/device-model",
                            params={"component": component}, headers=bearer(secret))
    assert 200 == answer.status_code, answer.text
    rows: list[dict[str, Any]] = answer.json()
    assert rows
    assert {component} == {r["component"] for r in rows}
    return rows


async def _connected(csms: Csms, station_id: str) -> bool:
    return csms.connections.get(station_id) is not None
