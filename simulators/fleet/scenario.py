"""Scenario files for ``csms-sim``: a TOML file of CLI options, read into a :class:`Scenario`.

A scenario's keys are the CLI's options with ``_`` for ``-`` (``meter_interval_s`` is
``--meter-interval-s``), plus an optional free-text ``description``. Every key is optional;
``csms-sim --scenario PATH`` takes the file's values as defaults and an option given on the
command line wins. Example scenarios ship in ``simulators/scenarios/``::

    csms-sim --scenario simulators/scenarios/evening-peak-30.toml --url ws://csms:9000/

Rules:
1. An unknown key, a value of the wrong type (``count = "30"``) or out of range
   (``count = 0``) is a :class:`ScenarioError` naming the key; nothing is coerced.
2. Checks that need several options at once (``sessions = 0`` needs ``duration_s``) are the
   CLI's, made after the command line is merged in.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from csms.handlers.timefmt import parse_time
from simulators.behaviour.faults import FaultKind, parse_fault


class ScenarioError(ValueError):
    """A scenario file that cannot be read or is invalid; the message names file and key."""


class _ScenarioModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    description: str | None = None
    url: str | None = None
    count: int | None = Field(default=None, gt=0)
    version: Literal["1.6", "2.0.1", "mixed"] | None = None
    id_pattern: str | None = None
    id_tag_pattern: str | None = None
    password: str | None = None
    connectors: int | None = Field(default=None, gt=0)
    sessions: int | None = Field(default=None, ge=0)
    samples: int | None = Field(default=None, ge=0)
    meter_interval_s: float | None = Field(default=None, gt=0)
    duration_s: float | None = Field(default=None, gt=0)
    ramp_per_s: float | None = Field(default=None, gt=0)
    seed: int | None = None
    call_timeout_s: float | None = Field(default=None, gt=0)
    log_level: Literal["debug", "info", "warning", "error"] | None = None
    log_format: Literal["auto", "json", "console"] | None = None
    speed: float | None = Field(default=None, gt=0)
    grace_s: float | None = Field(default=None, gt=0)
    start: str | None = None
    ev_arrival_window_s: float | None = Field(default=None, ge=0)
    ev_dwell_min_s: float | None = Field(default=None, gt=0)
    ev_dwell_max_s: float | None = Field(default=None, gt=0)
    faults: list[str] | None = None
    fault_kinds: list[str] | None = None
    fault_rate_per_h: float | None = Field(default=None, ge=0)
    fault_clear_after_s: float | None = Field(default=None, gt=0)
    reconnect: bool | None = None
    progress_s: float | None = Field(default=None, ge=0)

    @field_validator("start")
    @classmethod
    def _start_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_time(value)
        return value

    @field_validator("faults")
    @classmethod
    def _faults_parse(cls, value: list[str] | None) -> list[str] | None:
        for text in value or []:
            spec, _, station = text.partition("#")
            parse_fault(spec)
            if station and not station.isdigit():
                raise ValueError(f"fault {text!r}: #STATION is a station number")
        return value

    @field_validator("fault_kinds")
    @classmethod
    def _kinds_known(cls, value: list[str] | None) -> list[str] | None:
        for kind in value or []:
            FaultKind(kind)
        return value

    @field_validator("id_pattern", "id_tag_pattern")
    @classmethod
    def _formats_with_n(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                value.format(n=1)
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"must format with n only: {exc!r}") from exc
        return value


@dataclass(frozen=True, slots=True)
class Scenario:
    """A scenario file's options; ``None``: not set in the file (the CLI default applies)."""

    description: str | None = None
    url: str | None = None
    count: int | None = None
    version: str | None = None
    id_pattern: str | None = None
    id_tag_pattern: str | None = None
    password: str | None = None
    connectors: int | None = None
    sessions: int | None = None
    samples: int | None = None
    meter_interval_s: float | None = None
    duration_s: float | None = None
    ramp_per_s: float | None = None
    seed: int | None = None
    call_timeout_s: float | None = None
    log_level: str | None = None
    log_format: str | None = None
    speed: float | None = None
    grace_s: float | None = None
    start: str | None = None
    ev_arrival_window_s: float | None = None
    ev_dwell_min_s: float | None = None
    ev_dwell_max_s: float | None = None
    faults: tuple[str, ...] | None = None
    fault_kinds: tuple[str, ...] | None = None
    fault_rate_per_h: float | None = None
    fault_clear_after_s: float | None = None
    reconnect: bool | None = None
    progress_s: float | None = None

    def options(self) -> dict[str, Any]:
        """The options the file sets, keyed like the CLI's argparse destinations."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in asdict(self).items()
            if value is not None and key != "description"
        }


def parse_scenario(data: dict[str, Any], *, source: str = "scenario") -> Scenario:
    """A :class:`Scenario` from already-parsed TOML data (rule 1)."""
    try:
        model = _ScenarioModel.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"]) or "(top level)"
            if error["type"] == "extra_forbidden":
                problems.append(f"unknown key {key!r}")
            else:
                problems.append(f"{key!r}: {error['msg']}")
        raise ScenarioError(f"{source}: " + "; ".join(problems)) from None
    fields = model.model_dump()
    for key in ("meter_interval_s", "duration_s", "ramp_per_s", "call_timeout_s", "speed",
                "ev_arrival_window_s", "ev_dwell_min_s", "ev_dwell_max_s", "fault_rate_per_h",
                "fault_clear_after_s", "progress_s", "grace_s"):
        if fields[key] is not None:
            fields[key] = float(fields[key])
    for key in ("faults", "fault_kinds"):
        if fields[key] is not None:
            fields[key] = tuple(fields[key])
    return Scenario(**fields)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate the scenario file at ``path``."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    return parse_scenario(data, source=str(path))


def shipped_scenarios() -> list[Path]:
    """The example scenario files installed with the package, sorted by name."""
    folder = resources.files("simulators") / "scenarios"
    return sorted(
        Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(".toml")
    )
