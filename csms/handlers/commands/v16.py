"""Version-neutral commands as OCPP 1.6 CALLs, and the charger's answers as domain results.

Pure: no I/O, no clock. :func:`to_call` gives ``(action, payload)``; :func:`from_answer`
turns the (already schema-validated) CALLRESULT payload into a ``CommandResult``.

Rules:
1. 1.6 has no EVSE: EVSE ``n`` is ``connectorId`` ``n`` and EVSE 0 (the whole station) is
   connector 0. An EVSE's only 1.6 connector is connector 1, so a command naming
   ``connector_id`` > 1 cannot be expressed.
2. Whatever 1.6 cannot express raises ``CommandNotSupported`` before anything is sent, with
   the reason in the message: TriggerMessage(TRANSACTION_EVENT); a transaction ref that is
   not a decimal integer (RemoteStop, a profile's ``transaction_ref``); a ``SettingKey``
   with a component, instance or EVSE (1.6 keys are flat); an ``idTag`` over 20 characters,
   a key over 50 or a value over 500. Only ``CommandError`` is caught by the connection, so
   nothing else may escape :func:`to_call`.
3. Names: ``STATION_MAX`` is ``ChargePointMaxProfile``; ``DIAGNOSTICS_STATUS`` is
   ``DiagnosticsStatusNotification``; Reset kinds keep their names (Soft, Hard).
4. Limits and ``minChargingRate`` are rounded *down* to one decimal (A; the schema's
   ``multipleOf 0.1``) or whole watts (W): :mod:`csms.handlers.commands.limits`. Datetimes are
   aware UTC in the domain and ``format_time`` on the wire.
5. Results: most answers are ``CommandStatus(status)`` (1.6 gives no reason). GetConfiguration
   gives one ``SettingValue(SettingKey(key), "Accepted", value, readonly)`` per known key and
   ``unknown`` = ``unknownKey``. GetCompositeSchedule gives ``evse_id`` = ``connectorId``; the
   schedule's start is ``chargingSchedule.startSchedule``, else the answer's ``scheduleStart``.
"""

from __future__ import annotations

import json
import re
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
    ProfilePurpose,
    RemoteStart,
    RemoteStop,
    Reset,
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
from csms.domain.commands_device import (
    DeviceCommand,
    SetSettings,
    SettingSetResult,
    SettingsSetReport,
)
from csms.domain.commands_files import GetLog, UpdateFirmware
from csms.domain.commands_tx import (
    CustomerInformation,
    ExtendedTrigger,
    GetChargingProfiles,
    GetTransactionStatus,
    ResetEvse,
)
from csms.errors import CommandNotSupported
from csms.handlers.commands import auth_v16 as auth
from csms.handlers.commands import certs, files
from csms.handlers.commands import tx_v16 as tx
from csms.handlers.commands.limits import wire_limit
from csms.handlers.timefmt import format_time, parse_time

Payload = dict[str, Any]

VERSION: Final = "1.6"

_PURPOSE: Final = {
    ProfilePurpose.STATION_MAX: "ChargePointMaxProfile",
    ProfilePurpose.TX_DEFAULT: "TxDefaultProfile",
    ProfilePurpose.TX: "TxProfile",
}

_TRIGGER: Final = {
    TriggerableMessage.BOOT_NOTIFICATION: "BootNotification",
    TriggerableMessage.HEARTBEAT: "Heartbeat",
    TriggerableMessage.METER_VALUES: "MeterValues",
    TriggerableMessage.STATUS_NOTIFICATION: "StatusNotification",
    TriggerableMessage.FIRMWARE_STATUS: "FirmwareStatusNotification",
    TriggerableMessage.DIAGNOSTICS_STATUS: "DiagnosticsStatusNotification",
}

_INTEGER: Final = re.compile(r"-?[0-9]+")


class _Inexpressible(ValueError):
    """OCPP 1.6 has no spelling for this; the message says why."""


def to_call(station_id: str, command: Command) -> tuple[str, Payload]:
    """(action, payload) for the command.

    Raises:
        CommandNotSupported: OCPP 1.6 cannot express the command (module rule 2).
    """
    try:
        return _call(command)
    except (_Inexpressible, tx.Inexpressible, auth.Inexpressible, certs.Inexpressible) as exc:
        name = f"{type(command).__name__} ({exc})"
        raise CommandNotSupported(station_id, name, VERSION) from None


