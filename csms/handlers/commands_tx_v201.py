"""The commands of :mod:`csms.domain.commands_tx` as OCPP 2.0.1 CALLs, and their answers.

Pure. Rules:
1. GetTransactionStatus carries ``transactionId`` when a transaction is named (at most 36
   characters); the answer's ``ongoingIndicator`` is kept as None when absent.
2. ResetEvse is Reset with ``evseId`` (``Immediate`` or ``OnIdle``); EVSE 0 is the station,
   which is a plain Reset: refused here so that one command means one thing.
3. ExtendedTrigger is TriggerMessage; SignChargePointCertificate is 2.0.1's
   SignChargingStationCertificate; EVSE None or 0 omits ``evse``.
"""

from __future__ import annotations

from typing import Any, Final, assert_never

from csms.domain.commands_tx import (
    ExtendedTrigger,
    ExtendedTriggerable,
    GetTransactionStatus,
    ResetEvse,
    TransactionStatus,
    TxCommand,
)

Payload = dict[str, Any]

_TRIGGER: Final = {
    **{m: m.value for m in ExtendedTriggerable},
    ExtendedTriggerable.SIGN_CERTIFICATE: "SignChargingStationCertificate",
}


class Inexpressible(ValueError):
    """OCPP 2.0.1 has no spelling for this; the message says why."""


def call(command: TxCommand) -> tuple[str, Payload]:
    """(action, payload). Raises: Inexpressible."""
    match command:
        case GetTransactionStatus():
            ref = command.transaction_ref
            if ref is None:
                return "GetTransactionStatus", {}
            if len(ref) > 36:
                raise Inexpressible("2.0.1 transactionId holds at most 36 characters")
            return "GetTransactionStatus", {"transactionId": ref}
        case ResetEvse():
            if command.evse_id <= 0:
                raise Inexpressible("EVSE 0 is the whole station: use Reset")
            return "Reset", {"type": "Immediate" if command.immediate else "OnIdle",
                             "evseId": command.evse_id}
        case ExtendedTrigger():
            evse = {} if not command.evse_id else {"evse": {"id": command.evse_id}}
            return "TriggerMessage", {"requestedMessage": _TRIGGER[command.message], **evse}
        case _:
            assert_never(command)


def answer(command: TxCommand, payload: Payload) -> TransactionStatus | None:
    """The result of a GetTransactionStatus answer; None for the status-only answers."""
    if isinstance(command, GetTransactionStatus):
        return TransactionStatus(bool(payload["messagesInQueue"]),
                                 payload.get("ongoingIndicator"))
    return None
