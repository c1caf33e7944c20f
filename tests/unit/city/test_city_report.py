"""The monthly report's figures (csms.city.report) over hand-made data, and its writers."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from csms.city import report as r
from csms.city import report_out as out
from csms.city.coverage import DistrictCoverage

SH = ZoneInfo("Asia/Shanghai")


def bounds(year: int, month: int) -> tuple[datetime, datetime]:
    first = datetime(year, month, 1, tzinfo=SH)
    following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=SH)
    return first.astimezone(UTC), following.astimezone(UTC)


def change(status: str, at: datetime, connector: int = 1, station: str = "CP1") -> r.StatusChange:
    return r.StatusChange(station, 1, connector, status, at)


START, END = bounds(2026, 11)


def whole(report: r.MonthlyReport) -> r.Figures:
    assert report.city is not None
    return report.city


def city(**extra: object) -> r.MonthData:
    base: dict[str, object] = {
        "month": "2026-11", "start": START, "end": END,
        "districts": [r.District(1, "530102", "五华区", "五华", 10),
                   r.District(2, "530103", "盘龙区", "盘龙", 4)],
        "communities": [r.Community(11, 1, "A"), r.Community(12, 1, "B"), r.Community(13, 1, "C"),
                     r.Community(21, 2, "D")],
        "sites": [r.Site(101, 11), r.Site(102, 12), r.Site(201, 21)],
        "chargers": [r.Charger("CP1", 101), r.Charger("CP2", 201), r.Charger("LOOSE", None)],
        "connectors": [r.Connector("CP1", 1, 1), r.Connector("CP1", 1, 2), r.Connector("CP2", 1, 1),
                    r.Connector("LOOSE", 1, 1)],
        "evses": [r.Evse("CP1", 1, 7360), r.Evse("CP2", 1, 11040), r.Evse("LOOSE", 1, None)],
    }
    base.update(extra)
    return r.MonthData(**base)  # type: ignore[arg-type]


class TestAvailability:
    @pytest.mark.parametrize(("year", "month", "days"), [
        (2026, 2, 28), (2028, 2, 29), (2026, 4, 30), (2026, 11, 30), (2026, 12, 31)])
    def test_month_length_is_measured(self, year: int, month: int, days: int) -> None:
        start, end = bounds(year, month)
        assert end - start == timedelta(days=days)
        # Faulted for exactly one local day: availability is (days - 1) / days
        changes = [change("Available", start - timedelta(days=3)),
                   change("Faulted", start + timedelta(days=2)),
                   change("Available", start + timedelta(days=3))]
        assert r.usable_seconds(changes, [], start, end) == (days - 1) * 86400

    def test_state_is_carried_in_and_out_of_the_month(self) -> None:
        """Faulted since October until 6 h into November; then usable past the month end."""
        changes = [change("Faulted", START - timedelta(days=10)),
                   change("Available", START + timedelta(hours=6)),
                   change("Charging", END + timedelta(hours=1)),  # after: ignored
                   ]
        month_s = (END - START).total_seconds()
        assert r.usable_seconds(changes, [], START, END) == month_s - 6 * 3600

    def test_unknown_before_the_first_status_is_not_usable(self) -> None:
        changes = [change("Available", START + timedelta(days=15))]
        assert r.usable_seconds(changes, [], START, END) == 15 * 86400

    def test_offline_windows_are_not_usable(self) -> None:
        changes = [change("Available", START - timedelta(days=1))]
        offline = [r.Offline("CP1", START - timedelta(hours=1), START + timedelta(hours=2)),
                   r.Offline("CP1", START + timedelta(days=1), START + timedelta(days=1, hours=1))]
        month_s = (END - START).total_seconds()
        assert r.usable_seconds(changes, offline, START, END) == month_s - 3 * 3600

    def test_offline_windows_from_the_connection_log(self) -> None:
        """Disconnected before the month and back 2 h in; away again for 30 min; gone at
        the end for the last hour; a charger never logged is online."""
        def ev(connected: bool, at: datetime, station: str = "CP1") -> r.ConnectionEvent:
            return r.ConnectionEvent(station, connected, at)

        events = [ev(True, START - timedelta(days=5)), ev(False, START - timedelta(hours=3)),
                  ev(True, START + timedelta(hours=2)),
                  ev(False, START + timedelta(days=3)),
                  ev(True, START + timedelta(days=3, minutes=30)),
                  ev(False, END - timedelta(hours=1)), ev(True, END + timedelta(hours=1)),
                  ev(True, START, "CP2")]
        windows = r.offline_windows(events, START, END)
        assert [(w.station_id, w.start, w.end) for w in windows] == [
            ("CP1", START, START + timedelta(hours=2)),
            ("CP1", START + timedelta(days=3), START + timedelta(days=3, minutes=30)),
            ("CP1", END - timedelta(hours=1), END)]
        changes = [change("Available", START - timedelta(days=9))]
        month_s = (END - START).total_seconds()
        assert r.usable_seconds(changes, windows, START, END) == month_s - 3.5 * 3600

    def test_a_charger_wide_unavailable_status_and_overlaps_count_once(self) -> None:
        """1.6 connectorId 0 (EVSE 0) Unavailable for 4 h, overlapping 1 h of an offline
        window of 2 h: 5 h unusable for each of CP1's connectors, not 6."""
        data = city(status_changes=[
            change("Available", START - timedelta(days=1), 1),
            change("Available", START - timedelta(days=1), 2),
            r.StatusChange("CP1", 0, 0, "Available", START - timedelta(days=1)),
            r.StatusChange("CP1", 0, 0, "Unavailable", START + timedelta(hours=10)),
            r.StatusChange("CP1", 0, 0, "Available", START + timedelta(hours=14))],
            offline=[r.Offline("CP1", START + timedelta(hours=13),
                               START + timedelta(hours=15))])
        wuhua = r.monthly_report(data).districts[0]
        assert wuhua.connectors == 2  # connector 0 is not a connector
        expected = Decimal(1 - 5 / 720).quantize(Decimal("0.0001"))
        assert wuhua.availability == expected

    @pytest.mark.parametrize("status", sorted(r.USABLE))
    def test_usable_statuses(self, status: str) -> None:
        assert r.usable_seconds([change(status, START)], [], START, END) == 30 * 86400

    @pytest.mark.parametrize("status", ["Faulted", "Unavailable"])
    def test_unusable_statuses(self, status: str) -> None:
        assert r.usable_seconds([change(status, START)], [], START, END) == 0

    def test_district_availability_and_status_at_month_end(self) -> None:
        """CP1's two connectors: one always usable, one faulted for the last 3 days (and
        still at month end) -> (30 + 27) / 60."""
        data = city(status_changes=[
            change("Available", START - timedelta(days=40), 1),
            change("Available", START - timedelta(days=40), 2),
            change("Faulted", END - timedelta(days=3), 2)])
        report = r.monthly_report(data)
        wuhua = report.districts[0]
        assert wuhua.connectors == 2
        assert wuhua.availability == Decimal("0.9500")
        assert wuhua.connectors_by_status["Available"] == 1
        assert wuhua.connectors_by_status["Faulted"] == 1
        panlong = report.districts[1]
        assert panlong.availability == Decimal("0.0000")  # no status ever
        assert panlong.connectors_by_status["Unknown"] == 1
        assert whole(report).connectors == 4  # the charger without a site counts in the city


