"""Tariff model, session pricing and rounding at posting (csms.tariffs)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csms.tariffs.examples import yunnan_residential
from csms.tariffs.model import (
    DayType,
    Period,
    TariffVersion,
    TouRate,
    TouSchedule,
    tariff_at,
    versions_during,
)
from csms.tariffs.pricing import (
    PricedSession,
    RegisterSample,
    price_session,
    register_sample,
    register_wh_at,
)
from csms.tariffs.rounding import FEN, KWH_QUANTUM, allocate_rounded, post_order, round_yuan
from tests.unit.test_purity import ROOT, forbidden_in, loaded_with

SHANGHAI = ZoneInfo("Asia/Shanghai")
YUNNAN = yunnan_residential()


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Shanghai wall-clock time as aware UTC (local time only at the edges)."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def constant_power(start: datetime, end: datetime, watts: int, step_min: int = 15,
                   register_wh: int = 0) -> list[RegisterSample]:
    samples, at = [], start
    while at <= end:
        elapsed_h = Decimal((at - start) // timedelta(seconds=1)) / 3600
        samples.append(RegisterSample(at, register_wh + watts * elapsed_h))
        at += timedelta(minutes=step_min)
    return samples


class TestYunnanExample:
    def test_session_across_the_valley_boundary_to_the_fen(self) -> None:
        """23:30–01:00 local on a weekday at a constant 7 kW, service fee 0.40 yuan/kWh.

        Register samples at 23:30, 23:42, 00:06, 00:54 and 01:00 (10 000 … 20 500 Wh);
        none falls at 00:00, so the midnight reading is interpolated between 23:42
        (11 400 Wh) and 00:06 (14 200 Wh): 11 400 + 2 800 × 18/24 = 13 500 Wh.
        By hand:
          23:30–00:00 non-valley: 3.5 kWh × 0.61 = 2.135 yuan; service 3.5 × 0.40 = 1.40
          00:00–01:00 valley:     7.0 kWh × 0.31 = 2.170 yuan; service 7.0 × 0.40 = 2.80
          totals: 10.5 kWh; electricity 4.305 → 4.31 (half-up); service 4.20; money 8.51
        Rounded details (largest remainder): electricity 2.135 → 2.14 (it has the larger
        remainder, 0.5 fen, so it takes the missing fen) and 2.17; 2.14 + 2.17 = 4.31.
        """
        start, end = local(2026, 3, 10, 23, 30), local(2026, 3, 11, 1, 0)
        samples = [register_sample(local(*day, h, m), wh) for day, h, m, wh in (
            ((2026, 3, 10), 23, 30, 10_000), ((2026, 3, 10), 23, 42, 11_400),
            ((2026, 3, 11), 0, 6, 14_200), ((2026, 3, 11), 0, 54, 19_800),
            ((2026, 3, 11), 1, 0, 20_500))]
        session = price_session([YUNNAN], samples, start, end)
        assert [(local(2026, 3, 10, 23, 30), local(2026, 3, 11), Period.FLAT),
                (local(2026, 3, 11), local(2026, 3, 11, 1), Period.VALLEY)] == [
            (d.start, d.end, d.period) for d in session.details]
        assert [Decimal("3.5"), Decimal("7")] == [d.energy_kwh for d in session.details]
        assert Decimal("4.305") == session.electricity_yuan
        order = post_order(session)
        assert Decimal("10.500") == order.energy_kwh
        assert (Decimal("4.31"), Decimal("4.20"), Decimal("8.51")) == (
            order.electricity_yuan, order.service_yuan, order.total_yuan)
        assert [(Decimal("2.14"), Decimal("1.40")), (Decimal("2.17"), Decimal("2.80"))] == [
            (d.electricity_yuan, d.service_yuan) for d in order.details]

    def test_valley_across_midnight_is_configurable(self) -> None:
        """A 23:00–07:00 valley makes the whole 23:30–01:00 session valley."""
        tariff = yunnan_residential(valley_start=time(23), valley_end=time(7),
                                    service_yuan_per_kwh=Decimal("0.50"))
        start, end = local(2026, 3, 10, 23, 30), local(2026, 3, 11, 1, 0)
        session = price_session([tariff], constant_power(start, end, 7000), start, end)
        assert {Period.VALLEY} == {d.period for d in session.details}
        assert Decimal("10.5") * Decimal("0.81") == session.total_yuan


class TestModel:
    def test_tariff_at_picks_the_latest_version_in_force(self) -> None:
        old = yunnan_residential(effective_from=local(2024, 1, 1), name="old")
        new = yunnan_residential(effective_from=local(2026, 7, 1), name="new")
        assert "old" == tariff_at([new, old], local(2026, 6, 30, 23, 59)).name
        assert "new" == tariff_at([new, old], local(2026, 7, 1)).name
        with pytest.raises(LookupError):
            tariff_at([new, old], local(2023, 12, 31))
        with pytest.raises(ValueError, match="two versions"):
            tariff_at([old, old], local(2026, 1, 1))

    def test_a_session_spanning_a_version_change_is_split_at_effective_from(self) -> None:
        old = yunnan_residential(effective_from=local(2024, 1, 1), name="old")
        new = yunnan_residential(effective_from=local(2026, 7, 1, 12), name="new",
                                 service_yuan_per_kwh=Decimal("0.60"))
        start, end = local(2026, 7, 1, 11), local(2026, 7, 1, 13)
        session = price_session([old, new], constant_power(start, end, 7000), start, end)
        assert [("old", Decimal("0.40")), ("new", Decimal("0.60"))] == [
            (d.tariff, d.service_yuan_per_kwh) for d in session.details]
        assert local(2026, 7, 1, 12) == session.details[0].end
        assert 1 == len(versions_during([old, new], start, local(2026, 7, 1, 12)))

    def test_day_types_holidays_and_make_up_workdays(self) -> None:
        weekend_valley = TouRate(time(0), time(0), Period.VALLEY, Decimal("0.2"),
                                 frozenset({DayType.WEEKEND, DayType.HOLIDAY}))
        tariff = TariffVersion(
            "t", local(2024, 1, 1), "Asia/Shanghai",
            electricity=TouSchedule(Decimal("0.5"), rates=(weekend_valley,)),
            service=TouSchedule(Decimal(0)),
            holidays=frozenset({date(2026, 10, 1)}), workdays=frozenset({date(2026, 9, 27)}))
        assert Period.VALLEY == tariff.rate_at(local(2026, 10, 1, 12)).period  # Thursday
        assert Period.FLAT == tariff.rate_at(local(2026, 9, 27, 12)).period  # a Sunday
        assert Period.VALLEY == tariff.rate_at(local(2026, 9, 26, 12)).period  # Saturday
        assert Period.FLAT == tariff.rate_at(local(2026, 9, 28, 12)).period  # Monday

    def test_invalid_values_are_refused(self) -> None:
        with pytest.raises(ValueError, match="wrap"):
            TouRate(time(22), time(6), Period.VALLEY, Decimal("0.3"))
        with pytest.raises(ValueError, match="negative"):
            TouRate(time(0), time(6), Period.VALLEY, Decimal("-0.3"))
        with pytest.raises(ValueError, match="aware"):
            yunnan_residential(effective_from=datetime(2024, 1, 1))  # noqa: DTZ001
        with pytest.raises(ValueError, match="backwards"):
            price_session([YUNNAN], [register_sample(local(2026, 1, 1), 5.0),
                                     register_sample(local(2026, 1, 1, 1), 4)],
                          local(2026, 1, 1), local(2026, 1, 1, 1))

    @pytest.mark.parametrize(("day", "periods"), [
        (date(2026, 3, 29), [Period.FLAT, Period.PEAK]),
        (date(2026, 10, 25), [Period.FLAT, Period.PEAK, Period.FLAT, Period.PEAK]),
    ])
    def test_dst_boundaries_via_zoneinfo(self, day: date, periods: list[Period]) -> None:
        """Berlin, peak from 02:30 wall time, session 01:00–04:00 wall time.

        Spring: 02:00 jumps to 03:00, so the clock passes 02:30 at the jump (01:00 UTC).
        Autumn: 02:00–03:00 happens twice; peak from the first 02:30, flat again when the
        clock falls back to 02:00 (01:00 UTC), peak again at the second 02:30.
        """
        berlin = ZoneInfo("Europe/Berlin")
        rate = TouRate(time(2, 30), time(0), Period.PEAK, Decimal("1"))
        tariff = TariffVersion("b", datetime(2024, 1, 1, tzinfo=UTC), "Europe/Berlin",
                               TouSchedule(Decimal("0.5"), rates=(rate,)),
                               TouSchedule(Decimal(0)))
        start = datetime.combine(day, time(1), berlin).astimezone(UTC)
        end = datetime.combine(day, time(4), berlin).astimezone(UTC)
        session = price_session([tariff], constant_power(start, end, 3600), start, end)
        assert periods == [d.period for d in session.details]
        assert datetime(day.year, day.month, day.day, 1, tzinfo=UTC) in {
            d.start for d in session.details}
        assert_contiguous(session)
        assert (end - start) / timedelta(hours=1) == session.energy_kwh * 1000 / 3600


def assert_contiguous(session: PricedSession) -> None:
    details = session.details
    assert session.start == details[0].start
    assert session.end == details[-1].end
    assert all(a.end == b.start for a, b in itertools.pairwise(details))


class TestRounding:
    def test_half_up(self) -> None:
        assert Decimal("0.01") == round_yuan(Decimal("0.005"))
        assert Decimal("0.00") == round_yuan(Decimal("0.00499"))

    def test_largest_remainder_where_rounding_each_fails(self) -> None:
        """0.005 × 3 = 0.015 → 0.02; rounding each would give 0.03."""
        amounts = [Decimal("0.005")] * 3
        assert [Decimal("0.01"), Decimal("0.01"), Decimal("0.00")] == allocate_rounded(amounts)
        assert [Decimal("0.00"), Decimal("0.01")] == allocate_rounded(
            [Decimal("0.004"), Decimal("0.006")])


# -- properties -------------------------------------------------------------------------

T0 = local(2026, 1, 2)
prices = st.decimals(min_value=0, max_value=3, places=4)
minutes = st.integers(min_value=1, max_value=24 * 60)


@st.composite
def tariffs(draw: st.DrawFn, effective_from: datetime = T0 - timedelta(days=30)) -> TariffVersion:
    a, b = sorted(draw(st.lists(st.integers(0, 23 * 60), min_size=2, max_size=2, unique=True)))
    window = TouRate(time(a // 60, a % 60), time(b // 60, b % 60), Period.VALLEY, draw(prices))
    peak = TouRate(time(17, 7), time(21, 13), Period.PEAK, draw(prices),
                   frozenset({DayType.WEEKDAY}))
    return TariffVersion("p", effective_from, "Asia/Shanghai",
                         TouSchedule(draw(prices), rates=(window, peak)),
                         TouSchedule(draw(prices), rates=(peak,)))


@st.composite
def sessions(draw: st.DrawFn) -> tuple[list[RegisterSample], datetime, datetime]:
    gaps = draw(st.lists(minutes, min_size=1, max_size=12))
    steps = draw(st.lists(st.integers(0, 20_000_000), min_size=len(gaps), max_size=len(gaps)))
    at, wh = T0, Decimal(draw(st.integers(0, 10**9))) / 1000
    samples = [RegisterSample(at, wh)]
    for gap, step in zip(gaps, steps, strict=True):
        at, wh = at + timedelta(minutes=gap, seconds=7), wh + Decimal(step) / 1000
        samples.append(RegisterSample(at, wh))
    span = int((at - T0) / timedelta(seconds=1))
    start_s = draw(st.integers(-600, span))
    end_s = draw(st.integers(start_s, span + 600))
    return samples, T0 + timedelta(seconds=start_s), T0 + timedelta(seconds=end_s)


SessionCase = tuple[list[RegisterSample], datetime, datetime]


class TestProperties:
    @settings(max_examples=150, deadline=None)
    @given(tariffs(), sessions())
    def test_kwh_split_sums_to_the_session_energy(self, tariff: TariffVersion,
                                                  case: SessionCase) -> None:
        samples, start, end = case
        session = price_session([tariff], samples, start, end)
        expected = register_wh_at(samples, end) - register_wh_at(samples, start)
        assert expected / 1000 == session.energy_kwh
        assert all(d.energy_kwh >= 0 for d in session.details)
        if start < end:
            assert_contiguous(session)

    @settings(max_examples=150, deadline=None)
    @given(tariffs(), sessions())
    def test_details_sum_to_totals_unrounded_and_rounded(self, tariff: TariffVersion,
                                                          case: SessionCase) -> None:
        session = price_session([tariff], *case)
        d = session.details
        assert sum((x.electricity_yuan + x.service_yuan for x in d), Decimal(0)) == (
            session.total_yuan)
        order = post_order(session)
        assert order.electricity_yuan == sum((x.electricity_yuan for x in order.details), 0)
        assert order.service_yuan == sum((x.service_yuan for x in order.details), 0)
        assert order.energy_kwh == sum((x.energy_kwh for x in order.details), 0)
        assert order.electricity_yuan == round_yuan(session.electricity_yuan)
        for exact, posted in zip(d, order.details, strict=True):
            assert abs(exact.electricity_yuan - posted.electricity_yuan) < FEN
            assert abs(exact.service_yuan - posted.service_yuan) < FEN
            assert abs(exact.energy_kwh - posted.energy_kwh) < KWH_QUANTUM

    @settings(max_examples=100, deadline=None)
    @given(tariffs(), sessions(), tariffs(), st.integers(0, 10**6))
    def test_later_versions_never_reprice_an_ended_session(
        self, tariff: TariffVersion, case: SessionCase, later: TariffVersion, delay_s: int
    ) -> None:
        samples, start, end = case
        before = price_session([tariff], samples, start, end)
        published = TariffVersion("later", end + timedelta(seconds=delay_s), later.zone,
                                  later.electricity, later.service)
        assert before == price_session([tariff, published], samples, start, end)


def test_tariffs_package_is_pure() -> None:
    for path in (ROOT / "csms" / "tariffs").glob("*.py"):
        assert {} == {name: imports for name, imports in loaded_with(path).items()
                      if forbidden_in(imports)}
