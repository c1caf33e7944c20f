"""Settings from a TOML file and CSMS_* variables (csms.config.load_settings)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from csms.config import (
    ApiSettings,
    AuthorizationSettings,
    BillingSettings,
    CertificateSettings,
    CitySettings,
    ClusterSettings,
    DatabaseSettings,
    FilesSettings,
    LoadSettings,
    LoggingSettings,
    ReportSettings,
    ResidentSettings,
    RetentionSettings,
    SafetyConfig,
    ServerSettings,
    Settings,
    SharingSettings,
    TransactionSettings,
    UnknownStationPolicy,
    UnknownTokenPolicy,
    load_settings,
)
from csms.config.platform import PlatformSettings
from csms.errors import ConfigError

pytestmark = pytest.mark.usefixtures("clean_env")

EXAMPLE = Path(__file__).resolve().parents[3] / "config.example.toml"
SECTIONS: dict[str, type[BaseModel]] = {
    "server": ServerSettings,
    "database": DatabaseSettings,
    "authorization": AuthorizationSettings,
    "api": ApiSettings,
    "cluster": ClusterSettings,
    "logging": LoggingSettings,
    "retention": RetentionSettings,
    "sharing": SharingSettings,
    "platform": PlatformSettings,
    "safety": SafetyConfig,
    "load": LoadSettings,
    "billing": BillingSettings,
    "transactions": TransactionSettings,
    "city": CitySettings,
    "reports": ReportSettings,
    "files": FilesSettings,
    "certificates": CertificateSettings,
    "resident": ResidentSettings,
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "csms.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path | None = None, **overrides: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, **overrides)
    return str(caught.value)


def example_keys() -> dict[str, set[str]]:
    """Keys per section in config.example.toml, commented-out ``# key = value`` included."""
    keys: dict[str, set[str]] = {}
    section = ""
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        header = re.fullmatch(r"\[(\w+)\]", line.strip())
        if header:
            section = header.group(1)
            keys.setdefault(section, set())
            continue
        setting = re.fullmatch(r"#?\s*(\w+)\s*=\s*\S.*", line.strip())
        if setting and section:
            keys[section].add(setting.group(1))
    return keys


class TestDefaults:
    def test_without_file(self) -> None:
        """No file, no variables: the documented defaults."""
        settings = load_settings()
        assert "0.0.0.0" == settings.server.host
        assert 9000 == settings.server.port
        assert "/" == settings.server.path_prefix
        assert "sqlite+aiosqlite:///./csms.db" == settings.database.url
        assert "FULL" == settings.database.sqlite_synchronous
        assert "info" == settings.logging.level

    def test_production_defaults_are_safe(self) -> None:
        """By default unknown charge points and unknown id tokens are refused."""
        settings = load_settings()
        assert UnknownStationPolicy.REJECT == settings.server.unknown_charge_points
        assert UnknownTokenPolicy.REJECT == settings.authorization.unknown_id_tokens
        assert 0 == settings.server.security_profile

    def test_settings_are_immutable(self) -> None:
        """Loaded settings cannot be changed afterwards."""
        settings = load_settings()
        with pytest.raises(ValidationError):
            settings.server.port = 1  # type: ignore[misc]


