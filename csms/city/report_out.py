"""The monthly report as rows, and its three renderings: XLSX, CSV and JSON (all in memory).

Rules:
1. :data:`COLUMNS` is the one list of figures, in order, with its Chinese heading (units
   in the heading) and its JSON key; every writer uses it, so they cannot disagree.
2. Numbers keep their exact value: Decimal figures are Decimal cells in the XLSX (openpyxl
   writes them as numbers), plain text in the CSV and strings in the JSON; money is fen.
   A figure that cannot be computed (no connectors, no load data) is empty / null.
3. XLSX: the sheet 汇总 has a row per district and the city's total row (全市); then a sheet
   per district (its short name, else name) with every figure as 指标 / 数值 and its
   communities' 1 km coverage. CSV: the 汇总 rows. JSON: the figures with English keys.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook

from csms.city.coverage import CommunityCoverage
from csms.city.report import LEVELS, STATUSES, Figures, MonthlyReport

Value = int | Decimal | str | None
FORMATS = ("xlsx", "csv", "json")
MEDIA = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "csv": "text/csv; charset=utf-8", "json": "application/json"}
LEVEL_NAMES = {1: "一级(人身安全)", 2: "二级(设备)", 3: "三级(提示)"}
CITY_NAME = "全市"


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    heading: str
    value: Callable[[Figures], Value]


def _percent(share: Decimal | None) -> Decimal | None:
    return None if share is None else (share * 100).quantize(Decimal("0.01"))


def _by_status(status: str) -> Callable[[Figures], Value]:
    return lambda f: f.connectors_by_status.get(status, 0)


def _level(name: str, level: int) -> Callable[[Figures], Value]:
    def value(f: Figures) -> Value:
        found: dict[int, Value] = getattr(f, name)
        return found.get(level)
    return value


def _columns() -> tuple[Column, ...]:
    cols = [
        Column("district_code", "区划代码", lambda f: f.code),
        Column("district", "区域", lambda f: f.name),
        Column("communities", "小区数(个)", lambda f: f.communities),
        Column("communities_built", "已建成小区(个)", lambda f: f.communities_built),
        Column("communities_in_progress", "在建小区(个)", lambda f: f.communities_in_progress),
        Column("covered_1km", "1公里内有公共充电站小区(个)", lambda f: f.covered_1km),
        Column("uncovered_1km", "1公里内无公共充电站小区(个)", lambda f: f.uncovered_1km),
        Column("unlocated", "无坐标小区(个)", lambda f: f.unlocated),
        Column("pilot_target", "试点目标小区(个)", lambda f: f.pilot_target),
        Column("pilot_progress_percent", "试点目标完成率(%)",
               lambda f: _percent(f.pilot_progress)),
        Column("sites", "站点数(个)", lambda f: f.sites),
        Column("chargers", "充电桩数(台)", lambda f: f.chargers),
        Column("connectors", "充电接口数(个)", lambda f: f.connectors),
    ]
    cols += [Column(f"connectors_{status}", f"月末接口状态·{status}(个)", _by_status(status))
             for status in STATUSES]
    cols += [
        Column("installed_kw", "装机功率(kW)", lambda f: f.installed_kw),
        Column("sessions", "充电次数(次)", lambda f: f.sessions),
        Column("energy_kwh", "充电电量(kWh)", lambda f: f.energy_kwh),
        Column("charging_hours", "充电时长(小时)", lambda f: f.charging_hours),
        Column("availability_percent", "接口可用率(%)", lambda f: _percent(f.availability)),
    ]
    for level in LEVELS:
        name = LEVEL_NAMES[level]
        cols += [
            Column(f"alarms_level_{level}", f"告警·{name}(条)",
                   _level("alarms_by_level", level)),
            Column(f"hours_to_clear_level_{level}", f"平均消除时长·{name}(小时)",
                   _level("hours_to_clear_by_level", level)),
            Column(f"open_alarms_level_{level}", f"月末未消除·{name}(条)",
                   _level("open_alarms_by_level", level)),
        ]
    cols += [
        Column("peak_site_load_kw", "站点峰值负荷(kW)", lambda f: f.peak_site_load_kw),
        Column("limit_at_peak_kw", "峰值时站点限额(kW)", lambda f: f.limit_at_peak_kw),
        Column("headroom_at_peak_kw", "峰值时余量(kW)", lambda f: f.headroom_at_peak_kw),
        Column("sites_over_limit", "超限站点(个)", lambda f: f.sites_over_limit),
        Column("valley_kwh", "谷时段电量(kWh)", lambda f: f.valley_kwh),
        Column("valley_percent", "谷时段电量占比(%)", lambda f: _percent(f.valley_share)),
        Column("residents_served", "服务居民(户)", lambda f: f.residents_served),
        Column("packages_sold", "套餐销售(份)", lambda f: f.packages_sold),
        Column("package_sales_fen", "套餐销售额(分)", lambda f: f.package_sales_fen),
    ]
    return tuple(cols)


COLUMNS = _columns()
HEADINGS = {c.key: c.heading for c in COLUMNS}


def rows(report: MonthlyReport) -> list[list[Value]]:
    """Rule 3: the 汇总 rows, districts then the city."""
    everyone = (*report.districts, *(() if report.city is None else (report.city,)))
    return [[c.value(f) for c in COLUMNS] for f in everyone]


def to_json(report: MonthlyReport, coverage: Sequence[CommunityCoverage],
            generated_at: datetime, district_id: int | None) -> bytes:
    def plain(f: Figures) -> dict[str, Any]:
        return {c.key: (str(v) if isinstance(v, Decimal) else v)
                for c in COLUMNS for v in [c.value(f)]} | {"district_id": f.district_id}

    body = {"month": report.month, "start": report.start.isoformat(),
            "end": report.end.isoformat(), "generated_at": generated_at.isoformat(),
            "district_id": district_id, "headings": HEADINGS,
            "city": None if report.city is None else plain(report.city),
            "districts": [plain(f) for f in report.districts],
            "coverage": [_coverage_json(c) for c in coverage]}
    return json.dumps(body, ensure_ascii=False, indent=1).encode()


def _coverage_json(c: CommunityCoverage) -> dict[str, Any]:
    return {"community_id": c.community.id, "name": c.community.name,
            "district_id": c.community.district_id, "verdict": c.verdict.value,
            "nearest_site_id": None if c.nearest_site is None else c.nearest_site.id,
            "distance_m": None if c.distance_m is None else round(c.distance_m, 1)}


def to_csv(report: MonthlyReport) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.heading for c in COLUMNS])
    for row in rows(report):
        writer.writerow(["" if v is None else str(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode()  # a BOM, so spreadsheet programs read UTF-8


def sheet_title(f: Figures, taken: set[str]) -> str:
    base = "".join(ch for ch in f.name if ch not in "[]:*?/\\")[:28] or str(f.district_id)
    title, n = base, 2
    while title in taken or title == "汇总":
        title, n = f"{base[:26]}{n}", n + 1
    taken.add(title)
    return title


def to_xlsx(report: MonthlyReport, coverage: Sequence[CommunityCoverage],
            generated_at: datetime, short_names: dict[int, str | None]) -> bytes:
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "汇总"
    book.properties.title = f"{report.month} 月度报告"
    book.properties.created = generated_at.replace(tzinfo=None)
    summary.append([c.heading for c in COLUMNS])
    for row in rows(report):
        summary.append(row)
    taken: set[str] = set()
    for f in report.districts:
        named = f if f.district_id is None or not short_names.get(f.district_id) else Figures(
            f.district_id, f.code, str(short_names[f.district_id]))
        sheet = book.create_sheet(sheet_title(named, taken))
        sheet.append(["指标", "数值"])
        for c in COLUMNS:
            sheet.append([c.heading, c.value(f)])
        sheet.append([])
        sheet.append(["小区", "1公里覆盖", "最近站点", "距离(米)"])
        for item in coverage:
            if item.community.district_id != f.district_id:
                continue
            sheet.append([item.community.name, item.verdict.value,
                          None if item.nearest_site is None else item.nearest_site.name,
                          None if item.distance_m is None else round(item.distance_m, 1)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
