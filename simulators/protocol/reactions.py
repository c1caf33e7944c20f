"""What a station does about CSMS commands, version-neutral.

The command modules (:mod:`simulators.protocol.v16_commands`,
:mod:`simulators.protocol.v201_commands`) turn a CALL into one of these methods and the
returned neutral status into the version's answer.

Rules:
1. Every method decides synchronously, from the station's state, and returns the status.
   Messages the decision entails (StartTransaction, StatusNotification, BootNotification,
   ...) are queued with ``after_answer`` and go out in their own task once the answer has.
2. A decision that reserves something (a connector for a remote start) records it before
   returning, so that a second command in flight sees it.
3. Work scheduled until a transaction ends (ChangeAvailability Scheduled, Reset OnIdle) is
   done by :meth:`Reactions.transaction_ended`, which the station calls.
4. SetChargingProfile is answered by the smart-charging engine
   (:func:`simulators.smartcharging.rules.validate`) against the station's connectors, running
   transactions and smart-charging settings; 2.0.1 profiles without startSchedule are taken
   as 1.6 does (relative to the transaction start) rather than Rejected. The profile store
   learns from here which transaction runs where and since when.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from csms.handlers.ocppj import OcppVersion
from csms.handlers.timefmt import parse_time
from simulators.model import RFID_CARD, Connector, Purpose, Status
from simulators.settings import AUTHORIZE_REMOTE_START
from simulators.smartcharging.profiles import CompositeLimit, RunningTransaction, StoredProfile
from simulators.smartcharging.rules import StationContext, validate

if TYPE_CHECKING:
    from simulators.protocol.link import Work
    from simulators.station import SimStation

# (allowed rate units, periods per schedule, highest stack level) settings per version
_SMART_SETTINGS: Final[dict[OcppVersion, tuple[Any, Any, Any]]] = {
    OcppVersion.V16: (
        "ChargingScheduleAllowedChargingRateUnit", "ChargingScheduleMaxPeriods",
        "ChargeProfileMaxStackLevel",
    ),
    OcppVersion.V201: (
        ("SmartChargingCtrlr", "RateUnit"), ("SmartChargingCtrlr", "PeriodsPerSchedule"),
        ("SmartChargingCtrlr", "ProfileStackLevel"),
    ),
}
_UNITS: Final = {"Current": "A", "Power": "W", "A": "A", "W": "W"}


class Reactions:
    """The neutral command behaviour of one :class:`SimStation`."""

    def __init__(self, station: SimStation) -> None:
        self._st = station
        self.files = station.files  # simulators.device.files
        self._pending_reset: tuple[bool, int | None] | None = None
        station.profiles.transactions = self._running

    @property
    def station(self) -> SimStation:
        return self._st

    def remote_start(
        self,
        connector_id: int | None,
        id_tag: str,
        *,
        token_type: str = RFID_CARD,
        remote_start_id: int | None = None,
        profile: StoredProfile | None = None,
    ) -> bool:
        """Accept when the connector (or, if ``None``, any) is free and operative and the
        profile, if any, is a TxProfile; then Preparing, start, Charging."""
        if profile is not None and profile.purpose is not Purpose.TX:
            return False
        connector = self._free_connector(connector_id, id_tag)
        if connector is None:
            return False
        connector.starting = True

        async def start() -> None:
            try:
                await self._remote_start(connector, id_tag, token_type, remote_start_id, profile)
            finally:
                connector.starting = False

        self._st.link.after_answer("remote-start", start)
        return True

    async def _remote_start(
        self, connector: Connector, id_tag: str, token_type: str, remote_start_id: int | None,
        profile: StoredProfile | None,
    ) -> None:
        st, cid = self._st, connector.connector_id
        await st.send_status(cid, Status.PREPARING)
        if st.settings.role_value(AUTHORIZE_REMOTE_START, "false") == "true":
            status = await st.authorize(id_tag, token_type=token_type)
            if status != "Accepted":
                await st.send_status(cid, Status.AVAILABLE)
                return
        tx_id = await st.start_transaction(
            cid, id_tag, token_type=token_type, remote_start_id=remote_start_id
        )
        if profile is not None:
            st.profiles.install(profile.bound_to(tx_id, cid))
        await st.send_status(cid, Status.CHARGING)

    def remote_stop(self, transaction_id: str) -> bool:
        """Accept when the transaction runs here; then stop it (Remote) and free the connector."""
        connector = self._st.connector_of(transaction_id)
        if connector is None:
            return False
        cid = connector.connector_id
        self._st.link.after_answer("remote-stop", lambda: self._stop_and_free(cid, "Remote"))
        return True

    async def _stop_and_free(self, connector_id: int, reason: str) -> None:
        await self._st.stop_transaction(connector_id, reason)
        if self._st.connectors[connector_id].operative:
            await self._st.send_status(connector_id, Status.AVAILABLE)

    def reset(self, *, hard: bool, when_idle: bool = False, connector_id: int | None = None) -> str:
        """Accepted, or Scheduled when ``when_idle`` and a transaction runs; Rejected for an
        unknown connector. Resetting stops the transactions, boots again (the whole station
        only) and reports every connector's status."""
        targets = self._targets(connector_id)
        if targets is None:
            return "Rejected"
        if when_idle and any(c.busy for c in targets):
            self._pending_reset = (hard, connector_id)
            return "Scheduled"
        self._st.link.after_answer("reset", lambda: self._reboot(hard, connector_id))
        return "Accepted"

    async def _reboot(self, hard: bool, connector_id: int | None) -> None:
        """End the transactions (HardReset/SoftReset; 2.0.1 ImmediateReset/Reboot), then
        reboot the whole station (the connection closes, comes back, BootNotification
        RemoteReset and every status) or, for one EVSE, report its status."""
        targets = self._targets(connector_id) or []
        for connector in targets:
            if connector.transaction is not None:
                await self._st.stop_transaction(
                    connector.connector_id, "HardReset" if hard else "SoftReset"
                )
        if connector_id:
            await self._announce(targets)
            return
        for connector in targets:
            if connector.status is not Status.FAULTED:
                connector.status = Status.AVAILABLE if connector.operative else Status.UNAVAILABLE
        await self._st.reboot("RemoteReset")

    def change_availability(self, connector_id: int | None, operative: bool) -> str:
        """Accepted (and announced), Scheduled for connectors busy with a transaction until
        it ends, Rejected for an unknown connector; ``None`` means the whole station."""
        targets = self._targets(connector_id)
        if targets is None:
            return "Rejected"
        scheduled = [c for c in targets if c.busy and c.operative != operative]
        now = [c for c in targets if c not in scheduled]
        for connector in scheduled:
            connector.pending_operative = operative
        for connector in now:
            connector.operative, connector.pending_operative = operative, None
        idle = [c for c in now if not c.busy]
        if idle:
            self._st.link.after_answer("availability", lambda: self._announce(idle))
        return "Scheduled" if scheduled else "Accepted"

    async def _announce(self, connectors: list[Connector]) -> None:
        """Report availability; a Faulted connector stays Faulted until the fault clears."""
        for connector in connectors:
            if connector.status is Status.FAULTED:
                continue
            status = Status.AVAILABLE if connector.operative else Status.UNAVAILABLE
            await self._st.send_status(connector.connector_id, status)

    def unlock(self, connector_id: int, *, stop_transaction: bool) -> str:
        """Unlocked; UnknownConnector; OngoingAuthorizedTransaction unless
        ``stop_transaction`` (1.6), which ends the transaction first (UnlockCommand)."""
        connector = self._st.connectors.get(connector_id)
        if connector is None:
            return "UnknownConnector"
        if connector.transaction is not None:
            if not stop_transaction:
                return "OngoingAuthorizedTransaction"
            self._st.link.after_answer(
                "unlock", lambda: self._stop_and_free(connector_id, "UnlockCommand")
            )
        return "Unlocked"

    def trigger(self, message: str, connector_id: int | None) -> str:
        """Accepted and sent, Rejected (unknown connector, or no transaction to report), or
        NotImplemented for messages the simulator does not send."""
        targets = self._targets(connector_id)
        if targets is None:
            return "Rejected"
        work = self._trigger_work(message, targets)
        if work is None:
            return "NotImplemented"
        if message == "TransactionEvent" and not any(c.transaction for c in targets):
            return "Rejected"
        self._st.link.after_answer(f"trigger-{message}", work)
        return "Accepted"

    def _trigger_work(self, message: str, targets: list[Connector]) -> Work | None:
        st = self._st

        async def boot() -> None:
            await st.boot(reason="Triggered")

        async def heartbeat() -> None:
            await st.heartbeat()

        async def statuses() -> None:
            for c in targets:
                await st.send_status(c.connector_id, c.status)

        async def meters() -> None:
            for c in targets:
                await st.send_meter_values(c.connector_id, context="Trigger", standalone=True)

        async def tx_events() -> None:
            for c in targets:
                if c.transaction is not None:
                    await st.send_meter_values(c.connector_id, context="Trigger")

        table: dict[str, Work] = {
            "BootNotification": boot, "Heartbeat": heartbeat, "StatusNotification": statuses,
            "MeterValues": meters, "TransactionEvent": tx_events,
        }
        return table.get(message) or self.files.triggered(message)

    def set_profile(self, profile: StoredProfile) -> bool:
        """Install ``profile`` unless the engine says Rejected (unknown connector, station
        maximum off connector 0, TxProfile without its transaction, unit, period count or
        stack level beyond the settings, malformed schedule; rule 4). A 1.6 TxProfile
        without transactionId is bound to the connector's transaction."""
        try:
            placed = profile.installed()
        except ValueError:  # a timestamp that does not parse
            return False
        if validate(placed, self._context()) is not None:
            return False
        tx = self._st.connectors[profile.connector_id].transaction if profile.connector_id else None
        if profile.purpose is Purpose.TX and tx is not None:
            profile = profile.bound_to(tx.transaction_id)
        self._st.profiles.install(profile)
        self._wake(profile.connector_id)
        return True

    def _context(self) -> StationContext:
        st = self._st
        units, periods, stack = (st.settings.get(key) for key in _SMART_SETTINGS[st.version])
        return StationContext(
            connector_ids=frozenset(st.connectors),
            transactions={
                cid: c.transaction.transaction_id
                for cid, c in st.connectors.items() if c.transaction is not None
            },
            version="1.6" if st.version is OcppVersion.V16 else "2.0.1",
            rate_units=frozenset({"A", "W"}) if units is None else frozenset(
                _UNITS[u.strip()] for u in units.value.split(",") if u.strip() in _UNITS
            ),
            max_periods=None if periods is None else int(periods.value),
            max_stack_level=None if stack is None else int(stack.value),
            lenient_start=True,
        )

    def _running(self, connector_id: int) -> RunningTransaction | None:
        """The transaction on ``connector_id`` and its start, for the profile store."""
        connector = self._st.connectors.get(connector_id)
        tx = None if connector is None else connector.transaction
        if tx is None:
            return None
        try:
            started: datetime | None = parse_time(tx.started_at)
        except ValueError:
            started = None
        return tx.transaction_id, started

    def clear_profiles(
        self,
        *,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: Purpose | None = None,
        stack_level: int | None = None,
    ) -> bool:
        """Remove the matching profiles; whether any matched."""
        removed = self._st.profiles.clear(
            profile_id=profile_id, connector_id=connector_id, purpose=purpose,
            stack_level=stack_level,
        )
        self._wake(0)
        return removed > 0

    def composite(
        self, connector_id: int, duration_s: int, unit: str | None
    ) -> CompositeLimit | None:
        """The composite schedule of a connector (0: the station), ``None`` if unknown."""
        if connector_id != 0 and connector_id not in self._st.connectors:
            return None
        return self._st.profiles.composite(connector_id, duration_s, unit, self._st.clock.now())

    def show(self, text: str) -> None:
        """Put ``text`` on the display (see :mod:`simulators.device.pricing`)."""
        self._st.display.append(text)
        self._st.stats.displayed += 1
        self._st.log.info("sim.display", text=text)

    def transaction_ended(self, connector: Connector) -> None:
        """Apply what waited for this transaction: an availability change, a reset."""
        if connector.pending_operative is not None:
            connector.operative, connector.pending_operative = connector.pending_operative, None
            if not connector.operative:
                self._st.link.spawn("availability", lambda: self._announce([connector]))
        if self._pending_reset is not None:
            hard, target = self._pending_reset
            if not any(c.busy for c in self._targets(target) or []):
                self._pending_reset = None
                self._st.link.spawn("reset", lambda: self._reboot(hard, target))

    def _wake(self, connector_id: int) -> None:
        """EV sessions recompute their draw at once (0: all of them)."""
        for cid, session in self._st.sessions.items():
            if connector_id in (0, cid):
                session.wake()

    def _free_connector(self, connector_id: int | None, id_tag: str) -> Connector | None:
        candidates = (
            list(self._st.connectors.values()) if connector_id is None
            else [c for c in [self._st.connectors.get(connector_id)] if c is not None]
        )
        return next((c for c in candidates if c.operative and not c.busy
                     and self._st.reservations.may_start(c.connector_id, id_tag)), None)

    def _targets(self, connector_id: int | None) -> list[Connector] | None:
        """The connectors a command addresses: all for ``None`` or 0, ``None`` if unknown."""
        if not connector_id:
            return list(self._st.connectors.values())
        connector = self._st.connectors.get(connector_id)
        return None if connector is None else [connector]
