"""The plumbing of :class:`simulators.station.SimStation`: its view of the link (counters,
history, connection state) and the calls that bypass the state machine, for tests of
malformed, repeated or raw messages (station rule 5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulators.protocol.link import Answer, Link, Payload
from simulators.stats import Stats
from simulators.waiting import wait_until

if TYPE_CHECKING:
    from simulators.behaviour.offline import Outbox


class StationPlumbing:
    """What a station exposes of its :class:`Link` and :class:`Outbox`."""

    link: Link
    outbox: Outbox

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
        await wait_until(
            lambda: sum(1 for a, _ in self.link.received if a == action) >= count,
            timeout_s=timeout_s, what=f"{count} x {action} received",
        )
        return [p for a, p in self.link.received if a == action]

    async def wait_sent(
        self, action: str, *, count: int = 1, timeout_s: float = 5.0
    ) -> list[Payload]:
        """Wait until ``count`` ``action`` CALLs were sent (needs ``keep_history``)."""
        await wait_until(
            lambda: sum(1 for a, _ in self.link.sent if a == action) >= count,
            timeout_s=timeout_s, what=f"{count} x {action} sent",
        )
        return [p for a, p in self.link.sent if a == action]
