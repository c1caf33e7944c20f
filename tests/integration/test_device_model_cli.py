"""``csms devicemodel ...`` against a SQLite file: the stored model by component, the
monitors, and the safety monitors [safety] would set (a dry run)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from csms import cli
from tests.api.test_organisation import cli_db

__all__ = ["cli_db"]
AT = datetime(2027, 1, 31, 15, 59, 50, tzinfo=UTC)


def run(argv: list[str]) -> int:
    return cli.main(argv, clock=lambda: AT)


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_show_monitors_and_safety_plan(cli_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert 0 == run(["db", "upgrade"])
    with sqlite3.connect(cli_db) as conn:
        insert = ("INSERT INTO device_variables (station_id, component, component_instance,"
                  " evse_id, connector_id, variable, variable_instance, attribute_type, value,"
                  " max_limit, updated_at) VALUES (?, ?, '', ?, 0, ?, '', 'Actual', ?, ?,"
                  " '2027-01-01 00:00:00')")
        conn.execute(insert, ("CP-1", "EVSE", 2, "Current", "0", 16.0))
        conn.execute(insert, ("CP-1", "DeviceDataCtrlr", 0, "ItemsPerMessageGetVariables",
                              "4", None))
        conn.execute("INSERT INTO variable_monitors (station_id, monitor_id, component,"
                     " component_instance, evse_id, connector_id, variable, variable_instance,"
                     " kind, value, severity, \"transaction\", origin, updated_at) VALUES"
                     " ('CP-1', 7, 'TemperatureSensor', '', 0, 0, 'Temperature', '',"
                     " 'UpperThreshold', 80, 0, 0, 'safety', '2027-01-01 00:00:00')")
    capsys.readouterr()
    assert 0 == run(["devicemodel", "show", "CP-1", "--component", "DeviceDataCtrlr"])
    assert [("ItemsPerMessageGetVariables", "4")] == [
        (r["variable"], r["value"]) for r in lines(capsys)]
    assert 0 == run(["devicemodel", "monitors", "CP-1"])
    assert [(7, "safety")] == [(r["monitor_id"], r["origin"]) for r in lines(capsys)]
    assert 0 == run(["devicemodel", "safety-monitors", "CP-1"])
    plan = [(r["component"], r["evse_id"], r["variable"], r["kind"], r["value"],
             r["monitor_id"]) for r in lines(capsys)]
    assert [("TemperatureSensor", None, "Temperature", "UpperThreshold", 80.0, 7),
            ("EVSE", 2, "Voltage", "UpperThreshold", 235.4, None),
            ("EVSE", 2, "Voltage", "LowerThreshold", 198.0, None),
            ("EVSE", 2, "Current", "UpperThreshold", 17.6, None)] == plan
