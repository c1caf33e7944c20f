"""The live feed hub (csms.services.sharing.feed): scope per subscriber, bounded queues,
dropping."""

from __future__ import annotations

from datetime import UTC, datetime

from csms.services.sharing.feed import CLOSED, DROPPED, Admits, FeedHub, Notice

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def notice(community: int | None, district: int | None = 7) -> Notice:
    return Notice("alarm", T0, "CP-1", community, district, {"code": "x"}, level=1)


def in_community(community: int) -> Admits:
    return lambda _district, c: c == community


class TestFeedHub:
    async def test_each_subscriber_gets_only_its_scope(self) -> None:
        """A subscriber for community 1 gets 1's notice, not 2's; ids count up."""
        hub = FeedHub(10)
        one = hub.subscribe(in_community(1))
        everyone = hub.subscribe(lambda _d, _c: True)
        hub.publish(notice(2))
        hub.publish(notice(1))
        assert (2, notice(1)) == await one.get()
        assert one.queue.empty()
        assert [(1, notice(2)), (2, notice(1))] == [await everyone.get() for _ in range(2)]

    async def test_a_slow_subscriber_is_dropped_with_a_marker(self) -> None:
        """A full queue empties, ends with DROPPED, and the subscriber gets no more."""
        hub = FeedHub(2)
        slow = hub.subscribe(lambda _d, _c: True)
        for _ in range(3):
            hub.publish(notice(1))
        assert slow.dropped
        assert 0 == len(hub)
        assert DROPPED is await slow.get()
        hub.publish(notice(1))
        assert slow.queue.empty()

    async def test_unsubscribed_readers_get_nothing(self) -> None:
        """After unsubscribe nothing is queued for the reader."""
        hub = FeedHub(2)
        gone = hub.subscribe(lambda _d, _c: True)
        hub.unsubscribe(gone)
        hub.publish(notice(1))
        assert gone.queue.empty()

    async def test_close_ends_every_subscription_and_any_later_one(self) -> None:
        """At shut-down each reader gets CLOSED (its backlog discarded); so does a new one."""
        hub = FeedHub(5)
        reader = hub.subscribe(lambda _d, _c: True)
        hub.publish(notice(1))
        hub.close()
        assert CLOSED is await reader.get()
        assert CLOSED is await hub.subscribe(lambda _d, _c: True).get()
        assert 0 == len(hub)
