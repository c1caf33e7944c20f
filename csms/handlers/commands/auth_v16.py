"""Local lists, the authorization cache and reservations as OCPP 1.6 CALLs. Pure.

Rules:
1. SendLocalList: ``listVersion`` and ``updateType`` as planned; an entry's ``idTagInfo``
   is the Authorize answer's (:func:`csms.handlers.translate.v16.id_tag_info`); a removal
   has none.
2. ReserveNow: EVSE ``n`` is ``connectorId`` ``n``, any EVSE (None) is connector 0; a
   ``connector_type`` cannot be expressed; ``idTag``/``parentIdTag`` hold 20 characters.
3. Answers: ``status`` as :class:`CommandStatus`; GetLocalListVersion's ``listVersion`` as
   :class:`LocalListVersion` (-1: the charger has no local list support).
"""

from __future__ import annotations

from typing import Any, assert_never

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
from csms.handlers.timefmt import format_time
from csms.handlers.translate.v16 import id_tag_info

Payload = dict[str, Any]


class Inexpressible(ValueError):
    """OCPP 1.6 has no spelling for this; the message says why."""


def call(command: AuthCommand) -> tuple[str, Payload]:
    """(action, payload); raises :class:`Inexpressible` (module rule 2)."""
    match command:
        case SendLocalList():
            return "SendLocalList", {
                "listVersion": command.version,
                "updateType": "Full" if command.full else "Differential",
                "localAuthorizationList": [_entry(e) for e in command.entries],
            }
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
        return LocalListVersion(int(payload["listVersion"]))
    return CommandStatus(payload["status"])


def _entry(entry: LocalAuthEntry) -> Payload:
    out: Payload = {"idTag": _fit(entry.id_token.value, "idTag")}
    if entry.authorization is not None:
        out["idTagInfo"] = id_tag_info(entry.authorization)
    return out


def _reserve(command: ReserveNow) -> Payload:
    if command.connector_type is not None:
        raise Inexpressible("1.6 cannot reserve by connector type")
    out: Payload = {
        "connectorId": command.evse_id or 0, "expiryDate": format_time(command.expires_at),
        "idTag": _fit(command.id_token.value, "idTag"), "reservationId": command.reservation_id,
    }
    if command.group_id is not None:
        out["parentIdTag"] = _fit(command.group_id, "parentIdTag")
    return out


def _fit(text: str, field: str) -> str:
    if len(text) > 20:
        raise Inexpressible(f"1.6 {field} holds at most 20 characters")
    return text
