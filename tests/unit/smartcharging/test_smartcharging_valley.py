"""Valley shifting: the pure planner, and reading a 2.0.1 NotifyEVChargingNeeds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from csms.domain.model import MeterSample, SampledValue
from csms.services.load.service import charging_needs
from csms.smartcharging.headroom import CHINA_STANDARD_TIME as CST
from csms.smartcharging.measure import update_draw
from csms.smartcharging.valley import ValleyWindow, plan

VALLEY = ValleyWindow(0, 8, CST)  # 00:00-08:00 China time = 16:00-24:00 UTC
EVENING = datetime(2026, 11, 27, 20, 0, tzinfo=CST)  # 12:00 UTC


class TestWindow:
    def test_contains_and_wraps_midnight(self) -> None:
        wrap = ValleyWindow(23, 7, CST)
        assert wrap.contains(EVENING.replace(hour=23))
        assert wrap.contains(EVENING.replace(hour=6))
        assert not wrap.contains(EVENING)
        assert VALLEY.contains(EVENING.replace(hour=0))

    def test_periods_clip_to_the_range(self) -> None:
        periods = VALLEY.periods(EVENING, EVENING + timedelta(hours=10))  # to 06:00 next day
        assert [(EVENING.replace(hour=0) + timedelta(days=1),
                 EVENING.replace(hour=6) + timedelta(days=1))] == periods

    def test_equal_hours_are_refused(self) -> None:
        with pytest.raises(ValueError, match="differ"):
            ValleyWindow(3, 3)


class TestPlan:
    def test_defers_when_the_valley_meets_the_need(self) -> None:
        """Leaves at 07:00: 7 h of valley at 3.5 kW = 24.5 kWh >= 1.25 x 15 kWh."""
        decided = plan(EVENING, EVENING + timedelta(hours=11), 15_000, 3_500, VALLEY)
        assert decided.deferred
        assert EVENING.replace(hour=0) + timedelta(days=1) == decided.resume_at

    def test_charges_now_when_the_valley_is_too_short(self) -> None:
        """Leaves at 02:00: 2 h of valley at 3.5 kW = 7 kWh < 1.25 x 15 kWh."""
        assert not plan(EVENING, EVENING + timedelta(hours=6), 15_000, 3_500, VALLEY).deferred

    @pytest.mark.parametrize(("departure_h", "need_wh"), [(None, 1000.0), (11, None),
                                                          (-1, 1000.0), (11, 0.0)])
    def test_never_defers_without_a_need_or_a_future_departure(
        self, departure_h: int | None, need_wh: float | None
    ) -> None:
        departure = None if departure_h is None else EVENING + timedelta(hours=departure_h)
        assert not plan(EVENING, departure, need_wh, 3_500, VALLEY).deferred

    def test_inside_the_valley_nothing_waits(self) -> None:
        night = EVENING.replace(hour=1) + timedelta(days=1)
        assert not plan(night, night + timedelta(hours=6), 1000, 3_500, VALLEY).deferred


def test_charging_needs_from_notify_ev_charging_needs() -> None:
    payload = {"evseId": 2, "chargingNeeds": {
        "requestedEnergyTransfer": "AC_single_phase", "departureTime": "2026-11-27T23:00:00Z",
        "acChargingParameters": {"energyAmount": 12000, "evMinCurrent": 6,
                                 "evMaxCurrent": 32, "evMaxVoltage": 230}}}
    assert (2, 12000.0, datetime(2026, 11, 27, 23, tzinfo=UTC)) == charging_needs(payload)
    assert charging_needs({"evseId": 2, "chargingNeeds": {}}) is None
    assert charging_needs({"chargingNeeds": payload["chargingNeeds"]}) is None


def test_a_start_register_alone_leaves_the_draw_unknown() -> None:
    start = MeterSample(EVENING, (SampledValue(1000.0, context="Transaction.Begin"),))
    draw = update_draw(None, [start], 220.0, 1)
    assert draw is not None
    assert (None, 1000.0) == (draw.power_w, draw.energy_wh)
