"""The resident page's limits, against the real server: a blocked card neither signs in nor
keeps its visit, starts and stops are throttled per card (429), and the ``csms resident``
commands set, show and clear PINs and write QR codes."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from csms import cli
from csms.app import Csms, running
from csms.config import ResidentSettings
from csms.logs import configure_logging
from csms.store import tables as t
from tests.api.test_resident_page import PAGE, place, post, sign_in
from tests.conftest import make_settings

__all__ = ["place"]  # the fixture, shared with the page's tests


@pytest.fixture
async def phone(csms: Csms) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{csms.api_port}",
                                 timeout=30) as client:
        yield client


@pytest.fixture
async def csms(database_url: str) -> AsyncIterator[Csms]:
    """A CSMS that allows one start or stop per card before throttling."""
    settings = make_settings(database_url)
    tight = settings.model_copy(update={"resident": ResidentSettings(actions_per_card=1)})
    async with running(tight) as app:
        yield app


async def test_a_blocked_card_is_refused_and_its_visit_ends(
    csms: Csms, place: object, phone: httpx.AsyncClient
) -> None:
    """Blocked after signing in: the visit acts no more (401); signing in again: 403."""
    assert 303 == (await sign_in(phone, "RES-A", "2468")).status_code
    async with csms.engine.begin() as conn:
        await conn.execute(update(t.id_tokens).where(t.id_tokens.c.id_token == "RES-A")
                           .values(status="Blocked"))
    assert (await phone.get(f"{PAGE}/live.json")).json()["account"] is None
    assert 401 == (await post(phone, f"{PAGE}/start")).status_code
    again = await post(phone, f"{PAGE}/sign-in", card="RES-A", pin="2468")
    assert (403, "card") == (again.status_code, again.json()["outcome"])


async def test_starts_are_throttled_per_card(
    csms: Csms, place: object, phone: httpx.AsyncClient
) -> None:
    """With actions_per_card = 1 the second start (the charger is offline) is 429."""
    assert 303 == (await sign_in(phone, "RES-A", "2468")).status_code
    first = await post(phone, f"{PAGE}/start")
    assert (409, "offline") == (first.status_code, first.json()["outcome"])
    second = await post(phone, f"{PAGE}/start")
    assert (429, "locked") == (second.status_code, second.json()["outcome"])


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Iterator[Path]:
    db = tmp_path / "cli.db"
    monkeypatch.setenv("CSMS_DATABASE__URL", f"sqlite+aiosqlite:///{db}")
    monkeypatch.setenv("CSMS_LOGGING__LEVEL", "warning")
    try:
        yield db
    finally:
        configure_logging("warning", "json", stream=sys.__stderr__, cache=False)


def test_the_cli_sets_shows_and_clears_a_pin_and_writes_a_qr_code(
    cli_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``resident pin set/show/clear`` and ``resident qr``; a bad PIN or card fails."""
    assert 0 == cli.main(["idtoken", "add", "04A1"])
    assert 2 == cli.main(["resident", "pin", "set", "04A1", "--pin", "12"])
    assert 1 == cli.main(["resident", "pin", "set", "NOPE", "--pin", "1234"])
    assert 0 == cli.main(["resident", "pin", "set", "04a1", "--generate"])
    printed = capsys.readouterr().out
    assert "PIN set for 04A1: " in printed
    with sqlite3.connect(cli_db) as conn:
        [(stored,)] = conn.execute("SELECT pin_hash FROM resident_pins").fetchall()
    assert stored.startswith("scrypt$")
    assert 0 == cli.main(["resident", "pin", "show", "04A1"])
    assert "0 wrong since" in capsys.readouterr().out
    assert 0 == cli.main(["resident", "pin", "clear", "04A1"])
    assert 0 == cli.main(["resident", "pin", "show", "04A1"])
    assert "no PIN" in capsys.readouterr().out
    out = tmp_path / "qr.png"
    assert 0 == cli.main(["resident", "qr", "CP-1", "--connector", "2", "--out", str(out),
                          "--base", "https://charge.example"])
    assert "https://charge.example/console/r/CP-1/2" in capsys.readouterr().out
    assert out.read_bytes().startswith(b"\x89PNG")
