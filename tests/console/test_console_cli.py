"""``csms user add`` against a SQLite file: a user per role and scope, a generated password
shown once, TOTP for admin and operator only, refusals that name the problem."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from csms import cli, passwords
from tests.api.test_organisation import cli_db

__all__ = ["cli_db"]

AT = datetime(2027, 1, 31, 15, 59, 50, tzinfo=UTC)


def run(argv: list[str]) -> int:
    return cli.main(argv, clock=lambda: AT)


def test_user_add(cli_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert 0 == run(["db", "upgrade"])
    with sqlite3.connect(cli_db) as conn:
        conn.execute("INSERT INTO districts (id, name, code) VALUES (1, '静安区', 'JA')")
        conn.execute("INSERT INTO communities (id, district_id, name) VALUES (1, 1, 'A')")
    capsys.readouterr()
    assert 0 == run(["user", "add", "--name", "duty", "--role", "operator", "--totp"])
    out = capsys.readouterr().out
    password = re.search(r"password \(shown only once\): (\S+)", out)
    assert password is not None
    assert "otpauth://totp/" in out
    assert 0 == run(["user", "add", "--name", "mgr", "--role", "property", "--community", "1",
                     "--password", "a-long-password"])
    assert 0 == run(["user", "add", "--name", "jd", "--role", "district", "--district", "JA",
                     "--password", "a-long-password"])
    with sqlite3.connect(cli_db) as conn:
        rows = conn.execute("SELECT name, role, district_id, community_id, password_hash,"
                            " totp_secret IS NOT NULL FROM console_users ORDER BY id").fetchall()
    assert [("duty", "operator", None, None, 1), ("mgr", "property", None, 1, 0),
            ("jd", "district", 1, None, 0)] == [(r[0], r[1], r[2], r[3], r[5]) for r in rows]
    assert passwords.verify(password[1], rows[0][4])
    assert rows[1][4].startswith("scrypt$")
    capsys.readouterr()
    assert 1 == run(["user", "add", "--name", "duty", "--role", "admin", "--password",
                     "a-long-password"])
    assert 2 == run(["user", "add", "--name", "p", "--role", "property", "--password",
                     "a-long-password"])
    assert 2 == run(["user", "add", "--name", "p", "--role", "property", "--community", "1",
                     "--totp", "--password", "a-long-password"])
    assert 2 == run(["user", "add", "--name", "p", "--role", "admin", "--password", "short"])
    assert 1 == run(["user", "add", "--name", "p", "--role", "property", "--community", "9",
                     "--password", "a-long-password"])
    err = capsys.readouterr().err
    for said in ("exists already", "a property user needs --community", "--totp is for",
                 "at least 10", "no community 9"):
        assert said in err
