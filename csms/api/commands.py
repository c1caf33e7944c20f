"""Request and answer bodies of the command endpoints, and their domain equivalents.

Rules:
1. One request model per command; ``command()`` gives the version-neutral domain command.
   What a version cannot express is refused later, by translation (422 at the endpoint).
2. Answers are the domain results as JSON, field for field, with no limits of their own
   (whatever the charger said, within its schema, is shown).
3. Unknown fields are refused (422), so a misspelt option is never silently ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from csms.api.models import MAX_ID, Printable, UtcTime
from csms.domain import commands as c
from csms.domain.model import IdToken

RateUnit = Literal["A", "W"]
IdTokenType = Literal["Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local",
                      "MacAddress", "NoAuthorization"]
MAX_TIMEOUT_S = 120.0
MAX_WAIT_S = 60.0  # how long a remote start may wait for its session
Count = Annotated[int, Field(ge=0, le=MAX_ID)]
Positive = Annotated[int, Field(ge=1, le=MAX_ID)]
Name = Annotated[str, Field(min_length=1, max_length=50), Printable]
_IN = ConfigDict(extra="forbid", allow_inf_nan=False)


class CommandIn(BaseModel):
    model_config = _IN

    timeout_s: float | None = Field(
        default=None, gt=0, le=MAX_TIMEOUT_S,
        description="how long to wait for the charger's answer; default server.call_timeout_s")

    def command(self) -> c.Command:
        raise NotImplementedError


class SettingKeyIn(BaseModel):
    """A 1.6 configuration key (``variable`` only) or a 2.0.1 component and variable."""

    model_config = _IN

    variable: Name
    component: Name | None = None
    instance: Name | None = None
    evse_id: Count | None = None

    def key(self) -> c.SettingKey:
        return c.SettingKey(self.variable, self.component, self.instance, self.evse_id)


class SchedulePeriodIn(BaseModel):
    model_config = _IN

    start_s: Count = Field(description="seconds from the schedule's start")
    limit: float = Field(ge=0, le=1e9, description="in the schedule's rate_unit")
    number_phases: int | None = Field(default=None, ge=1, le=3)


class ChargingScheduleIn(BaseModel):
    model_config = _IN

    rate_unit: RateUnit
    periods: list[SchedulePeriodIn] = Field(min_length=1, max_length=1024)
    duration_s: Count | None = None
    start_at: UtcTime | None = None
    min_rate: float | None = Field(default=None, ge=0, le=1e9)

    def schedule(self) -> c.ChargingSchedule:
        periods = tuple(c.SchedulePeriod(p.start_s, p.limit, p.number_phases)
                        for p in self.periods)
        return c.ChargingSchedule(self.rate_unit, periods, self.duration_s, self.start_at,
                                  self.min_rate)


class ChargingProfileIn(BaseModel):
    model_config = _IN

    profile_id: Positive
    stack_level: Count
    purpose: c.ProfilePurpose
    kind: c.ProfileKind = c.ProfileKind.ABSOLUTE
    schedule: ChargingScheduleIn
    recurrency: Literal["Daily", "Weekly"] | None = None
    valid_from: UtcTime | None = None
    valid_to: UtcTime | None = None
    transaction_id: Annotated[str, Printable] | None = Field(
        default=None, min_length=1, max_length=36,
        description="for a TxProfile: the transaction")

    def profile(self) -> c.ChargingProfile:
        return c.ChargingProfile(
            self.profile_id, self.stack_level, self.purpose, self.kind,
            self.schedule.schedule(), self.recurrency, self.valid_from, self.valid_to,
            self.transaction_id,
        )


class RemoteStartIn(CommandIn):
    """The ``remoteStartId`` is the CSMS's own, one per request (no longer a field)."""

    id_token: Annotated[str, Printable] = Field(min_length=1, max_length=36)
    id_token_type: IdTokenType = Field(default="ISO14443", description="2.0.1 IdTokenEnumType")
    evse_id: Positive | None = None
    charging_profile: ChargingProfileIn | None = None
    wait_s: float = Field(
        default=0.0, ge=0, le=MAX_WAIT_S,
        description="after an Accepted answer, wait up to this long for the session the"
                    " charger starts (0: answer at once; poll the `poll` URL)")

    def command(self) -> c.RemoteStart:
        profile = None if self.charging_profile is None else self.charging_profile.profile()
        return c.RemoteStart(IdToken(self.id_token, self.id_token_type), self.evse_id,
                             charging_profile=profile)


