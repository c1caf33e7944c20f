"""``csms locallist ...`` and ``csms reservation list`` against a SQLite file: the list a
charger should hold (its community's residents' cards and the cards of no resident), the
dry-run plan, and the reservations."""

from __future__ import annotations

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


def seed(db: Path) -> None:
    """Two communities with a resident each, a charger in the first, three cards: one per
    resident and one of no resident; one reservation."""
    assert 0 == run(["db", "upgrade"])
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO districts (id, name) VALUES (1, 'D')")
        conn.execute("INSERT INTO communities (id, district_id, name) VALUES (1, 1, 'A'),"
                     " (2, 1, 'B')")
        conn.execute("INSERT INTO sites (id, community_id, name) VALUES (1, 1, 'S')")
        conn.execute("INSERT INTO charge_points (id, site_id, registration_status, created_at)"
                     " VALUES ('CP-CLI', 1, 'Accepted', '2027-01-01 00:00:00')")
        conn.execute("INSERT INTO residents (id, community_id, name, created_at) VALUES"
                     " (1, 1, 'a', '2027-01-01 00:00:00'), (2, 2, 'b', '2027-01-01 00:00:00')")
        for token, resident, expires in (("HOME", 1, "2027-01-31 15:00:00"),
                                         ("AWAY", 2, None), ("STAFF", None, None)):
            conn.execute("INSERT INTO id_tokens (id_token, token_key, kind, status, expires_at,"
                         " resident_id, created_at) VALUES (?, ?, 'ISO14443', 'Accepted', ?,"
                         " ?, '2027-01-01 00:00:00')", (token, token, expires, resident))
        conn.execute("INSERT INTO reservations (station_id, evse_id, id_token, token_kind,"
                     " token_key, expires_at, status, outcome, created_at) VALUES ('CP-CLI',"
                     " 1, 'HOME', 'ISO14443', 'HOME', '2027-01-31 17:00:00', 'active',"
                     " 'Accepted', '2027-01-31 15:00:00')")


def test_the_wanted_list_is_the_communitys_cards_and_the_cards_of_no_resident(
    cli_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """HOME (expired by now: Expired) and STAFF; not AWAY, another community's."""
    seed(cli_db)
    capsys.readouterr()
    assert 0 == run(["locallist", "wanted", "CP-CLI"])
    lines = capsys.readouterr().out.splitlines()
    assert ["HOME\tISO14443\tExpired\t2027-01-31T15:00:00+00:00\t",
            "STAFF\tISO14443\tAccepted\t\t"] == lines


def test_show_plans_a_full_list_for_a_charger_never_synced(
    cli_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Version 0: the dry run is one full update of the two entries, version 1; with one
    per message, a full and a differential one."""
    seed(cli_db)
    capsys.readouterr()
    assert 0 == run(["locallist", "show", "CP-CLI"])
    assert 0 == run(["locallist", "show", "CP-CLI", "--per-message", "1"])
    out = capsys.readouterr().out
    assert "CP-CLI: version 0, 0 entries sent" in out
    assert "SendLocalList version 1 Full: 2 set, 0 removed" in out
    assert "SendLocalList version 2 Differential: 1 set, 0 removed" in out
    assert 2 == run(["locallist", "show", "CP-CLI", "--per-message", "0"])


def test_reservation_list(cli_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One line per reservation: id, status, EVSE, token, expiry, answer."""
    seed(cli_db)
    capsys.readouterr()
    assert 0 == run(["reservation", "list", "CP-CLI", "--open"])
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith("1\tactive\tEVSE 1\tHOME\tuntil 2027-01-31T17:00:00+00:00\tAccepted")
