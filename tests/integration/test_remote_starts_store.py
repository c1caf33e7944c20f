"""Remote-start requests and their matches (csms.store.remote_starts), on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csms.app import Csms
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
