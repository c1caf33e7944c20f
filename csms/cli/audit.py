"""``csms audit verify``: walk the audit log's hash chain and name the first bad record.

Exit 0 printing ``ok N records`` and, on a second line, ``head SEQ:HASH`` when the chain is
intact; exit 1 naming the record (its seq and row id) and what is wrong when a record was
altered, removed or reordered. A chain cannot vouch for its own end: keep the printed head
somewhere else and pass it back with ``--head`` to detect deleted or rewritten last records.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from csms.config import Settings
from csms.safety.audit import Link
from csms.store.engine import create_engine
from csms.store.sharing.audit import verify_stored


def _link(text: str) -> Link:
    match = re.fullmatch(r"(\d+):([0-9a-f]{64})", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError("expected SEQ:HASH as printed by `audit verify`")
    return Link(int(match.group(1)), match.group(2))


def register(sub: Any) -> None:
    """Add the ``audit`` command group."""
    audit = sub.add_parser("audit", help="the tamper-evident audit log").add_subparsers(
        required=True, metavar="ACTION")
    verify = audit.add_parser("verify", help="check the hash chain; exit 1 naming the first "
                              "bad record", description=__doc__)
    verify.add_argument("--head", type=_link, metavar="SEQ:HASH",
                        help="a head printed by an earlier run, kept elsewhere")
    verify.set_defaults(func=_verify)


async def _verify(settings: Settings, args: argparse.Namespace) -> int:
    engine = create_engine(settings.database)
    try:
        verdict = await verify_stored(engine, anchor=args.head)
    finally:
        await engine.dispose()
    if verdict.broken is None:
        print(f"ok {verdict.count} records")
        print(f"head {verdict.head.seq}:{verdict.head.hash}")
        return 0
    b = verdict.broken
    where = f"id {verdict.row_id}" if verdict.row_id is not None else "row missing"
    print(f"audit log broken at record seq {b.seq} ({where}): {b.problem.value}: {b.detail}"
          f" ({verdict.count} records before it are intact)")
    return 1
