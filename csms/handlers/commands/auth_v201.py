"""Local lists, the authorization cache and reservations as OCPP 2.0.1 CALLs. Pure.

Rules:
1. SendLocalList: ``versionNumber`` and ``updateType`` as planned; an entry is
   ``{idToken: {idToken, type}, idTokenInfo}`` with the Authorize answer's ``idTokenInfo``
   (:func:`csms.handlers.translate.v201.id_token_info`); a removal has no ``idTokenInfo``.
   An empty list omits ``localAuthorizationList`` (the schema wants at least one item).
2. ReserveNow: ``id``, ``expiryDateTime``, ``idToken``, and ``evseId`` and/or
   ``connectorType`` when given (neither: any EVSE); ``groupIdToken`` of type Central.
3. Answers: ``status`` and ``statusInfo.reasonCode`` as :class:`CommandStatus`;
   GetLocalListVersion's ``versionNumber`` as :class:`LocalListVersion`.
"""

from __future__ import annotations

from typing import Any, Final, assert_never

from csms.domain.commands import AuthCommand, CommandResult, CommandStatus
from csms.domain.commands_auth import (
    CancelReservation,
    ClearCache,
    GetLocalListVersion,
    LocalAuthEntry,
    LocalListVersion,
    ReserveNow,
    SendLocalList,
)
from csms.domain.model import IdToken
from csms.handlers.timefmt import format_time
from csms.handlers.translate.v201 import id_token_info

Payload = dict[str, Any]

_ID_TOKEN_TYPES: Final = frozenset({
    "Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress",
    "NoAuthorization",
})


class Inexpressible(ValueError):
    """OCPP 2.0.1 has no spelling for this; the message says why."""


def call(command: AuthCommand) -> tuple[str, Payload]:
    """(action, payload); raises :class:`Inexpressible` for an id token 2.0.1 cannot carry."""
    match command:
        case SendLocalList():
            payload: Payload = {"versionNumber": command.version,
                                "updateType": "Full" if command.full else "Differential"}
            if command.entries:
                payload["localAuthorizationList"] = [_entry(e) for e in command.entries]
            return "SendLocalList", payload
        case GetLocalListVersion():
            return "GetLocalListVersion", {}
        case ClearCache():
            return "ClearCache", {}
        case ReserveNow():
            return "ReserveNow", _reserve(command)
        case CancelReservation():
            return "CancelReservation", {"reservationId": command.reservation_id}
        case _:
            assert_never(command)


def answer(command: AuthCommand, payload: Payload) -> CommandResult:
    """The domain result of the (schema-valid) answer (module rule 3)."""
    if isinstance(command, GetLocalListVersion):
        return LocalListVersion(int(payload["versionNumber"]))
    info = payload.get("statusInfo")
    return CommandStatus(payload["status"], None if info is None else str(info["reasonCode"]))


def _token(token: IdToken) -> Payload:
    if token.kind not in _ID_TOKEN_TYPES:
        raise Inexpressible(f"{token.kind!r} is not a 2.0.1 IdTokenEnumType")
    if len(token.value) > 36:
        raise Inexpressible("2.0.1 idToken holds at most 36 characters")
    return {"idToken": token.value, "type": token.kind}


def _entry(entry: LocalAuthEntry) -> Payload:
    out: Payload = {"idToken": _token(entry.id_token)}
    if entry.authorization is not None:
        out["idTokenInfo"] = id_token_info(entry.authorization)
    return out


def _reserve(command: ReserveNow) -> Payload:
    out: Payload = {"id": command.reservation_id,
                    "expiryDateTime": format_time(command.expires_at),
                    "idToken": _token(command.id_token)}
    if command.evse_id:
        out["evseId"] = command.evse_id
    if command.connector_type is not None:
        out["connectorType"] = command.connector_type
    if command.group_id is not None:
        out["groupIdToken"] = _token(IdToken(command.group_id, "Central"))
    return out
