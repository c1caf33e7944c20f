"""The platform's pulls from a running CSMS (``/evcs/v1/``), through the platform simulator;
and the simulator's own refusals of bad envelopes (4001-4004)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from simulators.platform.sim import PlatformSim, Secrets, seal, serving, sig
from simulators.station import SimStation
from tests.conftest import eventually, ocpp_url
from tests.e2e.conftest import SECRETS, Rig
from tests.e2e.test_billing_flows import drive_session, new_place, yunnan_tariff

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def _orders(sim: PlatformSim) -> list[dict[str, Any]]:
    return sim.of("notification_charge_order_info")


async def test_the_platform_pulls_stations_status_stats_and_checks_orders(rig: Rig) -> None:
    """query_stations_info, query_station_status, query_station_stats and
    check_charge_orders answer sealed, with the figures of the session the charger ran."""
    place = await new_place(rig.csms, "CP-Q1", "CARD-Q1")
    await yunnan_tariff(rig.csms, place)
    charger = SimStation("CP-Q1", "ocpp2.0.1", ocpp_url(rig.csms))
    async with charger.running():
        await charger.boot()
        await drive_session(charger, "CARD-Q1", datetime(2026, 11, 27, 23, 30,
                                                         tzinfo=SHANGHAI), 90, 7000, 10_000)
        await charger.send_status(1, "Available")
        [order] = await eventually(lambda: _orders(rig.sim))
        sim = rig.sim
        stations = await sim.pull(rig.evcs, "query_stations_info", {"PageNo": 1,
                                                                     "PageSize": 100})
        assert 0 == stations["Ret"]
        assert [str(place.site_id)] == [s["StationID"]
                                        for s in stations["Data"]["StationInfos"]]
        status = await sim.pull(rig.evcs, "query_station_status",
                                {"StationIDs": [str(place.site_id)]})
        [info] = status["Data"]["StationStatusInfos"]
        assert [{"ConnectorID": "CP-Q1-1-1", "Status": 1}] == info["ConnectorStatusInfos"]
    stats = await sim.pull(rig.evcs, "query_station_stats", {
        "StationID": str(place.site_id), "StartTime": "2026-11-27", "EndTime": "2026-11-28"})
    assert 10.5 == stats["Data"]["StationStats"]["StationElectricity"]
    check = await sim.pull(rig.evcs, "check_charge_orders", {
        "CheckOrderSeq": "C1", "StartTime": "2026-11-27 00:00:00",
        "EndTime": "2026-11-28 23:59:59", "OrderCount": 2, "ChargeOrders": [
            {"StartChargeSeq": order["StartChargeSeq"], "TotalPower": order["TotalPower"],
             "TotalMoney": order["TotalMoney"]},
            {"StartChargeSeq": "MA0000001999999999999999999", "TotalPower": 1,
             "TotalMoney": 1}]})
    assert 0 == check["Ret"]
    assert [("MA0000001999999999999999999", 1)] == [
        (d["StartChargeSeq"], d["DisputeReason"]) for d in check["Data"]["DisputeOrders"]]


async def test_the_csms_refuses_bad_envelopes_with_their_codes(rig: Rig) -> None:
    """No token 4002, a bad signature 4001, a bad shape 4003, Data that does not decrypt
    4004; a wrong OperatorSecret gets no token (SuccStat 1, FailReason 2)."""
    sim = rig.sim
    assert 4002 == (await sim.pull(rig.evcs, "query_station_status", {"StationIDs": []},
                                   token=""))["Ret"]
    assert 4002 == (await sim.pull(rig.evcs, "query_station_status", {"StationIDs": []},
                                   token="MA0000002.9999999999.00"))["Ret"]
    wrong = await sim.pull(rig.evcs, "query_token", {"OperatorID": SECRETS.platform_id,
                                                     "OperatorSecret": "nope"}, token="")
    assert (0, 1, 2, "") == (wrong["Ret"], wrong["Data"]["SuccStat"],
                             wrong["Data"]["FailReason"], wrong["Data"]["AccessToken"])
    token = (await sim.pull(rig.evcs, "query_token", {
        "OperatorID": SECRETS.platform_id, "OperatorSecret": SECRETS.platform_secret},
        token=""))["Data"]["AccessToken"]
    body = sim.envelope({"StationIDs": []})
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
        url = f"{rig.evcs}/query_station_status"
        assert 0 == (await http.post(url, json=body)).json()["Ret"]
        assert 4001 == (await http.post(url, json={**body, "Sig": "0" * 32})).json()["Ret"]
        assert 4003 == (await http.post(url, json={"OperatorID": "x"})).json()["Ret"]
        assert 4003 == (await http.post(url, content=b"not json")).json()["Ret"]
        other = Secrets(SECRETS.operator_id, "", "fedcba0987654321", "fedcba0987654321",
                        SECRETS.sig_secret)
        garbled = {**body, "Data": seal(other, {"a": 1})}
        garbled["Sig"] = sig(SECRETS, garbled["OperatorID"] + garbled["Data"] +
                             garbled["TimeStamp"] + garbled["Seq"])
        assert 4004 == (await http.post(url, json=garbled)).json()["Ret"]
        too_many = sim.envelope({"StationIDs": [str(i) for i in range(51)]})
        assert 4004 == (await http.post(url, json=too_many)).json()["Ret"]


async def test_the_simulator_refuses_bad_envelopes() -> None:
    """The platform simulator answers 4002 without a token, 4001 for a bad Sig, 4003 for a
    bad body and 4004 for Data that does not decrypt; -1 while busy."""
    sim = PlatformSim(SECRETS)
    async with serving(sim) as url, httpx.AsyncClient() as http:
        mine = PlatformSim(Secrets(SECRETS.operator_id, "", SECRETS.data_secret,
                                   SECRETS.data_iv, SECRETS.sig_secret,
                                   platform_id=SECRETS.operator_id))
        ask = mine.envelope({"OperatorID": SECRETS.operator_id,
                             "OperatorSecret": SECRETS.operator_secret})
        got = (await http.post(f"{url}/query_token", json=ask)).json()
        assert 0 == got["Ret"]
        from simulators.platform.sim import unseal

        token = unseal(SECRETS, got["Data"])["AccessToken"]
        push = f"{url}/notification_stationStatus"
        body = mine.envelope({"ConnectorStatusInfo": {"ConnectorID": "X", "Status": 1}})
        auth = {"Authorization": f"Bearer {token}"}
        assert 4002 == (await http.post(push, json=body)).json()["Ret"]
        assert 4001 == (await http.post(push, json={**body, "Sig": "A" * 32},
                                        headers=auth)).json()["Ret"]
        assert 4003 == (await http.post(push, json={"Data": "x"}, headers=auth)).json()["Ret"]
        bad = {**body, "Data": "AAAA"}
        bad["Sig"] = sig(SECRETS, bad["OperatorID"] + bad["Data"] + bad["TimeStamp"] +
                         bad["Seq"])
        assert 4004 == (await http.post(push, json=bad, headers=auth)).json()["Ret"]
        sim.busy = 1
        assert -1 == (await http.post(push, json=body, headers=auth)).json()["Ret"]
        assert 0 == (await http.post(push, json=body, headers=auth)).json()["Ret"]
    assert [{"ConnectorStatusInfo": {"ConnectorID": "X", "Status": 1}}] == sim.of(
        "notification_stationStatus")
