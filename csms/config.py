"""Settings: a TOML file overridden by ``CSMS_*`` environment variables.

Rules:
1. Every key is documented in ``config.example.toml``; an unknown key is an error, so a typo
   never silently falls back to a default.
2. Nested keys map to environment variables with a double underscore:
   ``[server] port`` is ``CSMS_SERVER__PORT``.
3. Production defaults are the safe ones: unknown charge points are rejected, unknown id
   tokens are refused.
"""

from __future__ import annotations

import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from csms.errors import ConfigError


class UnknownStationPolicy(StrEnum):
    """What to do with a charge point id the CSMS has never seen."""

    REJECT = "reject"
    PENDING = "pending"
    ACCEPT = "accept"


class UnknownTokenPolicy(StrEnum):
    """How Authorize answers for an id token that is not in the id-token table."""

    REJECT = "reject"
    ACCEPT = "accept"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Section):
    host: str = "0.0.0.0"
    port: int = Field(default=9000, ge=0, le=65535)
    path_prefix: str = "/"
    unknown_charge_points: UnknownStationPolicy = UnknownStationPolicy.REJECT
    security_profile: Literal[0, 1, 2] = 0
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    ping_interval_s: float = Field(default=30.0, gt=0)
    ping_timeout_s: float = Field(default=30.0, gt=0)
    heartbeat_interval_s: int = Field(default=300, ge=10)
    max_message_bytes: int = Field(default=65536, ge=1024)
    call_timeout_s: float = Field(default=30.0, gt=0)
    command_queue_size: int = Field(default=64, ge=1)

    @field_validator("path_prefix")
    @classmethod
    def _slashed(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value if value.endswith("/") else value + "/"


class DatabaseSettings(_Section):
    url: str = "sqlite+aiosqlite:///./csms.db"
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL"] = "FULL"
    commit_batch_max: int = Field(default=512, ge=1)
    pool_size: int = Field(default=5, ge=1)
    migrate_on_start: bool = True

    @field_validator("url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "must be a sqlite+aiosqlite:// or postgresql+asyncpg:// URL"
            )
        return value


class AuthorizationSettings(_Section):
    unknown_id_tokens: UnknownTokenPolicy = UnknownTokenPolicy.REJECT


class ApiSettings(_Section):
    enabled: bool = True
    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=0, le=65535)
    page_size_max: int = Field(default=500, ge=1)


class ClusterSettings(_Section):
    """Several CSMS nodes on one PostgreSQL database (csms.services.command_bus)."""

    command_bus: Literal["local", "postgres"] = "local"
    claim_timeout_s: float = Field(default=2.0, gt=0)


class LoggingSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class Settings(BaseSettings):
    """The whole configuration; build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="CSMS_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    authorization: AuthorizationSettings = AuthorizationSettings()
    api: ApiSettings = ApiSettings()
    logging: LoggingSettings = LoggingSettings()
    cluster: ClusterSettings = ClusterSettings()

    @model_validator(mode="after")
    def _bus_needs_postgres(self) -> Settings:
        if self.cluster.command_bus == "postgres" and not self.database.url.startswith(
            "postgresql"
        ):
            raise ValueError(
                "cluster.command_bus = 'postgres' needs database.url on PostgreSQL"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first (wins), then what load_settings read from the TOML file.
        return (env_settings, init_settings)


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read ``path`` (TOML), apply ``CSMS_*`` variables and ``overrides``.

    Raises:
        ConfigError: the file is missing or not TOML, or a key is unknown or invalid; the
            message names the key (``server.port``) and the problem.
    """
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"{path}: no such configuration file") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc)) from exc


def _describe(path: Path | None, exc: ValidationError) -> str:
    where = f"{path}: " if path else ""
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        problems.append(f"{where}{key}: {message}")
    return "invalid configuration:\n  " + "\n  ".join(problems)
