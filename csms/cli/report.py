"""``csms report monthly``: the monthly district report (csms.services.city.monthly_reports).

``csms report monthly --month 2026-11 --district 530102`` writes that district's November
report (XLSX by default; ``--format csv|json``) to ``--out`` (default
``monthly-2026-11-530102.xlsx``; ``-`` is standard output). Without ``--district`` the
report covers the whole city: a sheet per district and the summary. ``--store`` generates
and stores every scope and format of the month and notifies webhook subscribers, as the
scheduler does on the configured day.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from csms.app import store_only
from csms.city.report_out import FORMATS
from csms.config import Settings
from csms.services.city.monthly_reports import Reports, parse_month
from csms.store.city import district_names


def register(sub: Any) -> None:
    """Add ``report monthly`` to the commands."""
    report = sub.add_parser("report", help="reports for the city")
    kinds = report.add_subparsers(dest="report_command", required=True)
    monthly = kinds.add_parser("monthly", help="the monthly district report (XLSX/CSV/JSON)")
    monthly.add_argument("--month", required=True, help="YYYY-MM, a calendar month in"
                         " [reports] timezone")
    monthly.add_argument("--district", help="district code, name or id (default: the city)")
    monthly.add_argument("--format", choices=FORMATS, default="xlsx")
    monthly.add_argument("--out", default=None, help="file to write ('-': standard output)")
    monthly.add_argument("--store", action="store_true", help="generate, store and notify"
                         " every district's and the city's reports of the month")
    monthly.set_defaults(func=_monthly)


async def _monthly(settings: Settings, args: argparse.Namespace) -> int:
    try:
        year, month = parse_month(args.month)
    except ValueError as exc:
        print(f"csms: {exc}", file=sys.stderr)
        return 2
    async with store_only(settings, args.clock) as store:
        reports = Reports(store.engine, store.writer, settings, args.clock)
        if args.store:
            made = await reports.generate(year, month, f"cli:{getpass.getuser()}")
            print(f"stored {len(made)} reports of {args.month}")
            return 0
        district_id, label = None, "city"
        if args.district is not None:
            names = await district_names(store.engine)
            found = [key for key, (code, name) in names.items()
                     if args.district in (code, name, str(key))]
            if not found:
                print(f"csms: no district {args.district!r}", file=sys.stderr)
                return 1
            district_id = found[0]
            label = names[district_id][0] or str(district_id)
        content = await reports.render(year, month, district_id, args.format)
    _write(args.out or f"monthly-{args.month}-{label}.{args.format}", content)
    return 0


def _write(target: str, content: bytes) -> None:
    if target == "-":
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
    else:
        Path(target).write_bytes(content)
        print(f"wrote {target} ({len(content)} bytes)")
