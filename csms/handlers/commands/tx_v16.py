"""The commands of :mod:`csms.domain.commands_tx` as OCPP 1.6 CALLs (security extension).

Pure. Rules:
1. GetTransactionStatus, ResetEvse, GetChargingProfiles and CustomerInformation have no
   1.6 spelling (1.6 Reset is the whole charge
   point): Inexpressible, so the command is refused before anything is sent.
2. ExtendedTrigger is the security extension's ExtendedTriggerMessage; EVSE n is
   ``connectorId`` n, None omits it.
"""

from __future__ import annotations

from typing import Any, assert_never

from csms.domain.commands_tx import (
    CustomerInformation,
    ExtendedTrigger,
    GetChargingProfiles,
    GetTransactionStatus,
    ResetEvse,
    TxCommand,
)

Payload = dict[str, Any]


class Inexpressible(ValueError):
    """OCPP 1.6 has no spelling for this; the message says why."""


def call(command: TxCommand) -> tuple[str, Payload]:
    """(action, payload). Raises: Inexpressible."""
    match command:
        case GetTransactionStatus():
            raise Inexpressible("1.6 has no GetTransactionStatus")
        case ResetEvse():
            raise Inexpressible("1.6 Reset is the whole charge point, not one EVSE")
        case ExtendedTrigger():
            connector = {} if command.evse_id is None else {"connectorId": command.evse_id}
            return "ExtendedTriggerMessage", {"requestedMessage": command.message.value,
                                              **connector}
        case GetChargingProfiles():
            raise Inexpressible("1.6 has no GetChargingProfiles (ask GetCompositeSchedule)")
        case CustomerInformation():
            raise Inexpressible("1.6 has no CustomerInformation")
        case _:
            assert_never(command)
