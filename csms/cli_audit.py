"""``csms audit verify``: walk the audit log's hash chain and name the first bad record.

Exit 0 and ``ok N records`` when the chain is intact; exit 1 naming the record (its seq and
row id) and what is wrong when a record was altered, removed or reordered.
"""

from __future__ import annotations

import argparse
from typing import Any

from csms.config import Settings
from csms.store.audit import verify_stored
from csms.store.engine import create_engine


def register(sub: Any) -> None:
    """Add the ``audit`` command group."""
    audit = sub.add_parser("audit", help="the tamper-evident audit log").add_subparsers(
        required=True, metavar="ACTION")
    audit.add_parser("verify", help="check the hash chain; exit 1 naming the first bad "
                     "record").set_defaults(func=_verify)


async def _verify(settings: Settings, _: argparse.Namespace) -> int:
    engine = create_engine(settings.database)
    try:
        verdict = await verify_stored(engine)
    finally:
        await engine.dispose()
    if verdict.broken is None:
        print(f"ok {verdict.count} records")
        return 0
    b = verdict.broken
    where = f"id {verdict.row_id}" if verdict.row_id is not None else "row missing"
    print(f"audit log broken at record seq {b.seq} ({where}): {b.problem.value}: {b.detail}"
          f" ({verdict.count} records before it are intact)")
    return 1
