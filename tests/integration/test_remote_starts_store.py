"""Remote-start requests and their matches (csms.store.remote_starts) and the service that
links sessions to them (csms.services.sessions.remote_starts), on both databases."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from csms.app import Csms
from csms.domain.commands import CommandStatus, RemoteStart
from csms.domain.model import IdToken, SessionEvent, SessionEventKind
from csms.services.commands.service import CommandService
from csms.services.events import EventBus, SessionRecorded
from csms.services.sessions.remote_starts import RemoteStarts
from csms.store.remote_starts import RemoteStartStore

T0 = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=3)


def store(csms: Csms) -> RemoteStartStore:
    return RemoteStartStore(csms.engine, csms.store.writer)


async def test_ids_are_unique_and_a_request_keeps_its_answer(csms: Csms) -> None:
    """Each request gets a new id; its outcome is pending until answered."""
    rs = store(csms)
    ids = [await rs.create("CP-1", 1, "RES-1", T0, "token:a") for _ in range(3)]
    assert 3 == len(set(ids))
    await rs.answered(ids[0], "Accepted")
    first, second = await rs.get(ids[0]), await rs.get(ids[1])
    assert first is not None
    assert second is not None
    assert ("Accepted", "pending", None) == (first.outcome, second.outcome, first.session_id)


async def test_window_takes_the_oldest_fitting_request(csms: Csms) -> None:
    """Same station, same card under any spelling, the EVSE or none named, inside the
    window, not refused: the oldest such request; each side links once."""
    rs = store(csms)
    too_old = await rs.create("CP-1", 1, "deadbeef", T0 - 2 * WINDOW, None)
    refused = await rs.create("CP-1", 1, "deadbeef", T0 - timedelta(seconds=30), None)
    await rs.answered(refused, "Rejected")
    elsewhere = await rs.create("CP-2", 1, "deadbeef", T0 - timedelta(seconds=20), None)
    other_evse = await rs.create("CP-1", 2, "deadbeef", T0 - timedelta(seconds=15), None)
    fits = await rs.create("CP-1", None, "deadbeef", T0 - timedelta(seconds=10), None)
    later = await rs.create("CP-1", 1, "DEADBEEF", T0 - timedelta(seconds=5), None)
    now = T0 + timedelta(seconds=1)
    assert fits == await rs.link_by_window("CP-1", 1, "DEADBEEF", 501, now - WINDOW, now)
    assert None is await rs.link_by_window("CP-1", 1, "DEADBEEF", 501, now - WINDOW, now)
    assert later == await rs.link_by_window("CP-1", 1, "DEADBEEF", 502, now - WINDOW, now)
    assert None is await rs.link_by_window("CP-1", 1, "DEADBEEF", 503, now - WINDOW, now)
    for unmatched in (too_old, refused, elsewhere, other_evse):
        record = await rs.get(unmatched)
        assert record is not None
        assert record.session_id is None, unmatched
    linked = await rs.get(fits)
    assert linked is not None
    assert (501, "window", now) == (linked.session_id, linked.matched_by, linked.matched_at)


async def test_by_id_checks_the_station_and_links_once(csms: Csms) -> None:
    """A charger cannot claim another station's request; a request and a session each link
    once, whatever is repeated."""
    rs = store(csms)
    ask = await rs.create("CP-1", 1, "RES-1", T0, None)
    other = await rs.create("CP-1", 1, "RES-1", T0, None)
    assert False is await rs.link_by_id(ask, "CP-2", 700, T0)
    assert True is await rs.link_by_id(ask, "CP-1", 700, T0)
    assert False is await rs.link_by_id(ask, "CP-1", 701, T0)  # request taken
    assert False is await rs.link_by_id(other, "CP-1", 700, T0)  # session taken
    record = await rs.get(ask)
    assert record is not None
    assert (700, "remote_start_id") == (record.session_id, record.matched_by)


class _Accepting:
    """A command service whose chargers accept everything; it keeps what was sent."""

    def __init__(self) -> None:
        self.sent: list[RemoteStart] = []

    async def send(self, station_id: str, command: RemoteStart, *,
                   timeout_s: float | None = None,
                   requested_by: str | None = None) -> CommandStatus:
        self.sent.append(command)
        return CommandStatus("Accepted")


def started(station_id: str, *, remote_start_id: int | None = None, card: str = "RES-1",
            evse_id: int = 1) -> SessionEvent:
    return SessionEvent(station_id, SessionEventKind.STARTED, T0, evse_id, 1, None,
                        IdToken(card), remote_start_id=remote_start_id)


async def test_the_service_sends_its_own_id_and_wakes_the_waiter(csms: Csms) -> None:
    """start() sends the request's id as remoteStartId; a SessionRecorded carrying it back
    ends the wait with the session; another station's event, or none, leaves it open."""
    bus, commands = EventBus(), _Accepting()
    service = RemoteStarts(store(csms), cast(CommandService, commands), bus, lambda: T0,
                           WINDOW.total_seconds())
    service.run()
    try:
        first, _ = await service.start("CP-1", RemoteStart(IdToken("RES-1"), 1))
        second, _ = await service.start("CP-1", RemoteStart(IdToken("RES-1"), 1))
        assert [first, second] == [c.remote_start_id for c in commands.sent]
        waiting = asyncio.create_task(service.wait(first, 30))
        bus.publish(SessionRecorded(started("CP-2", remote_start_id=first), 800))
        bus.publish(SessionRecorded(started("CP-1", remote_start_id=first), 801))
        record = await waiting
        assert record is not None
        assert (801, "remote_start_id") == (record.session_id, record.matched_by)
        unanswered = await service.wait(second, 0.2)
        assert unanswered is not None
        assert (None, "Accepted") == (unanswered.session_id, unanswered.outcome)
    finally:
        await service.stop()


async def test_the_service_matches_a_start_without_an_id_in_the_window(csms: Csms) -> None:
    """A 1.6-style start (no remoteStartId) with the card in another spelling answers the
    open request; an Updated event without an id is not a start and matches nothing."""
    bus = EventBus()
    service = RemoteStarts(store(csms), cast(CommandService, _Accepting()), bus, lambda: T0,
                           WINDOW.total_seconds())
    service.run()
    try:
        ask, _ = await service.start("CP-1", RemoteStart(IdToken("deadbeef"), 1))
        bus.publish(SessionRecorded(replace(started("CP-1", card="deadbeef"),
                                            kind=SessionEventKind.UPDATED), 900))
        assert None is (await service.wait(ask, 0.2) or _missing()).session_id
        bus.publish(SessionRecorded(started("CP-1", card="DEADBEEF"), 901))
        record = await service.wait(ask, 30)
        assert record is not None
        assert (901, "window") == (record.session_id, record.matched_by)
    finally:
        await service.stop()


def _missing() -> Any:
    raise AssertionError("no such remote start")
