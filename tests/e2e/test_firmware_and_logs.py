"""End to end, both versions, both databases, real WebSockets and HTTP: a firmware rollout
to a small fleet in waves with one station failing, and a log requested, uploaded by the
simulator and downloaded through the API."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from csms.api.access import Role
from csms.api.tokens import new_token
from csms.app import Csms, running
from csms.config import FilesSettings, Settings
from csms.store.network import Network
from simulators.station import SimStation
from tests.conftest import eventually, make_settings, ocpp_url

VERSIONS = ["ocpp1.6", "ocpp2.0.1"]
FIRMWARE = b"SIMFW sim-2.0\n" + bytes(range(256)) * 64


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    base = make_settings(database_url)
    return base.model_copy(update={"files": FilesSettings(
        directory=tmp_path / "files", upload_max_bytes=4096, rollout_tick_s=0.5)})


@pytest.fixture
async def csms(settings: Settings) -> AsyncIterator[Csms]:
    async with running(settings) as app:
        yield app


@pytest.fixture
async def api(csms: Csms) -> AsyncIterator[httpx.AsyncClient]:
    secret, record = new_token(Role.OPERATOR, created_by="test", now=csms.stations.now())
    await csms.access.add_token(record)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{csms.api_port}", timeout=30,
                                 headers={"Authorization": f"Bearer {secret}"}) as client:
        yield client


async def ok(answer: httpx.Response, code: int = 200) -> Any:
    assert code == answer.status_code, answer.text
    return answer.json()


async def upload(api: httpx.AsyncClient, data: bytes = FIRMWARE) -> Any:
    return await ok(await api.post(
        "/firmware/files", content=data,
        params={"name": "sim-2.0.bin", "version": "sim-2.0",
                "sha256": hashlib.sha256(data).hexdigest()}), 201)


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_rollout_goes_in_waves_and_stops_at_a_failing_station(
    csms: Csms, api: httpx.AsyncClient, version: str
) -> None:
    """Five stations, two at a time, no failure allowed: wave 1 (A, B) installs and reboots
    with the new version; wave 2 (C fails to install, D installs) stops the rollout; E is
    never sent anything."""
    file = await upload(api)
    names = [f"CP-FW-{x}" for x in "ABCDE"]
    sims = {n: SimStation(n, version, ocpp_url(csms), reboot_delay_s=0.05) for n in names}
    sims["CP-FW-C"].files.fail_update = "install"
    async with AsyncExitStack() as stack:
        for sim in sims.values():
            await stack.enter_async_context(sim.running())
            await sim.boot()
        rollout = await ok(await api.post("/firmware/rollouts", json={
            "file_id": file["id"], "station_ids": names, "wave_size": 2,
            "failure_threshold": 0}), 201)
        stopped = await eventually(
            lambda: _get(api, f"/firmware/rollouts/{rollout['id']}"),
            lambda r: r["state"] != "running", timeout_s=30)
        # the rollout stops at C's failure; D, sent in the same wave, finishes on its own
        done = await eventually(
            lambda: _get(api, f"/firmware/rollouts/{rollout['id']}"),
            lambda r: r["updates"][3]["state"] != "running", timeout_s=30)
    by_station = {u["station_id"]: u for u in done["updates"]}
    assert ("stopped", "stopped") == (stopped["state"], done["state"])
    assert "wave 2: 1 of 2 failed (threshold 0)" == done["reason"]
    assert {"CP-FW-A": (1, "succeeded"), "CP-FW-B": (1, "succeeded"),
            "CP-FW-C": (2, "failed"), "CP-FW-D": (2, "succeeded"),
            "CP-FW-E": (None, "waiting")} == {
        n: (u["wave"], u["state"]) for n, u in by_station.items()}
    assert "InstallationFailed" == by_station["CP-FW-C"]["last_status"]
    assert all(by_station[n]["last_status"] == "Installed" for n in ("CP-FW-A", "CP-FW-D"))
    wave_1_done = max(by_station[n]["finished_at"] for n in ("CP-FW-A", "CP-FW-B"))
    assert all(by_station[n]["sent_at"] >= wave_1_done for n in ("CP-FW-C", "CP-FW-D"))
    assert [FIRMWARE] == sims["CP-FW-A"].files.downloads
    assert not sims["CP-FW-E"].files.downloads
    assert "sim-0.1" == sims["CP-FW-C"].identity.firmware
    assert ("sim-2.0", "sim-2.0") == (by_station["CP-FW-A"]["firmware_version"],
                                      sims["CP-FW-B"].identity.firmware)
    sent = [a for a, _ in sims["CP-FW-A"].received]
    assert ["UpdateFirmware"] == [a for a in sent if "Firmware" in a]


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_signed_update_of_one_charger(csms: Csms, api: httpx.AsyncClient,
                                              version: str) -> None:
    """With a signing certificate and signature the file goes out as 1.6
    SignedUpdateFirmware (2.0.1 UpdateFirmware carrying both); the update's poll URL follows
    it to Installed."""
    file = await upload(api)
    await ok(await api.put(f"/firmware/files/{file['id']}/signing", json={
        "signing_certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        "signature": "c2lnbmF0dXJl"}))
    sim = SimStation("CP-FW-S", version, ocpp_url(csms), reboot_delay_s=0.05)
    async with sim.running():
        await sim.boot()
        answer = await ok(await api.post("/charge-points/CP-FW-S/commands/update-firmware",
                                         json={"file_id": file["id"]}))
        final = await eventually(lambda: _get(api, answer["poll"]),
                                 lambda u: u["state"] != "running")
    assert ("Accepted", "succeeded", "Installed") == (
        answer["status"], final["state"], final["last_status"])
    action = "SignedUpdateFirmware" if version == "ocpp1.6" else "UpdateFirmware"
    [(_, sent)] = [(a, p) for a, p in sim.received if a == action]
    assert ("c2lnbmF0dXJl", answer["update_id"]) == (sent["firmware"]["signature"],
                                                    sent["requestId"])


CASES = [("ocpp1.6", {"kind": "diagnostics"}, "GetDiagnostics"),
         ("ocpp1.6", {"kind": "security"}, "GetLog"),
         ("ocpp1.6", {"kind": "diagnostics", "security_extension": True}, "GetLog"),
         ("ocpp2.0.1", {"kind": "diagnostics"}, "GetLog")]


@pytest.mark.parametrize(("version", "body", "action"), CASES)
async def test_a_log_is_uploaded_and_downloaded(
    csms: Csms, api: httpx.AsyncClient, version: str, body: dict[str, Any], action: str
) -> None:
    """The charger answers with its file name, uploads to the URL of the request (1.6
    GetDiagnostics: multipart POST; GetLog: raw PUT), reports Uploading then Uploaded, and
    the operator downloads exactly what it uploaded."""
    sim = SimStation("CP-LOG", version, ocpp_url(csms))
    async with sim.running():
        await sim.boot()
        request = await ok(await api.post("/charge-points/CP-LOG/commands/get-log",
                                          json=body))
        final = await eventually(lambda: _get(api, f"/logs/{request['id']}"),
                                 lambda r: r["last_status"] == "Uploaded")
        got = await api.get(final["download"])
    assert 200 == got.status_code
    assert "Accepted" == request["answer"]
    assert [got.content] == sim.files.uploads
    assert got.content.startswith(b"CP-LOG ")
    assert hashlib.sha256(got.content).hexdigest() == final["sha256"]
    [sent] = [p for a, p in sim.received if a == action]
    location = sent.get("location") or sent["log"]["remoteLocation"]
    assert location.startswith(f"http://127.0.0.1:{csms.api_port}/uploads/")
    listed = await _get(api, "/charge-points/CP-LOG/logs")
    assert [request["id"]] == [r["id"] for r in listed]


async def test_uploads_need_a_live_token_and_stay_within_the_limit(
    csms: Csms, api: httpx.AsyncClient
) -> None:
    """A made-up token is 404; a body over files.upload_max_bytes is 413 and nothing is
    kept; the file cannot be downloaded without an operator token."""
    sim = SimStation("CP-LOG2", "ocpp2.0.1", ocpp_url(csms))
    async with sim.running():
        await sim.boot()
        sim.files.get_log = lambda request: "held.log"  # type: ignore[method-assign]
        request = await ok(await api.post("/charge-points/CP-LOG2/commands/get-log",
                                          json={"kind": "security"}))
        [sent] = [p for a, p in sim.received if a == "GetLog"]
    url = sent["log"]["remoteLocation"]
    async with httpx.AsyncClient(timeout=30) as charger:
        assert 404 == (await charger.put(url + "x", content=b"log")).status_code
        assert 413 == (await charger.put(url, content=b"x" * 5000)).status_code
        assert (await _get(api, f"/logs/{request['id']}"))["uploaded_at"] is None
        assert 201 == (await charger.put(url + "/named.log", content=b"ok\n")).status_code
        anonymous = await charger.get(f"http://127.0.0.1:{csms.api_port}"
                                      f"/logs/{request['id']}/file")
    assert 401 == anonymous.status_code
    stored = await _get(api, f"/logs/{request['id']}")
    assert ("named.log", 3) == (stored["upload_name"], stored["size_bytes"])
    assert b"ok\n" == (await api.get(stored["download"])).content


async def _get(api: httpx.AsyncClient, path: str) -> Any:
    answer = await api.get(path)
    assert 200 == answer.status_code, answer.text
    return answer.json()


async def test_firmware_files_are_checked_in_and_out(
    csms: Csms, api: httpx.AsyncClient, settings: Settings
) -> None:
    """An upload that is not the SHA-256 announced is refused; a stored file changed on disk
    is not served (500); an unknown download token is 404; a stopped rollout sends nothing
    more."""
    bad = await api.post("/firmware/files", content=b"abc",
                         params={"name": "x.bin", "sha256": "0" * 64})
    assert 422 == bad.status_code
    file = await upload(api)
    [stored] = (settings.files.directory / "firmware").iterdir()
    base = f"http://127.0.0.1:{csms.api_port}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as charger:
        assert 404 == (await charger.get("/firmware/download/nope/x.bin")).status_code
        assert csms.firmware is not None
        url = csms.firmware.location(await csms.firmware.store.file(file["id"]))  # type: ignore[arg-type]
        good = await charger.get(url)
        assert (200, FIRMWARE) == (good.status_code, good.content)
        stored.write_bytes(b"tampered")
        assert 500 == (await charger.get(url)).status_code
    await Network(csms.engine, csms.store.writer).add_charge_point({
        "id": "CP-LATER", "registration_status": "Accepted",
        "created_at": csms.stations.now()}, "test")
    sim = SimStation("CP-SLOW", "ocpp2.0.1", ocpp_url(csms))
    sim.files.update_firmware = lambda request: "Accepted"  # type: ignore[method-assign]
    async with sim.running():
        await sim.boot()
        rollout = await ok(await api.post("/firmware/rollouts", json={
            "file_id": file["id"], "station_ids": ["CP-SLOW", "CP-LATER"],
            "wave_size": 1}), 201)
        await eventually(lambda: _get(api, f"/firmware/rollouts/{rollout['id']}"),
                         lambda r: r["updates"][0]["state"] == "running")
        stopped = await ok(await api.post(f"/firmware/rollouts/{rollout['id']}/stop"))
    assert ("stopped", ["running", "waiting"]) == (
        stopped["state"], [u["state"] for u in stopped["updates"]])
    assert stopped["reason"].startswith("stopped by ")


async def test_an_update_without_a_final_status_fails_after_the_timeout(
    settings: Settings
) -> None:
    """A charger that accepts and then says nothing fails after files.firmware_timeout_s,
    and that failure stops the rollout like any other."""
    quick = settings.model_copy(update={"files": settings.files.model_copy(
        update={"firmware_timeout_s": 0.5, "rollout_tick_s": 0.1})})
    async with running(quick) as csms:
        assert csms.firmware is not None
        file = await csms.firmware.add_file(_chunks(FIRMWARE), "fw.bin")
        sim = SimStation("CP-MUTE", "ocpp1.6", ocpp_url(csms))
        sim.files.update_firmware = lambda request: "Accepted"  # type: ignore[method-assign]
        async with sim.running():
            await sim.boot()
            rollout_id = await csms.firmware.start_rollout(file.id, ["CP-MUTE"])
            found = await eventually(lambda: csms.firmware.store.rollout(rollout_id),  # type: ignore[union-attr]
                                     lambda r: r is not None and r.state != "running")
    assert found is not None
    [update] = found.updates
    assert ("stopped", "failed", "no final status within 0.5 s") == (
        found.state, update.state.value, update.detail)


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


@pytest.mark.parametrize(("version", "log_message"), [
    ("ocpp1.6", "DiagnosticsStatusNotification"), ("ocpp2.0.1", "LogStatusNotification")])
async def test_triggered_status_notifications_say_idle(
    csms: Csms, api: httpx.AsyncClient, version: str, log_message: str
) -> None:
    """TriggerMessage for the firmware and the log status (2.0.1: LogStatusNotification):
    Accepted, and an idle station reports Idle."""
    sim = SimStation("CP-TRIG", version, ocpp_url(csms))
    async with sim.running():
        await sim.boot()
        for message in ("FirmwareStatusNotification", "DiagnosticsStatusNotification"):
            answer = await ok(await api.post(
                "/charge-points/CP-TRIG/commands/trigger-message",
                json={"message": message}))
            assert "Accepted" == answer["status"]
        await sim.settle(10)
    sent = [(a, p) for a, p in sim.link.sent if a.endswith("StatusNotification")
            and a != "StatusNotification"]
    assert [("FirmwareStatusNotification", {"status": "Idle"}),
            (log_message, {"status": "Idle"})] == sent
