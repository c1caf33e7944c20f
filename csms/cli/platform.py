"""``csms platform``: the municipal platform feed's outbox from the command line.

``csms platform pushes --status parked`` prints pushes as JSON lines (newest first);
``csms platform retry 17`` (or ``--all``) puts parked pushes back to pending, and
``csms platform station-info [--site 3]`` queues station info; a running CSMS sends them
within its ``platform.poll_interval_s``. Writes are audited as ``cli:<user>``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from csms.app import store_only
from csms.config import Settings
from csms.services.platform.pushes import PlatformFeed
from csms.store.access import audit
from csms.store.platform import STATUSES, PushStore
from csms.store.writer import WriteTx


def register(sub: Any) -> None:
    """Add ``platform pushes / retry / station-info`` to the commands."""
    platform = sub.add_parser("platform", help="the municipal platform feed").add_subparsers(
        required=True, metavar="ACTION")
    pushes = platform.add_parser("pushes", help="list pushes (JSON lines, newest first)")
    pushes.add_argument("--status", choices=STATUSES)
    pushes.add_argument("--limit", type=int, default=100)
    pushes.set_defaults(func=_pushes)
    retry = platform.add_parser("retry", help="parked pushes back to pending")
    retry.add_argument("push_id", nargs="?", type=int)
    retry.add_argument("--all", action="store_true")
    retry.set_defaults(func=_retry)
    info = platform.add_parser("station-info", help="queue notification_stationInfo")
    info.add_argument("--site", type=int, help="one site (default: every site)")
    info.set_defaults(func=_station_info)


async def _pushes(settings: Settings, args: argparse.Namespace) -> int:
    async with store_only(settings, args.clock) as store:
        items, _ = await PushStore(store.engine, store.writer).pushes(
            args.status, None, args.limit, 0)
    for p in items:
        print(json.dumps({"id": p.id, "interface": p.interface, "key": p.push_key,
                          "status": p.status, "attempts": p.attempts,
                          "created_at": p.created_at.isoformat(),
                          "last_error": p.last_error}, ensure_ascii=False))
    return 0


async def _retry(settings: Settings, args: argparse.Namespace) -> int:
    if (args.push_id is None) == (not args.all):
        print("csms: give a push id or --all", file=sys.stderr)
        return 2
    async with store_only(settings, args.clock) as store:
        count = await PushStore(store.engine, store.writer).retry(args.push_id, args.clock())
        await _audit(store.writer, "retry", str(args.push_id or "*"), count, args.clock())
    print(f"{count} push(es) back to pending")
    return 0 if count or args.all else 1


async def _station_info(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.platform.enabled:
        print("csms: [platform] is not enabled", file=sys.stderr)
        return 1
    async with store_only(settings, args.clock) as store:
        count = await PlatformFeed(store, settings, args.clock).queue_station_info(args.site)
        await _audit(store.writer, "station_info", str(args.site or "*"), count, args.clock())
    print(f"queued station info for {count} site(s)")
    return 0


async def _audit(writer: Any, action: str, resource_id: str, count: int, now: Any) -> None:
    async def unit(tx: WriteTx) -> None:
        audit(tx, f"cli:{getpass.getuser()}", action, "platform_push", resource_id,
              {"count": count}, at=now)

    await writer.submit(unit)
