"""The stored device model on SQLite and PostgreSQL: parts out of order and repeated complete
a report once; a re-report replaces rows; a complete full inventory drops what it no longer
mentions; another station cannot complete a request."""

from __future__ import annotations

from datetime import UTC, datetime

from csms.app import Csms
from csms.domain.device_model import MonitorRow, VariableRow
from csms.store.device_model import DeviceModelStore

AT = datetime(2028, 2, 29, 4, 0, tzinfo=UTC)


def store_of(csms: Csms) -> DeviceModelStore:
    assert csms.device_model is not None
    return csms.device_model.store


async def test_parts_in_any_order_complete_once_and_replace(csms: Csms) -> None:
    store = store_of(csms)
    old = await store.create_report("CP-S", "FullInventory", AT, "test")
    assert await store.add_part("CP-S", old, 0, False, [VariableRow("Gone", "Away")])
    request = await store.create_report("CP-S", "FullInventory", AT, "test")
    a = VariableRow("OCPPCommCtrlr", "HeartbeatInterval", value="300")
    b = VariableRow("EVSE", "Current", evse_id=1, value="0", max_limit=32.0)
    assert not await store.add_part("CP-X", request, 0, False, [a])  # not this station's
    assert not await store.add_part("CP-S", request, 2, False, [b])
    assert not await store.add_part("CP-S", request, 0, True, [a])
    assert not await store.add_part("CP-S", request, 0, True, [a])  # repeated
    assert (await store.report(request)).status == "pending"  # type: ignore[union-attr]
    assert await store.add_part("CP-S", request, 1, True,
                                [VariableRow("OCPPCommCtrlr", "HeartbeatInterval",
                                             value="120")])
    assert not await store.add_part("CP-S", request, 2, False, [b])  # already complete
    record = await store.report(request)
    assert record is not None
    assert ("complete", 3) == (record.status, record.parts)
    rows = await store.variables("CP-S")
    assert [("EVSE", "Current", "0"), ("OCPPCommCtrlr", "HeartbeatInterval", "120")] == [
        (r.component, r.variable, r.value) for r in rows]
    assert ["HeartbeatInterval"] == [r.variable for r in await store.variables("CP-S",
                                                                               "OCPPCommCtrlr")]
    assert "120" == await store.actual("CP-S", "OCPPCommCtrlr", "HeartbeatInterval")
    assert [("OCPPCommCtrlr", "HeartbeatInterval")] == [
        (r.component, r.variable) for r in await store.variables("CP-X")]


async def test_monitors_by_the_stations_ids(csms: Csms) -> None:
    store = store_of(csms)
    row = MonitorRow(3, "TemperatureSensor", "Temperature", "UpperThreshold", 80.0, 0, False)
    await store.monitors_set("CP-M", [row], "safety")
    await store.monitors_set("CP-M", [MonitorRow(3, "TemperatureSensor", "Temperature",
                                                 "UpperThreshold", 75.0, 0, False)], "api")
    [stored] = await store.monitors("CP-M")
    assert (3, 75.0, "api") == (stored.monitor.monitor_id, stored.monitor.value, stored.origin)
    await store.monitors_cleared("CP-M", [3])
    assert [] == await store.monitors("CP-M")
