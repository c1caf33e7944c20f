"""Transaction and station commands of issue 13 point 7, version-neutral.

Rules:
1. ``GetTransactionStatus`` asks whether a transaction is still ongoing (2.0.1 only; 1.6
   cannot express it): the answer says whether the station still has messages queued for
   it and, when a transaction was named, whether it is ongoing (``None``: the station did
   not say).
2. ``ResetEvse`` resets one EVSE (2.0.1 Reset with ``evseId``); 1.6 Reset is always the
   whole charge point, so it cannot be expressed there.
3. ``GetChargingProfiles`` and ``CustomerInformation`` (2.0.1 only) are answered with a
   status; what they ask for comes later in charger-initiated parts joined by
   ``request_id`` (csms.services.reports).
4. ``ExtendedTrigger`` is the security extension's ExtendedTriggerMessage (1.6) and plain
   TriggerMessage (2.0.1): it can ask for the messages the 1.6 core trigger cannot
   (LogStatusNotification, SignChargePointCertificate).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from csms.domain.model import IdToken


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




@dataclass(frozen=True, slots=True)
class GetChargingProfiles:
    """2.0.1 GetChargingProfiles: the station answers Accepted or NoProfiles, then reports
    the matching profiles in ReportChargingProfiles messages carrying ``request_id``.
    ``purpose`` is a 2.0.1 ChargingProfilePurposeEnumType value."""

    request_id: int
    evse_id: int | None = None
    purpose: str | None = None
    stack_level: int | None = None
    profile_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class CustomerInformation:
    """2.0.1 CustomerInformation: a resident's data request. ``report`` asks the station to
    send what it keeps about the customer (NotifyCustomerInformation parts with
    ``request_id``), ``clear`` to delete it; the customer is named by an id token or an
    identifier (at most 64 characters)."""

    request_id: int
    report: bool
    clear: bool
    customer_identifier: str | None = None
    id_token: IdToken | None = None


TxCommand = (
    GetTransactionStatus | ResetEvse | ExtendedTrigger | GetChargingProfiles
    | CustomerInformation
)
