"""The charger side of GetTransactionStatus (2.0.1) and ExtendedTriggerMessage (1.6), and the
fault of a station that forgets a transaction.

Rules:
1. GetTransactionStatus is answered from the station's real state: ``messagesInQueue`` is
   whether the offline queue holds TransactionEvents (for the named transaction, or any);
   ``ongoingIndicator`` (only with a transactionId) is whether it runs on a connector now.
2. ExtendedTriggerMessage does what TriggerMessage does for Boot, Heartbeat, Status and
   MeterValues; LogStatusNotification and FirmwareStatusNotification are sent with status
   Idle (nothing uploading or installing); SignChargePointCertificate is NotImplemented (the
   simulator has no key pair to sign).
3. :func:`forget_transaction` is a power loss that wipes a transaction: the connector is
   free and Available again and nothing of the transaction is ever sent (queued events of
   it are dropped), as a real charger with volatile transaction state does. For
   transactions started directly (not by a plugged-in EV session, whose task would still
   try to stop it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from simulators.model import Status

if TYPE_CHECKING:
    from csms.handlers.rpc import Handler
    from simulators.station import SimStation

Payload = dict[str, Any]

_CORE: Final = frozenset({"BootNotification", "Heartbeat", "StatusNotification", "MeterValues"})
_IDLE: Final = frozenset({"LogStatusNotification", "FirmwareStatusNotification"})


def _queued_for(st: SimStation, transaction_id: str | None) -> bool:
    for entry in st.outbox.queue.entries:
        if entry.action != "TransactionEvent":
            continue
        queued_id = entry.payload.get("transactionInfo", {}).get("transactionId")
        if transaction_id is None or queued_id == transaction_id:
            return True
    return False


def v201_handlers(st: SimStation) -> dict[str, Handler]:
    async def get_transaction_status(p: Payload) -> Payload:
        ref = p.get("transactionId")
        answer: Payload = {"messagesInQueue": _queued_for(st, ref)}
        if ref is not None:
            answer["ongoingIndicator"] = st.connector_of(ref) is not None
        return answer

    return {"GetTransactionStatus": get_transaction_status}


def v16_handlers(st: SimStation) -> dict[str, Handler]:
    async def extended_trigger(p: Payload) -> Payload:
        message, connector = p["requestedMessage"], p.get("connectorId")
        if message in _CORE:
            return {"status": st.reactions.trigger(message, connector)}
        if message in _IDLE:
            async def send() -> None:
                await st.call(message, {"status": "Idle"})

            st.link.after_answer(f"extended-trigger-{message}", send)
            return {"status": "Accepted"}
        return {"status": "NotImplemented"}

    return {"ExtendedTriggerMessage": extended_trigger}


async def forget_transaction(st: SimStation, connector_id: int) -> str | None:
    """Rule 3; the forgotten transaction's id, if one ran."""
    connector = st.connector(connector_id)
    tx = connector.transaction
    if tx is None:
        return None
    entries = st.outbox.queue.entries
    for entry in list(entries):
        info = entry.payload.get("transactionInfo", {})
        if entry.action == "TransactionEvent" and info.get("transactionId") == tx.transaction_id:
            entries.remove(entry)
    connector.transaction = None
    if st.connected:
        await st.send_status(connector_id, Status.AVAILABLE)
    else:
        connector.status = Status.AVAILABLE
    return tx.transaction_id
