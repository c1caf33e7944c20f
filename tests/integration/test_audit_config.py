"""The CSMS's own configuration is audited at start when it changed (secrets masked)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from csms.app import running
from csms.config import Settings, SharingSettings
from csms.store import tables as t
from csms.store.sharing.audit import verify_stored


async def config_rows(settings: Settings) -> list[tuple[str, dict[str, Any]]]:
    async with running(settings) as csms:
        async with csms.engine.connect() as conn:
            rows = (await conn.execute(select(t.audit_log.c.action, t.audit_log.c.details)
                    .where(t.audit_log.c.resource == "csms_config")
                    .order_by(t.audit_log.c.seq))).all()
        assert (await verify_stored(csms.engine)).broken is None
    return [(action, details) for action, details in rows]


async def test_recorded_once_then_on_change(settings: Settings) -> None:
    """First start: created. Same settings again: nothing. A changed section: an update
    naming it."""
    [(action, details)] = await config_rows(settings)
    assert ("create", 1000) == (action, details["settings"]["sharing"]["feed_queue_size"])
    assert 1 == len(await config_rows(settings))
    changed = settings.model_copy(update={"sharing": SharingSettings(feed_queue_size=5)})
    rows = await config_rows(changed)
    assert ["create", "update"] == [a for a, _ in rows]
    assert (["sharing"], 5) == (rows[1][1]["changed_sections"],
                                rows[1][1]["settings"]["sharing"]["feed_queue_size"])


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.postgres
async def test_the_database_password_is_not_recorded(settings: Settings) -> None:
    """A password in the database URL (PostgreSQL: SQLite URLs hold none) is masked in
    the audit row."""
    url = settings.database.url
    secret = url.replace("postgres@", "postgres:hunter2@")
    with_password = settings.model_copy(update={"database": settings.database.model_copy(
        update={"url": secret})})
    [(_, details)] = await config_rows(with_password)
    assert "hunter2" not in str(details)
    assert "***" in details["settings"]["database"]["url"]
