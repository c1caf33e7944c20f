"""The charger side of GetTransactionStatus (2.0.1) and ExtendedTriggerMessage (1.6), and the
fault of a station that forgets a transaction.

Rules:
1. GetTransactionStatus is answered from the station's real state: ``messagesInQueue`` is
   whether the offline queue holds TransactionEvents (for the named transaction, or any);
   ``ongoingIndicator`` (only with a transactionId) is whether it runs on a connector now.
2. ExtendedTriggerMessage does what TriggerMessage does for Boot, Heartbeat, Status and
   MeterValues; LogStatusNotification and FirmwareStatusNotification are sent with status
   Idle (nothing uploading or installing); SignChargePointCertificate is Accepted and a
   CSR follows (simulators.device.certificates).
3. GetChargingProfiles: NoProfiles when no installed profile matches (evseId, purpose,
   stackLevel, chargingProfileId); else Accepted, then one ReportChargingProfiles per EVSE
   (the profiles as received, source CSO), ``tbc`` true on all but the last.
4. CustomerInformation: Invalid without a customer (idToken or customerIdentifier); else
   Accepted, then NotifyCustomerInformation parts (512 characters each, seqNo from 0) of
   what the station keeps about the customer: the transactions it runs for that id token.
   ``clear`` forgets the customer: later reports about that id token say "no data".
5. :func:`forget_transaction` is a power loss that wipes a transaction: the connector is
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


def _matching(st: SimStation, p: Payload) -> dict[int, list[Payload]]:
    """The raw profiles matching a GetChargingProfiles request, per EVSE."""
    criterion, evse = p["chargingProfile"], p.get("evseId")
    ids = set(criterion.get("chargingProfileId") or ())
    found: dict[int, list[Payload]] = {}
    for profile in st.profiles.profiles:
        if profile.raw is None or (evse is not None and profile.connector_id != evse):
            continue
        if "chargingProfilePurpose" in criterion and \
                profile.purpose.value != criterion["chargingProfilePurpose"]:
            continue
        if "stackLevel" in criterion and profile.stack_level != criterion["stackLevel"]:
            continue
        if ids and profile.profile_id not in ids:
            continue
        found.setdefault(profile.connector_id, []).append(profile.raw)
    return found


def _customer_data(st: SimStation, token: str | None, cleared: set[str]) -> str:
    if token is None or token in cleared:
        return "no data"
    lines = [f"transaction {c.transaction.transaction_id} on EVSE {c.connector_id} since "
             f"{c.transaction.started_at}" for c in st.connectors.values()
             if c.transaction is not None and c.transaction.id_tag == token]
    return "; ".join(lines) or "no data"


def v201_handlers(st: SimStation) -> dict[str, Handler]:
    cleared: set[str] = set()

    async def get_charging_profiles(p: Payload) -> Payload:
        found = _matching(st, p)
        if not found:
            return {"status": "NoProfiles"}

        async def report() -> None:
            evses = sorted(found)
            for n, evse in enumerate(evses):
                await st.call("ReportChargingProfiles", {
                    "requestId": p["requestId"], "chargingLimitSource": "CSO",
                    "tbc": n < len(evses) - 1, "evseId": evse,
                    "chargingProfile": found[evse]})

        st.link.after_answer("report-charging-profiles", report)
        return {"status": "Accepted"}

    async def customer_information(p: Payload) -> Payload:
        token = (p.get("idToken") or {}).get("idToken")
        if token is None and p.get("customerIdentifier") is None:
            return {"status": "Invalid"}
        data = _customer_data(st, token, cleared)
        if p["clear"] and token is not None:
            cleared.add(token)
        if not p["report"]:
            return {"status": "Accepted"}
        chunks = [data[i:i + 512] for i in range(0, len(data), 512)]

        async def notify() -> None:
            for n, chunk in enumerate(chunks):
                await st.call("NotifyCustomerInformation", {
                    "data": chunk, "tbc": n < len(chunks) - 1, "seqNo": n,
                    "generatedAt": st.timestamp(), "requestId": p["requestId"]})

        st.link.after_answer("notify-customer-information", notify)
        return {"status": "Accepted"}

    async def get_transaction_status(p: Payload) -> Payload:
        ref = p.get("transactionId")
        answer: Payload = {"messagesInQueue": _queued_for(st, ref)}
        if ref is not None:
            answer["ongoingIndicator"] = st.connector_of(ref) is not None
        return answer

    return {"GetTransactionStatus": get_transaction_status,
            "GetChargingProfiles": get_charging_profiles,
            "CustomerInformation": customer_information}


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
        if message == "SignChargePointCertificate":
            return {"status": st.certificates.triggered()}
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
