"""``csms billing ...``: seed the Yunnan tariff, create a package, top up, subscribe and
print a statement, against a SQLite file; bad input exits 2 naming the problem."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from csms import cli
from tests.api.test_organisation import cli_db

__all__ = ["cli_db"]


def seed_place(db: Path) -> None:
    """A district, community and resident (the CLI needs them to exist)."""
    assert 0 == cli.main(["db", "upgrade"])
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO districts (id, name) VALUES (1, '五华区')")
        conn.execute("INSERT INTO communities (id, district_id, name) VALUES (1, 1, '翠湖小区')")
        conn.execute("INSERT INTO residents (id, community_id, name, created_at) "
                     "VALUES (7, 1, '张三', '2026-01-01 00:00:00')")


# 2026-11-30 23:30 in Asia/Shanghai: the last half hour of November, local time (UTC is
# 15:30), so a movement dated by the wall clock instead of this clock lands in another month.
NOVEMBER_END = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)


def run_at(at: datetime, argv: list[str]) -> int:
    """``csms ARGV`` with its clock stopped at ``at``."""
    return cli.main(argv, clock=lambda: at)


def test_seed_package_top_up_subscribe_statement(
    cli_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole CLI path at a fixed instant; every write is audited as cli:<user>."""
    run = partial(run_at, NOVEMBER_END)
    seed_place(cli_db)
    assert 0 == run(["billing", "seed", "yunnan", "--community", "1"])
    assert 1 == run(["billing", "seed", "yunnan", "--community", "1"])  # same start
    assert 0 == run(["billing", "package", "create", "valley-20", "--name", "谷时",
                          "--price", "30", "--kwh", "20", "--periods", "valley",
                          "--community", "1"])
    assert 1 == run(["billing", "subscribe", "7", "1", "--month", "2026-11"])  # no money
    assert 0 == run(["billing", "top-up", "7", "100.00", "--ref", "pay-1"])
    assert 0 == run(["billing", "subscribe", "7", "1", "--month", "2026-11"])
    assert 0 == run(["billing", "subscribe", "7", "1", "--month", "2026-10",
                          "--auto-renew"])  # ended: due for renewal (into November: taken)
    capsys.readouterr()
    assert 1 == run(["billing", "renew-due"])
    assert "already has this package" in capsys.readouterr().out
    assert 0 == run(["billing", "statement", "7", "--month", "2026-11", "--csv"])
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert ["100.00", "-30.00", "-30.00"] == [
        r["amount_yuan"] for r in rows if r["line"] == "movement"]
    assert 0 == run(["billing", "statement", "7", "--month", "2026-12"])
    december = json.loads(capsys.readouterr().out)
    assert ("40.00", "40.00") == (december["opening_balance_yuan"],
                                  december["closing_balance_yuan"])
    with sqlite3.connect(cli_db) as conn:
        prices = conn.execute("SELECT electricity_yuan_per_kwh, service_yuan_per_kwh "
                              "FROM tariffs").fetchall()
        audited = conn.execute("SELECT resource FROM audit_log WHERE actor LIKE 'cli:%' "
                               "ORDER BY id").fetchall()
    assert [(0.61, 0.4)] == prices
    assert ["tariff", "package", "wallet", "subscription", "subscription"] == [
        r[0] for r in audited]


@pytest.mark.parametrize(("argv", "named"), [
    (["billing", "top-up", "7", "1.005"], "whole number of fen"),
    (["billing", "statement", "7", "--month", "2026-13"], "YYYY-MM"),
    (["billing", "seed", "yunnan"], "--community"),
])
def test_bad_input_exits_2_naming_it(
    cli_db: Path, capsys: pytest.CaptureFixture[str], argv: list[str], named: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert 2 == exited.value.code
    assert named in capsys.readouterr().err


def test_a_bad_tariff_file_exits_2(
    cli_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\n', encoding="utf-8")
    assert 2 == cli.main(["billing", "tariff", "create", str(path), "--community", "1"])
    assert "effective_from" in capsys.readouterr().err
