"""CSMS-initiated commands and their results, version-neutral.

Rules:
1. A command says what the operator wants, not how a version spells it: ``translate.v16``
   and ``translate.v201`` turn it into a CALL and the answer back into a result.
2. A command a version cannot express raises ``CommandNotSupported`` in translation, before
   anything is sent.
3. Limits carry their unit in ``rate_unit`` ("A" or "W"); times are aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from csms.domain.commands_auth import (
    CancelReservation,
    ClearCache,
    GetLocalListVersion,
    LocalListVersion,
    ReserveNow,
    SendLocalList,
)
from csms.domain.commands_certs import CertificateCommand, InstalledCertificates
from csms.domain.commands_files import GetLog, LogAnswer, UpdateFirmware
from csms.domain.commands_tx import TransactionStatus, TxCommand
from csms.domain.model import IdToken

AuthCommand = SendLocalList | GetLocalListVersion | ClearCache | ReserveNow | CancelReservation


class ResetKind(StrEnum):
    SOFT = "Soft"  # 2.0.1 OnIdle
    HARD = "Hard"  # 2.0.1 Immediate


class ProfilePurpose(StrEnum):
    STATION_MAX = "ChargingStationMaxProfile"  # 1.6 ChargePointMaxProfile
    TX_DEFAULT = "TxDefaultProfile"
    TX = "TxProfile"


class ProfileKind(StrEnum):
    ABSOLUTE = "Absolute"
    RECURRING = "Recurring"
    RELATIVE = "Relative"


class TriggerableMessage(StrEnum):
    BOOT_NOTIFICATION = "BootNotification"
    HEARTBEAT = "Heartbeat"
    METER_VALUES = "MeterValues"
    STATUS_NOTIFICATION = "StatusNotification"
    FIRMWARE_STATUS = "FirmwareStatusNotification"
    DIAGNOSTICS_STATUS = "DiagnosticsStatusNotification"  # 2.0.1 LogStatusNotification
    TRANSACTION_EVENT = "TransactionEvent"  # 2.0.1 only


@dataclass(frozen=True, slots=True)
class SchedulePeriod:
    start_s: int
    limit: float
    number_phases: int | None = None


@dataclass(frozen=True, slots=True)
class ChargingSchedule:
    rate_unit: str  # "A" or "W"
    periods: tuple[SchedulePeriod, ...]
    duration_s: int | None = None
    start_at: datetime | None = None
    min_rate: float | None = None


@dataclass(frozen=True, slots=True)
class ChargingProfile:
    profile_id: int
    stack_level: int
    purpose: ProfilePurpose
    kind: ProfileKind
    schedule: ChargingSchedule
    recurrency: str | None = None  # "Daily" / "Weekly"
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_ref: str | None = None


@dataclass(frozen=True, slots=True)
class SettingKey:
    """A 1.6 configuration key (``variable``) or a 2.0.1 component/variable pair."""

    variable: str
    component: str | None = None
    instance: str | None = None
    evse_id: int | None = None


@dataclass(frozen=True, slots=True)
class RemoteStart:
    id_token: IdToken
    evse_id: int | None = None
    remote_start_id: int = 1
    charging_profile: ChargingProfile | None = None


@dataclass(frozen=True, slots=True)
class RemoteStop:
    transaction_ref: str


@dataclass(frozen=True, slots=True)
class Reset:
    kind: ResetKind = ResetKind.SOFT


@dataclass(frozen=True, slots=True)
class ChangeAvailability:
    evse_id: int
    operative: bool
    connector_id: int | None = None


@dataclass(frozen=True, slots=True)
class UnlockConnector:
    evse_id: int
    connector_id: int = 1


@dataclass(frozen=True, slots=True)
class GetSettings:
    keys: tuple[SettingKey, ...] = ()  # empty: all (1.6 only; 2.0.1 needs explicit keys)


@dataclass(frozen=True, slots=True)
class SetSetting:
    key: SettingKey
    value: str


@dataclass(frozen=True, slots=True)
class TriggerMessage:
    message: TriggerableMessage
    evse_id: int | None = None


@dataclass(frozen=True, slots=True)
class SetChargingProfile:
    evse_id: int
    profile: ChargingProfile


@dataclass(frozen=True, slots=True)
class ClearChargingProfile:
    profile_id: int | None = None
    evse_id: int | None = None
    purpose: ProfilePurpose | None = None
    stack_level: int | None = None


@dataclass(frozen=True, slots=True)
class GetCompositeSchedule:
    evse_id: int
    duration_s: int
    rate_unit: str | None = None


@dataclass(frozen=True, slots=True)
class ShowCost:
    """A transaction's cost so far (or final) for the charger's display, in yuan (whole fen).

    2.0.1: CostUpdated (running only: the final cost is TransactionEventResponse.totalCost);
    1.6: California-pricing DataTransfer RunningCost / FinalCost with ``text`` as priceText.
    """

    transaction_ref: str
    cost_yuan: Decimal
    final: bool = False
    text: str | None = None


from csms.domain.commands_device import DeviceCommand, DeviceResult  # noqa: E402


@dataclass(frozen=True, slots=True)
class CloseConnection:
    """Not an OCPP message: the node that holds the charger's connection closes it, with
    ``reason`` as the WebSocket close reason (a revoked charger, on whichever node it is).
    Answered ``CommandStatus("Accepted")``; never translated."""

    reason: str


Command = (
    RemoteStart | RemoteStop | Reset | ChangeAvailability | UnlockConnector | GetSettings
    | SetSetting | TriggerMessage | SetChargingProfile | ClearChargingProfile
    | GetCompositeSchedule | ShowCost | DeviceCommand | TxCommand | AuthCommand
    | UpdateFirmware | GetLog  # csms.domain.commands_files
    | CertificateCommand  # csms.domain.commands_certs
    | CloseConnection
)


@dataclass(frozen=True, slots=True)
class CommandStatus:
    """The charger's answer to most commands: a status and an optional reason."""

    status: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class SettingValue:
    key: SettingKey
    status: str  # "Accepted", "UnknownVariable", ...
    value: str | None = None
    readonly: bool | None = None


@dataclass(frozen=True, slots=True)
class SettingsReport:
    values: tuple[SettingValue, ...]
    unknown: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CompositeSchedule:
    status: str
    evse_id: int | None = None
    schedule: ChargingSchedule | None = None


CommandResult = (CommandStatus | SettingsReport | CompositeSchedule | DeviceResult
                 | LogAnswer | TransactionStatus | LocalListVersion | InstalledCertificates)
