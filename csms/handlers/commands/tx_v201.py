"""The commands of :mod:`csms.domain.commands_tx` as OCPP 2.0.1 CALLs, and their answers.

Pure. Rules:
1. GetTransactionStatus carries ``transactionId`` when a transaction is named (at most 36
   characters); the answer's ``ongoingIndicator`` is kept as None when absent.
2. ResetEvse is Reset with ``evseId`` (``Immediate`` or ``OnIdle``); EVSE 0 is the station,
   which is a plain Reset: refused here so that one command means one thing.
3. GetChargingProfiles: ``chargingProfile`` (the criterion) is always present, empty for
   "all"; CustomerInformation needs an id token or a customer identifier (64 characters).
4. ExtendedTrigger is TriggerMessage; SignChargePointCertificate is 2.0.1's
   SignChargingStationCertificate; EVSE None or 0 omits ``evse``.
"""

from __future__ import annotations

from typing import Any, Final, assert_never

from csms.domain.commands_tx import (
    CustomerInformation,
    ExtendedTrigger,
    ExtendedTriggerable,
    GetChargingProfiles,
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


_PURPOSES: Final = frozenset({
    "ChargingStationExternalConstraints", "ChargingStationMaxProfile", "TxDefaultProfile",
    "TxProfile",
})
_ID_TOKEN_TYPES: Final = frozenset({
    "Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress",
    "NoAuthorization",
})


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
        case GetChargingProfiles():
            return "GetChargingProfiles", _get_profiles(command)
        case CustomerInformation():
            return "CustomerInformation", _customer_information(command)
        case _:
            assert_never(command)


def _get_profiles(command: GetChargingProfiles) -> Payload:
    if command.purpose is not None and command.purpose not in _PURPOSES:
        raise Inexpressible(f"{command.purpose!r} is not a 2.0.1 charging profile purpose")
    criterion: Payload = {}
    if command.purpose is not None:
        criterion["chargingProfilePurpose"] = command.purpose
    if command.stack_level is not None:
        criterion["stackLevel"] = command.stack_level
    if command.profile_ids:
        criterion["chargingProfileId"] = list(command.profile_ids)
    payload: Payload = {"requestId": command.request_id, "chargingProfile": criterion}
    if command.evse_id is not None:
        payload["evseId"] = command.evse_id
    return payload


def _customer_information(command: CustomerInformation) -> Payload:
    if command.customer_identifier is None and command.id_token is None:
        raise Inexpressible("CustomerInformation names the customer (id token or identifier)")
    payload: Payload = {"requestId": command.request_id, "report": command.report,
                        "clear": command.clear}
    if command.customer_identifier is not None:
        if len(command.customer_identifier) > 64:
            raise Inexpressible("2.0.1 customerIdentifier holds at most 64 characters")
        payload["customerIdentifier"] = command.customer_identifier
    token = command.id_token
    if token is not None:
        if token.kind not in _ID_TOKEN_TYPES:
            raise Inexpressible(f"{token.kind!r} is not a 2.0.1 IdTokenEnumType")
        if len(token.value) > 36:
            raise Inexpressible("2.0.1 idToken holds at most 36 characters")
        payload["idToken"] = {"idToken": token.value, "type": token.kind}
    return payload


def answer(command: TxCommand, payload: Payload) -> TransactionStatus | None:
    """The result of a GetTransactionStatus answer; None for the status-only answers."""
    if isinstance(command, GetTransactionStatus):
        return TransactionStatus(bool(payload["messagesInQueue"]),
                                 payload.get("ongoingIndicator"))
    return None
