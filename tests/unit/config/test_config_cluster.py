"""The cluster section: the PostgreSQL command bus needs a PostgreSQL database."""

from __future__ import annotations

import pytest

from csms.config import load_settings
from csms.errors import ConfigError


def test_postgres_bus_on_sqlite_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"cluster\.command_bus"):
        load_settings(None, cluster={"command_bus": "postgres"})


def test_postgres_bus_on_postgres_is_accepted() -> None:
    settings = load_settings(None, cluster={"command_bus": "postgres"},
                             database={"url": "postgresql+asyncpg://db/csms"})
    assert "postgres" == settings.cluster.command_bus


def test_unknown_bus_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"cluster\.command_bus"):
        load_settings(None, cluster={"command_bus": "redis"})
