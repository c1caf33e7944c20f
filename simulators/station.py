"""A simulated charge point, OCPP 1.6J or 2.0.1, driven from tests or the fleet runner.

Usage::

    st = SimStation("CP-1", OcppVersion.V16, "ws://127.0.0.1:9000/")
    async with st.running():
        await st.boot()
        await st.send_status(1, "Available")
        tx = await st.start_transaction(1, "TAG1")
        await st.send_meter_values(1, energy_wh=1500, power_w=7400)
        await st.stop_transaction(1, reason="Local")

Rules:
1. The operations here are version-neutral; the dialect (:mod:`simulators.protocol.v16`,
   :mod:`simulators.protocol.v201`) spells each message, and the station answers the CSMS's commands
   through :mod:`simulators.protocol.reactions` (recorded in :attr:`SimStation.received`).
2. Each connector keeps a monotonic energy register (Wh). Without an explicit
   ``energy_wh``, a meter reading during a transaction adds ``power × elapsed time``.
3. Failures of our own calls raise to the caller (``CallFailed``, ``TimeoutError``,
   ``ConnectionLost``, ...) and leave the state as it was before the call.
4. With ``reconnect`` (a :class:`simulators.behaviour.offline.Backoff`) a dropped connection is
   reopened and transaction messages made meanwhile are queued and replayed (see
   :mod:`simulators.behaviour.offline`); :meth:`SimStation.drop_connection` cuts it for tests.
5. ``call``, ``send_raw``, ``resend_last`` and ``replay_last`` bypass the state machine for
   tests of malformed or repeated messages.
6. Time is the station's :class:`simulators.clock.SimClock` (default: real time): message
   timestamps, meter and heartbeat intervals and the profile engine's "now" are simulated.
7. :meth:`SimStation.plug_in` runs an EV (:mod:`simulators.behaviour.ev`,
   :mod:`simulators.behaviour.charging`); :meth:`SimStation.draw` reads what a connector
   delivers and its effective limit. :attr:`SimStation.faults` injects faults
   (:mod:`simulators.behaviour.faults`). A Reset reboots: the connection closes and comes
   back after ``reboot_delay_s`` with a BootNotification.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from csms.handlers.ocppj import OcppVersion
from csms.handlers.rpc import CallFailed, ConnectionLost, ResponseInvalid
from simulators.behaviour.charging import ChargingSession
from simulators.behaviour.ev import Draw, Ev
from simulators.behaviour.faults import FaultInjector
from simulators.behaviour.offline import Backoff, Outbox
from simulators.clock import SimClock
from simulators.device.certificates import SimCertificates
from simulators.device.files import FileTransfers
from simulators.device.local_list import LocalList
from simulators.device.monitoring import MonitorBank
from simulators.device.reservations import Reservations
from simulators.device.v201 import report_monitored
from simulators.model import (
    RFID_CARD,
    Connector,
    Hardware,
    Identity,
    SimulatorError,
    Status,
    Transaction,
    iso_utc,
    stamp,
)
from simulators.protocol.dialect import dialect_for
from simulators.protocol.link import Link
from simulators.protocol.plumbing import StationPlumbing
from simulators.protocol.reactions import Reactions
from simulators.sampling import MeterSample
from simulators.settings import HEARTBEAT_INTERVAL, METER_INTERVAL
from simulators.smartcharging.profiles import ProfileStore
from simulators.stats import Stats


class SimStation(StationPlumbing):
    """One simulated charge point; see the module rules."""

    def __init__(
        self,
        station_id: str,
        version: OcppVersion | str,
        url: str,
        *,
        password: str | None = None,
        connectors: int = 1,
        vendor: str = "SimVendor",
        model: str = "SimModel",
        serial: str | None = None,
        firmware: str = "sim-0.1",
        meter_start_wh: float = 0.0,
        hardware: Hardware | None = None,
        call_timeout_s: float = 30.0,
        stats: Stats | None = None,
        keep_history: bool = True,
        rng: random.Random | None = None,
        reconnect: Backoff | None = None,
        clock: SimClock | None = None,
        reboot_delay_s: float = 1.0,
    ) -> None:
        if connectors < 1:
            raise SimulatorError("a station needs at least one connector")
        self.version = OcppVersion(version)
        self.identity = Identity(vendor, model, serial, firmware)
        self.hardware = hardware or Hardware()
        self.connectors = {
            n: Connector(n, energy_wh=float(meter_start_wh)) for n in range(1, connectors + 1)
        }
        self.profiles = ProfileStore(self.hardware)
        self.dialect = dialect_for(self.version)
        self.settings = self.dialect.default_settings(connectors, self.hardware)
        self.settings.on_change = self._setting_changed
        self.local_list = LocalList(self.version, self.settings)
        self._rng = rng or random.Random()
        self.link = Link(
            station_id, self.version, url, password=password, call_timeout_s=call_timeout_s,
            stats=stats, keep_history=keep_history, backoff=reconnect, rng=self._rng,
        )
        self.clock = clock or SimClock()
        self.reboot_delay_s = reboot_delay_s
        self._boot_reason = "PowerUp"
        self.outbox = Outbox(self)
        self.link.on_reconnected = self.outbox.reconnected
        self.link.on_rebooted = self._rebooted
        self.files = FileTransfers(self)  # firmware updates, log uploads
        self.certificates = SimCertificates(self)  # key, CSRs, trust store
        self.reactions = Reactions(self)
        self.reservations = Reservations(self)
        self.faults = FaultInjector(self)
        self.sessions: dict[int, ChargingSession] = {}
        self.display: list[str] = []  # what the display showed (prices, costs)
        self.monitors = MonitorBank()  # 2.0.1 variable monitors (simulators.device.monitoring)
        self.network_profiles: dict[int, dict[str, object]] = {}  # 2.0.1 SetNetworkProfile
        self.boot_status: str | None = None
        self.log = self.link.log

    @asynccontextmanager
    async def running(self) -> AsyncIterator[SimStation]:
        """Be connected and answer commands for the duration of the ``async with`` body;
        the station must boot again on each connection."""
        self.boot_status = None
        handlers = {**self.dialect.handlers(self.reactions, self.settings),
                    **self.local_list.handlers(), **self.reservations.handlers()}
        async with self.link.open(handlers):
            yield self

    def connector(self, connector_id: int) -> Connector:
        """The connector (2.0.1: EVSE) ``connector_id``; raises for an unknown one."""
        try:
            return self.connectors[connector_id]
        except KeyError:
            raise SimulatorError(f"{self.station_id} has no connector {connector_id}") from None

    def transaction(self, connector_id: int) -> Transaction | None:
        """The transaction running on ``connector_id``, if any."""
        return self.connector(connector_id).transaction

    def connector_of(self, transaction_id: str) -> Connector | None:
        """The connector where ``transaction_id`` runs, if it does."""
        return next(
            (c for c in self.connectors.values()
             if c.transaction is not None and c.transaction.transaction_id == transaction_id),
            None,
        )

    def offered_power_w(self, connector_id: int) -> float:
        """What the connector may deliver now: hardware capped by the charging profiles."""
        return self.profiles.limit(connector_id, "W", self.clock.now())

    def timestamp(self, value: datetime | str | None = None) -> str:
        """A wire timestamp: ``value``, or the simulated now."""
        return stamp(value) if value is not None else iso_utc(self.clock.now())

    def meter_interval_s(self) -> float:
        """The meter-sampling interval during transactions (simulated s; 60 if unset/0)."""
        return float(self.settings.role_value(METER_INTERVAL, "60")) or 60.0

    async def plug_in(
        self, connector_id: int, ev: Ev, id_tag: str, *, tick_s: float = 60.0
    ) -> ChargingSession:
        """Plug ``ev`` in: Preparing, Authorize, start; then it charges in its own task until
        it leaves (see :mod:`simulators.behaviour.charging`). Returns the session (``done``
        at once if the token was refused). Raises :class:`SimulatorError` if the connector
        is busy."""
        connector = self.connector(connector_id)
        if connector.busy or (connector_id in self.sessions_running()):
            raise SimulatorError(f"connector {connector_id} is busy")
        session = ChargingSession(self, connector_id, ev, id_tag, tick_s)
        self.sessions[connector_id] = session
        if await session.begin():
            self.link.start_service(f"ev-{connector_id}", session.run)  # settle() skips it
        return session

    def sessions_running(self) -> set[int]:
        """The connectors where an EV session is in progress."""
        return {cid for cid, s in self.sessions.items() if not s.done}

    def draw(self, connector_id: int) -> Draw:
        """What ``connector_id`` delivers now (W, A per phase, SoC) and its effective limit;
        zeros and the current limit when no EV charges there."""
        session = self.sessions.get(connector_id)
        if session is not None and not session.done:
            return session.draw
        at = self.clock.now()
        return Draw(0.0, 0.0, 0, self.profiles.limit(connector_id, "A", at),
                    self.profiles.limit(connector_id, "W", at), 0.0, False, False)

    async def boot(self, reason: str = "PowerUp") -> str:
        """BootNotification; on Accepted, (re)start heartbeats at the returned interval."""
        payload = self.dialect.boot_notification(self.identity, reason)
        response = await self.call("BootNotification", payload)
        self.boot_status = str(response["status"])
        if self.boot_status == "Accepted":
            self.stats.booted += 1
            interval = int(response["interval"])
            self.settings.set_role(HEARTBEAT_INTERVAL, str(interval))
            self._start_heartbeat(interval)
        return self.boot_status

    async def heartbeat(self) -> str:
        """Heartbeat; returns the CSMS's currentTime."""
        response = await self.call("Heartbeat", {})
        return str(response["currentTime"])

    async def send_status(
        self,
        connector_id: int,
        status: Status | str,
        *,
        error_code: str | None = None,
        vendor_error_code: str | None = None,
        timestamp: datetime | str | None = None,
    ) -> None:
        """StatusNotification in neutral names (Occupied, Preparing, Charging, ...); 1.6 may
        use connector 0 for the whole charge point. The error codes are 1.6 only."""
        state = Status(status)
        connector = self.connectors.get(connector_id)
        if connector is None and (connector_id != 0 or self.version is not OcppVersion.V16):
            raise SimulatorError(f"{self.station_id} has no connector {connector_id}")
        payload = self.dialect.status_notification(
            connector_id, state, error_code=error_code,
            charging=connector is not None and connector.transaction is not None,
            timestamp=self.timestamp(timestamp), vendor_error_code=vendor_error_code,
        )
        await self.outbox.send("StatusNotification", payload)
        if connector is not None:
            if (connector.status is Status.FAULTED) != (state is Status.FAULTED):
                self.stats.faulted += 1 if state is Status.FAULTED else -1
            connector.status = state

    async def authorize(self, id_tag: str, *, token_type: str = RFID_CARD) -> str:
        """Authorize; returns the status (Accepted, Blocked, Invalid, ...). Offline, the
        local list or the cache decides (:mod:`simulators.device.local_list`); a token in neither
        raises ``ConnectionLost``."""
        if not self.connected:
            local = self.local_list.offline_status(id_tag)
            if local is not None:
                return local
        response = await self.call("Authorize", self.dialect.authorize(id_tag, token_type))
        status = self.dialect.id_status(response) or "Unknown"
        self.local_list.remember(id_tag, status)
        return status

    async def start_transaction(
        self,
        connector_id: int,
        id_tag: str,
        *,
        token_type: str = RFID_CARD,
        timestamp: datetime | str | None = None,
        remote_start_id: int | None = None,
        meter_start_wh: float | None = None,
    ) -> str:
        """Start a transaction at the register (or ``meter_start_wh``); returns its id:
        the CSMS's in 1.6, the station's own (Started, seqNo 0) in 2.0.1."""
        connector = self.connector(connector_id)
        if connector.transaction is not None:
            raise SimulatorError(f"connector {connector_id} already has a transaction")
        if meter_start_wh is not None:
            connector.advance_to(meter_start_wh)
        started_s = self.clock.elapsed_s()
        ts = self.timestamp(timestamp)
        tx = Transaction(
            self._new_transaction_id(), connector_id, id_tag, token_type, connector.energy_wh,
            ts, remote_start_id, self.reservations.use(connector_id, id_tag),
        )
        sample = MeterSample(ts, connector.energy_wh, context="Transaction.Begin")
        action, payload = self.dialect.start_transaction(tx, sample)
        connector.starting = True
        try:
            response = await self.outbox.send(action, payload, tx)
        finally:
            connector.starting = False
        if response is not None:
            self.dialect.transaction_started(tx, response)
        connector.transaction = tx
        connector.last_sample_at = started_s
        return tx.transaction_id

    async def send_meter_values(
        self,
        connector_id: int,
        *,
        energy_wh: float | None = None,
        power_w: float | None = None,
        voltage_v: float | None = None,
        current_a: float | None = None,
        soc_pct: float = 50.0,
        temperature_c: float = 25.0,
        timestamp: datetime | str | None = None,
        context: str = "Sample.Periodic",
        standalone: bool = False,
    ) -> None:
        """Eight sampled values (register, power, current, voltage, offered current and power,
        then temperature and SoC in 1.6, SoC and frequency in 2.0.1). During a transaction
        1.6 adds its transactionId and 2.0.1 sends TransactionEvent Updated, unless
        ``standalone`` (a triggered MeterValues). ``power_w`` defaults to the offered power
        during a transaction, 0 otherwise; ``current_a`` to ``power_w`` on all phases."""
        connector = self.connector(connector_id)
        power = power_w if power_w is not None else (
            self.offered_power_w(connector_id) if connector.transaction else 0.0
        )
        self._advance(connector, energy_wh, power)
        sample = self._sample(
            connector, self.timestamp(timestamp), context, power,
            voltage_v or self.hardware.voltage_v, soc_pct, temperature_c, current_a,
        )
        action, payload = self.dialect.meter_values(
            connector_id, connector.transaction, sample, standalone=standalone
        )
        await self.outbox.send(action, payload)
        if self.monitors.monitors and self.connected:
            await report_monitored(self, connector_id, sample)

    async def stop_transaction(
        self,
        connector_id: int,
        reason: str = "Local",
        *,
        energy_wh: float | None = None,
        timestamp: datetime | str | None = None,
        id_tag: str | None = None,
    ) -> str | None:
        """End the connector's transaction at the register (or ``energy_wh``); ``reason`` in
        either version's spelling. Returns the authorization status in the answer, if any."""
        connector = self.connector(connector_id)
        tx = connector.transaction
        if tx is None:
            raise SimulatorError(f"connector {connector_id} has no transaction")
        self._advance(connector, energy_wh, connector.last_power_w)
        sample = MeterSample(self.timestamp(timestamp), connector.energy_wh,
                             context="Transaction.End")
        action, payload = self.dialect.stop_transaction(tx, sample, reason, id_tag)
        response = await self.outbox.send(action, payload)
        connector.transaction, connector.last_power_w = None, 0.0
        self.profiles.drop_transaction(tx.transaction_id)
        self.stats.energy_wh += connector.energy_wh - tx.meter_start_wh
        self.stats.sessions += 1
        self.reactions.transaction_ended(connector)
        return self.dialect.id_status(response) if response is not None else None

    def _advance(self, connector: Connector, energy_wh: float | None, power_w: float) -> None:
        now = self.clock.elapsed_s()
        if energy_wh is not None:
            connector.advance_to(energy_wh)
        elif self.faults.stalls_energy(connector.connector_id):
            pass
        elif connector.transaction is not None and connector.last_sample_at is not None:
            elapsed_h = (now - connector.last_sample_at) / 3600
            connector.advance_to(connector.energy_wh + connector.last_power_w * elapsed_h)
        connector.last_sample_at = now
        connector.last_power_w = power_w if connector.transaction is not None else 0.0

    def _sample(
        self, connector: Connector, ts: str, context: str, power_w: float, voltage_v: float,
        soc_pct: float, temperature_c: float, current_a: float | None,
    ) -> MeterSample:
        cid, at = connector.connector_id, self.clock.now()
        return self.faults.adjust(cid, MeterSample(
            timestamp=ts, energy_wh=connector.energy_wh, power_w=power_w,
            current_a=self.hardware.amps(power_w) if current_a is None else current_a,
            voltage_v=voltage_v, offered_a=self.profiles.limit(cid, "A", at),
            offered_w=self.profiles.limit(cid, "W", at), temperature_c=temperature_c,
            soc_pct=soc_pct, context=context,
        ))

    def _new_transaction_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _start_heartbeat(self, interval_s: int) -> None:
        if interval_s <= 0:
            self.link.stop_service("heartbeat")
            return

        async def beat() -> None:
            while True:
                await self.clock.sleep(interval_s)
                if not self.connected:
                    continue  # offline: a heartbeat is only worth sending live
                try:
                    await self.heartbeat()
                except (CallFailed, ResponseInvalid, TimeoutError, ConnectionLost) as exc:
                    self.log.warning("sim.heartbeat.failed", error=repr(exc))

        self.link.start_service("heartbeat", beat)

    async def reboot(self, reason: str = "RemoteReset") -> None:
        """Close the connection as a rebooting charger does; ``reboot_delay_s`` (simulated)
        later it reconnects and sends BootNotification (2.0.1 with ``reason``), then replays
        its offline queue and reports every connector."""
        self.stats.reboots += 1
        self._boot_reason = reason
        await self.link.restart(self.clock.real_s(self.reboot_delay_s))

    async def _rebooted(self) -> None:
        self.boot_status = None
        await self.boot(self._boot_reason)
        await self.outbox.reconnected()

    def _setting_changed(self, role: str, value: str) -> None:
        if role == HEARTBEAT_INTERVAL and self.boot_status == "Accepted" and self.connected:
            self._start_heartbeat(int(value))