class TestFile:
    def test_values_from_toml(self, tmp_path: Path) -> None:
        """Values in the TOML file replace the defaults; others stay default."""
        path = write(tmp_path, """
[server]
host = "127.0.0.1"
port = 9100
unknown_charge_points = "pending"

[database]
url = "postgresql+asyncpg://csms@127.0.0.1:5432/csms"
pool_size = 10

[authorization]
unknown_id_tokens = "accept"
""")
        settings = load_settings(path)
        assert "127.0.0.1" == settings.server.host
        assert 9100 == settings.server.port
        assert UnknownStationPolicy.PENDING == settings.server.unknown_charge_points
        assert "postgresql+asyncpg://csms@127.0.0.1:5432/csms" == settings.database.url
        assert 10 == settings.database.pool_size
        assert UnknownTokenPolicy.ACCEPT == settings.authorization.unknown_id_tokens
        assert 30.0 == settings.server.ping_interval_s

    def test_empty_file(self, tmp_path: Path) -> None:
        """An empty file gives the defaults."""
        assert Settings() == load_settings(write(tmp_path, ""))

    def test_tls_paths(self, tmp_path: Path) -> None:
        """tls_cert_file and tls_key_file are paths."""
        path = write(tmp_path, '[server]\nsecurity_profile = 2\n'
                               'tls_cert_file = "/etc/csms/server.crt"\n'
                               'tls_key_file = "/etc/csms/server.key"\n')
        settings = load_settings(path)
        assert 2 == settings.server.security_profile
        assert Path("/etc/csms/server.crt") == settings.server.tls_cert_file
        assert Path("/etc/csms/server.key") == settings.server.tls_key_file

    def test_missing_file(self, tmp_path: Path) -> None:
        """A file that does not exist: ConfigError naming the path."""
        path = tmp_path / "nowhere.toml"
        message = config_error(path)
        assert str(path) in message
        assert "no such configuration file" in message

    def test_not_toml(self, tmp_path: Path) -> None:
        """A text file that is not TOML: ConfigError naming the path."""
        path = write(tmp_path, "server:\n  port: 9000\n")
        message = config_error(path)
        assert str(path) in message
        assert "not valid TOML" in message

    def test_binary_file_is_not_toml(self, tmp_path: Path) -> None:
        """A binary file (say, the SQLite database by mistake) is ConfigError, not a crash."""
        path = tmp_path / "csms.db"
        path.write_bytes(b"SQLite format 3\x00\x10\x00\x01\x01\x00@  \xff\xfe\x80")
        message = config_error(path)
        assert str(path) in message


class TestInvalidValues:
    @pytest.mark.parametrize("value", ["70000", "-1", '"nine thousand"', "9000.5"])
    def test_bad_port_names_the_key(self, tmp_path: Path, value: str) -> None:
        """An invalid port: ConfigError naming the file and server.port."""
        path = write(tmp_path, f"[server]\nport = {value}\n")
        message = config_error(path)
        assert f"{path}: server.port: " in message

    def test_unknown_key(self, tmp_path: Path) -> None:
        """A key the section does not have: "server.bogus: unknown key"."""
        message = config_error(write(tmp_path, "[server]\nbogus = 1\n"))
        assert "server.bogus: unknown key" in message

    def test_typo_is_not_silently_ignored(self, tmp_path: Path) -> None:
        """A misspelt key (heartbeat_interval) is an error, not a silent default."""
        message = config_error(write(tmp_path, "[server]\nheartbeat_interval = 60\n"))
        assert "server.heartbeat_interval: unknown key" in message

    def test_unknown_section(self, tmp_path: Path) -> None:
        """A section that does not exist: "tariffs: unknown key"."""
        message = config_error(write(tmp_path, '[tariffs]\ncurrency = "CNY"\n'))
        assert "tariffs: unknown key" in message

    def test_every_problem_is_listed(self, tmp_path: Path) -> None:
        """Several problems are all named in one message."""
        path = write(tmp_path, '[server]\nport = -5\nsecurity_profile = 4\n'
                               '[logging]\nlevel = "verbose"\n')
        message = config_error(path)
        assert "server.port" in message
        assert "server.security_profile" in message
        assert "logging.level" in message

    @pytest.mark.parametrize(
        ("toml", "key"),
        [
            ('[server]\nunknown_charge_points = "maybe"\n', "server.unknown_charge_points"),
            ("[server]\nheartbeat_interval_s = 5\n", "server.heartbeat_interval_s"),
            ("[server]\nping_interval_s = 0\n", "server.ping_interval_s"),
            ("[server]\nmax_message_bytes = 100\n", "server.max_message_bytes"),
            ('[database]\nsqlite_synchronous = "EXTRA"\n', "database.sqlite_synchronous"),
            ("[database]\npool_size = 0\n", "database.pool_size"),
            ('[authorization]\nunknown_id_tokens = "maybe"\n',
             "authorization.unknown_id_tokens"),
            ('[logging]\nformat = "xml"\n', "logging.format"),
        ],
    )
    def test_out_of_range_names_the_key(self, tmp_path: Path, toml: str, key: str) -> None:
        """A value outside its allowed set or range: ConfigError naming the key."""
        assert f"{key}: " in config_error(write(tmp_path, toml))

    def test_without_file_no_path_prefix_in_message(self) -> None:
        """Invalid overrides without a file: the message names the key alone."""
        message = config_error(None, server={"port": "x"})
        assert "\n  server.port: " in message


