"""Charging limits on the wire (csms.handlers.commands.limits): rounded down, never above what was
allocated, and in both versions' translations."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csms.domain.commands import (
    ChargingProfile,
    ChargingSchedule,
    ProfileKind,
    ProfilePurpose,
    SchedulePeriod,
    SetChargingProfile,
)
from csms.handlers.commands import v16 as commands_v16
from csms.handlers.commands import v201 as commands_v201
from csms.handlers.commands.limits import STEP, wire_limit

allocated = st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False)
units = st.sampled_from(["A", "W"])


class TestWireLimit:
    @pytest.mark.parametrize(("value", "unit", "sent"), [
        pytest.param(8.15, "A", 8.1, id="8.15A-down-not-up"),
        pytest.param(2.3, "A", 2.3, id="2.3A-stays"),
        pytest.param(16.0, "A", 16.0, id="whole-amps"),
        pytest.param(6.06, "A", 6.0, id="6.06A"),
        pytest.param(0.09, "A", 0.0, id="below-a-tenth"),
        pytest.param(7000.9, "W", 7000.0, id="watts-down"),
        pytest.param(11_000.0, "W", 11_000.0, id="whole-watts-stay"),
        pytest.param(0.3 * 3, "A", 0.8, id="0.8999999999999999-is-below-0.9"),
    ])
    def test_examples(self, value: float, unit: str, sent: float) -> None:
        """The issue's 8.15 A goes out as 8.1; values already at the wire precision stay."""
        assert sent == wire_limit(value, unit)

    @settings(database=None, deadline=None)
    @given(value=allocated, unit=units)
    def test_never_above_and_less_than_one_step_below(self, value: float, unit: str) -> None:
        """sent <= allocated, allocated - sent < 0.1 A (1 W), and sent is a multiple of it."""
        sent = wire_limit(value, unit)
        assert sent <= value
        assert Decimal(value) - Decimal(sent) < STEP[unit]
        assert Decimal(repr(sent)) % STEP[unit] == 0

    @settings(database=None, deadline=None)
    @given(values=st.lists(allocated, min_size=1, max_size=50), unit=units)
    def test_the_sum_sent_never_exceeds_the_sum_allocated(self, values: list[float],
                                                           unit: str) -> None:
        """Per-EVSE shares rounded down sum to at most the site's allocation."""
        assert sum(Decimal(wire_limit(v, unit)) for v in values) <= sum(map(Decimal, values))


def _profile(unit: str, limits: list[float], min_rate: float | None) -> ChargingProfile:
    schedule = ChargingSchedule(unit, tuple(SchedulePeriod(60 * i, limit)
                                            for i, limit in enumerate(limits)),
                                min_rate=min_rate)
    return ChargingProfile(1, 1, ProfilePurpose.TX_DEFAULT, ProfileKind.ABSOLUTE, schedule)


@pytest.mark.parametrize("translate", [commands_v16, commands_v201], ids=["1.6", "2.0.1"])
class TestTranslation:
    def test_8_15_amps_go_out_as_8_1(self, translate: object) -> None:
        """The issue's example: 8.15 A was 8.2 in 1.6 and 8.15 in 2.0.1; now 8.1 in both."""
        assert [8.1] == _sent_limits(translate, _profile("A", [8.15], None))[0]

    @settings(database=None, deadline=None)
    @given(unit=units, limits=st.lists(st.floats(0, 1000), min_size=1, max_size=5),
           min_rate=st.none() | st.floats(0, 1000))
    def test_every_limit_sent_is_at_most_the_one_allocated(
        self, translate: object, unit: str, limits: list[float], min_rate: float | None
    ) -> None:
        """Period limits and minChargingRate: sent <= allocated, less than a step below, at
        the wire's precision."""
        sent, sent_min = _sent_limits(translate, _profile(unit, limits, min_rate))
        for value, out in zip([*limits, min_rate], [*sent, sent_min], strict=True):
            if value is None:
                assert out is None
                continue
            assert out is not None
            assert out <= value
            assert Decimal(value) - Decimal(out) < STEP[unit]
            assert Decimal(repr(out)) % STEP[unit] == 0


def _sent_limits(translate: object, profile: ChargingProfile
                 ) -> tuple[list[float], float | None]:
    _, payload = translate.to_call("CP-1", SetChargingProfile(1, profile))  # type: ignore[attr-defined]
    wire = payload.get("csChargingProfiles") or payload["chargingProfile"]
    schedule = wire["chargingSchedule"]
    schedule = schedule[0] if isinstance(schedule, list) else schedule
    return ([p["limit"] for p in schedule["chargingSchedulePeriod"]],
            schedule.get("minChargingRate"))
