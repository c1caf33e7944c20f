"""Request and answer bodies of the transaction-status, EVSE-reset and extended-trigger
command endpoints (csms.api.routes.commands.transactions); rules as in :mod:`csms.api.commands`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from csms.api.commands import MAX_WAIT_S, CommandIn, Count, IdTokenType, Positive
from csms.api.models import Printable
from csms.domain import commands_tx as c
from csms.domain.model import IdToken
from csms.services.reports import ReportAnswer

Purpose = Literal["ChargingStationExternalConstraints", "ChargingStationMaxProfile",
                  "TxDefaultProfile", "TxProfile"]
WaitS = Annotated[float, Field(
    ge=0, le=MAX_WAIT_S,
    description="after an Accepted answer, wait up to this long for the report's parts")]

TransactionRef = Annotated[str, Field(min_length=1, max_length=36), Printable]


class TransactionStatusIn(CommandIn):
    transaction_id: TransactionRef | None = Field(
        default=None, description="the charger's transaction id; none: is anything queued")

    def command(self) -> c.GetTransactionStatus:
        return c.GetTransactionStatus(self.transaction_id)


class ResetEvseIn(CommandIn):
    evse_id: Positive
    immediate: bool = Field(default=False,
                            description="Immediate; else OnIdle (after its transaction)")

    def command(self) -> c.ResetEvse:
        return c.ResetEvse(self.evse_id, self.immediate)


class ExtendedTriggerIn(CommandIn):
    message: c.ExtendedTriggerable
    evse_id: Count | None = None

    def command(self) -> c.ExtendedTrigger:
        return c.ExtendedTrigger(self.message, self.evse_id)


class TransactionStatusOut(BaseModel):
    """The charger's answer to GetTransactionStatus."""

    model_config = ConfigDict(from_attributes=True)

    messages_in_queue: bool = Field(description="it still has messages to send about it")
    ongoing: bool | None = Field(description="the transaction still runs; None: not said")


class GetChargingProfilesIn(CommandIn):
    """Which installed profiles to report (none given: all); 2.0.1 only."""

    evse_id: Count | None = Field(default=None, description="0: the station; none: all")
    purpose: Purpose | None = None
    stack_level: Count | None = None
    profile_ids: list[Count] = Field(default_factory=list, max_length=100)
    wait_s: WaitS = 10.0

    def command(self) -> c.GetChargingProfiles:
        raise NotImplementedError("needs a request id: use command_for")

    def command_for(self, request_id: int) -> c.GetChargingProfiles:
        return c.GetChargingProfiles(request_id, self.evse_id, self.purpose, self.stack_level,
                                     tuple(self.profile_ids))


class CustomerInformationIn(CommandIn):
    """A resident's data request: report what the charger keeps about them, clear it, or
    both; the resident is named by an id token or an identifier. 2.0.1 only."""

    report: bool = True
    clear: bool = False
    customer_identifier: Annotated[str, Printable] | None = Field(
        default=None, min_length=1, max_length=64)
    id_token: Annotated[str, Printable] | None = Field(default=None, min_length=1,
                                                       max_length=36)
    id_token_type: IdTokenType = Field(default="ISO14443", description="2.0.1 IdTokenEnumType")
    wait_s: WaitS = 10.0

    def command(self) -> c.CustomerInformation:
        raise NotImplementedError("needs a request id: use command_for")

    def command_for(self, request_id: int) -> c.CustomerInformation:
        token = None if self.id_token is None else IdToken(self.id_token, self.id_token_type)
        return c.CustomerInformation(request_id, self.report, self.clear,
                                     self.customer_identifier, token)


class ProfilesReportOut(BaseModel):
    """One ReportChargingProfiles part: an EVSE's profiles from one limit source."""

    evse_id: int
    charging_limit_source: str
    profiles: list[dict[str, Any]] = Field(description="2.0.1 ChargingProfileType, as sent")


class ChargingProfilesOut(BaseModel):
    status: str = Field(description="Accepted (then the reports) or NoProfiles")
    reason: str | None
    request_id: int
    complete: bool = Field(description="the last part (tbc false) arrived within wait_s")
    reports: list[ProfilesReportOut]

    @classmethod
    def of(cls, answer: ReportAnswer) -> ChargingProfilesOut:
        return cls(status=answer.status.status, reason=answer.status.reason,
                   request_id=answer.request_id, complete=answer.complete,
                   reports=[ProfilesReportOut(
                       evse_id=part["evseId"],
                       charging_limit_source=part["chargingLimitSource"],
                       profiles=list(part["chargingProfile"])) for part in answer.parts])


class CustomerInformationOut(BaseModel):
    status: str = Field(description="Accepted, Rejected or Invalid")
    reason: str | None
    request_id: int
    complete: bool = Field(description="the last part (tbc false) arrived within wait_s")
    parts: int
    data: str = Field(description="the parts' data joined in seqNo order")

    @classmethod
    def of(cls, answer: ReportAnswer) -> CustomerInformationOut:
        return cls(status=answer.status.status, reason=answer.status.reason,
                   request_id=answer.request_id, complete=answer.complete,
                   parts=len(answer.parts),
                   data="".join(str(part["data"]) for part in answer.parts))
