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
from decimal import Decimal
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

from csms.clock import iana_zone
from csms.config.env import CoercedEnvSource, source_of, variables

# Sections kept in modules of their own, re-exported: csms.config stays the one import.
from csms.config.load import LoadSettings as LoadSettings
from csms.config.platform import PlatformSettings
from csms.config.safety import ProtectiveAction as ProtectiveAction
from csms.config.safety import RetentionSettings as RetentionSettings
from csms.config.safety import SafetyConfig as SafetyConfig
from csms.config.safety import SharingSettings as SharingSettings
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
    # Reverse proxies (addresses or networks) whose X-Forwarded-For names the client, for
    # the guessing throttle and the logs, on the OCPP port and the API (whose X-Forwarded-
    # Proto then also decides the console's Secure cookie); empty: trust no header.
    trusted_proxies: list[str] = []
    path_prefix: str = "/"
    unknown_charge_points: UnknownStationPolicy = UnknownStationPolicy.REJECT
    # 0: none; 1: Basic auth; 2: TLS + Basic auth; 3: TLS + client certificates (the lowest
    # profile the server accepts; a charge point's own recorded profile may be higher).
    security_profile: Literal[0, 1, 2, 3] = 0
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    # Below profile 2, a second listener with TLS (wss://) beside the plain ``port``: chargers
    # move up to profile 2 on it (SetNetworkProfile / 1.6 SecurityProfile) and are held there.
    tls_port: int | None = Field(default=None, ge=0, le=65535)
    # A second certificate of the other key type (RSA beside ECDSA): csms.handlers.tls.
    tls_cert_file_2: Path | None = None
    tls_key_file_2: Path | None = None
    # The CA charge-point certificates must chain to (security profile 3).
    tls_client_ca_file: Path | None = None
    # Failed Basic-auth attempts: per charge point id and per source address, a bucket of
    # this many failures refilled one per auth_failure_refill_s (csms.domain.throttle).
    auth_failures_per_id: int = Field(default=10, ge=1)
    auth_failures_per_address: int = Field(default=30, ge=1)
    auth_failure_refill_s: float = Field(default=30.0, gt=0)
    ping_interval_s: float = Field(default=30.0, gt=0)
    ping_timeout_s: float = Field(default=30.0, gt=0)
    heartbeat_interval_s: int = Field(default=300, ge=10)
    max_message_bytes: int = Field(default=65536, ge=1024)
    call_timeout_s: float = Field(default=30.0, gt=0)
    command_queue_size: int = Field(default=64, ge=1)
    remote_start_match_s: float = Field(default=180.0, gt=0)
    clock_tolerance_s: float = Field(default=300.0, gt=0)
    clock_anomaly_events: bool = True
    gc_interval_s: float = Field(default=60.0, gt=0)
    # The event loop every command runs on: Python's own, or uvloop (libuv; a drop-in that
    # answers more calls per core: bench/README.md).
    event_loop: Literal["asyncio", "uvloop"] = "asyncio"

    @model_validator(mode="after")
    def _tls_files(self) -> ServerSettings:
        if self.security_profile >= 2 and self.tls_cert_file is None:
            raise ValueError(f"security_profile {self.security_profile} needs tls_cert_file"
                             " and tls_key_file")
        for cert, key, name in ((self.tls_cert_file, self.tls_key_file, "tls_key_file"),
                                (self.tls_cert_file_2, self.tls_key_file_2,
                                 "tls_key_file_2")):
            if (cert is None) != (key is None):
                raise ValueError(f"{name} and its certificate file go together")
        if self.security_profile == 3 and self.tls_client_ca_file is None:
            raise ValueError("security_profile 3 needs tls_client_ca_file")
        if self.tls_port is not None and self.tls_cert_file is None:
            raise ValueError("tls_port needs tls_cert_file and tls_key_file")
        if self.tls_port is not None and self.security_profile >= 2:
            raise ValueError("tls_port is only for security_profile 0 or 1 (from 2 on, port"
                             " itself is TLS)")
        return self

    @field_validator("path_prefix")
    @classmethod
    def _slashed(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value if value.endswith("/") else value + "/"

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        from csms.handlers.forwarded import networks

        networks(value)
        return value


class DatabaseSettings(_Section):
    url: str = "sqlite+aiosqlite:///./csms.db"
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL"] = "FULL"
    # SQLite: copy the write-ahead log into the database file every this many seconds, in a
    # thread of its own (csms.store.checkpoint), instead of inside whichever commit crosses
    # 1,000 log pages; 0: SQLite's own checkpoints in the commit.
    sqlite_checkpoint_interval_s: float = Field(default=1.0, ge=0)
    commit_batch_max: int = Field(default=512, ge=1)
    pool_size: int = Field(default=5, ge=1)
    migrate_on_start: bool = True
    # PostgreSQL: a statement (or a connection attempt) not answered within this long fails,
    # so a node behind a silent partition stops waiting (and acknowledging) instead of
    # hanging until the kernel gives up on the socket; 0: no limit.
    statement_timeout_s: float = Field(default=30.0, ge=0)
    # PostgreSQL: the server ends a session of ours that sits this long inside a transaction
    # without a statement (idle_in_transaction_session_timeout), so a node cut off mid-commit
    # does not keep its row locks and stall the other nodes' writes on them; 0: no limit.
    idle_in_transaction_timeout_s: float = Field(default=10.0, ge=0)

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
    metrics_token: str | None = Field(default=None, min_length=16)


class ClusterSettings(_Section):
    """Several CSMS nodes on one PostgreSQL database (csms.services.commands.bus)."""

    command_bus: Literal["local", "postgres"] = "local"
    claim_timeout_s: float = Field(default=2.0, gt=0)
    # This node's name in every log line and in metrics (csms_node_info); default
    # "<host name>-<process id>", which is unique but changes on restart.
    node_name: str | None = Field(default=None, min_length=1, max_length=60,
                                  pattern=r"^[A-Za-z0-9._-]+$")

    def node(self) -> str:
        """The node's name: ``node_name``, else host name and process id."""
        if self.node_name is not None:
            return self.node_name
        import os
        import socket
        return f"{socket.gethostname()}-{os.getpid()}"


class LoggingSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class TransactionSettings(_Section):
    """What makes a charger's transaction data suspect (csms.domain.transactions)."""

    # The most a charger of this network can deliver (W): energy beyond it over a session's
    # time flags the session for review, and a start register the next reading cannot be
    # reached from is replaced (a 2.0.1 offline Started with Transaction.Begin = 0).
    max_power_w: float = Field(default=150_000.0, gt=0)


class BillingSettings(_Section):
    """``[billing]``: prepaid wallets and cost display (csms.services.billing.service)."""

    enabled: bool = True
    # Authorize and transaction starts get NoCredit (1.6: Blocked) below this wallet balance
    # when the resident has no package kWh left; none: no credit check.
    min_balance_yuan: Decimal | None = Field(default=None, ge=0, max_digits=12,
                                             decimal_places=2)
    # How far a session charge may take a wallet below zero (0: prepaid only).
    credit_floor_yuan: Decimal = Field(default=Decimal("0"), le=0, max_digits=12,
                                       decimal_places=2)
    # 2.0.1 CostUpdated while a session runs, at most once per this many seconds (0: off).
    cost_update_interval_s: float = Field(default=300.0, ge=0)
    # 1.6 chargers that show cost (California pricing DataTransfer RunningCost/FinalCost).
    show_cost_charge_points: tuple[str, ...] = ()


class CitySettings(_Section):
    """``[city]``: what the city plan asks of the operator (csms.city)."""

    # Every community should have a public charging site within this distance (m).
    service_radius_m: float = Field(default=1000.0, ge=1, le=100_000)


class FilesSettings(_Section):
    """``[files]``: firmware served to chargers and logs they upload (csms.services.files)."""

    directory: Path = Path("./csms-files")
    # The base URL chargers reach the HTTP API at (firmware downloads, log uploads); none:
    # http://<api.host>:<api port> (set it when api.host is 0.0.0.0 or behind a proxy).
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    firmware_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    upload_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    upload_url_valid_s: float = Field(default=24 * 3600.0, gt=0)
    rollout_wave_size: int = Field(default=10, ge=1)
    rollout_failure_threshold: int = Field(default=0, ge=0)
    firmware_timeout_s: float = Field(default=3600.0, gt=0)
    rollout_tick_s: float = Field(default=5.0, gt=0)
    run_rollouts: bool = True  # with several nodes: true on one node only


class ReportSettings(_Section):
    """``[reports]``: the monthly district report's scheduler
    (csms.services.city.monthly_reports)."""

    enabled: bool = True
    # The previous month's reports are generated on this day of the month (1-28) at this
    # local hour, in this zone (also the zone of the report's calendar months).
    monthly_day: int = Field(default=20, ge=1, le=28)
    hour: int = Field(default=2, ge=0, le=23)
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return iana_zone(value)


class CertificateSettings(_Section):
    """``[certificates]``: the CSMS-run certificate authority (csms.services.certificates)."""

    enabled: bool = False
    ca_cert_file: Path | None = None  # PEM; created by `csms ca init`
    ca_key_file: Path | None = None  # PEM private key, readable by its owner only
    ca_key_passphrase: str | None = Field(default=None, min_length=1, repr=False)
    organization: str | None = None  # the subject O a charger's CSR must carry
    validity_days: int = Field(default=365, ge=1, le=36500)
    renew_before_days: int = Field(default=30, ge=0, le=36500)
    watch_interval_s: float = Field(default=3600.0, gt=0)
    run_watch: bool = True  # with several nodes: true on one node only
    rsa_min_bits: int = Field(default=2048, ge=2048)
    ec_curves: tuple[str, ...] = ("secp256r1", "secp384r1")
    crl_file: Path | None = None  # rewritten after each revocation
    crl_next_update_days: int = Field(default=7, ge=1)
    # ISO 15118 (2.0.1 Get15118EVCertificate): a directory of prepared answers, one file
    # <sha256 of the exiRequest, hex>.b64 holding the Base64 exiResponse; none: Failed.
    ev_certificate_responses: Path | None = None

    @model_validator(mode="after")
    def _files_when_enabled(self) -> CertificateSettings:
        if self.enabled and (self.ca_cert_file is None or self.ca_key_file is None):
            missing = "ca_cert_file" if self.ca_cert_file is None else "ca_key_file"
            raise ValueError(f"certificates.{missing} is needed when certificates.enabled")
        return self
class ResidentSettings(_Section):
    """``[resident]``: the resident page behind each charger's QR code (csms.resident)."""

    # The base URL residents' phones reach the HTTP API at (the QR codes point there); none:
    # files.public_url, else http://<api.host>:<api port>.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    # Signs the resident's page cookie; none: a random key per process (a restart signs
    # every resident out). Set the same one on every node behind one address.
    cookie_secret: str | None = Field(default=None, min_length=32)
    session_minutes: float = Field(default=15.0, gt=0, le=24 * 60)
    # Wrong PINs: per card and per source address, a bucket of this many failures refilled
    # one per pin_failure_refill_s (csms.domain.throttle); a locked one gets 429.
    pin_failures_per_card: int = Field(default=5, ge=1)
    pin_failures_per_address: int = Field(default=20, ge=1)
    pin_failure_refill_s: float = Field(default=60.0, gt=0)
    # Starts and stops per card and per source address: buckets of this many, refilled one
    # per action_refill_s.
    actions_per_card: int = Field(default=6, ge=1)
    actions_per_address: int = Field(default=30, ge=1)
    action_refill_s: float = Field(default=30.0, gt=0)


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
    cluster: ClusterSettings = ClusterSettings()
    logging: LoggingSettings = LoggingSettings()
    retention: RetentionSettings = RetentionSettings()
    sharing: SharingSettings = SharingSettings()
    safety: SafetyConfig = SafetyConfig()
    load: LoadSettings = LoadSettings()
    billing: BillingSettings = BillingSettings()
    transactions: TransactionSettings = TransactionSettings()
    city: CitySettings = CitySettings()
    reports: ReportSettings = ReportSettings()
    files: FilesSettings = FilesSettings()
    certificates: CertificateSettings = CertificateSettings()
    resident: ResidentSettings = ResidentSettings()
    platform: PlatformSettings = PlatformSettings()  # csms.config.platform

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
        return (CoercedEnvSource(settings_cls, env_settings), init_settings)


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
    from_env = variables()
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        variable = source_of(error["loc"], from_env)
        origin = where if variable is None else f"{variable} (environment): "
        problems.append(f"{origin}{key}: {message}")
    return "invalid configuration:\n  " + "\n  ".join(problems)
