"""A resident's monthly statement as CSV (the API's ``?format=csv`` and ``csms billing
statement --csv``).

Rules:
1. One table, one row per line, the first column saying what the line is: ``summary``
   (opening, closing, owed), ``movement`` (a wallet entry, signed), ``session`` (a charge's
   totals), ``detail`` (a charge detail), ``package`` (a subscription's use in the month).
2. Amounts are decimal yuan exactly as stored (two places), times ISO 8601 UTC.
"""

from __future__ import annotations

import csv
import io

from csms.store.billing.reads import Statement

COLUMNS = (
    "line", "at", "until", "kind", "ref", "session_id", "period", "energy_kwh",
    "electricity_yuan_per_kwh", "service_yuan_per_kwh", "electricity_yuan", "service_yuan",
    "amount_yuan", "memo",
)


def statement_csv(statement: Statement) -> str:
    """Rules 1–2."""
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    start, end = statement.period_start.isoformat(), statement.period_end.isoformat()
    for kind, amount in (("opening_balance", statement.opening_balance_yuan),
                         ("closing_balance", statement.closing_balance_yuan),
                         ("owed", statement.owed_yuan)):
        writer.writerow({"line": "summary", "at": start, "until": end, "kind": kind,
                         "amount_yuan": amount})
    for m in statement.movements:
        writer.writerow({"line": "movement", "at": m.at.isoformat(), "kind": m.kind,
                         "ref": m.ref, "session_id": m.session_id, "amount_yuan": m.amount_yuan,
                         "memo": m.memo})
    for s in statement.sessions:
        writer.writerow({"line": "session", "at": s.started_at.isoformat(),
                         "until": s.ended_at.isoformat(), "session_id": s.session_id,
                         "energy_kwh": s.energy_kwh, "electricity_yuan": s.electricity_yuan,
                         "service_yuan": s.service_yuan, "amount_yuan": s.due_yuan,
                         "kind": f"package_kwh={s.package_kwh}"})
        for d in s.details:
            writer.writerow({
                "line": "detail", "at": d.starts_at.isoformat(), "until": d.ends_at.isoformat(),
                "session_id": s.session_id, "period": d.period, "energy_kwh": d.energy_kwh,
                "electricity_yuan_per_kwh": d.electricity_yuan_per_kwh,
                "service_yuan_per_kwh": d.service_yuan_per_kwh,
                "electricity_yuan": d.electricity_yuan, "service_yuan": d.service_yuan,
                "amount_yuan": d.electricity_yuan + d.service_yuan})
    for p in statement.packages:
        writer.writerow({"line": "package", "at": p.valid_from.isoformat(),
                         "until": p.valid_until.isoformat(), "kind": p.code,
                         "ref": f"subscription:{p.subscription_id}",
                         "energy_kwh": p.used_in_month_kwh,
                         "memo": f"included {p.included_kwh} kWh, {p.remaining_kwh} left"})
    return out.getvalue()
