"""Version-neutral commands as OCPP 2.0.1 CALLs, and the charger's answers as domain results.

Pure: no I/O, no clock. :func:`to_call` gives ``(action, payload)``; :func:`from_answer`
turns the (already schema-validated) CALLRESULT payload into a ``CommandResult``.

Rules:
1. ``evseId``/``connectorId`` are the domain's as they are. Where 2.0.1 takes an optional
   ``evse`` object (ChangeAvailability, TriggerMessage), EVSE ``None`` or 0 (the whole
   station) omits it.
2. Whatever 2.0.1 cannot express raises ``CommandNotSupported`` before anything is sent, with
   the reason in the message: GetSettings without keys (GetVariables needs them: ask with
   GetBaseReport instead); a ``SettingKey`` without a component (2.0.1 variables live in
   components; ``CommandNotSupported`` rather than ``ValueError`` because the connection
   only catches ``CommandError``); an id token kind outside ``IdTokenEnumType``; a string
   longer than its schema allows (idToken, transactionId 36; component, instance, variable
   50; SetVariables value 1000).
3. Names: Reset SOFT is ``OnIdle``, HARD ``Immediate``; ``DIAGNOSTICS_STATUS`` is
   ``LogStatusNotification``; profile purposes keep their 2.0.1 names.
4. A profile carries one charging schedule, whose ``id`` is the profile's id. Limits and
   ``minChargingRate`` are rounded *down* to one decimal (A) or whole watts (W):
   :mod:`csms.handlers.commands.limits`. Datetimes are aware UTC in the domain and ``format_time``
   on the wire.
5. Results: most answers are ``CommandStatus(status, statusInfo.reasonCode)``; SetVariables
   gives the single item's ``attributeStatus`` and ``attributeStatusInfo.reasonCode``.
   GetVariables gives one ``SettingValue`` per item (``readonly`` None: 2.0.1 does not say)
   and ``unknown`` = ``"Component.Variable"`` of the items with status UnknownComponent or
   UnknownVariable. GetCompositeSchedule takes ``evse_id`` and the schedule from ``schedule``
   (both None when the answer has none).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, assert_never

from csms.domain.commands import (
    AuthCommand,
    ChangeAvailability,
    ChargingProfile,
    ChargingSchedule,
    ClearChargingProfile,
    CloseConnection,
    Command,
    CommandResult,
    CommandStatus,
    CompositeSchedule,
    GetCompositeSchedule,
    GetSettings,
    RemoteStart,
    RemoteStop,
    Reset,
    ResetKind,
    SchedulePeriod,
    SetChargingProfile,
    SetSetting,
    SettingKey,
    SettingsReport,
    SettingValue,
    ShowCost,
    TriggerableMessage,
    TriggerMessage,
    UnlockConnector,
)
from csms.domain.commands_auth import (
    CancelReservation,
    ClearCache,
    GetLocalListVersion,
    ReserveNow,
    SendLocalList,
)
from csms.domain.commands_certs import (
    CertificateCommand,
    CertificateSigned,
    DeleteCertificate,
    GetInstalledCertificateIds,
    InstallCertificate,
)
from csms.domain.commands_device import DeviceCommand
from csms.domain.commands_files import GetLog, UpdateFirmware
from csms.domain.commands_tx import (
    CustomerInformation,
    ExtendedTrigger,
    GetChargingProfiles,
    GetTransactionStatus,
    ResetEvse,
)
from csms.errors import CommandNotSupported
from csms.handlers.commands import auth_v201 as auth
from csms.handlers.commands import certs, files
from csms.handlers.commands import device_v201 as device
from csms.handlers.commands import tx_v201 as tx
from csms.handlers.commands.limits import wire_limit
from csms.handlers.timefmt import format_time, parse_time

Payload = dict[str, Any]

VERSION: Final = "2.0.1"

_RESET: Final = {ResetKind.SOFT: "OnIdle", ResetKind.HARD: "Immediate"}

_TRIGGER: Final = {
    TriggerableMessage.BOOT_NOTIFICATION: "BootNotification",
    TriggerableMessage.HEARTBEAT: "Heartbeat",
    TriggerableMessage.METER_VALUES: "MeterValues",
    TriggerableMessage.STATUS_NOTIFICATION: "StatusNotification",
    TriggerableMessage.FIRMWARE_STATUS: "FirmwareStatusNotification",
    TriggerableMessage.DIAGNOSTICS_STATUS: "LogStatusNotification",
    TriggerableMessage.TRANSACTION_EVENT: "TransactionEvent",
}

_ID_TOKEN_TYPES: Final = frozenset({
    "Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress",
    "NoAuthorization",
})

_UNKNOWN: Final = frozenset({"UnknownComponent", "UnknownVariable"})


class _Inexpressible(ValueError):
    """OCPP 2.0.1 has no spelling for this; the message says why."""


def to_call(station_id: str, command: Command) -> tuple[str, Payload]:
    """(action, payload) for the command.

    Raises:
        CommandNotSupported: OCPP 2.0.1 cannot express the command (module rule 2).
    """
    try:
        return _call(command)
    except (_Inexpressible, tx.Inexpressible, auth.Inexpressible, certs.Inexpressible) as exc:
        name = f"{type(command).__name__} ({exc})"
        raise CommandNotSupported(station_id, name, VERSION) from None


def from_answer(command: Command, payload: Payload) -> CommandResult:
    """The domain result of the charger's (already schema-validated) answer."""
    if isinstance(command, CertificateCommand):
        return certs.answer_v201(command, payload)
    if isinstance(command, UpdateFirmware | GetLog):
        return files.from_answer_v201(command, payload)
    if isinstance(command, GetTransactionStatus):
        result = tx.answer(command, payload)
        assert result is not None
        return result
    if isinstance(command, AuthCommand):
        return auth.answer(command, payload)
    if isinstance(command, GetSettings):
        return _settings_report(payload)
    if isinstance(command, DeviceCommand):
        return device.answer(command, payload)
    if isinstance(command, GetCompositeSchedule):
        return _composite_schedule(payload)
    if isinstance(command, ShowCost):  # CostUpdatedResponse is empty
        return CommandStatus("Accepted")
    if isinstance(command, SetSetting):
        item = payload["setVariableResult"][0]
        return CommandStatus(item["attributeStatus"], _reason(item.get("attributeStatusInfo")))
    return CommandStatus(payload["status"], _reason(payload.get("statusInfo")))


