"""Shared fixtures: a real CSMS on 127.0.0.1 over SQLite or PostgreSQL, and polling helpers."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest

from csms.app import Csms, running
from csms.config import DatabaseSettings, Settings, load_settings
from csms.logs import configure_logging
from csms.store import migrate
from csms.store.engine import create_engine

T = TypeVar("T")
PG_ADMIN_DSN = os.environ.get("CSMS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True, scope="session")
def _quiet_logs() -> None:
    configure_logging("warning", "json", stream=sys.__stderr__, cache=False)


def real_clock_env() -> dict[str, str]:
    """The environment without libfaketime (scripts/at-instants), for a child that must not
    inherit it: Chromium loads no page under it. The browser keeps the real clock, the CSMS
    under test the fake one; nothing a page does depends on the browser's date (cookies
    carry Max-Age)."""
    faked = ("LD_PRELOAD", "FAKETIME", "FAKETIME_DONT_RESET", "DONT_FAKE_MONOTONIC")
    return {k: v for k, v in os.environ.items() if k not in faked}


class ManualClock:
    """A clock the test sets (``clock.at = ...``); product code calls it like the real one."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


async def eventually(
    probe: Callable[[], Awaitable[T]],
    accept: Callable[[T], bool] = bool,
    timeout_s: float = 10.0,
) -> T:
    """Poll ``probe`` until ``accept`` holds for its result; fail after ``timeout_s``."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await probe()
        if accept(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s; last value {value!r}")
        await asyncio.sleep(0.01)  # polling interval of a deadline loop, not a wait for work


async def until(
    check: Callable[[], T],
    accept: Callable[[T], bool] = bool,
    timeout_s: float = 10.0,
) -> T:
    """:func:`eventually` for a check of in-memory state (no I/O to await)."""

    async def probe() -> T:
        return check()

    return await eventually(probe, accept, timeout_s)


DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


class _Templates:
    """One migrated database per kind and test session, copied for every test that wants a
    migrated one: migrating PostgreSQL from scratch costs over a second, copying a template
    about a tenth of that."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._sqlite: Path | None = None
        self._postgres: str | None = None

    async def sqlite(self) -> Path:
        if self._sqlite is None:
            path = self._directory / "template.db"
            await _migrate(f"sqlite+aiosqlite:///{path}")
            self._sqlite = path
        return self._sqlite

    async def postgres(self) -> str:
        if self._postgres is None:
            name = f"csms_template_{uuid.uuid4().hex[:12]}"
            await _pg_admin(f'CREATE DATABASE "{name}"')
            await _migrate(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")
            self._postgres = name
        return self._postgres

    def drop(self) -> None:
        if self._postgres is not None:
            asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{self._postgres}" WITH (FORCE)'))


async def _migrate(url: str) -> None:
    engine = create_engine(DatabaseSettings(url=url))
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


async def _pg_admin(statement: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Templates]:
    templates = _Templates(tmp_path_factory.mktemp("templates"))
    yield templates
    templates.drop()


@asynccontextmanager
async def _database(kind: str, tmp_path: Path, template: _Templates | None
                    ) -> AsyncIterator[str]:
    """A fresh database of ``kind``: a copy of the migrated template, or empty."""
    if kind == "sqlite":
        path = tmp_path / "csms.db"
        if template is not None:
            shutil.copyfile(await template.sqlite(), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    name = f"csms_test_{uuid.uuid4().hex[:12]}"
    copy = "" if template is None else f' TEMPLATE "{await template.postgres()}"'
    await _pg_admin(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=DATABASES)
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, _templates: _Templates
) -> AsyncIterator[str]:
    """A fresh database at the latest migration: a SQLite file, or a new PostgreSQL
    database dropped after (both copied from a template migrated once per session)."""
    async with _database(request.param, tmp_path, _templates) as url:
        yield url


@pytest.fixture(params=DATABASES)
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path
                             ) -> AsyncIterator[str]:
    """A fresh, empty database (no migrations applied), for the migrations' own tests."""
    async with _database(request.param, tmp_path, None) as url:
        yield url


def make_settings(database_url: str, **server: Any) -> Settings:
    """Test settings: an ephemeral port on 127.0.0.1, unknown charge points accepted."""
    server = {"host": "127.0.0.1", "port": 0, "unknown_charge_points": "accept",
              "ping_interval_s": 5.0, "call_timeout_s": 5.0,
              # tests stamp messages with fixed past instants: no clock_anomaly rows
              "clock_anomaly_events": False, **server}
    return load_settings(
        None,
        server=server,
        api={"host": "127.0.0.1", "port": 0},
        reports={"enabled": False},  # the monthly scheduler runs only in its own tests
        database={"url": database_url, "sqlite_synchronous": "NORMAL"},
        authorization={"unknown_id_tokens": "reject"},
    )


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def csms(settings: Settings) -> AsyncIterator[Csms]:
    """A running CSMS; its OCPP URL is ``ocpp_url(csms)``."""
    async with running(settings) as app:
        yield app


def ocpp_url(app: Csms) -> str:
    return f"ws://127.0.0.1:{app.ocpp.port}{app.settings.server.path_prefix}"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CSMS_* variables from the outer environment leak into a test."""
    for key in list(os.environ):
        if key.startswith("CSMS_"):
            monkeypatch.delenv(key)
