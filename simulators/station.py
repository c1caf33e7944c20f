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
1. The operations here are version-neutral; the dialect (:mod:`simulators.v16`,
   :mod:`simulators.v201`) spells each message, and the station answers the CSMS's commands
   through :mod:`simulators.reactions` (recorded in :attr:`SimStation.received`).
2. Each connector keeps a monotonic energy register (Wh). Without an explicit
   ``energy_wh``, a meter reading during a transaction adds ``power × elapsed time``.
3. Failures of our own calls raise to the caller (``CallFailed``, ``TimeoutError``,
   ``ConnectionLost``, ...) and leave the state as it was before the call.
4. With ``reconnect`` (a :class:`simulators.offline.Backoff`) a dropped connection is
   reopened and transaction messages made meanwhile are queued and replayed (see
   :mod:`simulators.offline`); :meth:`SimStation.drop_connection` cuts it for tests.
5. ``call``, ``send_raw``, ``resend_last`` and ``replay_last`` bypass the state machine for
   tests of malformed or repeated messages.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from csms.handlers.ocppj import OcppVersion
from csms.handlers.rpc import CallFailed, ConnectionLost, ResponseInvalid
from simulators.dialect import dialect_for
from simulators.link import Answer, Link, Payload
from simulators.model import (
    RFID_CARD,
    Connector,
    Hardware,
    Identity,
    SimulatorError,
    Status,
    Transaction,
    stamp,
)
from simulators.offline import Backoff, Outbox
from simulators.profiles import ProfileStore
from simulators.reactions import Reactions
from simulators.sampling import MeterSample
from simulators.settings import HEARTBEAT_INTERVAL
from simulators.stats import Stats


