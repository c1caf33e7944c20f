"""What the CSMS does with what chargers report. Knows no OCPP and no SQL.

Each method stores the event (durably: it returns only after commit), publishes it on the
event bus (csms.services.events) and returns the domain answer the handler translates for
the charger.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from csms.config import Settings, UnknownTokenPolicy
from csms.domain import authorization
from csms.domain.model import (
    Authorization,
    BootVerdict,
    ConnectorStatusChanged,
    IdToken,
    MeterValuesReported,
    SessionEvent,
    SessionVerdict,
    StationBooted,
    StationEventReported,
)
from csms.services.events import (
    EventBus,
    MeterValuesRecorded,
    SessionRecorded,
    StationConnected,
    StationDisconnected,
)
from csms.store.repository import Store

if TYPE_CHECKING:
    from csms.security.ca import HashData
    from csms.services.certificates.trust import Answer
    from csms.services.device_model import DeviceModelService

Clock = Callable[[], datetime]
SEEN_EVERY = timedelta(seconds=1)  # last_seen_at is at most this far behind the last message


class BillingHooks(Protocol):
    """What authorization and the cost display ask billing (csms.services.billing.service)."""

    async def credit(self, record: authorization.TokenRecord) -> authorization.TokenRecord:
        """``record`` with its resident's credit, if billing applies to it."""

    async def session_cost(self, session_id: int) -> Decimal | None:
        """What the session's user pays, once priced (yuan)."""


class FileHooks(Protocol):
    """What firmware and log status notifications tell csms.services.files.firmware / logs."""

    async def firmware_status(self, station_id: str, request_id: int | None,
                              status: str) -> None: ...

    async def log_status(self, station_id: str, request_id: int | None,
                         status: str) -> None: ...


class CertificateHooks(Protocol):
    """What SignCertificate and the 2.0.1 ISO 15118 messages ask csms.services.certificates."""

    async def sign_requested(self, station_id: str, csr_pem: str,
                             certificate_type: str | None) -> bool: ...

    async def certificate_status(self, request: HashData) -> Answer: ...

    async def ev_certificate(self, exi_request: str) -> Answer: ...


class StationService:
    """Charger-initiated messages, version-neutral."""

    def __init__(
        self, store: Store, settings: Settings, clock: Clock, bus: EventBus | None = None
    ) -> None:
        self._store = store
        self.bus = bus if bus is not None else EventBus()
        self._clock = clock
        self._interval_s = settings.server.heartbeat_interval_s
        self.charging_needs_used = settings.load.enabled  # NotifyEVChargingNeeds' answer
        self._accept_unknown = (
            settings.authorization.unknown_id_tokens is UnknownTokenPolicy.ACCEPT
        )
        self.billing: BillingHooks | None = None
        self.device_model: DeviceModelService | None = None  # 2.0.1 NotifyReport and kin
        self.files: FileHooks | None = None  # csms.services.files.status
        self.certificates: CertificateHooks | None = None  # csms.services.certificates.service
        self._min_balance_yuan = (
            settings.billing.min_balance_yuan if settings.billing.enabled else None
        )

    def now(self) -> datetime:
        return self._clock()

    async def connected(self, station_id: str, ocpp_version: str) -> None:
        at = self._clock()
        await self._store.record_connected(station_id, ocpp_version, at)
        self.bus.publish(StationConnected(station_id, ocpp_version, at))

    def disconnected(self, station_id: str) -> None:
        self.bus.publish(StationDisconnected(station_id, self._clock()))

    async def boot(self, event: StationBooted) -> BootVerdict:
        status = await self._store.record_boot(event)
        self.bus.publish(event)
        return BootVerdict(status, self._interval_s, self._clock())

    def heard(self, station_id: str, stamped: datetime | None) -> datetime | None:
        """Any message is a sign of life: stamp ``last_seen_at`` unless ``stamped`` (the
        connection's last stamp) is under :data:`SEEN_EVERY` old. Returns the stamp kept."""
        now = self._clock()
        if stamped is not None and timedelta(0) <= now - stamped < SEEN_EVERY:
            return stamped
        self._store.touch_soon(station_id, now)
        return now

    async def heartbeat(self, station_id: str) -> datetime:
        now = self._clock()
        await self._store.record_seen(station_id, now)
        return now

    async def status_changed(self, event: ConnectorStatusChanged) -> None:
        await self._store.record_status(event)
        self.bus.publish(event)

    async def authorize(self, token: IdToken) -> Authorization:
        record = await self._store.get_token(token.value)
        if record is not None and self.billing is not None:
            record = await self.billing.credit(record)
        return self._decide(record)

    async def session_event(self, event: SessionEvent) -> SessionVerdict:
        """Store ``event``; publish what the store applied (never a retransmission, never a
        reading it did not attach) and the anomalies it recorded."""
        verdict = await self._store.sessions.record(event, self._decide)
        for change in verdict.changes:
            self.bus.publish(SessionRecorded(change.event, change.session_id))
        for notice in verdict.notices:
            self.bus.publish(notice)
        return verdict

    async def meter_values(self, event: MeterValuesReported, sessions: dict[str, int]) -> None:
        """Store meter values; ``sessions`` (transaction id -> session id) is the caller's
        cache of known sessions, read and filled here."""
        ref = event.transaction_ref
        known = sessions.get(ref) if ref is not None else None
        session_id = await self._store.record_meter_values(event, known)
        if ref is not None and session_id is not None:
            sessions[ref] = session_id
        self.bus.publish(MeterValuesRecorded(event, session_id))

    async def reported(self, events: Sequence[StationEventReported]) -> None:
        await self._store.record_events(events)
        for event in events:
            self.bus.publish(event)

    def _decide(self, record: authorization.TokenRecord | None) -> Authorization:
        return authorization.decide(
            record, accept_unknown=self._accept_unknown, now=self._clock(),
            min_balance_yuan=self._min_balance_yuan,
        )

