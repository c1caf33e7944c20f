"""What a site owner remembers for the next (csms.services.load.memory), and a feed notice
crossing to another node (csms.services.sharing.feed.Notice.from_body): both round-trip as JSON."""

from __future__ import annotations

import json
from datetime import timedelta

from csms.services.load import memory as load_memory
from csms.services.load.site import Need, Refusal, SiteState
from csms.services.sharing.feed import Notice
from csms.smartcharging.leases import Lease
from tests.integration.test_load_support import EVENING


def test_the_memory_round_trips_through_json() -> None:
    state = SiteState()
    state.leases = {("CP-1", 1): Lease("tx-9", 16.0, EVENING + timedelta(minutes=10),
                                       EVENING)}
    state.safe = {("CP-1", 1): 6.0, ("CP:2/x", 2): 8.5}
    state.refused = {("CP:2/x", 2): Refusal(EVENING, None), ("CP-3", 1): Refusal(EVENING, "t")}
    needs = {("CP-1", 1): Need(20_000.0, EVENING + timedelta(hours=8))}
    memory = json.loads(json.dumps(load_memory.encode(state, needs, None, EVENING)))
    restored = SiteState()
    assert needs == load_memory.restore(restored, memory)
    assert (state.leases, state.safe, state.refused) == (
        restored.leases, restored.safe, restored.refused)
    assert EVENING == load_memory.written_at(memory)


def test_an_entry_that_does_not_parse_is_dropped_not_raised() -> None:
    memory = {"leases": {"CP-1\x1f1": {"tx": "t", "a": "many", "to": None},
                         "no-evse": {"tx": "t", "a": 1.0, "to": EVENING.isoformat()}},
              "safe": {"CP-1\x1f1": 6.0}, "refused": ["not", "a", "mapping"]}
    state = SiteState()
    assert {} == load_memory.restore(state, memory)
    assert ({}, {("CP-1", 1): 6.0}, {}) == (state.leases, state.safe, state.refused)
    assert load_memory.written_at({"at": "yesterday"}) is None


def test_a_notice_round_trips_through_its_body() -> None:
    notice = Notice("alarm", EVENING, "CP-1", 3, 1, {"code": "ground_fault"}, level=1)
    assert notice == Notice.from_body(json.loads(json.dumps(notice.body())))
    plain = Notice("connector_status", EVENING, None, None, None, {})
    assert plain == Notice.from_body(plain.body())
