"""Pure enforcement pieces: headroom source, limit tree with feeders and refusers, safe
shares, leases and dead-band, measured draw, overload detection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.domain.commands import ProfilePurpose
from csms.domain.model import MeterSample, SampledValue
from csms.smartcharging.allocator import SessionDemand, allocate
from csms.smartcharging.headroom import BaseLoadProfile
from csms.smartcharging.leases import (
    Lease,
    LeasePolicy,
    lease_profile,
    needs_sending,
    renewed,
    safe_profile,
)
from csms.smartcharging.measure import (
    Draw,
    OverloadState,
    observe_overload,
    update_draw,
)
from csms.smartcharging.site import (
    BaseReading,
    EvseSpec,
    Feeder,
    SiteLimits,
    build_tree,
    guaranteed_w,
    headroom,
    safe_shares,
)

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SITE = SiteLimits(1, 800.0, 0.8, 1.0, 0.0, 220.0, reading_max_age_s=300)
FLAT = BaseLoadProfile((500_000.0,) * 24, (500_000.0,) * 24)


class TestHeadroom:
    def test_a_fresh_reading_wins_a_stale_one_falls_back_to_the_profile(self) -> None:
        """Reading 600 kW at T0: 40 kW until 300 s later, then the profile's 140 kW."""
        reading = BaseReading(600_000.0, T0)
        assert (40_000.0, "reading") == (headroom(SITE, T0, FLAT, reading).available_w,
                                         headroom(SITE, T0, FLAT, reading).source)
        late = headroom(SITE, T0 + timedelta(seconds=301), FLAT, reading)
        assert (140_000.0, "profile") == (late.available_w, late.source)

    def test_no_profile_and_no_fresh_reading_means_no_headroom(self) -> None:
        assert 0.0 == headroom(SITE, T0, None, None).available_w

    def test_guaranteed_is_the_worst_hour(self) -> None:
        profile = BaseLoadProfile(tuple([400_000.0] * 23 + [590_000.0]), (400_000.0,) * 24)
        assert 50_000.0 == guaranteed_w(SITE, profile, 240_000.0)


class TestTreeAndSafeShares:
    def test_feeders_nest_and_a_refuser_is_taken_off_its_path(self) -> None:
        feeders = (Feeder(1, 30_000.0), Feeder(2, 10_000.0, 1))
        refuser = EvseSpec("CP", 1, 32.0, 1, feeder_id=2)
        tree = build_tree(SITE, 100_000.0, feeders, [refuser])
        assert ("feeder:2", "feeder:1", "site:1") == tree.paths["feeder:2"]
        assert (100_000.0 - 7040.0, 30_000.0 - 7040.0, 10_000.0 - 7040.0) == (
            tree.limit_w("site:1"), tree.limit_w("feeder:1"), tree.limit_w("feeder:2"))

    def test_thirty_7kw_chargers_on_45_kw_get_6_8_a_each(self) -> None:
        evses = [EvseSpec(f"CP{i}", 1, 32.0, 1) for i in range(30)]
        shares = safe_shares(build_tree(SITE, 45_000.0, ()), evses, 1)
        assert {6.8} == set(shares.values())

    def test_below_6_a_the_safe_share_is_0(self) -> None:
        evses = [EvseSpec(f"CP{i}", 1, 32.0, 1) for i in range(30)]
        assert {0.0} == set(safe_shares(build_tree(SITE, 30_000.0, ()), evses, 1).values())

    @given(st.floats(0, 300_000), st.floats(0, 50_000),
           st.lists(st.tuples(st.sampled_from([None, 1]), st.sampled_from([16.0, 32.0]),
                              st.sampled_from([1, 3])), min_size=1, max_size=40))
    def test_safe_shares_fit_every_node(self, root_w: float, feeder_w: float,
                                        spec: list[tuple[int | None, float, int]]) -> None:
        """Sum of shares x V x phases within every node; each 0 or in [6 A, max]."""
        evses = [EvseSpec(f"CP{i}", 1, m, p, f) for i, (f, m, p) in enumerate(spec)]
        tree = build_tree(SITE, root_w, (Feeder(1, feeder_w),))
        shares = safe_shares(tree, evses, 1)
        for node in ("site:1", "feeder:1"):
            used = sum(shares[(e.station_id, 1)] * 220.0 * e.phases for e in evses
                       if node in tree.paths["site:1" if e.feeder_id is None else "feeder:1"])
            assert used <= tree.limit_w(node) + 1e-6
        assert all(a == 0 or 6.0 <= a <= e.max_a for e in evses
                   for a in [shares[(e.station_id, 1)]])


