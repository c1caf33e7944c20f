"""The firmware store on both databases: status notifications find their update, and one
that beats the answer's commit is not lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csms.app import Csms
from csms.domain.firmware_rollout import TargetState
from csms.store.files import FirmwareStore

T0 = datetime(2027, 3, 10, 15, 59, 30, tzinfo=UTC)


def store(csms: Csms) -> FirmwareStore:
    assert csms.firmware is not None
    return csms.firmware.store


async def test_a_failure_reported_before_the_answer_is_recorded_stays(csms: Csms) -> None:
    firmware = store(csms)
    update_id = await firmware.create_update("CP-1", None, "http://x/fw", T0, "test")
    await firmware.status("CP-1", None, "DownloadFailed", T0 + timedelta(seconds=1))
    await firmware.sent(update_id, "http://x/fw", "Accepted", TargetState.RUNNING,
                        T0 + timedelta(seconds=2))
    found = await firmware.update(update_id)
    assert found is not None
    assert (TargetState.FAILED, "Accepted", "DownloadFailed") == (
        found.state, found.answer, found.last_status)


async def test_a_request_id_of_another_charger_matches_nothing(csms: Csms) -> None:
    firmware = store(csms)
    update_id = await firmware.create_update("CP-1", None, "http://x/fw", T0, "test")
    await firmware.sent(update_id, "http://x/fw", "Accepted", TargetState.RUNNING, T0)
    assert await firmware.status("CP-2", update_id, "Installed", T0) is None
    later = await firmware.status("CP-1", update_id, "Installed", T0 + timedelta(minutes=5))
    assert later is not None
    assert (TargetState.SUCCEEDED, T0 + timedelta(minutes=5)) == (later.state,
                                                                  later.finished_at)
    again = await firmware.status("CP-1", update_id, "InstallationFailed", T0)
    assert again is not None
    assert (TargetState.SUCCEEDED, "InstallationFailed") == (again.state, again.last_status)
