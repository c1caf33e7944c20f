"""Tariff and package input as the API and the command line take it (pydantic), checked by
the pure core, and turned into the store's specs.

Rules:
1. Prices are decimal yuan per kWh (a JSON/TOML string or number; never binary floats
   inside: numbers go through ``str``); at most 6 decimal places, not negative.
2. A tariff is checked by building the pure :class:`~csms.tariffs.model.TariffVersion`
   (unknown zone, a window that wraps midnight, ...): a bad one is a validation error naming
   the field, never a stored tariff that fails at pricing time.
3. A TOML tariff file holds the same fields as the API body, without its community or site
   (given on the command line).
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from csms.clock import iana_zone
from csms.errors import ConfigError
from csms.store.billing.admin import PackageSpec, ScheduleSpec, SegmentSpec, TariffSpec
from csms.tariffs.model import DayType, Period, TariffVersion, TouRate, TouSchedule
from csms.tariffs.packages import Coverage

Yuan = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=6, allow_inf_nan=False)]
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2, allow_inf_nan=False)]
Kwh = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=3, allow_inf_nan=False)]
MAX_ID = 2**31 - 1


def _clock(value: Any) -> time:
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        raise ValueError('must be a wall time "HH:MM" (00:00 as an end means midnight)')
    return time(int(value[:2]), int(value[3:]))


class SegmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: time = Field(description='local wall time "HH:MM", inclusive')
    end: time = Field(description='local wall time "HH:MM", exclusive; "00:00" = midnight')
    period: Period
    yuan_per_kwh: Yuan
    day_types: list[DayType] = Field(default_factory=lambda: list(DayType), min_length=1)

    _times = field_validator("start", "end", mode="before")(_clock)


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_yuan_per_kwh: Yuan
    default_period: Period = Period.FLAT
    segments: list[SegmentIn] = Field(default_factory=list, max_length=48)

    def pure(self) -> TouSchedule:
        return TouSchedule(self.default_yuan_per_kwh, self.default_period, tuple(
            TouRate(s.start, s.end, s.period, s.yuan_per_kwh, frozenset(s.day_types))
            for s in self.segments))

    def spec(self) -> ScheduleSpec:
        return ScheduleSpec(self.default_yuan_per_kwh, self.default_period.value, tuple(
            SegmentSpec(s.start, s.end, s.period.value, s.yuan_per_kwh,
                        tuple(d.value for d in s.day_types)) for s in self.segments))


class TariffBody(BaseModel):
    """A tariff version without its place (Rule 3)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    zone: str = Field(default="Asia/Shanghai", max_length=64)
    currency: str = Field(default="CNY", pattern="^CNY$")
    effective_from: AwareDatetime
    electricity: ScheduleIn
    service: ScheduleIn
    holidays: list[date] = Field(default_factory=list, max_length=400)
    workdays: list[date] = Field(default_factory=list, max_length=400)

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return iana_zone(value)

    @model_validator(mode="after")
    def _pure(self) -> TariffBody:
        try:
            TariffVersion(self.name, self.effective_from, self.zone, self.electricity.pure(),
                          self.service.pure())
        except ValueError as exc:
            raise ValueError(f"not a valid tariff: {exc}") from None
        return self

    def spec(self, community_id: int | None, site_id: int | None) -> TariffSpec:
        return TariffSpec(
            name=self.name, effective_from=self.effective_from, zone=self.zone,
            electricity=self.electricity.spec(), service=self.service.spec(),
            community_id=community_id, site_id=site_id,
            holidays=tuple(d.isoformat() for d in self.holidays),
            workdays=tuple(d.isoformat() for d in self.workdays))


class PackageBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9._-]+$",
                      description="the product; a second package with a code is its next "
                                  "version")
    name: str = Field(min_length=1, max_length=100)
    price_yuan: Money
    included_kwh: Kwh
    coverage: Coverage = Coverage.BOTH
    periods: list[Period] | None = Field(default=None, min_length=1, description=(
        "tariff periods the package covers (e.g. [\"valley\"]); null: any time"))
    communities: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(min_length=1,
                                                                     max_length=1000)
    zone: str = Field(default="Asia/Shanghai", max_length=64)

    _zone = field_validator("zone")(TariffBody._zone.__func__)  # type: ignore[attr-defined]

    def spec(self) -> PackageSpec:
        return PackageSpec(self.code, self.name, self.price_yuan, self.included_kwh,
                           self.coverage.value, tuple(self.communities),
                           tuple(p.value for p in self.periods) if self.periods else None,
                           self.zone)


def load_tariff_file(path: Path, *, community_id: int | None = None,
                     site_id: int | None = None) -> TariffSpec:
    """A tariff version from a TOML file (Rule 3).

    Raises:
        ConfigError: the file cannot be read or a field is wrong (named in the message).
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if isinstance(data.get("effective_from"), datetime):
        data["effective_from"] = data["effective_from"].isoformat()
    try:
        body = TariffBody.model_validate(data)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return body.spec(community_id, site_id)