class TestPlacesAndEnergy:
    def test_communities_sites_chargers_and_power(self) -> None:
        report = r.monthly_report(city(coverage=[DistrictCoverage(1, 3, 2, 1, 0),
                                                 DistrictCoverage(2, 1, 0, 0, 1)]))
        wuhua, panlong = report.districts
        assert (wuhua.communities, wuhua.communities_built, wuhua.communities_in_progress) \
            == (3, 1, 1)
        assert (wuhua.sites, wuhua.chargers, wuhua.installed_kw) == (2, 1, Decimal("7.360"))
        assert (wuhua.covered_1km, wuhua.uncovered_1km, wuhua.unlocated) == (2, 1, 0)
        assert wuhua.pilot_target == 10
        assert wuhua.pilot_progress == Decimal("0.1000")
        assert panlong.pilot_progress == Decimal("0.2500")
        assert whole(report).chargers == 3
        assert whole(report).installed_kw == Decimal("18.400")
        assert whole(report).pilot_target == 14
        assert whole(report).unlocated == 1

    def test_sessions_count_in_the_month_they_ended(self) -> None:
        sessions = [
            r.Session(1, "CP1", START - timedelta(hours=2), START + timedelta(hours=1), 12_345),
            r.Session(2, "CP1", END - timedelta(hours=1), END, 99_999),  # ends next month
            r.Session(3, "CP2", START + timedelta(days=3), START + timedelta(days=3, hours=2,
                                                                           minutes=30), 20_001),
            r.Session(4, "CP1", END - timedelta(hours=2), END - timedelta(seconds=1), 1),
        ]
        details = [r.ChargeDetail(1, 7, "valley", Decimal("10.000")),
                   r.ChargeDetail(1, 7, "flat", Decimal("2.345")),
                   r.ChargeDetail(3, 8, "peak", Decimal("20.001")),
                   r.ChargeDetail(2, 9, "valley", Decimal("99.999"))]
        report = r.monthly_report(city(sessions=sessions, details=details))
        wuhua = report.districts[0]
        assert wuhua.sessions == 2
        assert wuhua.energy_kwh == Decimal("12.346")
        assert wuhua.charging_hours == Decimal("5.00")  # 3 h + 2 h - 1 s
        assert wuhua.valley_kwh == Decimal("10.000")
        assert wuhua.valley_share == Decimal("0.8100")  # 10 / 12.345
        assert wuhua.residents_served == 1
        assert whole(report).sessions == 3
        assert whole(report).energy_kwh == Decimal("32.347")
        assert whole(report).residents_served == 2
        assert whole(report).charging_hours == Decimal("7.50")


