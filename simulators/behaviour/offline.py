"""Riding out a lost connection: the reconnect schedule and the offline transaction queue.

Rules:
1. :class:`Backoff` is exponential with full jitter: attempt ``n`` (from 0) waits a uniform
   draw from ``[0, min(cap_s, base_s * factor ** n)]`` taken from the station's seeded RNG,
   so a seed gives the same schedule every run. ``max_attempts`` bounds the attempts per
   outage (``None``: until the station is closed).
2. :class:`OfflineQueue` holds transaction messages (1.6 StartTransaction, StopTransaction,
   MeterValues with a transactionId; 2.0.1 TransactionEvent) made while disconnected, in
   order. 2.0.1 events are marked ``offline: true`` when queued; their seqNo was taken when
   the message was made, so it continues without gaps.
3. A 1.6 transaction started offline gets a provisional (negative) transactionId, kept with
   its queued StartTransaction (the payload has no such field); the CSMS's id from the
   answer replaces it in the queued messages that follow (remap), and the entry's
   ``on_answer`` updates the running transaction.
4. Replay sends the queue head first and removes an entry only once it was answered; a
   connection lost mid-replay leaves the rest for the next reconnect. A CALLERROR answer
   also removes the entry (the CSMS saw it; resending would not change its mind). A message
   whose connection dropped in flight is queued too, so the CSMS may see it twice (2.0.1
   dedups on seqNo). A CALL left unanswered while the connection stays up is sent again,
   as chargers do (1.6 TransactionMessageAttempts / TransactionMessageRetryInterval, 2.0.1
   MessageAttemptsTransactionEvent): ``attempts`` times in all, waiting ``retry_interval_s``
   × the attempt's number in between; the last timeout, or any other failure of the
   replay, leaves the queue for the next reconnect.
5. After a reconnect the station replays the queue, then sends StatusNotification for every
   connector; no BootNotification (the charger did not reboot). Live-only messages
   (StatusNotification, Heartbeat, MeterValues outside a transaction) made while offline
   are dropped: the statuses after the reconnect bring the CSMS up to date.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from structlog.typing import FilteringBoundLogger
from websockets.exceptions import WebSocketException

from csms.handlers.rpc import CallFailed, ConnectionLost
from simulators.model import SimulatorError, Transaction
from simulators.waiting import wait_until

if TYPE_CHECKING:
    from simulators.station import SimStation

Payload = dict[str, Any]
OnAnswer = Callable[[Payload], None]
Send = Callable[[str, Payload], Awaitable[Payload]]
T = TypeVar("T")

TRANSACTION_ACTIONS = frozenset({"StartTransaction", "StopTransaction", "TransactionEvent"})


def is_transaction_message(action: str, payload: Payload) -> bool:
    """Whether a charger keeps ``action`` for later when offline (module rule 2)."""
    if action in TRANSACTION_ACTIONS:
        return True
    return action == "MeterValues" and "transactionId" in payload


@dataclass(frozen=True, slots=True)
class Backoff:
    """The reconnect schedule; see module rule 1."""

    base_s: float = 1.0
    cap_s: float = 60.0
    factor: float = 2.0
    max_attempts: int | None = None

    def ceiling(self, attempt: int) -> float:
        """The longest wait before attempt ``attempt`` (0-based)."""
        return float(min(self.cap_s, self.base_s * self.factor ** attempt))

    def delay(self, attempt: int, rng: random.Random) -> float:
        """A full-jitter wait before attempt ``attempt``."""
        return rng.uniform(0.0, self.ceiling(attempt))

    def delays(self, rng: random.Random) -> Iterator[float]:
        """The waits of one outage, one per attempt, ``max_attempts`` of them (or forever)."""
        attempt = 0
        while self.max_attempts is None or attempt < self.max_attempts:
            yield self.delay(attempt, rng)
            attempt += 1


async def reopen(
    connect: Callable[[], Awaitable[T]], backoff: Backoff, rng: random.Random,
    log: FilteringBoundLogger,
) -> T | None:
    """Try ``connect`` after each wait of ``backoff``; ``None`` once the attempts run out."""
    for attempt, delay in enumerate(backoff.delays(rng)):
        await asyncio.sleep(delay)
        try:
            return await connect()
        except (OSError, TimeoutError, WebSocketException, SimulatorError) as exc:
            log.info("sim.reconnect.failed", attempt=attempt, error=repr(exc))
    log.warning("sim.reconnect.gave_up", attempts=backoff.max_attempts)
    return None


@dataclass(slots=True)
class Queued:
    """One transaction message waiting for the connection."""

    action: str
    payload: Payload
    on_answer: OnAnswer | None = None
    provisional_id: int | None = None


@dataclass(slots=True)
class OfflineQueue:
    """Transaction messages made while offline, replayed in order; see the module rules."""

    entries: deque[Queued] = field(default_factory=deque)
    remapped: dict[int, int] = field(default_factory=dict)
    replayed: int = 0
    attempts: int = 3  # sends of one entry while connected (rule 4)
    retry_interval_s: float = 1.0
    retried: int = 0
    _next_provisional: int = -1

    def __len__(self) -> int:
        return len(self.entries)

    def provisional_id(self) -> str:
        """A 1.6 transactionId for a start the CSMS has not seen yet (negative, unique)."""
        value = self._next_provisional
        self._next_provisional -= 1
        return str(value)

    def put(
        self, action: str, payload: Payload, on_answer: OnAnswer | None = None,
        provisional_id: str | None = None,
    ) -> None:
        """Keep a message for replay; a 2.0.1 TransactionEvent is marked offline."""
        if action == "TransactionEvent":
            payload["offline"] = True
        provisional = int(provisional_id) if provisional_id is not None else None
        self.entries.append(Queued(action, payload, on_answer, provisional))

    async def replay(self, send: Send) -> None:
        """Send every entry in order (module rule 4); raises what ``send`` raises on a
        lost connection, keeping the unsent entries."""
        while self.entries:
            entry = self.entries[0]
            self._remap(entry.payload)
            response = await self._send(send, entry)
            self.entries.popleft()
            self.replayed += 1
            if response is None:
                continue
            if entry.provisional_id is not None:
                self.remapped[entry.provisional_id] = int(response["transactionId"])
            if entry.on_answer is not None:
                entry.on_answer(response)

    async def _send(self, send: Send, entry: Queued) -> Payload | None:
        """One entry, sent again after a timeout (rule 4); None for a CALLERROR."""
        attempt = 1
        while True:
            try:
                return await send(entry.action, entry.payload)
            except CallFailed:
                return None
            except TimeoutError:
                if attempt >= self.attempts:
                    raise
            self.retried += 1
            await asyncio.sleep(self.retry_interval_s * attempt)
            attempt += 1

    def _remap(self, payload: Payload) -> None:
        tx_id = payload.get("transactionId")
        if isinstance(tx_id, int) and tx_id in self.remapped:
            payload["transactionId"] = self.remapped[tx_id]


class Outbox:
    """How a station with a reconnect policy sends its own messages (rules 2-5): transaction
    messages go out now or into :attr:`queue`; live-only ones (StatusNotification,
    Heartbeat, MeterValues without a transaction) are dropped while offline. Without a
    policy every message is simply sent, and a lost connection raises."""

    def __init__(self, station: SimStation) -> None:
        self._st = station
        self.queue = OfflineQueue()

    @property
    def enabled(self) -> bool:
        """Whether the station reconnects (and so queues) at all."""
        return self._st.link.backoff is not None

    async def send(
        self, action: str, payload: Payload, tx: Transaction | None = None
    ) -> Payload | None:
        """Send ``action``; ``None`` when it was queued or dropped. ``tx`` is the transaction
        a StartTransaction/Started begins: its answer updates it, on replay too."""
        if not self.enabled:
            return await self._st.call(action, payload)
        if not is_transaction_message(action, payload):
            return await self._send_or_drop(action, payload)
        if self._st.connected and not self.queue:
            try:
                return await self._st.call(action, payload)
            except ConnectionLost:
                self._st.log.info("sim.offline.in_flight", action=action)
        on_answer: OnAnswer | None = None
        provisional = None
        if tx is not None:
            on_answer = functools.partial(self._st.dialect.transaction_started, tx)
            if action == "StartTransaction":
                provisional = tx.transaction_id = self.queue.provisional_id()
        self.queue.put(action, payload, on_answer, provisional)
        return None

    async def _send_or_drop(self, action: str, payload: Payload) -> Payload | None:
        if not self._st.connected:
            self._st.log.info("sim.offline.dropped", action=action)
            return None
        return await self._st.call(action, payload)

    async def reconnected(self) -> None:
        """After a reconnect: replay the queue, then report every connector's status. No
        BootNotification: the charger did not reboot (1.6 does not ask for one either)."""
        await self.queue.replay(self._st.call)
        for connector in self._st.connectors.values():
            await self._st.send_status(connector.connector_id, connector.status)

    async def wait_online(self, reconnects: int, timeout_s: float) -> None:
        """Wait until connected after ``reconnects`` reconnects in all, queue replayed."""
        link = self._st.link
        await wait_until(
            lambda: link.connected and link.reconnects >= reconnects and not self.queue,
            timeout_s=timeout_s, what=f"{self._st.station_id} back online",
        )
