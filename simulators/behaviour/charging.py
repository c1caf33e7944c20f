"""An EV plugged into a connector: authorize, start, charge by the EV model, leave.

:meth:`simulators.station.SimStation.plug_in` starts a :class:`ChargingSession`::

    ev = Ev(capacity_wh=60_000, arrival_soc_pct=20, max_current_a=32, phases=3,
            departure=clock.now() + timedelta(hours=8))
    session = await st.plug_in(1, ev, "TAG-1")    # Preparing, Authorize, start, Charging
    st.draw(1)                                    # Draw(current_a=32.0, power_w=22080, ...)
    await session.wait()                          # until departure (or full, or stopped)

Cars arriving over an evening: make them with :func:`simulators.behaviour.ev.evening_evs` (seeded),
then for each ``await clock.sleep_until(ev.arrival)`` and plug it in; stations that share
one :class:`simulators.clock.SimClock` share one simulated evening.

Rules:
1. The session ticks every ``tick_s`` simulated seconds, at each change of the composite
   schedule, and at once when a charging profile or a fault changes
   (:meth:`ChargingSession.wake`). At each tick the register
   advances by the power drawn since the previous tick times the simulated time elapsed,
   then the draw is recomputed (:func:`simulators.behaviour.ev.draw`) against the effective profile
   limit at that simulated instant. So the energy equals the allowed power integrated over
   simulated time, piecewise constant between ticks.
2. A meter reading goes out every meter-sampling interval (1.6 MeterValueSampleInterval,
   2.0.1 TxUpdatedInterval; simulated seconds) with power, current, SoC and register.
3. 1.6 reports Charging, SuspendedEVSE (limit below 6 A) and SuspendedEV (battery full)
   as StatusNotification; 2.0.1 puts the same in the TransactionEvent chargingState.
   While the connector is Faulted the session sends no status and draws nothing (see
   :mod:`simulators.behaviour.faults`).
4. At the EV's departure the transaction stops with EVDisconnected and the connector
   becomes Available; an EV without departure leaves once full. A transaction ended by
   the CSMS (RemoteStop, Reset, Unlock) ends the session.
5. The session owns the connector's register while it runs: it keeps
   ``Connector.last_sample_at``/``last_power_w`` current, so a stop from elsewhere adds
   only the energy since the last tick.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from simulators.behaviour.ev import Draw, Ev, charged_soc, draw
from simulators.behaviour.ev_needs import declare_needs
from simulators.model import Connector, Status, Transaction

if TYPE_CHECKING:
    from simulators.station import SimStation

DEFAULT_TICK_S: Final = 60.0
HORIZON_S: Final = 3600  # how far ahead a limit change is looked for (then: next tick)


class ChargingSession:
    """One EV at one connector; see the module rules."""

    def __init__(
        self, station: SimStation, connector_id: int, ev: Ev, id_tag: str,
        tick_s: float = DEFAULT_TICK_S,
    ) -> None:
        if tick_s <= 0:
            raise ValueError("tick_s must be positive")
        self.station = station
        self.connector_id = connector_id
        self.ev = ev
        self.id_tag = id_tag
        self.tick_s = tick_s
        self.soc_pct = ev.arrival_soc_pct
        self.delivered_wh = 0.0
        self.transaction: Transaction | None = None
        self.auth_status: str | None = None
        self.stop_reason: str | None = None
        self.needs_status: str | None = None  # the CSMS's answer to NotifyEVChargingNeeds
        self.draw = Draw(0.0, 0.0, 0, 0.0, 0.0, self.soc_pct, False, False)
        self._wake = asyncio.Event()
        self._done = asyncio.Event()
        self._charging = False
        self._valid_until: float | None = None  # simulated s when the profile limit changes

    @property
    def done(self) -> bool:
        """The session is over (the EV left, or the transaction was ended elsewhere)."""
        return self._done.is_set()

    async def wait(self, timeout_s: float | None = None) -> None:
        """Wait (real seconds) until the session is over; raises ``TimeoutError``."""
        async with asyncio.timeout(timeout_s):
            await self._done.wait()

    def wake(self) -> None:
        """Recompute the draw now (a profile or fault changed) rather than at the next tick."""
        self._wake.set()

    async def begin(self) -> bool:
        """Preparing, Authorize, start the transaction; whether it started (on a refused
        token the connector goes back to Available and the session is over)."""
        st, cid = self.station, self.connector_id
        try:
            if not st.reservations.may_start(cid, self.id_tag):
                self.auth_status = "Reserved"  # held for another token: refused locally
                self._done.set()
                return False
            await st.send_status(cid, Status.PREPARING)
            self.auth_status = await st.authorize(self.id_tag)
            if self.auth_status != "Accepted":
                await st.send_status(cid, Status.AVAILABLE)
                self._done.set()
                return False
            await st.start_transaction(cid, self.id_tag)
            self.needs_status = await declare_needs(st, cid, self.ev)
        except BaseException:
            self._done.set()  # a failed plug-in leaves the connector free
            raise
        self.transaction = st.connector(cid).transaction
        self._recompute()  # the EV draws from the start's timestamp on
        return True

    async def run(self) -> None:
        """Charge until departure, full (no departure) or an external stop (rules 1-4)."""
        st, clock = self.station, self.station.clock
        try:
            await self._report_status()
            next_sample = clock.elapsed_s() + st.meter_interval_s()
            while True:
                until_sample = max(0.0, next_sample - clock.elapsed_s())
                await self._pause(min(self.tick_s, until_sample, self._until_departure(),
                                      self._until_limit_changes()))
                if st.connector(self.connector_id).transaction is not self.transaction:
                    self.stop_reason = "Ended by the CSMS"
                    return
                self._accrue()
                if self._leaving():
                    await self._leave()
                    return
                self._recompute()
                await self._report_status()
                if clock.elapsed_s() >= next_sample - 1e-6:
                    await self._sample()
                    next_sample = clock.elapsed_s() + st.meter_interval_s()
        finally:
            self._set_charging(False)
            self._done.set()

    def _until_departure(self) -> float:
        departure = self.ev.departure
        if departure is None:
            return self.tick_s
        return max(0.0, (departure - self.station.clock.now()).total_seconds())

    def _until_limit_changes(self) -> float:
        if self._valid_until is None:
            return self.tick_s
        return max(0.0, self._valid_until - self.station.clock.elapsed_s())

    async def _pause(self, simulated_s: float) -> None:
        """Wait ``simulated_s``, or less if woken (also by a wake while not pausing)."""
        real = self.station.clock.real_s(simulated_s)
        try:
            async with asyncio.timeout(real):
                await self._wake.wait()
        except TimeoutError:
            pass
        self._wake.clear()

    def _accrue(self) -> None:
        """Advance the register by the power drawn since the last tick (rule 1), split where
        the profile limit changed in between (a late wake-up does not smear a change)."""
        connector = self.station.connector(self.connector_id)
        now = self.station.clock.elapsed_s()
        last = connector.last_sample_at if connector.last_sample_at is not None else now
        while self._valid_until is not None and last <= self._valid_until < now:
            self._add(connector, self.draw.power_w * (self._valid_until - last) / 3600)
            last = self._valid_until
            self._recompute(at_s=last)
        self._add(connector, self.draw.power_w * (now - last) / 3600)
        connector.last_sample_at = now

    def _add(self, connector: Connector, delta_wh: float) -> None:
        if not self.station.faults.stalls_energy(self.connector_id):
            connector.advance_to(connector.energy_wh + delta_wh)
        self.delivered_wh += delta_wh
        self.soc_pct = charged_soc(self.ev, self.soc_pct, delta_wh)

    def _recompute(self, at_s: float | None = None) -> None:
        """The draw at simulated second ``at_s`` of the clock (default: now), and until when
        the profile limit stays as it is."""
        st, cid = self.station, self.connector_id
        at_s = st.clock.elapsed_s() if at_s is None else at_s
        at = st.clock.start + timedelta(seconds=at_s)
        limit_a = st.profiles.limit(cid, "A", at)
        limit_w = st.profiles.limit(cid, "W", at)
        if st.faults.blocks_draw(cid):
            limit_a = limit_w = 0.0
        self.draw = draw(
            self.ev, self.soc_pct, limit_a=limit_a, limit_w=limit_w,
            voltage_v=st.hardware.voltage_v, charger_phases=st.hardware.phases,
        )
        change = st.profiles.next_change_s(cid, at, HORIZON_S)
        self._valid_until = None if change is None else at_s + change
        self._set_charging(self.draw.power_w > 0)
        st.connector(cid).last_power_w = self.draw.power_w

    def _set_charging(self, charging: bool) -> None:
        if charging != self._charging:
            self.station.stats.charging += 1 if charging else -1
            self._charging = charging

    def _state(self) -> Status:
        if self.draw.full:
            return Status.SUSPENDED_EV
        if self.draw.paused or self.draw.power_w == 0:
            return Status.SUSPENDED_EVSE
        return Status.CHARGING

    async def _report_status(self) -> None:
        st, cid = self.station, self.connector_id
        state = self._state()
        if self.transaction is not None:
            self.transaction.charging_state = state.value
        connector = st.connector(cid)
        if connector.status is Status.FAULTED or connector.status is state:
            return
        if st.version.value == "ocpp1.6":
            await st.send_status(cid, state)
        else:
            connector.status = state  # 2.0.1: the chargingState of the next event says it

    async def _sample(self) -> None:
        st, cid = self.station, self.connector_id
        if st.faults.meter_silent(cid):
            return
        self._accrue()  # the station adds the rest up to the reading's instant
        await st.send_meter_values(
            cid, power_w=self.draw.power_w,
            current_a=self.draw.current_a, soc_pct=round(self.soc_pct, 1),
        )

    def _leaving(self) -> bool:
        departure = self.ev.departure
        if departure is not None:
            return self.station.clock.now() >= departure
        return self.draw.full or charged_soc(self.ev, self.soc_pct, 0) >= self.ev.target_soc_pct

    async def _leave(self) -> None:
        st, cid = self.station, self.connector_id
        self.stop_reason = "EVDisconnected"
        self._set_charging(False)
        await st.stop_transaction(cid, "EVDisconnected")
        connector = st.connector(cid)
        if connector.operative and connector.status is not Status.FAULTED:
            await st.send_status(cid, Status.AVAILABLE)