class TestPathPrefix:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [("/", "/"), ("/ocpp", "/ocpp/"), ("/ocpp/", "/ocpp/"), ("/a/b", "/a/b/")],
    )
    def test_normalised_with_trailing_slash(self, value: str, expected: str) -> None:
        """path_prefix always ends with exactly the slash it needs."""
        assert expected == load_settings(None, server={"path_prefix": value}).server.path_prefix

    @pytest.mark.parametrize("value", ["ocpp", "ocpp/", ""])
    def test_must_start_with_slash(self, value: str) -> None:
        """A path_prefix not starting with "/": ConfigError naming server.path_prefix."""
        assert "server.path_prefix: " in config_error(None, server={"path_prefix": value})


class TestDatabaseUrl:
    @pytest.mark.parametrize(
        "url",
        ["sqlite+aiosqlite:///./csms.db", "sqlite+aiosqlite:////var/lib/csms/csms.db",
         "postgresql+asyncpg://csms:secret@db.local:5432/csms"],
    )
    def test_async_drivers_accepted(self, url: str) -> None:
        """aiosqlite and asyncpg URLs are accepted as they are."""
        assert url == load_settings(None, database={"url": url}).database.url

    @pytest.mark.parametrize(
        "url",
        ["sqlite:///./csms.db", "postgresql://csms@127.0.0.1/csms",
         "postgresql+psycopg2://csms@127.0.0.1/csms", "mysql+aiomysql://u@h/db", "csms.db"],
    )
    def test_sync_or_other_drivers_refused(self, url: str) -> None:
        """A URL without an async driver we support: ConfigError naming database.url."""
        assert "database.url: " in config_error(None, database={"url": url})


