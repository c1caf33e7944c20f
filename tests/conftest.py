"""Shared fixtures: a real CSMS on 127.0.0.1 over SQLite or PostgreSQL, and polling helpers."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest

from csms.app import Csms, running
from csms.config import Settings, load_settings
from csms.logs import configure_logging

T = TypeVar("T")
PG_ADMIN_DSN = os.environ.get("CSMS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True, scope="session")
def _quiet_logs() -> None:
    configure_logging("warning", "json", stream=sys.__stderr__, cache=False)


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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database: a SQLite file, or a new PostgreSQL database dropped after."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}"
        return
    name = f"csms_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def make_settings(database_url: str, **server: Any) -> Settings:
    """Test settings: an ephemeral port on 127.0.0.1, unknown charge points accepted."""
    server = {"host": "127.0.0.1", "port": 0, "unknown_charge_points": "accept",
              "ping_interval_s": 5.0, "call_timeout_s": 5.0, **server}
    return load_settings(
        None,
        server=server,
        api={"host": "127.0.0.1", "port": 0},
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
