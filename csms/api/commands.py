"""Request and answer bodies of the command endpoints, and their domain equivalents.

Rules:
1. One request model per command; ``command()`` gives the version-neutral domain command.
   What a version cannot express is refused later, by translation (422 at the endpoint).
2. Answers are the domain results as JSON, field for field.
3. Unknown fields are refused (422), so a misspelt option is never silently ignored.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from csms.domain import commands as c
from csms.domain.model import IdToken

RateUnit = Literal["A", "W"]
MAX_TIMEOUT_S = 120.0


class CommandIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timeout_s: float | None = Field(
        default=None, gt=0, le=MAX_TIMEOUT_S,
        description="how long to wait for the charger's answer; default server.call_timeout_s")

    def command(self) -> c.Command:
        raise NotImplementedError


class SettingKeyModel(BaseModel):
    """A 1.6 configuration key (``variable`` only) or a 2.0.1 component and variable."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)

    variable: str = Field(min_length=1, max_length=50)
    component: str | None = Field(default=None, max_length=50)
    instance: str | None = Field(default=None, max_length=50)
    evse_id: int | None = Field(default=None, ge=0)

    def key(self) -> c.SettingKey:
        return c.SettingKey(self.variable, self.component, self.instance, self.evse_id)


class SchedulePeriodModel(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    start_s: int = Field(ge=0, description="seconds from the schedule's start")
    limit: float = Field(ge=0, description="in the schedule's rate_unit")
    number_phases: int | None = Field(default=None, ge=1, le=3)


class ChargingScheduleModel(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    rate_unit: RateUnit
    periods: list[SchedulePeriodModel] = Field(min_length=1)
    duration_s: int | None = Field(default=None, ge=0)
    start_at: AwareDatetime | None = None
    min_rate: float | None = Field(default=None, ge=0)

    def schedule(self) -> c.ChargingSchedule:
        periods = tuple(c.SchedulePeriod(p.start_s, p.limit, p.number_phases)
                        for p in self.periods)
        return c.ChargingSchedule(self.rate_unit, periods, self.duration_s, self.start_at,
                                  self.min_rate)


class ChargingProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile_id: int
    stack_level: int = Field(ge=0)
    purpose: c.ProfilePurpose
    kind: c.ProfileKind = c.ProfileKind.ABSOLUTE
    schedule: ChargingScheduleModel
    recurrency: Literal["Daily", "Weekly"] | None = None
    valid_from: AwareDatetime | None = None
    valid_to: AwareDatetime | None = None
    transaction_id: str | None = Field(default=None, max_length=36,
                                       description="for a TxProfile: the transaction")

    def profile(self) -> c.ChargingProfile:
        return c.ChargingProfile(
            self.profile_id, self.stack_level, self.purpose, self.kind,
            self.schedule.schedule(), self.recurrency, self.valid_from, self.valid_to,
            self.transaction_id,
        )


class RemoteStartIn(CommandIn):
    id_token: str = Field(min_length=1, max_length=36)
    id_token_type: str = Field(default="ISO14443", description="2.0.1 IdTokenEnumType")
    evse_id: int | None = Field(default=None, ge=1)
    remote_start_id: int = 1
    charging_profile: ChargingProfileIn | None = None

    def command(self) -> c.RemoteStart:
        profile = None if self.charging_profile is None else self.charging_profile.profile()
        return c.RemoteStart(IdToken(self.id_token, self.id_token_type), self.evse_id,
                             self.remote_start_id, profile)


class RemoteStopIn(CommandIn):
    transaction_id: str = Field(min_length=1, max_length=36,
                                description="the session's transaction_id")

    def command(self) -> c.RemoteStop:
        return c.RemoteStop(self.transaction_id)


class ResetIn(CommandIn):
    kind: c.ResetKind = c.ResetKind.SOFT

    def command(self) -> c.Reset:
        return c.Reset(self.kind)


class ChangeAvailabilityIn(CommandIn):
    evse_id: int = Field(ge=0, description="0: the whole charge point")
    operative: bool
    connector_id: int | None = Field(default=None, ge=1)

    def command(self) -> c.ChangeAvailability:
        return c.ChangeAvailability(self.evse_id, self.operative, self.connector_id)


class UnlockIn(CommandIn):
    evse_id: int = Field(ge=1)
    connector_id: int = Field(default=1, ge=1)

    def command(self) -> c.UnlockConnector:
        return c.UnlockConnector(self.evse_id, self.connector_id)


class TriggerMessageIn(CommandIn):
    message: c.TriggerableMessage
    evse_id: int | None = Field(default=None, ge=0)

    def command(self) -> c.TriggerMessage:
        return c.TriggerMessage(self.message, self.evse_id)


class GetConfigurationIn(CommandIn):
    keys: list[SettingKeyModel] = Field(
        default_factory=list, description="empty: every key (1.6 only)")

    def command(self) -> c.GetSettings:
        return c.GetSettings(tuple(k.key() for k in self.keys))


class SetConfigurationIn(CommandIn):
    key: SettingKeyModel
    value: str = Field(max_length=1000)

    def command(self) -> c.SetSetting:
        return c.SetSetting(self.key.key(), self.value)


class SetChargingProfileIn(CommandIn):
    evse_id: int = Field(ge=0, description="0: the whole charge point")
    profile: ChargingProfileIn

    def command(self) -> c.SetChargingProfile:
        return c.SetChargingProfile(self.evse_id, self.profile.profile())


class ClearChargingProfileIn(CommandIn):
    profile_id: int | None = None
    evse_id: int | None = Field(default=None, ge=0)
    purpose: c.ProfilePurpose | None = None
    stack_level: int | None = Field(default=None, ge=0)

    def command(self) -> c.ClearChargingProfile:
        return c.ClearChargingProfile(self.profile_id, self.evse_id, self.purpose,
                                      self.stack_level)


class CompositeScheduleIn(CommandIn):
    evse_id: int = Field(ge=0)
    duration_s: int = Field(gt=0)
    rate_unit: RateUnit | None = None

    def command(self) -> c.GetCompositeSchedule:
        return c.GetCompositeSchedule(self.evse_id, self.duration_s, self.rate_unit)


class CommandStatusOut(BaseModel):
    """The charger's answer: Accepted, Rejected, Unlocked, Scheduled, ..."""

    model_config = ConfigDict(from_attributes=True)

    status: str
    reason: str | None = None


class SettingValueOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: SettingKeyModel
    status: str
    value: str | None = None
    readonly: bool | None = None


class SettingsReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    values: list[SettingValueOut]
    unknown: list[str] = Field(description="keys the charger does not know (1.6)")


class CompositeScheduleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    status: str
    evse_id: int | None = None
    schedule: ChargingScheduleModel | None = None


class ErrorOut(BaseModel):
    detail: str


class TimeoutOut(ErrorOut):
    waited_s: float


class CallErrorOut(ErrorOut):
    code: str | None = Field(default=None, description="the CALLERROR's code, if it was one")
    description: str | None = None