def from_answer(command: Command, payload: Payload) -> CommandResult:
    """The domain result of the charger's (already schema-validated) answer."""
    if isinstance(command, CertificateCommand):
        return certs.answer_v16(command, payload)
    if isinstance(command, UpdateFirmware | GetLog):
        return files.from_answer_v16(command, payload)
    if isinstance(command, AuthCommand):
        return auth.answer(command, payload)
    if isinstance(command, GetSettings):
        return _settings_report(payload)
    if isinstance(command, GetCompositeSchedule):
        return _composite_schedule(payload)
    if isinstance(command, SetSettings):  # one key per ChangeConfiguration (_call)
        return SettingsSetReport((SettingSetResult(command.changes[0].key, payload["status"]),))
    return CommandStatus(payload["status"])


def profile_payload(profile: ChargingProfile) -> Payload:
    """A 1.6 ``ChargingProfile`` (``csChargingProfiles``, RemoteStart's ``chargingProfile``).

    Raises:
        ValueError: ``transaction_ref`` is not a decimal integer.
    """
    return {
        "chargingProfileId": profile.profile_id,
        "stackLevel": profile.stack_level,
        "chargingProfilePurpose": _PURPOSE[profile.purpose],
        "chargingProfileKind": profile.kind.value,
        "chargingSchedule": _schedule_payload(profile.schedule),
        **_present(
            transactionId=(
                None if profile.transaction_ref is None
                else _transaction_id(profile.transaction_ref)
            ),
            recurrencyKind=profile.recurrency,
            validFrom=_time(profile.valid_from),
            validTo=_time(profile.valid_to),
        ),
    }


def _call(command: Command) -> tuple[str, Payload]:
    if isinstance(command, SetSettings) and len(command.changes) == 1:
        change = command.changes[0]
        return "ChangeConfiguration", {
            "key": _key(change.key), "value": _fit(change.value, 500, "value")}
    if isinstance(command, DeviceCommand):
        raise _Inexpressible("OCPP 2.0.1 only (1.6 sets one key per ChangeConfiguration)"
                             if isinstance(command, SetSettings) else "OCPP 2.0.1 only")
    match command:
        case RemoteStart():
            return "RemoteStartTransaction", _remote_start(command)
        case RemoteStop():
            return "RemoteStopTransaction", {
                "transactionId": _transaction_id(command.transaction_ref),
            }
        case Reset():
            return "Reset", {"type": command.kind.value}
        case ChangeAvailability():
            return "ChangeAvailability", _change_availability(command)
        case UnlockConnector():
            return "UnlockConnector", {
                "connectorId": _connector(command.evse_id, command.connector_id),
            }
        case GetSettings():
            return "GetConfiguration", _present(key=[_key(k) for k in command.keys] or None)
        case SetSetting():
            return "ChangeConfiguration", {
                "key": _key(command.key), "value": _fit(command.value, 500, "value"),
            }
        case TriggerMessage():
            return "TriggerMessage", _trigger(command)
        case SetChargingProfile():
            return "SetChargingProfile", {
                "connectorId": command.evse_id,
                "csChargingProfiles": profile_payload(command.profile),
            }
        case ClearChargingProfile():
            return "ClearChargingProfile", _clear_profile(command)
        case GetCompositeSchedule():
            return "GetCompositeSchedule", _composite_request(command)
        case ShowCost():
            return "DataTransfer", _cost_message(command)
        case UpdateFirmware() | GetLog():
            try:
                return files.to_call_v16(command)
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
            return certs.call_v16(command)
        case CloseConnection():  # the registry closes; it never reaches a charger
            raise _Inexpressible("not an OCPP message")
        case _:
            assert_never(command)


COSTMSG_VENDOR: Final = "org.openchargealliance.costmsg"


def _cost_message(command: ShowCost) -> Payload:
    """California pricing (OCA whitepaper): ``data`` is a JSON object as a string; the cost
    is written from the Decimal, never through a float."""
    body = f'{{"transactionId": {_transaction_id(command.transaction_ref)}, ' \
        f'"cost": {command.cost_yuan}'
    if command.text is not None:
        body += f', "priceText": {json.dumps(command.text, ensure_ascii=False)}'
    return {"vendorId": COSTMSG_VENDOR,
            "messageId": "FinalCost" if command.final else "RunningCost", "data": body + "}"}


