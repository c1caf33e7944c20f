"""Charge-point simulators for testers and for our own tests.

The Python API, in one place (each module's docstring has the details and rules)::

    from datetime import timedelta
    from simulators.clock import SimClock
    from simulators.behaviour.ev import Ev
    from simulators.behaviour.faults import FaultKind
    from simulators.station import SimStation

    clock = SimClock(speed=60)                      # one simulated hour per real minute
    st = SimStation("CP-1", "ocpp1.6", "ws://127.0.0.1:9000/", clock=clock, connectors=2)
    async with st.running():
        await st.boot()
        ev = Ev(capacity_wh=60_000, arrival_soc_pct=20, max_current_a=32, phases=3,
                departure=clock.now() + timedelta(hours=8))
        session = await st.plug_in(1, ev, "TAG-1")  # authorize, start, charge in a task
        st.draw(1)         # Draw(current_a, power_w, phases, limit_a, limit_w, soc_pct, ...)
        await st.faults.inject(FaultKind.GROUND_FAILURE, 2, clear_after_s=600)
        await session.wait()                        # the car left (or the CSMS stopped it)

Modules: :mod:`~simulators.station` (one charge point, both OCPP versions),
:mod:`~simulators.clock` (simulated time), :mod:`~simulators.behaviour.ev` (the EV model, pure),
:mod:`~simulators.behaviour.charging` (an EV session at a connector),
:mod:`~simulators.behaviour.faults` (fault injection), :mod:`~simulators.smartcharging.profiles`
with :mod:`~simulators.smartcharging.engine` and :mod:`~simulators.smartcharging.rules` (the
charging-profile engine, pure), :mod:`~simulators.behaviour.offline` (reconnect and offline
queue), :mod:`~simulators.protocol.reactions` (what the station does about CSMS commands),
:mod:`~simulators.device.pricing` (cost display),
:mod:`~simulators.fleet.runner` and :mod:`~simulators.cli` (``csms-sim``, many stations),
:mod:`~simulators.fleet.scenario` (scenario files), :mod:`~simulators.stats` and
:mod:`~simulators.fleet.progress` (the JSON summary and the live view), and
:mod:`~simulators.protocol.loopback` (a minimal CSMS for the simulator's own tests).

Many stations share one :class:`~simulators.clock.SimClock` and one
:class:`~simulators.stats.Stats` (pass ``clock=`` and ``stats=``); ``Stats.charging``,
``Stats.faulted`` and ``Stats.online`` are live gauges over all of them.
"""
