"""The live safety feed: notices fanned out to subscribers, each seeing only its scope.

Rules:
1. A subscriber has a bounded queue (``[sharing] feed_queue_size``). If it is full when a
   notice arrives, the subscriber is dropped: its queue is emptied, a final
   :data:`DROPPED` marker is queued, and it gets nothing more. Memory never grows with a
   slow reader; the reader reconnects (and may fetch what it missed from the API).
2. A subscriber sees a notice only if its scope admits the notice's community/district
   (:func:`csms.api.access.in_scope`); unscoped subscribers see everything.
3. Publishing never blocks and never awaits.
5. In a cluster every node's hub also gets the other nodes' notices (csms.services.sharing.service),
   so a reader sees the whole cluster whichever node it is connected to; event ids are
   this node's own sequence.
4. :meth:`FeedHub.close` (at shut-down, before the HTTP server waits for its connections)
   ends every subscription with :data:`CLOSED`, and any later one at once: an open stream
   must not keep the server from stopping.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import structlog

log = structlog.get_logger(__name__)

DROPPED = object()  # queued last for a subscriber that was too slow
CLOSED = object()  # queued last for every subscriber when the server stops


@dataclass(frozen=True, slots=True)
class Notice:
    """A piece of safety data to share: ``kind`` is "alarm", "connector_status" or
    "station_event"; ``data`` is its JSON-ready body; ``community_id``/``district_id`` say
    where it lies (None: not assigned to any community)."""

    kind: str
    at: datetime
    station_id: str | None
    community_id: int | None
    district_id: int | None
    data: dict[str, Any] = field(default_factory=dict)
    level: int | None = None  # alarms: 1 personal safety, 2 equipment, 3 notice

    def body(self) -> dict[str, Any]:
        """What subscribers and webhooks receive (JSON-ready)."""
        return {"kind": self.kind, "at": self.at.isoformat(), "station_id": self.station_id,
                "community_id": self.community_id, "district_id": self.district_id,
                "level": self.level, "data": self.data}

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Notice:
        """The notice :meth:`body` made (a notice from another node, csms.services.sharing.service).

        Raises: KeyError, ValueError or TypeError for a body that is not one.
        """
        return cls(str(body["kind"]), datetime.fromisoformat(body["at"]),
                   _optional(body["station_id"], str), _optional(body["community_id"], int),
                   _optional(body["district_id"], int), dict(body["data"]),
                   _optional(body["level"], int))


T = TypeVar("T")


def _optional(value: Any, kind: Callable[[Any], T]) -> T | None:
    return None if value is None else kind(value)


Admits = Callable[[int | None, int | None], bool]  # (district_id, community_id) -> visible


class Subscriber:
    """One reader of the feed: ``await get()`` the next (event id, notice) or DROPPED."""

    def __init__(self, admits: Admits, size: int) -> None:
        self.admits = admits
        self.queue: asyncio.Queue[tuple[int, Notice] | object] = asyncio.Queue(size)
        self.dropped = False

    async def get(self) -> tuple[int, Notice] | object:
        return await self.queue.get()


class FeedHub:
    """The set of live subscribers (rule 1-3)."""

    def __init__(self, queue_size: int) -> None:
        self._size = queue_size
        self._subscribers: set[Subscriber] = set()
        self._ids = itertools.count(1)
        self._closed = False

    def __len__(self) -> int:
        return len(self._subscribers)

    def subscribe(self, admits: Admits) -> Subscriber:
        subscriber = Subscriber(admits, self._size)
        if self._closed:
            subscriber.queue.put_nowait(CLOSED)
        else:
            self._subscribers.add(subscriber)
        return subscriber

    def close(self) -> None:
        """Rule 4."""
        self._closed = True
        for subscriber in list(self._subscribers):
            self._end(subscriber, CLOSED)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def publish(self, notice: Notice) -> None:
        event_id = next(self._ids)
        for subscriber in list(self._subscribers):
            if not subscriber.admits(notice.district_id, notice.community_id):
                continue
            try:
                subscriber.queue.put_nowait((event_id, notice))
            except asyncio.QueueFull:
                self._drop(subscriber)

    def _drop(self, subscriber: Subscriber) -> None:
        subscriber.dropped = True
        self._end(subscriber, DROPPED)
        log.warning("feed.subscriber_dropped", reason="queue full", queue_size=self._size)

    def _end(self, subscriber: Subscriber, marker: object) -> None:
        self._subscribers.discard(subscriber)
        while not subscriber.queue.empty():
            subscriber.queue.get_nowait()
        subscriber.queue.put_nowait(marker)
