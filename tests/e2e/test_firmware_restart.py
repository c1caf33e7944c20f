"""Rollouts live in the database: one recorded by ``csms firmware rollout`` is run by the
CSMS, and a CSMS restarted mid-rollout carries on with the next wave; the operator reads
the outcome with ``csms firmware status`` and fetches an uploaded log with ``csms logs``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from csms import cli
from csms.app import Csms, running
from csms.config import FilesSettings, Settings
from csms.domain.commands_files import LogKind
from csms.domain.firmware_rollout import TargetState
from csms.logs import configure_logging
from csms.store.network import Network
from simulators.station import SimStation
from tests.conftest import eventually, make_settings, ocpp_url

FIRMWARE = b"SIMFW sim-3.1\npayload\n"


@pytest.fixture
def files_dir(tmp_path: Path) -> Path:
    return tmp_path / "files"


@pytest.fixture
def settings(database_url: str, files_dir: Path) -> Settings:
    return make_settings(database_url).model_copy(update={"files": FilesSettings(
        directory=files_dir, rollout_tick_s=0.2)})


@pytest.fixture
def cli_env(database_url: str, files_dir: Path, monkeypatch: pytest.MonkeyPatch,
            clean_env: None) -> None:
    monkeypatch.setenv("CSMS_DATABASE__URL", database_url)
    monkeypatch.setenv("CSMS_FILES__DIRECTORY", str(files_dir))
    monkeypatch.setenv("CSMS_LOGGING__LEVEL", "warning")


async def rollout_state(csms: Csms, rollout_id: int) -> str:
    assert csms.firmware is not None
    found = await csms.firmware.store.rollout(rollout_id)
    assert found is not None
    return found.state


async def run_cli(argv: list[str]) -> int:
    """``csms ARGV`` (it runs its own event loop: in a thread), logging put back after."""
    try:
        return await asyncio.get_running_loop().run_in_executor(None, cli.main, argv)
    finally:
        configure_logging("warning", "json", stream=sys.__stderr__, cache=False)


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_a_rollout_survives_a_restart(settings: Settings, cli_env: None, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str],
                                            version: str) -> None:
    """Wave 1 (A) is sent, the CSMS stops before A reports; A reports Installed to the next
    CSMS, which then sends wave 2 (B), and the rollout succeeds."""
    image = tmp_path / "fw.bin"
    image.write_bytes(FIRMWARE)
    assert 0 == await run_cli(["firmware", "upload", str(image), "--version", "sim-3.1"])
    async with running(settings) as first:
        a = SimStation("CP-R-A", version, ocpp_url(first))
        a.files.update_firmware = lambda request: "Accepted"  # type: ignore[method-assign]
        async with a.running():
            await a.boot()
            await b_known(first)
            # recorded in the database only: the running CSMS's driver finds it
            assert 0 == await run_cli(["firmware", "rollout", "1", "CP-R-A", "CP-R-B",
                                       "--wave-size", "1"])
            await eventually(lambda: _received(a, "UpdateFirmware"))
            await eventually(lambda: _update_state(first, 1),
                             lambda state: state is TargetState.RUNNING)
    async with running(settings) as second:
        a = SimStation("CP-R-A", version, ocpp_url(second))
        b = SimStation("CP-R-B", version, ocpp_url(second), reboot_delay_s=0.05)
        async with a.running(), b.running():
            await a.boot()
            await b.boot()
            assert "running" == await rollout_state(second, 1)
            status: dict[str, object] = {"status": "Installed"}
            if version == "ocpp2.0.1":
                status["requestId"] = 1
            await a.call("FirmwareStatusNotification", status)
            await eventually(lambda: rollout_state(second, 1), lambda s: s != "running",
                             timeout_s=20)
    capsys.readouterr()
    assert 0 == await run_cli(["firmware", "status", "1"])
    out = capsys.readouterr().out
    assert "rollout 1: completed" in out
    assert "CP-R-B\twave 2\tsucceeded\tInstalled" in out
    assert "sim-3.1" == b.identity.firmware


async def b_known(csms: Csms) -> None:
    """CP-R-B registered (it connects only to the second CSMS)."""
    await Network(csms.engine, csms.store.writer).add_charge_point({
        "id": "CP-R-B", "registration_status": "Accepted",
        "created_at": csms.stations.now()}, "test")


async def _update_state(csms: Csms, update_id: int) -> TargetState | None:
    assert csms.firmware is not None
    found = await csms.firmware.store.update(update_id)
    return None if found is None else found.state


async def _received(sim: SimStation, action: str) -> bool:
    return any(a == action for a, _ in sim.received)


async def test_an_uploaded_log_is_fetched_with_the_cli(
        settings: Settings, cli_env: None, tmp_path: Path) -> None:
    """``csms logs fetch`` writes exactly what the charger uploaded; no upload: exit 1."""
    async with running(settings) as csms:
        assert csms.logs is not None
        sim = SimStation("CP-R-LOG", "ocpp2.0.1", ocpp_url(csms))
        async with sim.running():
            await sim.boot()
            request, _ = await csms.logs.request("CP-R-LOG", LogKind.DIAGNOSTICS)
            await eventually(lambda: _status(csms, request.id),
                             lambda s: s == "Uploaded")
    out = tmp_path / "got.log"
    assert 0 == await run_cli(["logs", "fetch", str(request.id), str(out)])
    assert [out.read_bytes()] == sim.files.uploads
    assert 1 == await run_cli(["logs", "fetch", "999", str(out)])


async def _status(csms: Csms, request_id: int) -> str | None:
    assert csms.logs is not None
    found = await csms.logs.store.get(request_id)
    return None if found is None else found.last_status

