"""``csms platform pushes / retry / station-info`` against a SQLite file."""

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
PLATFORM = {"CSMS_PLATFORM__ENABLED": "true", "CSMS_PLATFORM__URL": "http://127.0.0.1:9/x",
            "CSMS_PLATFORM__OPERATOR_ID": "MA0000001", "CSMS_PLATFORM__OPERATOR_SECRET": "s",
            "CSMS_PLATFORM__DATA_SECRET": "a" * 16, "CSMS_PLATFORM__DATA_IV": "b" * 16,
            "CSMS_PLATFORM__SIG_SECRET": "c", "CSMS_PLATFORM__PLATFORM_ID": "MA0000002",
            "CSMS_PLATFORM__PLATFORM_SECRET": "p"}


def run(argv: list[str]) -> int:
    return cli.main(argv, clock=lambda: AT)


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def test_parked_pushes_listed_and_retried(cli_db: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A parked push is listed with its error, goes back to pending once, and is audited."""
    assert 0 == run(["db", "upgrade"])
    with sqlite3.connect(cli_db) as conn:
        conn.execute("INSERT INTO platform_pushes (interface, push_key, payload, status,"
                     " attempts, created_at, next_attempt_at, last_error) VALUES"
                     " ('notification_stationStatus', 'status:X-1-1', '{}', 'parked', 4,"
                     " '2027-01-31 15:00:00', '2027-01-31 15:05:00', 'Ret -1: busy')")
    capsys.readouterr()
    assert 0 == run(["platform", "pushes", "--status", "parked"])
    [push] = lines(capsys)
    assert ("parked", 4, "Ret -1: busy") == (push["status"], push["attempts"],
                                             push["last_error"])
    assert 0 == run(["platform", "retry", str(push["id"])])
    assert 1 == run(["platform", "retry", str(push["id"])])  # no longer parked
    assert 2 == run(["platform", "retry"])
    capsys.readouterr()
    assert 0 == run(["platform", "pushes", "--status", "pending"])
    assert [0] == [p["attempts"] for p in lines(capsys)]
    with sqlite3.connect(cli_db) as conn:
        audited = conn.execute("SELECT action FROM audit_log WHERE resource ="
                               " 'platform_push'").fetchall()
    assert [("retry",), ("retry",)] == audited


def test_station_info_queued(cli_db: Path, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Station info for every site is queued (GCJ-02 coordinates), once platform is on."""
    assert 0 == run(["db", "upgrade"])
    assert 1 == run(["platform", "station-info"])  # not enabled
    for key, value in PLATFORM.items():
        monkeypatch.setenv(key, value)
    with sqlite3.connect(cli_db) as conn:
        conn.execute("INSERT INTO districts (id, name, code) VALUES (1, 'D', '530102')")
        conn.execute("INSERT INTO communities (id, district_id, name, latitude, longitude)"
                     " VALUES (1, 1, 'A', 25.04, 102.71)")
        conn.execute("INSERT INTO sites (id, community_id, name) VALUES (1, 1, 'S')")
    assert 0 == run(["platform", "station-info"])
    capsys.readouterr()
    assert 0 == run(["platform", "pushes"])
    [push] = lines(capsys)
    assert ("notification_stationInfo", "station:1") == (push["interface"], push["key"])
    with sqlite3.connect(cli_db) as conn:
        [(payload,)] = conn.execute("SELECT payload FROM platform_pushes").fetchall()
    info = json.loads(payload)["StationInfo"]
    assert ("530102", 6) == (info["AreaCode"], len(str(info["StationLat"]).split(".")[1]))
