"""Version-neutral state of a simulated charge point: connectors, transactions, hardware.

Rules:
1. Nothing here knows an OCPP version; the dialects (:mod:`simulators.protocol.v16`,
   :mod:`simulators.protocol.v201`) translate these names to and from the wire.
2. A connector's energy register only ever grows (Wh); :meth:`Connector.advance_to` refuses
   to go back. Only the EnergyBackwards fault (:mod:`simulators.behaviour.faults`) moves it back, on
   purpose, through :meth:`Connector.rewind`.
3. In 2.0.1 each simulated connector is EVSE ``n`` with connector 1, so ``connector_id`` is
   the EVSE id there.
4. Timestamps are UTC ISO-8601 strings ending in ``Z`` (:func:`iso_utc`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

RFID_CARD: Final = "ISO14443"  # 2.0.1 IdTokenEnumType of an RFID card


class Status(StrEnum):
    """Connector states, the union of both versions' names; dialects map them to the wire."""

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    OCCUPIED = "Occupied"  # 2.0.1 name; 1.6 sends Preparing or Charging
    CHARGING = "Charging"
    SUSPENDED_EV = "SuspendedEV"
    SUSPENDED_EVSE = "SuspendedEVSE"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class Purpose(StrEnum):
    """Charging-profile purposes, 2.0.1 spelling (1.6 says ChargePointMaxProfile)."""

    STATION_MAX = "ChargingStationMaxProfile"
    TX_DEFAULT = "TxDefaultProfile"
    TX = "TxProfile"


class SimulatorError(Exception):
    """The simulator was asked to do something its state does not allow."""


def iso_utc(when: datetime | None = None) -> str:
    """``when`` (default: now) as UTC ISO-8601 with milliseconds and a ``Z``."""
    moment = (when or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def stamp(value: datetime | str | None) -> str:
    """A wire timestamp: now, an aware datetime converted, or a string passed through as-is."""
    if isinstance(value, str):
        return value
    if value is not None and value.tzinfo is None:
        raise SimulatorError("timestamps must be timezone-aware")
    return iso_utc(value)


@dataclass(frozen=True, slots=True)
class Identity:
    """What BootNotification says about the station."""

    vendor: str = "SimVendor"
    model: str = "SimModel"
    serial: str | None = None
    firmware: str = "sim-0.1"


@dataclass(frozen=True, slots=True)
class Hardware:
    """The electrical limits of every connector (the default composite schedule)."""

    max_current_a: float = 32.0
    phases: int = 3
    voltage_v: float = 230.0

    def watts(self, amps: float, phases: int | None = None) -> float:
        """Power for ``amps`` per phase on ``phases`` (default: all) phases."""
        return amps * self.voltage_v * (phases or self.phases)

    def amps(self, watts: float, phases: int | None = None) -> float:
        """Current per phase for ``watts`` spread over ``phases`` (default: all) phases."""
        return watts / (self.voltage_v * (phases or self.phases))


@dataclass(slots=True)
class Transaction:
    """One charging session; ``transaction_id`` is the CSMS's (1.6) or our own (2.0.1)."""

    transaction_id: str
    connector_id: int
    id_tag: str
    token_type: str
    meter_start_wh: float
    started_at: str
    remote_start_id: int | None = None
    reservation_id: int | None = None  # the reservation this transaction used
    auth_status: str | None = None
    seq_no: int = 0
    charging_state: str = "Charging"  # 2.0.1 chargingState of the next event

    def next_seq(self) -> int:
        """The 2.0.1 seqNo for the next TransactionEvent: 0, 1, 2, ..."""
        value = self.seq_no
        self.seq_no += 1
        return value


@dataclass(slots=True)
class Connector:
    """One connector (1.6) or EVSE (2.0.1) and what is going on at it."""

    connector_id: int
    energy_wh: float = 0.0
    status: Status = Status.AVAILABLE
    operative: bool = True
    pending_operative: bool | None = None  # ChangeAvailability Scheduled until the tx ends
    transaction: Transaction | None = None
    starting: bool = False  # a start was accepted or is in flight, no transaction yet
    last_power_w: float = 0.0
    last_sample_at: float | None = field(default=None, repr=False)  # loop.time()

    @property
    def busy(self) -> bool:
        """A transaction runs or is about to."""
        return self.transaction is not None or self.starting

    def advance_to(self, energy_wh: float) -> None:
        """Set the register; raises :class:`SimulatorError` if that would make it decrease."""
        if energy_wh < self.energy_wh:
            raise SimulatorError(
                f"connector {self.connector_id}: energy register cannot go back "
                f"from {self.energy_wh} to {energy_wh} Wh"
            )
        self.energy_wh = float(energy_wh)

    def rewind(self, wh: float) -> None:
        """Move the register back by ``wh`` (a faulty meter; see
        :mod:`simulators.behaviour.faults`)."""
        self.energy_wh = max(0.0, self.energy_wh - wh)