def profile_payload(profile: ChargingProfile) -> Payload:
    """A 2.0.1 ``ChargingProfileType`` (SetChargingProfile, RequestStartTransaction).

    Raises:
        ValueError: ``transaction_ref`` is longer than 36 characters.
    """
    ref = profile.transaction_ref
    return {
        "id": profile.profile_id,
        "stackLevel": profile.stack_level,
        "chargingProfilePurpose": profile.purpose.value,
        "chargingProfileKind": profile.kind.value,
        "chargingSchedule": [_schedule_payload(profile.profile_id, profile.schedule)],
        **_present(
            recurrencyKind=profile.recurrency,
            validFrom=_time(profile.valid_from),
            validTo=_time(profile.valid_to),
            transactionId=None if ref is None else _fit(ref, 36, "transactionId"),
        ),
    }


def _call(command: Command) -> tuple[str, Payload]:
    if isinstance(command, DeviceCommand):
        try:
            return device.call(command, _component_variable)
        except device.Inexpressible as exc:
            raise _Inexpressible(str(exc)) from None
    match command:
        case RemoteStart():
            return "RequestStartTransaction", _request_start(command)
        case RemoteStop():
            return "RequestStopTransaction", {
                "transactionId": _fit(command.transaction_ref, 36, "transactionId"),
            }
        case Reset():
            return "Reset", {"type": _RESET[command.kind]}
        case ChangeAvailability():
            return "ChangeAvailability", _change_availability(command)
        case UnlockConnector():
            return "UnlockConnector", {
                "evseId": command.evse_id, "connectorId": command.connector_id,
            }
        case GetSettings():
            return "GetVariables", _get_variables(command)
        case SetSetting():
            return "SetVariables", _set_variables(command)
        case TriggerMessage():
            return "TriggerMessage", {
                "requestedMessage": _TRIGGER[command.message], **_evse(command.evse_id),
            }
        case SetChargingProfile():
            return "SetChargingProfile", {
                "evseId": command.evse_id, "chargingProfile": profile_payload(command.profile),
            }
        case ClearChargingProfile():
            return "ClearChargingProfile", _clear_profile(command)
        case GetCompositeSchedule():
            return "GetCompositeSchedule", _composite_request(command)
        case ShowCost():
            if command.final:
                raise _Inexpressible("2.0.1 gives the final cost in TransactionEventResponse")
            return "CostUpdated", {"totalCost": float(command.cost_yuan),
                                   "transactionId": _fit(command.transaction_ref, 36,
                                                         "transactionId")}
        case UpdateFirmware() | GetLog():
            try:
                return files.to_call_v201(command)
            except ValueError as exc:
                raise _Inexpressible(str(exc)) from None
        case (GetTransactionStatus() | ResetEvse() | ExtendedTrigger() | GetChargingProfiles()
              | CustomerInformation()):
            return tx.call(command)
        case (SendLocalList() | GetLocalListVersion() | ClearCache() | ReserveNow()
              | CancelReservation()):
            return auth.call(command)
        case (InstallCertificate() | GetInstalledCertificateIds() | DeleteCertificate()
              | CertificateSigned()):
            return certs.call_v201(command)
        case CloseConnection():  # the registry closes; it never reaches a charger
            raise _Inexpressible("not an OCPP message")
        case _:
            assert_never(command)