class TestAlarmsLoadSales:
    def test_alarms_by_level_and_time_to_clear(self) -> None:
        alarms = [
            r.Alarm(1, 1, 1, START + timedelta(hours=1), START + timedelta(hours=3)),
            r.Alarm(2, 1, 1, START + timedelta(hours=5), START + timedelta(hours=6)),
            r.Alarm(3, 2, 1, END - timedelta(hours=1), END + timedelta(hours=5)),  # after end
            r.Alarm(4, 3, 1, START - timedelta(days=2), START + timedelta(hours=1)),  # carried
            r.Alarm(5, 3, 2, START - timedelta(days=2), None),  # still open, Panlong
        ]
        report = r.monthly_report(city(alarms=alarms))
        wuhua, panlong = report.districts
        assert wuhua.alarms_by_level == {1: 2, 2: 1, 3: 0}
        assert wuhua.hours_to_clear_by_level == {1: Decimal("1.50"), 2: None, 3: None}
        assert wuhua.open_alarms_by_level == {1: 0, 2: 1, 3: 0}
        assert panlong.open_alarms_by_level == {1: 0, 2: 0, 3: 1}
        assert whole(report).open_alarms_by_level == {1: 0, 2: 1, 3: 1}

    def test_peak_load_headroom_and_sales(self) -> None:
        load = [r.LoadPoint(101, START + timedelta(hours=1), 100_000, 60_000),
                r.LoadPoint(101, START + timedelta(hours=2), 100_000, 101_500),
                r.LoadPoint(102, START + timedelta(hours=2), 50_000, 20_000),
                r.LoadPoint(201, START + timedelta(hours=2), 80_000, 70_000)]
        sales = [r.Sale(11, START + timedelta(days=1), 9900), r.Sale(21, START, 5000),
                 r.Sale(11, END, 9900)]
        report = r.monthly_report(city(load=load, sales=sales))
        wuhua, panlong = report.districts
        assert wuhua.peak_site_load_kw == Decimal("101.500")
        assert wuhua.headroom_at_peak_kw == Decimal("-1.500")
        assert wuhua.sites_over_limit == 1
        assert panlong.headroom_at_peak_kw == Decimal("10.000")
        assert (wuhua.packages_sold, wuhua.package_sales_fen) == (1, 9900)
        assert (whole(report).packages_sold, whole(report).package_sales_fen) == (2, 14900)


class TestWriters:
    def report(self) -> r.MonthlyReport:
        return r.monthly_report(city(sessions=[
            r.Session(1, "CP1", START, START + timedelta(hours=1), 5_500)]))

    def test_xlsx_has_a_summary_and_a_sheet_per_district(self) -> None:
        content = out.to_xlsx(self.report(), [], START, {1: "五华", 2: "盘龙"})
        book = openpyxl.load_workbook(io.BytesIO(content))
        assert book.sheetnames == ["汇总", "五华", "盘龙"]
        summary = list(book["汇总"].iter_rows(values_only=True))
        headings = summary[0]
        assert "充电电量(kWh)" in headings
        assert "接口可用率(%)" in headings
        by_name = {row[headings.index("区域")]: row for row in summary[1:]}
        assert set(by_name) == {"五华区", "盘龙区", "全市"}
        assert by_name["五华区"][headings.index("充电电量(kWh)")] == 5.5
        sheet = {row[0]: row[1] for row in book["五华"].iter_rows(values_only=True)}
        assert sheet["充电次数(次)"] == 1

    def test_csv_and_json_agree(self) -> None:
        report = self.report()
        rows = list(csv.reader(io.StringIO(out.to_csv(report).decode("utf-8-sig"))))
        assert rows[0] == [c.heading for c in out.COLUMNS]
        assert [row[1] for row in rows[1:]] == ["五华区", "盘龙区", "全市"]
        body = json.loads(out.to_json(report, [], START, None))
        energy = rows[0].index("充电电量(kWh)")
        assert body["districts"][0]["energy_kwh"] == rows[1][energy] == "5.500"
        assert body["city"]["sessions"] == 1

    def test_a_district_report_has_only_that_district(self) -> None:
        report = self.report().of_district(2)
        book = openpyxl.load_workbook(io.BytesIO(out.to_xlsx(report, [], START, {})))
        assert book.sheetnames == ["汇总", "盘龙区"]
        assert len(list(book["汇总"].iter_rows())) == 2