class RemoteStopIn(CommandIn):
    transaction_id: Annotated[str, Printable] = Field(
        min_length=1, max_length=36, description="the session's transaction_id")

    def command(self) -> c.RemoteStop:
        return c.RemoteStop(self.transaction_id)


class ResetIn(CommandIn):
    kind: c.ResetKind = c.ResetKind.SOFT

    def command(self) -> c.Reset:
        return c.Reset(self.kind)


class ChangeAvailabilityIn(CommandIn):
    evse_id: Count = Field(description="0: the whole charge point")
    operative: bool
    connector_id: Positive | None = None

    def command(self) -> c.ChangeAvailability:
        return c.ChangeAvailability(self.evse_id, self.operative, self.connector_id)


class UnlockIn(CommandIn):
    evse_id: Positive
    connector_id: Positive = 1

    def command(self) -> c.UnlockConnector:
        return c.UnlockConnector(self.evse_id, self.connector_id)


class TriggerMessageIn(CommandIn):
    message: c.TriggerableMessage
    evse_id: Count | None = None

    def command(self) -> c.TriggerMessage:
        return c.TriggerMessage(self.message, self.evse_id)


class GetConfigurationIn(CommandIn):
    keys: list[SettingKeyIn] = Field(
        default_factory=list, max_length=100, description="empty: every key (1.6 only)")

    def command(self) -> c.GetSettings:
        return c.GetSettings(tuple(k.key() for k in self.keys))


class SetConfigurationIn(CommandIn):
    key: SettingKeyIn
    value: Annotated[str, Printable] = Field(max_length=1000)

    def command(self) -> c.SetSetting:
        return c.SetSetting(self.key.key(), self.value)


class SetChargingProfileIn(CommandIn):
    evse_id: Count = Field(description="0: the whole charge point")
    profile: ChargingProfileIn

    def command(self) -> c.SetChargingProfile:
        return c.SetChargingProfile(self.evse_id, self.profile.profile())


class ClearChargingProfileIn(CommandIn):
    profile_id: Positive | None = None
    evse_id: Count | None = None
    purpose: c.ProfilePurpose | None = None
    stack_level: Count | None = None

    def command(self) -> c.ClearChargingProfile:
        return c.ClearChargingProfile(self.profile_id, self.evse_id, self.purpose,
                                      self.stack_level)


class CompositeScheduleIn(CommandIn):
    evse_id: Count
    duration_s: Positive
    rate_unit: RateUnit | None = None

    def command(self) -> c.GetCompositeSchedule:
        return c.GetCompositeSchedule(self.evse_id, self.duration_s, self.rate_unit)


class CommandStatusOut(BaseModel):
    """The charger's answer: Accepted, Rejected, Unlocked, Scheduled, ..."""

    model_config = ConfigDict(from_attributes=True)

    status: str
    reason: str | None = None


class RemoteStartOut(CommandStatusOut):
    """The charger's answer to a remote start, and the session it started if seen yet."""

    remote_start_id: int = Field(description="the remoteStartId sent; unique per request")
    session_id: int | None = Field(description="the session started for it, once seen")
    transaction_id: str | None = None
    poll: str = Field(description="GET it for the request's state and session")


class RemoteStartStateOut(BaseModel):
    """A remote start: what was asked, what the charger said, which session answered it."""

    remote_start_id: int
    station_id: str
    evse_id: int | None
    id_token: str
    requested_at: datetime
    requested_by: str | None
    outcome: str = Field(description="pending, Accepted, Rejected, timeout, offline, ...")
    session_id: int | None
    transaction_id: str | None
    matched_at: datetime | None
    matched_by: str | None = Field(description="remote_start_id (2.0.1) or window (1.6)")


class SettingKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    variable: str
    component: str | None = None
    instance: str | None = None
    evse_id: int | None = None


class SettingValueOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: SettingKeyOut
    status: str
    value: str | None = None
    readonly: bool | None = None


class SettingsReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    values: list[SettingValueOut]
    unknown: list[str] = Field(description="keys the charger does not know (1.6)")


class SchedulePeriodOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    start_s: int
    limit: float
    number_phases: int | None = None


class ChargingScheduleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rate_unit: str
    periods: list[SchedulePeriodOut]
    duration_s: int | None = None
    start_at: datetime | None = None
    min_rate: float | None = None


class CompositeScheduleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    status: str
    evse_id: int | None = None
    schedule: ChargingScheduleOut | None = None


class ErrorOut(BaseModel):
    detail: str


class TimeoutOut(ErrorOut):
    waited_s: float


class CallErrorOut(ErrorOut):
    code: str | None = Field(default=None, description="the CALLERROR's code, if it was one")
    description: str | None = None
