"""Request and answer bodies of the transaction-status, EVSE-reset and extended-trigger
command endpoints (csms.api.routes.tx_commands); rules as in :mod:`csms.api.commands`."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from csms.api.commands import CommandIn, Count, Positive
from csms.api.models import Printable
from csms.domain import commands_tx as c

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
