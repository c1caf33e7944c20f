"""The site allocator (csms.smartcharging): concrete numbers, then the invariants as
hypothesis properties. Pure: no I/O."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csms.smartcharging import (
    Allocation,
    AllocatorSettings,
    BaseLoadProfile,
    DayType,
    LimitReason,
    Node,
    SessionDemand,
    SiteTree,
    allocate,
    available_w,
    residential_profile,
    site_available_w,
)
from tests.unit.test_purity import direct_imports, forbidden_in, loaded_with

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SETTINGS = AllocatorSettings()
PACKAGE = Path(__file__).resolve().parents[3] / "csms" / "smartcharging"


def demand(
    sid: int, max_a: float = 32.0, node: str = "site", phases: int = 1, **kw: object
) -> SessionDemand:
    started = kw.pop("started_at", T0 - timedelta(minutes=sid))
    assert isinstance(started, datetime)
    return SessionDemand(sid, node, max_a, started, phases, **kw)  # type: ignore[arg-type]


def power_w(tree: SiteTree, sessions: Sequence[SessionDemand], alloc: Allocation) -> dict[
    str, float
]:
    limits = alloc.by_id()
    used = dict.fromkeys(tree.paths, 0.0)
    for s in sessions:
        for node in tree.paths[s.node_id]:
            used[node] += limits[s.session_id].limit_a * tree.voltage_v * s.phases
    return used


class TestHeadroom:
    def test_domain_example(self) -> None:
        """800 kVA, 0.8 loading, pf 1, 500 kW base → 140 kW ≈ 20 chargers at 7 kW."""
        headroom = available_w(800, 0.8, 1.0, 500_000, 0)
        assert 140_000 == pytest.approx(headroom)
        assert 20 == round(headroom / 7_000)
        assert 19 == int(headroom // (220 * 32))  # 7,040 W each: 19 at full power

    def test_margin_cap_and_never_negative(self) -> None:
        assert 130_000 == pytest.approx(available_w(800, 0.8, 1.0, 500_000, 10_000))
        assert 50_000 == available_w(800, 0.8, 1.0, 500_000, 0, hard_cap_w=50_000)
        assert 0.0 == available_w(800, 0.8, 0.9, 700_000, 0)

    def test_profile_by_local_hour_and_day_type(self) -> None:
        profile = BaseLoadProfile(tuple(range(24)), tuple(100.0 + h for h in range(24)),
                                  holidays=frozenset({date(2026, 10, 1)}))
        # 2026-11-27 is a Friday; 12:00 UTC is 20:00 in China.
        assert 20 == profile.base_load_w(T0)
        assert 104 == profile.base_load_w(datetime(2026, 11, 27, 20, 0, tzinfo=UTC))  # Sat 04h
        assert DayType.REST_DAY == profile.day_type(date(2026, 10, 1))
        with pytest.raises(ValueError, match="aware"):
            profile.base_load_w(datetime(2026, 11, 27, 12, 0))  # noqa: DTZ001

    def test_site_available_prefers_the_live_reading(self) -> None:
        profile = residential_profile(500_000)
        assert 140_000 == pytest.approx(site_available_w(800, 0.8, 1.0, 0, T0, profile))  # peak
        assert 390_000 == pytest.approx(
            site_available_w(800, 0.8, 1.0, 0, T0, profile, measured_base_w=250_000)
        )

    def test_profile_shape_is_checked(self) -> None:
        with pytest.raises(ValueError, match="24"):
            BaseLoadProfile((1.0,), (1.0,))


class TestTree:
    def test_paths_and_amps(self) -> None:
        tree = SiteTree("s", (Node("s", 100_000), Node.from_amps("f", 63, 230, 3, "s")))
        assert ("f", "s") == tree.paths["f"]
        assert 63 * 230 * 3 == tree.limit_w("f")
        assert "s" == tree.root.node_id

    @pytest.mark.parametrize(
        "nodes",
        [
            (Node("a", 1), Node("b", 1)),
            (Node("a", 1), Node("b", 1, "x")),
            (Node("a", 1), Node("a", 1, "a")),
            (Node("a", -1),),
            (Node("r", 1), Node("a", 1, "b"), Node("b", 1, "a")),
        ],
    )
    def test_malformed_trees_are_refused(self, nodes: tuple[Node, ...]) -> None:
        with pytest.raises(ValueError, match=r"root|parent|duplicate|negative|cycle"):
            SiteTree("s", nodes)


class TestConcreteNumbers:
    def test_domain_example_twenty_chargers_at_full_power(self) -> None:
        tree = SiteTree.single("site", available_w(800, 0.8, 1.0, 500_000, 0), 220)
        alloc = allocate(tree, [demand(i) for i in range(19)], T0)
        assert {32.0} == {limit.limit_a for limit in alloc.limits}
        assert {LimitReason.AT_MAX} == {limit.reason for limit in alloc.limits}
        twenty = allocate(tree, [demand(i) for i in range(20)], T0)
        assert {31.8} == {limit.limit_a for limit in twenty.limits}  # 140 kW / 20 / 220 V

    def test_thirty_7kw_chargers_share_100_kw(self) -> None:
        """100 kW / (30 × 220 V) = 15.15 A each, rounded down to 15.1 A."""
        tree = SiteTree.single("site", 100_000, 220)
        alloc = allocate(tree, [demand(i) for i in range(30)], T0)
        assert {15.1} == {limit.limit_a for limit in alloc.limits}
        assert () == alloc.paused_ids
        assert {"site"} == {limit.node_id for limit in alloc.limits}

    def test_not_enough_for_everyone_at_6a_pauses_the_newest(self) -> None:
        """100 kW / 1,320 W = 75 sessions at 6 A; of 80 new ones the 5 latest wait
        (session i started i minutes before T0)."""
        tree = SiteTree.single("site", 100_000, 220)
        alloc = allocate(tree, [demand(i) for i in range(80)], T0)
        assert (0, 1, 2, 3, 4) == alloc.paused_ids
        assert {6.0} == {lim.limit_a for lim in alloc.limits if lim.limit_a}
        paused = alloc.by_id()[4]
        assert (LimitReason.QUEUED, T0 - timedelta(minutes=4)) == (
            paused.reason, paused.paused_since)

    def test_spare_capacity_of_a_slow_car_goes_to_the_others(self) -> None:
        tree = SiteTree.single("site", 3 * 20 * 230)
        sessions = [demand(1), demand(2), demand(3)]
        first = allocate(tree, sessions, T0)
        assert [20.0, 20.0, 20.0] == [lim.limit_a for lim in first.limits]
        slow = [demand(1, measured_a=8.0), demand(2, measured_a=19.5), demand(3)]
        second = allocate(tree, slow, T0 + timedelta(seconds=10), first)
        assert [10.0, 25.0, 25.0] == [lim.limit_a for lim in second.limits]
        assert LimitReason.DRAW_LIMITED == second.limits[0].reason
        # It draws its whole cap again: the cap goes on the next call.
        again = [demand(1, measured_a=10.0), demand(2, measured_a=25.0), demand(3)]
        third = allocate(tree, again, T0 + timedelta(seconds=20), second)
        assert [20.0, 20.0, 20.0] == [lim.limit_a for lim in third.limits]

    def test_a_car_drawing_nothing_keeps_6a(self) -> None:
        tree = SiteTree.single("site", 100_000)
        alloc = allocate(tree, [demand(1, measured_a=0.0)], T0)
        assert (6.0, LimitReason.DRAW_LIMITED) == (alloc.limits[0].limit_a,
                                                   alloc.limits[0].reason)

    def test_feeder_limits_and_three_phase(self) -> None:
        tree = SiteTree("site", (
            Node("site", 40_000), Node.from_amps("f1", 16, 230, 3, "site"), Node("f2", 40_000,
                                                                              "site"),
        ))
        sessions = [demand(1, node="f1", phases=3), demand(2, node="f1"), demand(3, node="f2")]
        alloc = allocate(tree, sessions, T0)
        # f1 holds 16 A × 3 phases = 11,040 W: the 3-phase car and the 1-phase one split it
        # at 12 A each (12 × 690 + 12 × 230 = 11,040); f2's car takes its 32 A max.
        assert [12.0, 12.0, 32.0] == [lim.limit_a for lim in alloc.limits]
        assert ["f1", "f1", None] == [lim.node_id for lim in alloc.limits]

    def test_priority_class_is_filled_first(self) -> None:
        tree = SiteTree.single("site", 40 * 230)
        alloc = allocate(tree, [demand(1, priority=1), demand(2), demand(3)], T0)
        assert [28.0, 6.0, 6.0] == [lim.limit_a for lim in alloc.limits]

    def test_infeasible_sessions_never_start(self) -> None:
        tree = SiteTree("site", (Node("site", 100_000), Node("small", 3_000, "site")))
        alloc = allocate(tree, [demand(1, max_a=5), demand(2, node="small", phases=3)], T0)
        assert {LimitReason.INFEASIBLE} == {lim.reason for lim in alloc.limits}

    def test_rotation_pauses_the_longest_charging_after_min_run(self) -> None:
        tree = SiteTree.single("site", 2 * 6 * 230)
        sessions = [demand(i) for i in range(3)]  # 2 started first, 0 last
        first = allocate(tree, sessions, T0)
        assert (0,) == first.paused_ids
        later = T0 + timedelta(seconds=SETTINGS.min_run_s - 1)
        assert (0,) == allocate(tree, sessions, later, first).paused_ids  # protected
        rotated = allocate(tree, sessions, T0 + timedelta(seconds=SETTINGS.min_run_s), first)
        # 0 waited and goes first; 1 and 2 started charging together: the id breaks the tie.
        assert (2,) == rotated.paused_ids
        assert T0 + timedelta(seconds=SETTINGS.min_run_s) == rotated.by_id()[2].paused_since

    def test_urgent_session_keeps_charging(self) -> None:
        """Waiting 1 goes first; of 2 and 3 (charging since T0) the urgent one stays."""
        tree = SiteTree.single("site", 2 * 6 * 230)
        start = allocate(tree, [demand(1), demand(2), demand(3)], T0)
        assert (1,) == start.paused_ids
        now = T0 + timedelta(hours=1)
        assert (3,) == allocate(tree, [demand(1), demand(2), demand(3)], now, start).paused_ids
        need_wh = 32 * 230 * 1.9  # 1.9 h at full power, 2 h left
        urgent = demand(3, energy_needed_wh=need_wh, departure_at=now + timedelta(hours=2))
        assert (2,) == allocate(tree, [demand(1), demand(2), urgent], now, start).paused_ids
        relaxed = demand(3, energy_needed_wh=1000.0, departure_at=now + timedelta(hours=2))
        assert (3,) == allocate(tree, [demand(1), demand(2), relaxed], now, start).paused_ids

    def test_bad_input_is_refused(self) -> None:
        tree = SiteTree.single("site", 1000)
        with pytest.raises(ValueError, match="aware"):
            allocate(tree, [], datetime(2026, 1, 1))  # noqa: DTZ001
        with pytest.raises(ValueError, match="unknown node"):
            allocate(tree, [demand(1, node="x")], T0)
        with pytest.raises(ValueError, match="duplicate"):
            allocate(tree, [demand(1), demand(1)], T0)
        with pytest.raises(ValueError, match="phases"):
            allocate(tree, [demand(1, phases=4)], T0)


class TestPurity:
    @pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.stem)
    def test_imports_no_io_library(self, path: Path) -> None:
        assert set() == forbidden_in(direct_imports(path))
        assert {} == {n: i for n, i in loaded_with(path).items() if forbidden_in(i)}


# ---------------------------------------------------------------- properties

@st.composite
def trees(draw: st.DrawFn) -> SiteTree:
    voltage = draw(st.sampled_from([220.0, 230.0]))
    root = Node("site", draw(st.floats(0, 150_000)))
    feeders = [
        Node(f"f{i}", draw(st.floats(0, 60_000)), draw(st.sampled_from(["site", *(
            f"f{j}" for j in range(i))])))
        for i in range(draw(st.integers(0, 4)))
    ]
    return SiteTree("site", (root, *feeders), voltage)


@st.composite
def demands(draw: st.DrawFn, tree: SiteTree, *, priorities: int = 3) -> list[SessionDemand]:
    count = draw(st.integers(0, 40))
    return [
        SessionDemand(
            sid, draw(st.sampled_from(sorted(tree.paths))),
            draw(st.sampled_from([4.0, 6.0, 10.0, 16.0, 32.0, 63.0])),
            T0 - timedelta(seconds=draw(st.integers(0, 7200))),
            draw(st.sampled_from([1, 3])), draw(st.integers(0, priorities - 1)),
            draw(st.none() | st.floats(0, 64)),
        )
        for sid in range(count)
    ]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[SiteTree, list[SessionDemand], Allocation | None]:
    tree = draw(trees())
    sessions = draw(demands(tree))
    previous = None
    if draw(st.booleans()):
        earlier = [
            SessionDemand(s.session_id, s.node_id, s.max_a, s.started_at, s.phases, s.priority)
            for s in sessions if draw(st.booleans())
        ]
        previous = allocate(tree, earlier, T0 - timedelta(seconds=draw(st.integers(1, 3600))))
    return tree, sessions, previous


def fits_everyone_at_6a(tree: SiteTree, sessions: Sequence[SessionDemand]) -> bool:
    need = dict.fromkeys(tree.paths, 0.0)
    for s in sessions:
        for node in tree.paths[s.node_id]:
            need[node] += 6.0 * tree.voltage_v * s.phases
    return all(s.max_a >= 6 for s in sessions) and all(
        need[n] <= tree.limit_w(n) * (1 - 1e-9) for n in need)


class TestInvariants:
    @settings(max_examples=300, deadline=None)
    @given(scenarios())
    def test_invariants(
        self, scenario: tuple[SiteTree, list[SessionDemand], Allocation | None]
    ) -> None:
        tree, sessions, previous = scenario
        alloc = allocate(tree, sessions, T0, previous)
        used = power_w(tree, sessions, alloc)
        assert all(used[n] <= tree.limit_w(n) + 1e-6 for n in used), "node over its limit"
        limits = alloc.by_id()
        assert sorted(limits) == sorted(s.session_id for s in sessions)
        for s in sessions:
            limit_a = limits[s.session_id].limit_a
            assert limit_a == 0 or 6 <= limit_a <= s.max_a
        if fits_everyone_at_6a(tree, sessions):
            assert () == alloc.paused_ids
        self.check_work_conserving(tree, sessions, alloc, used)

    @staticmethod
    def check_work_conserving(
        tree: SiteTree, sessions: Sequence[SessionDemand], alloc: Allocation,
        used: dict[str, float],
    ) -> None:
        """Below its max and not draw-limited → some node on its path is (nearly) full:
        within the rounding to 0.1 A of every session under it."""
        limits = alloc.by_id()
        rounding = dict.fromkeys(tree.paths, 1e-6)
        for s in sessions:
            for node in tree.paths[s.node_id]:
                rounding[node] += SETTINGS.resolution_a * tree.voltage_v * s.phases
        for s in sessions:
            lim = limits[s.session_id]
            if lim.limit_a == 0 or lim.limit_a >= s.max_a or lim.reason == "draw_limited":
                continue
            assert any(
                tree.limit_w(n) - used[n] <= rounding[n] for n in tree.paths[s.node_id]
            ), f"session {s.session_id} could get more"

    @settings(max_examples=100, deadline=None)
    @given(scenarios(), st.randoms(use_true_random=False))
    def test_deterministic(
        self, scenario: tuple[SiteTree, list[SessionDemand], Allocation | None],
        rng: random.Random,
    ) -> None:
        tree, sessions, previous = scenario
        shuffled = list(sessions)
        rng.shuffle(shuffled)
        assert allocate(tree, sessions, T0, previous) == allocate(tree, shuffled, T0, previous)


# The rotation bound (Rule 7): with one class, every session whose 6 A fits the tree alone
# is paused for at most  n × depth × (ceil(min_run_s / step) + 1)  consecutive calls.
STEP_S = 60
MIN_RUN_S = 300.0
ROTATION = AllocatorSettings(min_run_s=MIN_RUN_S)


@st.composite
def scarce_scenarios(draw: st.DrawFn) -> tuple[SiteTree, list[SessionDemand]]:
    voltage = 230.0
    feeders = [
        Node(f"f{i}", draw(st.integers(1, 6)) * 6 * voltage + draw(st.floats(0, 1000)), "site")
        for i in range(draw(st.integers(0, 3)))
    ]
    root = Node("site", draw(st.integers(1, 8)) * 6 * voltage + draw(st.floats(0, 1000)))
    tree = SiteTree("site", (root, *feeders), voltage)
    sessions = [
        s for s in draw(demands(tree, priorities=1))
        if s.max_a >= 6 and all(6 * voltage * s.phases <= tree.limit_w(n)
                                for n in tree.paths[s.node_id])
    ]
    return tree, [
        SessionDemand(s.session_id, s.node_id, s.max_a, s.started_at, s.phases) for s in sessions
    ]


class TestRotation:
    @settings(max_examples=60, deadline=None)
    @given(scarce_scenarios())
    def test_nobody_waits_indefinitely(
        self, scenario: tuple[SiteTree, list[SessionDemand]]
    ) -> None:
        tree, sessions = scenario
        depth = max(len(p) for p in tree.paths.values())
        bound = max(1, len(sessions)) * depth * (-(-int(MIN_RUN_S) // STEP_S) + 1)
        waited = dict.fromkeys((s.session_id for s in sessions), 0)
        previous: Allocation | None = None
        for round_ in range(2 * bound + 10):
            now = T0 + timedelta(seconds=STEP_S * round_)
            previous = allocate(tree, sessions, now, previous, ROTATION)
            for lim in previous.limits:
                waited[lim.session_id] = waited[lim.session_id] + 1 if lim.limit_a == 0 else 0
                assert waited[lim.session_id] <= bound, f"session {lim.session_id} starves"
