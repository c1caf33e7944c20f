"""What the resident page shows (csms.resident.figures): money, energy, local times, PINs
and the price now, at fixed instants."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal

from csms.resident import figures as f
from csms.tariffs.model import Period, TariffVersion, TouRate, TouSchedule

D = Decimal
# Valley 00:00-08:00, peak 18:00-22:00, flat otherwise; service 0.40 all day.
VERSION = TariffVersion(
    "1", datetime(2026, 1, 1, tzinfo=UTC), "Asia/Shanghai",
    TouSchedule(D("0.60"), Period.FLAT, (
        TouRate(time(0), time(8), Period.VALLEY, D("0.30")),
        TouRate(time(18), time(22), Period.PEAK, D("0.90")))),
    TouSchedule(D("0.40")))


class TestFormats:
    def test_money_is_yuan_with_two_decimals_half_up(self) -> None:
        assert ["3.46", "3.00", "0.01", "-2.50"] == [
            f.money(D(x)) for x in ("3.455", "3", "0.005", "-2.5")]

    def test_unit_prices_keep_their_decimals(self) -> None:
        assert ["0.60", "0.6125", "1.00"] == [f.unit_price(D(x))
                                              for x in ("0.6", "0.6125", "1")]

    def test_energy_and_power(self) -> None:
        assert ("1.50", "7.0", None) == (f.kwh(1500.0), f.kw(7040.0), f.kwh(None))

    def test_local_time_is_the_sites(self) -> None:
        at = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)
        assert "00:30" == f.local_time(at, "Asia/Shanghai")
        assert "2027-01-01 00:30" == f.local_time(at, "Asia/Shanghai", with_date=True)

    def test_a_pin_is_four_to_eight_digits(self) -> None:
        assert [False, True, True, False, False] == [
            f.valid_pin(p) for p in ("123", "1234", "12345678", "123456789", "12a4")]


class TestPrices:
    def test_the_price_now_and_when_it_changes(self) -> None:
        """19:00 local: peak 0.90 + 0.40 until 22:00 local (14:00 UTC)."""
        now = f.price_now(VERSION, datetime(2026, 12, 2, 11, 0, tzinfo=UTC))
        assert (Period.PEAK, D("1.30"), datetime(2026, 12, 2, 14, 0, tzinfo=UTC)) == (
            now.period, now.total_yuan_per_kwh, now.until)

    def test_midnight_is_no_change_when_the_price_holds(self) -> None:
        """23:00 flat until 00:00, where the valley starts; a valley at 07:00 lasts to 08:00."""
        late = f.price_now(VERSION, datetime(2026, 12, 2, 15, 0, tzinfo=UTC))
        assert datetime(2026, 12, 2, 16, 0, tzinfo=UTC) == late.until
        early = f.price_now(VERSION, datetime(2026, 12, 2, 23, 0, tzinfo=UTC))
        assert (Period.VALLEY, datetime(2026, 12, 3, 0, 0, tzinfo=UTC)) == (early.period,
                                                                              early.until)

    def test_a_day_in_pieces(self) -> None:
        """The local day cut where the price changes, ending at midnight."""
        day = f.day_prices(VERSION, date(2026, 12, 2))
        assert [(time(0), time(8), Period.VALLEY, D("0.70")),
                (time(8), time(18), Period.FLAT, D("1.00")),
                (time(18), time(22), Period.PEAK, D("1.30")),
                (time(22), time(0), Period.FLAT, D("1.00"))] == [
            (p.start, p.end, p.period, p.total_yuan_per_kwh) for p in day]