def _remote_start(command: RemoteStart) -> Payload:
    profile = command.charging_profile
    return {
        "idTag": _fit(command.id_token.value, 20, "idTag"),
        **_present(
            connectorId=command.evse_id,
            chargingProfile=None if profile is None else profile_payload(profile),
        ),
    }


def _change_availability(command: ChangeAvailability) -> Payload:
    return {
        "connectorId": _connector(command.evse_id, command.connector_id),
        "type": "Operative" if command.operative else "Inoperative",
    }


def _trigger(command: TriggerMessage) -> Payload:
    requested = _TRIGGER.get(command.message)
    if requested is None:
        raise _Inexpressible(f"1.6 cannot trigger {command.message.value}")
    return {"requestedMessage": requested, **_present(connectorId=command.evse_id)}


def _clear_profile(command: ClearChargingProfile) -> Payload:
    purpose = command.purpose
    return _present(
        id=command.profile_id,
        connectorId=command.evse_id,
        chargingProfilePurpose=None if purpose is None else _PURPOSE[purpose],
        stackLevel=command.stack_level,
    )


def _composite_request(command: GetCompositeSchedule) -> Payload:
    return {
        "connectorId": command.evse_id, "duration": command.duration_s,
        **_present(chargingRateUnit=command.rate_unit),
    }


def _schedule_payload(schedule: ChargingSchedule) -> Payload:
    return {
        "chargingRateUnit": schedule.rate_unit,
        "chargingSchedulePeriod": [
            _period_payload(period, schedule.rate_unit) for period in schedule.periods
        ],
        **_present(
            duration=schedule.duration_s,
            startSchedule=_time(schedule.start_at),
            minChargingRate=(
                None if schedule.min_rate is None
                else wire_limit(schedule.min_rate, schedule.rate_unit)
            ),
        ),
    }


def _period_payload(period: SchedulePeriod, rate_unit: str) -> Payload:
    return {
        "startPeriod": period.start_s,
        "limit": wire_limit(period.limit, rate_unit),
        **_present(numberPhases=period.number_phases),
    }


def _settings_report(p: Payload) -> SettingsReport:
    values = tuple(
        SettingValue(SettingKey(item["key"]), "Accepted", item.get("value"), item["readonly"])
        for item in p.get("configurationKey", ())
    )
    return SettingsReport(values, tuple(p.get("unknownKey", ())))


def _composite_schedule(p: Payload) -> CompositeSchedule:
    raw = p.get("chargingSchedule")
    schedule = None if raw is None else _schedule(raw, p.get("scheduleStart"))
    return CompositeSchedule(p["status"], p.get("connectorId"), schedule)


def _schedule(raw: Payload, schedule_start: str | None) -> ChargingSchedule:
    start = raw.get("startSchedule", schedule_start)
    min_rate = raw.get("minChargingRate")
    return ChargingSchedule(
        rate_unit=raw["chargingRateUnit"],
        periods=tuple(
            SchedulePeriod(item["startPeriod"], float(item["limit"]), item.get("numberPhases"))
            for item in raw["chargingSchedulePeriod"]
        ),
        duration_s=raw.get("duration"),
        start_at=None if start is None else parse_time(start),
        min_rate=None if min_rate is None else float(min_rate),
    )


def _connector(evse_id: int, connector_id: int | None) -> int:
    """The 1.6 connectorId of (evse_id, connector_id)."""
    if connector_id is not None and connector_id > 1:
        raise _Inexpressible(f"1.6 has one connector per EVSE, not connector {connector_id}")
    return evse_id


def _key(key: SettingKey) -> str:
    if key.component is not None or key.instance is not None or key.evse_id is not None:
        raise _Inexpressible(f"1.6 keys have no component, instance or EVSE: {key}")
    return _fit(key.variable, 50, "key")


def _transaction_id(ref: str) -> int:
    if _INTEGER.fullmatch(ref) is None:
        raise _Inexpressible(f"1.6 transaction ids are integers, not {ref!r}")
    return int(ref)


def _fit(text: str, max_length: int, field: str) -> str:
    if len(text) > max_length:
        raise _Inexpressible(f"1.6 {field} holds at most {max_length} characters")
    return text


def _time(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def _present(**fields: Any) -> Payload:
    """The fields that are not None."""
    return {name: value for name, value in fields.items() if value is not None}