def _request_start(command: RemoteStart) -> Payload:
    token, profile = command.id_token, command.charging_profile
    if token.kind not in _ID_TOKEN_TYPES:
        raise _Inexpressible(f"{token.kind!r} is not a 2.0.1 IdTokenEnumType")
    return {
        "idToken": {"idToken": _fit(token.value, 36, "idToken"), "type": token.kind},
        "remoteStartId": command.remote_start_id,
        **_present(
            evseId=command.evse_id,
            chargingProfile=None if profile is None else profile_payload(profile),
        ),
    }


def _change_availability(command: ChangeAvailability) -> Payload:
    evse = _evse(command.evse_id)
    if evse and command.connector_id is not None:
        evse["evse"]["connectorId"] = command.connector_id
    return {"operationalStatus": "Operative" if command.operative else "Inoperative", **evse}


def _get_variables(command: GetSettings) -> Payload:
    if not command.keys:
        raise _Inexpressible("GetVariables needs explicit keys")
    return {"getVariableData": [_component_variable(key) for key in command.keys]}


def _set_variables(command: SetSetting) -> Payload:
    return {"setVariableData": [{
        "attributeValue": _fit(command.value, 1000, "attributeValue"),
        **_component_variable(command.key),
    }]}


def _component_variable(key: SettingKey) -> Payload:
    """``component`` and ``variable`` of a GetVariableData or SetVariableData item."""
    if key.component is None:
        raise _Inexpressible(f"2.0.1 variables live in a component: {key}")
    component: Payload = {
        "name": _fit(key.component, 50, "component name"),
        **_present(instance=None if key.instance is None else _fit(key.instance, 50, "instance")),
    }
    if key.evse_id is not None:
        component["evse"] = {"id": key.evse_id}
    return {"component": component, "variable": {"name": _fit(key.variable, 50, "variable")}}


def _clear_profile(command: ClearChargingProfile) -> Payload:
    purpose = command.purpose
    criteria = _present(
        evseId=command.evse_id,
        chargingProfilePurpose=None if purpose is None else purpose.value,
        stackLevel=command.stack_level,
    )
    return _present(chargingProfileId=command.profile_id, chargingProfileCriteria=criteria or None)


def _composite_request(command: GetCompositeSchedule) -> Payload:
    return {
        "duration": command.duration_s, "evseId": command.evse_id,
        **_present(chargingRateUnit=command.rate_unit),
    }


def _schedule_payload(schedule_id: int, schedule: ChargingSchedule) -> Payload:
    unit, min_rate = schedule.rate_unit, schedule.min_rate
    return {
        "id": schedule_id,
        "chargingRateUnit": schedule.rate_unit,
        "chargingSchedulePeriod": [
            {"startPeriod": p.start_s, "limit": wire_limit(p.limit, unit),
             **_present(numberPhases=p.number_phases)}
            for p in schedule.periods
        ],
        **_present(
            startSchedule=_time(schedule.start_at),
            duration=schedule.duration_s,
            minChargingRate=None if min_rate is None else wire_limit(min_rate, unit),
        ),
    }


def _settings_report(p: Payload) -> SettingsReport:
    values = tuple(_setting_value(item) for item in p["getVariableResult"])
    unknown = tuple(
        f"{value.key.component}.{value.key.variable}" for value in values
        if value.status in _UNKNOWN
    )
    return SettingsReport(values, unknown)


def _setting_value(item: Payload) -> SettingValue:
    component = item["component"]
    evse = component.get("evse")
    key = SettingKey(
        variable=item["variable"]["name"],
        component=component["name"],
        instance=component.get("instance"),
        evse_id=None if evse is None else evse["id"],
    )
    return SettingValue(key, item["attributeStatus"], item.get("attributeValue"))


def _composite_schedule(p: Payload) -> CompositeSchedule:
    raw = p.get("schedule")
    if raw is None:
        return CompositeSchedule(p["status"])
    schedule = ChargingSchedule(
        rate_unit=raw["chargingRateUnit"],
        periods=tuple(
            SchedulePeriod(item["startPeriod"], float(item["limit"]), item.get("numberPhases"))
            for item in raw["chargingSchedulePeriod"]
        ),
        duration_s=raw["duration"],
        start_at=parse_time(raw["scheduleStart"]),
    )
    return CompositeSchedule(p["status"], raw["evseId"], schedule)


def _evse(evse_id: int | None) -> Payload:
    """``{"evse": {"id": evse_id}}``, or nothing for the whole station (None or 0)."""
    return {} if not evse_id else {"evse": {"id": evse_id}}


def _reason(status_info: Payload | None) -> str | None:
    return None if status_info is None else str(status_info["reasonCode"])


def _fit(text: str, max_length: int, field: str) -> str:
    if len(text) > max_length:
        raise _Inexpressible(f"2.0.1 {field} holds at most {max_length} characters")
    return text


def _time(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def _present(**fields: Any) -> Payload:
    """The fields that are not None."""
    return {name: value for name, value in fields.items() if value is not None}