class TestEnvironment:
    def test_port_from_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """CSMS_SERVER__PORT sets server.port."""
        monkeypatch.setenv("CSMS_SERVER__PORT", "9001")
        assert 9001 == load_settings().server.port

    def test_environment_wins_over_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A variable overrides the file's key; the file's other keys in the section stay."""
        path = write(tmp_path, '[server]\nhost = "127.0.0.1"\nport = 9100\n')
        monkeypatch.setenv("CSMS_SERVER__PORT", "9001")
        settings = load_settings(path)
        assert 9001 == settings.server.port
        assert "127.0.0.1" == settings.server.host

    def test_other_sections(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Variables reach every section: database, authorization, logging."""
        monkeypatch.setenv("CSMS_DATABASE__URL", "postgresql+asyncpg://u@127.0.0.1/csms")
        monkeypatch.setenv("CSMS_AUTHORIZATION__UNKNOWN_ID_TOKENS", "accept")
        monkeypatch.setenv("CSMS_LOGGING__LEVEL", "debug")
        settings = load_settings()
        assert "postgresql+asyncpg://u@127.0.0.1/csms" == settings.database.url
        assert UnknownTokenPolicy.ACCEPT == settings.authorization.unknown_id_tokens
        assert "debug" == settings.logging.level

    def test_invalid_variable_names_the_key(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An invalid CSMS_SERVER__PORT: ConfigError naming server.port."""
        monkeypatch.setenv("CSMS_SERVER__PORT", "ninety")
        assert "server.port: " in config_error()

    def test_unknown_variable_key(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """CSMS_SERVER__BOGUS is an unknown key, like in the file."""
        monkeypatch.setenv("CSMS_SERVER__BOGUS", "1")
        assert "server.bogus: unknown key" in config_error()

    @pytest.mark.parametrize("profile", [0, 1, 2])
    def test_security_profile_from_environment(
        self, monkeypatch: pytest.MonkeyPatch, profile: int
    ) -> None:
        """CSMS_SERVER__SECURITY_PROFILE=1 (the README's example) gives profile 1: the text
        is coerced to the key's type, a Literal of integers."""
        monkeypatch.setenv("CSMS_SERVER__SECURITY_PROFILE", str(profile))
        monkeypatch.setenv("CSMS_SERVER__TLS_CERT_FILE", "cert.pem")
        monkeypatch.setenv("CSMS_SERVER__TLS_KEY_FILE", "key.pem")
        assert profile == load_settings().server.security_profile

    def test_text_keys_stay_text(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A value that reads as a number stays text where the key is text."""
        monkeypatch.setenv("CSMS_SERVER__HOST", "1")
        monkeypatch.setenv("CSMS_API__ENABLED", "false")
        settings = load_settings()
        assert "1" == settings.server.host
        assert settings.api.enabled is False

    def test_an_invalid_variable_is_named_not_the_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A bad value from the environment names the variable; the file is not blamed."""
        path = write(tmp_path, '[server]\nport = 9100\n')
        monkeypatch.setenv("CSMS_SERVER__SECURITY_PROFILE", "7")
        message = config_error(path)
        assert "CSMS_SERVER__SECURITY_PROFILE (environment): server.security_profile:" in message
        assert f"{path}: server.security_profile" not in message

    def test_path_prefix_from_environment_normalised(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A path prefix from the environment is normalised like one from the file."""
        monkeypatch.setenv("CSMS_SERVER__PATH_PREFIX", "/ocpp")
        assert "/ocpp/" == load_settings().server.path_prefix


class TestOverrides:
    def test_override_merges_with_file(self, tmp_path: Path) -> None:
        """Keyword overrides replace single keys and keep the file's other keys."""
        path = write(tmp_path, '[server]\nhost = "127.0.0.1"\nport = 9100\n')
        settings = load_settings(path, server={"port": 0})
        assert 0 == settings.server.port
        assert "127.0.0.1" == settings.server.host

    def test_override_adds_section(self) -> None:
        """An override for a section the file lacks applies."""
        assert "debug" == load_settings(None, logging={"level": "debug"}).logging.level


class TestExample:
    def test_example_loads(self) -> None:
        """config.example.toml at the repository root is a valid configuration."""
        settings = load_settings(EXAMPLE)
        assert UnknownStationPolicy.ACCEPT == settings.server.unknown_charge_points

    def test_every_example_key_is_a_setting(self) -> None:
        """Every key in the example, commented-out ones included, is a known setting."""
        keys = example_keys()
        assert set(SECTIONS) == set(keys)
        for section, names in keys.items():
            assert set() == names - set(SECTIONS[section].model_fields), section

    def test_every_setting_is_documented(self) -> None:
        """Every setting appears in the example (rule 1: every key is documented)."""
        keys = example_keys()
        for section, model in SECTIONS.items():
            assert set() == set(model.model_fields) - keys.get(section, set()), section

    def test_example_values_are_the_defaults(self) -> None:
        """Values shown are the defaults, except the keys marked DEVELOPMENT."""
        with EXAMPLE.open("rb") as file:
            data = tomllib.load(file)
        assert "accept" == data["server"].pop("unknown_charge_points")
        assert "accept" == data["authorization"].pop("unknown_id_tokens")
        assert Settings() == Settings(**data)