class TestLeases:
    POLICY = LeasePolicy(lease_s=600, renew_before_s=120, deadband_a=1.0)

    def test_profiles(self) -> None:
        safe = safe_profile(2, 6.8, 1)
        assert (ProfilePurpose.TX_DEFAULT, 0, None) == (safe.purpose, safe.stack_level,
                                                        safe.valid_to)
        lease = lease_profile(2, "17", 20.0, 1, T0, self.POLICY)
        assert (ProfilePurpose.TX, "17", T0 + timedelta(seconds=600)) == (
            lease.purpose, lease.transaction_ref, lease.valid_to)
        assert lease.stack_level > safe.stack_level

    @pytest.mark.parametrize(("new_a", "seconds", "expected"), [
        (20.0, 0, False),  # unchanged
        (20.9, 0, False),  # up within the dead-band
        (21.5, 0, True),  # up beyond it
        (19.9, 0, True),  # any decrease
        (0.0, 0, True),  # paused
        (20.0, 481, True),  # lease ends within renew_before_s
    ])
    def test_needs_sending(self, new_a: float, seconds: int, expected: bool) -> None:
        lease = Lease("17", 20.0, T0 + timedelta(seconds=600))
        now = T0 + timedelta(seconds=seconds)
        assert expected == needs_sending(lease, "17", new_a, now, self.POLICY)

    def test_another_transaction_or_none_always_sends(self) -> None:
        lease = Lease("17", 20.0, T0 + timedelta(seconds=600))
        assert needs_sending(lease, "18", 20.0, T0, self.POLICY)
        assert needs_sending(None, "17", 20.0, T0, self.POLICY)
        assert needs_sending(Lease("17", 0.0, T0 + timedelta(seconds=600)), "17", 6.0, T0,
                             self.POLICY)

    def test_a_renewal_keeps_the_time_the_limit_changed(self) -> None:
        """Samples taken before a limit has had ``settle_s`` to act do not count."""
        first = renewed(None, "17", 20.0, T0, self.POLICY)
        again = renewed(first, "17", 20.0, T0 + timedelta(minutes=8), self.POLICY)
        raised = renewed(again, "17", 32.0, T0 + timedelta(minutes=9), self.POLICY)
        assert (T0, T0, T0 + timedelta(minutes=9)) == (first.since, again.since, raised.since)
        assert again.valid_to == T0 + timedelta(minutes=18)
        assert not raised.settled(T0 + timedelta(minutes=9, seconds=20), 30)
        assert raised.settled(T0 + timedelta(minutes=9, seconds=30), 30)

    def test_renewal_inside_the_lease_is_required(self) -> None:
        with pytest.raises(ValueError, match="renew_before_s"):
            LeasePolicy(lease_s=60, renew_before_s=60)


def sample(at: datetime, *values: SampledValue) -> MeterSample:
    return MeterSample(at, values)


class TestMeasure:
    def test_power_wins_then_current_then_energy_delta(self) -> None:
        power = sample(T0, SampledValue(7.0, "Power.Active.Import", "kW"),
                       SampledValue(30.0, "Current.Import", "A"))
        assert 7000.0 == update_draw(None, [power], 220.0, 1).power_w  # type: ignore[union-attr]
        current = sample(T0, SampledValue(30.0, "Current.Import", "A", phase="L1"))
        assert 6600.0 == update_draw(None, [current], 220.0, 1).power_w  # type: ignore[union-attr]
        e1 = sample(T0, SampledValue(1000.0))
        e2 = sample(T0 + timedelta(minutes=6), SampledValue(1.5, unit="kWh"))
        assert 5000.0 == pytest.approx(update_draw(None, [e1, e2], 220.0, 1).power_w)  # type: ignore[union-attr]

    def test_register_going_backwards_keeps_the_last_draw(self) -> None:
        before = Draw(3000.0, T0, 2000.0)
        back = sample(T0 + timedelta(minutes=1), SampledValue(1500.0))
        assert 3000.0 == update_draw(before, [back], 220.0, 1).power_w  # type: ignore[union-attr]

    def test_overload_needs_the_hold_time_and_is_reported_once_each_way(self) -> None:
        state = OverloadState()
        changes = []
        for second, measured in [(0, 105_000), (60, 105_000), (120, 105_000),
                                 (180, 105_000), (240, 99_000), (300, 99_000)]:
            state, change = observe_overload(state, measured, 100_000, 1000, 120,
                                             T0 + timedelta(seconds=second))
            changes.append(None if change is None else (second, change.overloaded))
        assert [None, None, (120, True), None, (240, False), None] == changes


class TestAllocationWithRefusers:
    @given(st.floats(0, 200_000), st.floats(0, 60_000),
           st.lists(st.tuples(st.sampled_from([None, 1]), st.sampled_from([16.0, 32.0]),
                              st.sampled_from([1, 3]), st.booleans()),
                    min_size=1, max_size=30))
    def test_refusers_at_their_maximum_plus_the_allocation_fit_every_node(
        self, root_w: float, feeder_w: float,
        spec: list[tuple[int | None, float, int, bool]],
    ) -> None:
        """Whatever refuses draws its maximum; the others' limits (0 or >= 6 A, <= max)
        fill what is left, so at every node with room for the refusers the total fits."""
        evses = [EvseSpec(f"CP{i}", 1, m, p, f) for i, (f, m, p, _) in enumerate(spec)]
        refusing = [e for e, s in zip(evses, spec, strict=True) if s[3]]
        others = [e for e, s in zip(evses, spec, strict=True) if not s[3]]
        feeders = (Feeder(1, feeder_w),)
        tree = build_tree(SITE, root_w, feeders, refusing)
        full = build_tree(SITE, root_w, feeders)
        demands = [SessionDemand(i, "site:1" if e.feeder_id is None else "feeder:1",
                                 e.max_a, T0, e.phases) for i, e in enumerate(others)]
        limits = allocate(tree, demands, T0).by_id()
        for node in ("site:1", "feeder:1"):
            def under(e: EvseSpec, node: str = node) -> bool:
                return node in full.paths["site:1" if e.feeder_id is None else "feeder:1"]
            refused_w = sum(e.max_a * 220.0 * e.phases for e in refusing if under(e))
            allocated_w = sum(limits[i].limit_a * 220.0 * e.phases
                              for i, e in enumerate(others) if under(e))
            if refused_w <= full.limit_w(node):
                assert refused_w + allocated_w <= full.limit_w(node) + 1e-6
            else:
                assert allocated_w == 0
        assert all(x.limit_a == 0 or 6.0 <= x.limit_a <= others[i].max_a
                   for i, x in limits.items())
