"""The version-neutral domain model: what chargers tell us, and what we answer.

Rules:
1. Plain frozen, slotted dataclasses; no OCPP, no I/O. OCPP 1.6 and 2.0.1 payloads are
   translated to and from these types in ``csms.handlers.translate.v16`` / ``translate.v201``.
2. Units are in the names (``energy_wh``, ``interval_s``); times are timezone-aware UTC.
3. A connector is addressed by (evse_id, connector_id). OCPP 1.6 has no EVSE: its connector
   ``n`` is EVSE ``n``, connector 1; connector 0 (the whole station) is EVSE 0.
4. A session is keyed by an id the CSMS owns; the charger's transaction id is an attribute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class RegistrationStatus(StrEnum):
    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


class ConnectorStatus(StrEnum):
    """Union of 1.6 and 2.0.1 connector states; each version uses its subset."""

    AVAILABLE = "Available"
    OCCUPIED = "Occupied"  # 2.0.1; 1.6 Preparing/Charging/... are finer-grained
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EVSE = "SuspendedEVSE"
    SUSPENDED_EV = "SuspendedEV"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class AuthorizationStatus(StrEnum):
    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    UNKNOWN = "Unknown"  # 2.0.1 only; translated to Invalid for 1.6
    NO_CREDIT = "NoCredit"  # 2.0.1 only; translated to Blocked for 1.6


class SessionEventKind(StrEnum):
    STARTED = "Started"
    UPDATED = "Updated"
    ENDED = "Ended"


@dataclass(frozen=True, slots=True)
class IdToken:
    value: str
    kind: str = "ISO14443"  # 2.0.1 IdTokenEnumType; 1.6 idTag is always "ISO14443"-like


@dataclass(frozen=True, slots=True)
class Authorization:
    """The CSMS's verdict on an id token."""

    status: AuthorizationStatus
    expires_at: datetime | None = None
    group_id: str | None = None


@dataclass(frozen=True, slots=True)
class SampledValue:
    """One sampled value; ``value`` is in ``unit`` (Wh, W, A, V, Celsius, Percent...)."""

    value: float
    measurand: str = "Energy.Active.Import.Register"
    unit: str | None = None
    phase: str | None = None
    context: str | None = None
    location: str | None = None


@dataclass(frozen=True, slots=True)
class MeterSample:
    """Values sampled at one instant."""

    at: datetime
    values: tuple[SampledValue, ...]


@dataclass(frozen=True, slots=True)
class StationBooted:
    station_id: str
    vendor: str
    model: str
    serial_number: str | None
    firmware_version: str | None
    reason: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class BootVerdict:
    status: RegistrationStatus
    interval_s: int
    current_time: datetime


@dataclass(frozen=True, slots=True)
class ConnectorStatusChanged:
    station_id: str
    evse_id: int
    connector_id: int
    status: ConnectorStatus
    at: datetime
    error_code: str | None = None  # 1.6 ChargePointErrorCode; "NoError" is stored as None
    vendor_error_code: str | None = None
    info: str | None = None


@dataclass(frozen=True, slots=True)
class MeterValuesReported:
    station_id: str
    evse_id: int
    connector_id: int | None
    transaction_ref: str | None
    samples: tuple[MeterSample, ...]


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """A transaction moved: 1.6 Start/StopTransaction, or a 2.0.1 TransactionEvent.

    ``transaction_ref`` is the charger's transaction id; ``None`` on a 1.6 start, where the
    CSMS issues it. ``seq_no`` is 2.0.1 only. ``meter_wh`` is the energy register at
    start or stop when the message states it (1.6 meterStart/meterStop). ``remote_start_id``
    is the id of the CSMS's RequestStartTransaction this transaction answers (2.0.1 only).
    """

    station_id: str
    kind: SessionEventKind
    at: datetime
    evse_id: int | None
    connector_id: int | None
    transaction_ref: str | None
    id_token: IdToken | None = None
    meter_wh: float | None = None
    samples: tuple[MeterSample, ...] = ()
    seq_no: int | None = None
    offline: bool = False
    trigger_reason: str | None = None
    stop_reason: str | None = None
    charging_state: str | None = None
    reservation_id: int | None = None
    remote_start_id: int | None = None  # 2.0.1 transactionInfo.remoteStartId (RemoteStart)


@dataclass(frozen=True, slots=True)
class SessionChange:
    """What the store applied of a session event, for the rest of the CSMS to act on.

    ``event`` is the event as applied: its EVSE and connector are the session's (learned from
    a later event if the first had none), and it is an ENDED event for a session the CSMS
    ended itself (a new transaction on its EVSE). A retransmission changes nothing and has no
    change; neither has a reading that arrived after its session ended.
    """

    event: SessionEvent
    session_id: int | None


@dataclass(frozen=True, slots=True)
class SessionVerdict:
    """What the CSMS answers to a session event, and what it changed."""

    session_id: int | None  # None for a stop of a transaction the CSMS never knew
    transaction_ref: str
    authorization: Authorization | None
    changes: tuple[SessionChange, ...] = ()
    notices: tuple[StationEventReported, ...] = ()  # anomalies recorded on the way


@dataclass(frozen=True, slots=True)
class StationEventReported:
    """Anything else a charger reports that must be kept: firmware and diagnostics/log
    status, NotifyEvent, SecurityEventNotification, NotifyReport, DataTransfer."""

    station_id: str
    kind: str
    at: datetime
    code: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    details: dict[str, object] = field(default_factory=dict)
