"""Transaction and station commands of issue 13 point 7, version-neutral.

Rules:
1. ``GetTransactionStatus`` asks whether a transaction is still ongoing (2.0.1 only; 1.6
   cannot express it): the answer says whether the station still has messages queued for
   it and, when a transaction was named, whether it is ongoing (``None``: the station did
   not say).
2. ``ResetEvse`` resets one EVSE (2.0.1 Reset with ``evseId``); 1.6 Reset is always the
   whole charge point, so it cannot be expressed there.
3. ``ExtendedTrigger`` is the security extension's ExtendedTriggerMessage (1.6) and plain
   TriggerMessage (2.0.1): it can ask for the messages the 1.6 core trigger cannot
   (LogStatusNotification, SignChargePointCertificate).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ExtendedTriggerable(StrEnum):
    BOOT_NOTIFICATION = "BootNotification"
    LOG_STATUS = "LogStatusNotification"
    FIRMWARE_STATUS = "FirmwareStatusNotification"
    HEARTBEAT = "Heartbeat"
    METER_VALUES = "MeterValues"
    SIGN_CERTIFICATE = "SignChargePointCertificate"  # 2.0.1 SignChargingStationCertificate
    STATUS_NOTIFICATION = "StatusNotification"


@dataclass(frozen=True, slots=True)
class GetTransactionStatus:
    transaction_ref: str | None = None


@dataclass(frozen=True, slots=True)
class ResetEvse:
    evse_id: int
    immediate: bool = False  # 2.0.1 Immediate; else OnIdle (after the transaction)


@dataclass(frozen=True, slots=True)
class ExtendedTrigger:
    message: ExtendedTriggerable
    evse_id: int | None = None


@dataclass(frozen=True, slots=True)
class TransactionStatus:
    """The answer to :class:`GetTransactionStatus`."""

    messages_in_queue: bool
    ongoing: bool | None = None


TxCommand = GetTransactionStatus | ResetEvse | ExtendedTrigger
