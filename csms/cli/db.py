"""``csms db prune``: delete what the ``[retention]`` settings no longer require.

A dry run by default: it prints how many rows each step would delete; ``--apply`` deletes
them. ``--now`` (ISO time) is the instant the retention is counted back from (default:
now), for tests and for checking what a later prune would take. The audit log is never
pruned (csms.store.retention).
"""

from __future__ import annotations

import argparse
from typing import Any

from csms.app import store_only
from csms.config import Settings
from csms.handlers.timefmt import parse_time
from csms.store import retention


def register(db: Any) -> None:
    """Add ``prune`` to the ``db`` sub-commands."""
    prune = db.add_parser("prune", help="delete rows past their retention (dry run unless "
                          "--apply)", description=__doc__)
    prune.add_argument("--apply", action="store_true", help="delete (default: only count)")
    prune.add_argument("--now", help="count retention back from this ISO time (default now)")
    prune.set_defaults(func=_prune)


async def _prune(settings: Settings, args: argparse.Namespace) -> int:
    now = parse_time(args.now) if args.now else args.clock()
    cut = retention.Cutoffs.of(settings.retention, now)
    async with store_only(settings, args.clock) as store:
        if args.apply:
            counts = await retention.prune(store.writer, cut)
        else:
            counts = await retention.count(store.engine, cut)
    verb = "deleted" if args.apply else "would delete"
    print(f"safety logs before {cut.safety_logs.isoformat()}, "
          f"sessions ended before {cut.sessions.isoformat()}:")
    for label, n in counts.items():
        print(f"  {label}: {n}")
    print(f"{verb} {sum(counts.values())} rows; the audit log is never pruned"
          + ("" if args.apply else " (dry run: add --apply to delete)"))
    return 0