class SimStation:
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
        self._rng = rng or random.Random()
        self.link = Link(
            station_id, self.version, url, password=password, call_timeout_s=call_timeout_s,
            stats=stats, keep_history=keep_history, backoff=reconnect, rng=self._rng,
        )
        self.outbox = Outbox(self)
        self.link.on_reconnected = self.outbox.reconnected
        self.reactions = Reactions(self)
        self.boot_status: str | None = None
        self.log = self.link.log

    @property
    def station_id(self) -> str:
        """The charge point identity, last element of the connection URL."""
        return self.link.station_id

    @property
    def stats(self) -> Stats:
        """The counters this station adds to (shared in a fleet)."""
        return self.link.stats

    @property
    def received(self) -> list[tuple[str, Payload]]:
        """Every CSMS command handled, ``(action, payload)``, in arrival order."""
        return self.link.received

    @property
    def sent(self) -> list[tuple[str, Payload]]:
        """Every CALL sent, ``(action, payload)`` (with ``keep_history``)."""
        return self.link.sent

    @property
    def errors(self) -> list[tuple[str, BaseException]]:
        """Failures of background work (follow-ups to commands, heartbeats)."""
        return self.link.errors

    @property
    def connected(self) -> bool:
        """Whether the WebSocket is open and commands are being answered."""
        return self.link.connected

    @asynccontextmanager
    async def running(self) -> AsyncIterator[SimStation]:
        """Be connected and answer commands for the duration of the ``async with`` body;
        the station must boot again on each connection."""
        self.boot_status = None
        async with self.link.open(self.dialect.handlers(self.reactions, self.settings)):
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
        return self.profiles.limit(connector_id, "W")

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
        timestamp: datetime | str | None = None,
    ) -> None:
        """StatusNotification in neutral names (Occupied, Preparing, Charging, ...); 1.6 may
        use connector 0 for the whole charge point. ``error_code`` is 1.6 only."""
        state = Status(status)
        connector = self.connectors.get(connector_id)
        if connector is None and (connector_id != 0 or self.version is not OcppVersion.V16):
            raise SimulatorError(f"{self.station_id} has no connector {connector_id}")
        payload = self.dialect.status_notification(
            connector_id, state, error_code=error_code,
            charging=connector is not None and connector.transaction is not None,
            timestamp=stamp(timestamp),
        )
        await self.outbox.send("StatusNotification", payload)
        if connector is not None:
            connector.status = state

    async def authorize(self, id_tag: str, *, token_type: str = RFID_CARD) -> str:
        """Authorize; returns the status (Accepted, Blocked, Invalid, ...)."""
        response = await self.call("Authorize", self.dialect.authorize(id_tag, token_type))
        return self.dialect.id_status(response) or "Unknown"

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
        ts = stamp(timestamp)
        tx = Transaction(
            self._new_transaction_id(), connector_id, id_tag, token_type, connector.energy_wh,
            ts, remote_start_id,
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
        connector.last_sample_at = asyncio.get_running_loop().time()
        return tx.transaction_id

    async def send_meter_values(
        self,
        connector_id: int,
        *,
        energy_wh: float | None = None,
        power_w: float | None = None,
        voltage_v: float | None = None,
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
        during a transaction, 0 otherwise."""
        connector = self.connector(connector_id)
        power = power_w if power_w is not None else (
            self.offered_power_w(connector_id) if connector.transaction else 0.0
        )
        self._advance(connector, energy_wh, power)
        sample = self._sample(
            connector, stamp(timestamp), context, power,
            voltage_v or self.hardware.voltage_v, soc_pct, temperature_c,
        )
        action, payload = self.dialect.meter_values(
            connector_id, connector.transaction, sample, standalone=standalone
        )
        await self.outbox.send(action, payload)

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
        sample = MeterSample(stamp(timestamp), connector.energy_wh, context="Transaction.End")
        action, payload = self.dialect.stop_transaction(tx, sample, reason, id_tag)
        response = await self.outbox.send(action, payload)
        connector.transaction, connector.last_power_w = None, 0.0
        self.profiles.drop_transaction(tx.transaction_id)
        self.stats.energy_wh += connector.energy_wh - tx.meter_start_wh
        self.stats.sessions += 1
        self.reactions.transaction_ended(connector)
        return self.dialect.id_status(response) if response is not None else None

    async def call(
        self, action: str, payload: Payload, *, timeout_s: float | None = None
    ) -> Payload:
        """Send any CALL (validated against the schema) and return the answer."""
        return await self.link.call(action, payload, timeout_s=timeout_s)

    async def send_raw(
        self, frame: str, *, answer_id: str | None = None, timeout_s: float = 5.0
    ) -> Answer:
        """Send ``frame`` unvalidated; return the CallResult/CallError answering it."""
        return await self.link.send_raw(frame, answer_id=answer_id, timeout_s=timeout_s)

    async def send_frame(self, frame: str) -> None:
        """Send ``frame`` unvalidated without waiting for any answer (e.g. a stray
        CALLRESULT)."""
        await self.link.send_frame(frame)

    def last_payload(self, action: str) -> Payload:
        """A copy of the last ``action`` payload as sent."""
        return self.link.last_payload(action)

    async def resend_last(self, action: str, *, timeout_s: float | None = None) -> Payload:
        """Send the last ``action`` payload again with a new message id."""
        return await self.link.resend_last(action, timeout_s=timeout_s)

    async def replay_last(self, action: str, *, timeout_s: float = 5.0) -> Answer:
        """Send the last ``action`` frame again, same message id."""
        return await self.link.replay_last(action, timeout_s=timeout_s)

    async def drop_connection(self) -> None:
        """Cut the connection abruptly (no close frame); with ``reconnect`` it comes back."""
        await self.link.drop_connection()

    async def wait_online(self, *, reconnects: int = 1, timeout_s: float = 10.0) -> None:
        """Wait until reconnected (``reconnects`` times in all) with the offline queue
        replayed."""
        await self.outbox.wait_online(reconnects, timeout_s)

    async def settle(self, timeout_s: float = 5.0) -> None:
        """Wait until the work commands started (remote start, reset, ...) is done."""
        await self.link.settle(timeout_s)

    async def wait_received(
        self, action: str, *, count: int = 1, timeout_s: float = 5.0
    ) -> list[Payload]:
        """Wait for ``count`` handled ``action`` commands; return all of them."""
        return await self.link.wait_received(action, count=count, timeout_s=timeout_s)

    def _advance(self, connector: Connector, energy_wh: float | None, power_w: float) -> None:
        now = asyncio.get_running_loop().time()
        if energy_wh is not None:
            connector.advance_to(energy_wh)
        elif connector.transaction is not None and connector.last_sample_at is not None:
            elapsed_h = (now - connector.last_sample_at) / 3600
            connector.advance_to(connector.energy_wh + connector.last_power_w * elapsed_h)
        connector.last_sample_at = now
        connector.last_power_w = power_w if connector.transaction is not None else 0.0

    def _sample(
        self, connector: Connector, ts: str, context: str, power_w: float, voltage_v: float,
        soc_pct: float, temperature_c: float,
    ) -> MeterSample:
        cid = connector.connector_id
        return MeterSample(
            timestamp=ts, energy_wh=connector.energy_wh, power_w=power_w,
            current_a=self.hardware.amps(power_w), voltage_v=voltage_v,
            offered_a=self.profiles.limit(cid, "A"), offered_w=self.profiles.limit(cid, "W"),
            temperature_c=temperature_c, soc_pct=soc_pct, context=context,
        )

    def _new_transaction_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _start_heartbeat(self, interval_s: int) -> None:
        if interval_s <= 0:
            self.link.stop_service("heartbeat")
            return

        async def beat() -> None:
            while True:
                await asyncio.sleep(interval_s)
                if not self.connected:
                    continue  # offline: a heartbeat is only worth sending live
                try:
                    await self.heartbeat()
                except (CallFailed, ResponseInvalid, TimeoutError, ConnectionLost) as exc:
                    self.log.warning("sim.heartbeat.failed", error=repr(exc))

        self.link.start_service("heartbeat", beat)

    def _setting_changed(self, role: str, value: str) -> None:
        if role == HEARTBEAT_INTERVAL and self.boot_status == "Accepted" and self.connected:
            self._start_heartbeat(int(value))

