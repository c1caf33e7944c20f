"""Request and answer bodies of the local-list, cache and reservation endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from csms.api.commands import CommandIn, Count, IdTokenType
from csms.api.models import Printable, UtcTime
from csms.domain import commands as c
from csms.domain.commands_auth import ClearCache, GetLocalListVersion

ConnectorType = Literal[
    "cCCS1", "cCCS2", "cG105", "cTesla", "cType1", "cType2", "s309-1P-16A", "s309-1P-32A",
    "s309-3P-16A", "s309-3P-32A", "sBS1361", "sCEE-7-7", "sType2", "sType3",
    "Other1PhMax16A", "Other1PhOver16A", "Other3Ph", "Pan", "wInductive", "wResonant",
    "Undetermined", "Unknown"]


class GetLocalListVersionIn(CommandIn):
    def command(self) -> c.Command:
        return GetLocalListVersion()


class ClearCacheIn(CommandIn):
    def command(self) -> c.Command:
        return ClearCache()


class LocalListVersionOut(BaseModel):
    """The charger's list version: 0 no list, -1 (1.6) local lists not supported."""

    model_config = ConfigDict(from_attributes=True)

    version: int


class SyncIn(CommandIn):
    full: bool = Field(default=False, description="send the whole list even if the charger"
                                                  " is in step (else only what changed)")


class SyncOut(BaseModel):
    """``outcome``: Accepted, UpToDate, the charger's refusal (Failed, VersionMismatch,
    NotSupported) or too_long (more entries than the charger holds: nothing sent)."""

    model_config = ConfigDict(from_attributes=True)

    outcome: str
    version: int
    reported_version: int
    messages: int
    entries: int
    detail: str | None


class CommunitySyncIn(CommandIn):
    full: bool = Field(default=False, description="send every list whole")
    all: bool = Field(default=False, description="also charge points never sent a list"
                                                 " (default: only those that keep one)")


class StationSyncOut(BaseModel):
    """One charge point's sync: ``result``, or ``error`` (offline, timeout, ...)."""

    station_id: str
    result: SyncOut | None
    error: str | None


class LocalEntryOut(BaseModel):
    id_token: str
    kind: str
    status: str
    expires_at: datetime | None
    group_id: str | None


class LocalListOut(BaseModel):
    station_id: str
    version: int = Field(description="the version the charger's list has as far as the CSMS"
                                     " knows (0: never sent)")
    synced_at: datetime | None
    reported_version: int | None
    reported_at: datetime | None
    last_outcome: str | None
    wanted_entries: int = Field(description="entries the charger should hold now")
    entries: list[LocalEntryOut] = Field(description="what the charger was sent")


class ReserveIn(CommandIn):
    """1.6 ReserveNow on ``evse_id`` (none: connector 0, any); 2.0.1 by EVSE and/or
    connector type."""

    id_token: Annotated[str, Printable] = Field(min_length=1, max_length=36)
    id_token_type: IdTokenType = Field(default="ISO14443", description="2.0.1 IdTokenEnumType")
    expires_at: UtcTime
    evse_id: Count | None = Field(default=None, description="none or 0: any EVSE")
    connector_type: ConnectorType | None = Field(default=None, description="2.0.1 only")
    group_id: Annotated[str, Printable] | None = Field(default=None, min_length=1,
                                                      max_length=36)


class ReservationOut(BaseModel):
    """``status``: pending, active, refused, cancelled, expired, used, removed;
    ``outcome``: the charger's answer to ReserveNow."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    station_id: str
    evse_id: int | None
    connector_type: str | None
    id_token: str
    token_kind: str
    group_id: str | None
    expires_at: datetime
    status: str
    outcome: str | None
    created_at: datetime
    requested_by: str | None
    ended_at: datetime | None
    session_id: int | None


class ReserveOut(BaseModel):
    answer: str = Field(description="the charger's answer: Accepted, Occupied, Faulted, ...")
    reservation: ReservationOut


class CancelIn(CommandIn):
    pass


class CancelOut(BaseModel):
    answer: str = Field(description="the charger's answer: Accepted or Rejected")
    reservation: ReservationOut
