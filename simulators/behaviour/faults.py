"""Fault injection: what a charger does and reports when something breaks, and when it heals.

From Python::

    await st.faults.inject(FaultKind.GROUND_FAILURE, 1, clear_after_s=600)
    st.faults.schedule(FaultKind.HIGH_TEMPERATURE, 1, at_s=3600)   # simulated seconds
    await st.faults.clear(FaultKind.GROUND_FAILURE, 1)

From the CLI or a scenario file: ``--fault KIND@AT_S[:CONNECTOR][+CLEAR_S]`` (scheduled) and
``--fault-kinds``/``--fault-rate-per-h`` (random, seeded); see :func:`random_faults`.

Rules:
1. A *tripping* fault (:data:`TRIPPING`: HighTemperature, GroundFailure, OverCurrentFailure,
   OverVoltage, UnderVoltage, PowerMeterFailure) makes the connector Faulted and stops the
   draw. 1.6 sends StatusNotification Faulted with the errorCode and a vendorErrorCode;
   2.0.1 sends StatusNotification Faulted and a NotifyEvent (trigger Delta,
   HardWiredNotification) setting the component's problem variable to ``true``, with the
   1.6 error code as techCode (:data:`COMPONENTS` names component and variable: RCD.Tripped,
   OverCurrentProtection.Operated, TemperatureSensor.Problem, ControlMetering.Problem,
   EVSE.Problem for voltage), the component scoped to the EVSE.
2. Clearing a tripping fault sends 1.6 StatusNotification NoError (Available, Unavailable if
   made inoperative meanwhile, or Charging during a transaction); 2.0.1 NotifyEvent
   ``cleared: true`` with actualValue ``false``, then StatusNotification likewise.
3. Measurands: HighTemperature reports a temperature rising from 70 °C by 0.5 °C per
   simulated minute: in 1.6 as the Temperature measurand, in 2.0.1 (whose MeasurandEnumType
   has no Temperature) as NotifyEvent TemperatureSensor.Temperature (trigger Periodic).
   OverVoltage/UnderVoltage report Voltage 264.5 V / 195.5 V; OverCurrentFailure first
   reports a reading drawing 125 % of the offered current (Current.Import above
   Current.Offered), then trips. Each sends one reading at injection; HighTemperature keeps
   reporting every meter interval (1.6: while no session does it with its readings).
4. Non-tripping faults: EnergyBackwards rewinds the register by up to 1 kWh and sends a
   reading; EnergyStall freezes the register while power is still reported (until cleared);
   PowerMeterFailure also silences the session's meter readings; ConnectionLost cuts the
   connection and turns reconnecting off, so it does not return (it cannot be cleared).
5. Everything here is counted in :attr:`Stats.faults` and kept in
   :attr:`FaultInjector.injected`.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from simulators.model import Status
from simulators.sampling import MeterSample

if TYPE_CHECKING:
    from simulators.station import SimStation


class FaultKind(StrEnum):
    """The faults the simulator can inject (1.6 error code names where one exists)."""

    HIGH_TEMPERATURE = "HighTemperature"
    GROUND_FAILURE = "GroundFailure"
    OVER_CURRENT = "OverCurrentFailure"
    OVER_VOLTAGE = "OverVoltage"
    UNDER_VOLTAGE = "UnderVoltage"
    POWER_METER = "PowerMeterFailure"
    ENERGY_BACKWARDS = "EnergyBackwards"
    ENERGY_STALL = "EnergyStall"
    CONNECTION_LOST = "ConnectionLost"


K = FaultKind
TRIPPING: Final = frozenset({
    K.HIGH_TEMPERATURE, K.GROUND_FAILURE, K.OVER_CURRENT, K.OVER_VOLTAGE, K.UNDER_VOLTAGE,
    K.POWER_METER,
})
COMPONENTS: Final[dict[FaultKind, tuple[str, str]]] = {
    K.HIGH_TEMPERATURE: ("TemperatureSensor", "Problem"),
    K.GROUND_FAILURE: ("RCD", "Tripped"),
    K.OVER_CURRENT: ("OverCurrentProtection", "Operated"),
    K.OVER_VOLTAGE: ("EVSE", "Problem"),
    K.UNDER_VOLTAGE: ("EVSE", "Problem"),
    K.POWER_METER: ("ControlMetering", "Problem"),
}
VOLTAGE_V: Final = {K.OVER_VOLTAGE: 264.5, K.UNDER_VOLTAGE: 195.5}
HOT_START_C: Final = 70.0
HOT_RISE_C_PER_MIN: Final = 0.5
OVER_CURRENT_FACTOR: Final = 1.25
REWIND_WH: Final = 1000.0


@dataclass(frozen=True, slots=True)
class ScheduledFault:
    """A fault to inject ``at_s`` simulated seconds after it is scheduled (in a fleet: once
    the station has booted); ``clear_after_s`` later it heals (``None``: never)."""

    kind: FaultKind
    at_s: float
    connector_id: int = 1
    clear_after_s: float | None = None


def parse_fault(text: str) -> ScheduledFault:
    """``KIND@AT_S[:CONNECTOR][+CLEAR_S]`` (e.g. ``GroundFailure@60:2+300``) as a fault;
    raises ``ValueError`` naming what is wrong."""
    kind_text, sep, rest = text.partition("@")
    if not sep:
        raise ValueError(f"fault {text!r}: expected KIND@AT_S[:CONNECTOR][+CLEAR_S]")
    try:
        kind = FaultKind(kind_text)
    except ValueError:
        raise ValueError(f"fault {text!r}: unknown kind; one of {[k.value for k in K]}") from None
    rest, _, clear = rest.partition("+")
    at, _, connector = rest.partition(":")
    try:
        return ScheduledFault(kind, float(at), int(connector or 1),
                              float(clear) if clear else None)
    except ValueError:
        raise ValueError(f"fault {text!r}: AT_S, CONNECTOR and CLEAR_S are numbers") from None


def random_faults(
    rng: random.Random, kinds: tuple[FaultKind, ...], rate_per_h: float, duration_s: float,
    connectors: int, clear_after_s: float | None,
) -> list[ScheduledFault]:
    """Faults of ``kinds`` arriving as a Poisson process of ``rate_per_h`` per simulated
    hour over ``duration_s``, each on a random connector; same seed, same faults."""
    faults: list[ScheduledFault] = []
    if not kinds or rate_per_h <= 0:
        return faults
    at = rng.expovariate(rate_per_h / 3600)
    while at < duration_s:
        faults.append(ScheduledFault(rng.choice(kinds), at, rng.randint(1, connectors),
                                     clear_after_s))
        at += rng.expovariate(rate_per_h / 3600)
    return faults


@dataclass(frozen=True, slots=True)
class Injected:
    """One fault that was injected: what, where, when (simulated seconds of the clock)."""

    kind: FaultKind
    connector_id: int
    at_s: float


class FaultInjector:
    """The faults of one station; see the module rules."""

    def __init__(self, station: SimStation) -> None:
        self._st = station
        self.active: dict[tuple[int, FaultKind], float] = {}  # -> started (simulated s)
        self.injected: list[Injected] = []
        self._event_ids = itertools.count(1)
        self._seq_nos = itertools.count(0)
        self._task_ids = itertools.count(1)

    def is_active(self, kind: FaultKind, connector_id: int = 1) -> bool:
        """Whether ``kind`` is in force on ``connector_id``."""
        return (connector_id, kind) in self.active

    def _kinds(self, connector_id: int) -> set[FaultKind]:
        return {kind for cid, kind in self.active if cid == connector_id}

    def blocks_draw(self, connector_id: int) -> bool:
        """A tripping fault is in force: the connector delivers nothing."""
        return bool(self._kinds(connector_id) & TRIPPING)

    def stalls_energy(self, connector_id: int) -> bool:
        """The register does not advance (EnergyStall)."""
        return K.ENERGY_STALL in self._kinds(connector_id)

    def meter_silent(self, connector_id: int) -> bool:
        """The meter cannot be read (PowerMeterFailure)."""
        return K.POWER_METER in self._kinds(connector_id)

    def adjust(self, connector_id: int, sample: MeterSample) -> MeterSample:
        """The sample as the faulty hardware reads it (rule 3)."""
        kinds = self._kinds(connector_id)
        if K.HIGH_TEMPERATURE in kinds:
            sample = dataclasses.replace(sample, temperature_c=self._heat(connector_id))
        for kind, volts in VOLTAGE_V.items():
            if kind in kinds:
                sample = dataclasses.replace(sample, voltage_v=volts)
        return sample

    def schedule(
        self, kind: FaultKind, connector_id: int = 1, *, at_s: float,
        clear_after_s: float | None = None,
    ) -> None:
        """Inject ``kind`` ``at_s`` simulated seconds from now (the station must be running)."""
        clock = self._st.clock

        async def later() -> None:
            await clock.sleep(at_s)
            await self.inject(kind, connector_id, clear_after_s=clear_after_s)

        self._background(f"fault-{kind}", later)

    async def inject(
        self, kind: FaultKind | str, connector_id: int = 1, *, clear_after_s: float | None = None
    ) -> None:
        """Make ``kind`` happen on ``connector_id`` now (rules 1, 3, 4); it heals after
        ``clear_after_s`` simulated seconds if given. Raises ``SimulatorError`` for an
        unknown connector."""
        kind = FaultKind(kind)
        st = self._st
        st.connector(connector_id)
        self.active[(connector_id, kind)] = st.clock.elapsed_s()
        self.injected.append(Injected(kind, connector_id, st.clock.elapsed_s()))
        st.stats.fault_injected(kind.value)
        st.log.info("sim.fault.injected", fault=kind.value, connector_id=connector_id)
        if kind is K.CONNECTION_LOST:
            st.link.backoff = None
            if st.connected:
                await st.drop_connection()
            return
        await self._apply(kind, connector_id)
        self._wake(connector_id)
        if clear_after_s is not None:
            async def heal() -> None:
                await st.clock.sleep(clear_after_s)
                await self.clear(kind, connector_id)

            self._background(f"fault-clear-{kind}", heal)

    async def _apply(self, kind: FaultKind, cid: int) -> None:
        st = self._st
        connector = st.connector(cid)
        if kind is K.ENERGY_BACKWARDS:
            connector.rewind(min(REWIND_WH, connector.energy_wh))
            await st.send_meter_values(cid, standalone=connector.transaction is None)
            return
        if kind is K.OVER_CURRENT:
            offered = st.profiles.limit(cid, "A", st.clock.now())
            amps = OVER_CURRENT_FACTOR * (offered or st.hardware.max_current_a)
            await st.send_meter_values(cid, power_w=st.hardware.watts(amps), current_a=amps)
        if kind in TRIPPING:
            await st.send_status(cid, Status.FAULTED, error_code=kind.value,
                                 vendor_error_code=f"SIM-{kind.value}"[:50])
            await self._notify(kind, cid, problem=True)
        if kind in (K.OVER_VOLTAGE, K.UNDER_VOLTAGE):
            await st.send_meter_values(cid, standalone=connector.transaction is None)
        if kind is K.HIGH_TEMPERATURE:
            await self._report_heat(cid)
            self._background(f"fault-heat-{cid}", lambda: self._keep_reporting_heat(cid))

    def _heat(self, cid: int) -> float:
        since = self._st.clock.elapsed_s() - self.active[(cid, K.HIGH_TEMPERATURE)]
        return round(HOT_START_C + HOT_RISE_C_PER_MIN * since / 60, 1)

    async def _report_heat(self, cid: int) -> None:
        st = self._st
        if st.version.value != "ocpp2.0.1":
            await st.send_meter_values(cid, standalone=st.transaction(cid) is None)
            return
        await self._send_event(cid, {
            "trigger": "Periodic", "actualValue": str(self._heat(cid)),
            "eventNotificationType": "HardWiredMonitor",
            "component": {"name": "TemperatureSensor", "evse": {"id": cid, "connectorId": 1}},
            "variable": {"name": "Temperature"},
        })

    async def _keep_reporting_heat(self, cid: int) -> None:
        st = self._st
        while self.is_active(K.HIGH_TEMPERATURE, cid):
            await st.clock.sleep(st.meter_interval_s())
            in_session = cid in st.sessions_running() and st.version.value == "ocpp1.6"
            if self.is_active(K.HIGH_TEMPERATURE, cid) and not in_session:
                await self._report_heat(cid)

    async def clear(self, kind: FaultKind | str, connector_id: int = 1) -> None:
        """Heal ``kind`` on ``connector_id`` (rule 2); nothing if it is not in force."""
        kind = FaultKind(kind)
        st = self._st
        if self.active.pop((connector_id, kind), None) is None or kind is K.CONNECTION_LOST:
            return
        st.log.info("sim.fault.cleared", fault=kind.value, connector_id=connector_id)
        if kind in TRIPPING:
            await self._notify(kind, connector_id, problem=False)
            if not self.blocks_draw(connector_id):
                connector = st.connector(connector_id)
                if connector.transaction is not None:
                    status = Status.OCCUPIED
                else:
                    status = Status.AVAILABLE if connector.operative else Status.UNAVAILABLE
                await st.send_status(connector_id, status)
        self._wake(connector_id)

    async def _notify(self, kind: FaultKind, cid: int, *, problem: bool) -> None:
        st = self._st
        if st.version.value != "ocpp2.0.1":
            return
        component, variable = COMPONENTS[kind]
        data: dict[str, Any] = {
            "trigger": "Delta", "actualValue": "true" if problem else "false",
            "techCode": kind.value, "eventNotificationType": "HardWiredNotification",
            "component": {"name": component, "evse": {"id": cid, "connectorId": 1}},
            "variable": {"name": variable},
        }
        if not problem:
            data["cleared"] = True
        await self._send_event(cid, data)

    async def _send_event(self, cid: int, data: dict[str, Any]) -> None:
        st = self._st
        stamp = st.timestamp()
        data = {"eventId": next(self._event_ids), "timestamp": stamp, **data}
        payload = {"generatedAt": stamp, "seqNo": next(self._seq_nos), "eventData": [data]}
        await st.outbox.send("NotifyEvent", payload)

    def _background(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` as a service: :meth:`SimStation.settle` does not wait for it."""
        self._st.link.start_service(f"{name}#{next(self._task_ids)}", work)

    def _wake(self, connector_id: int) -> None:
        session = self._st.sessions.get(connector_id)
        if session is not None:
            session.wake()
