"""``csms locallist ...`` and ``csms reservation ...``: local lists and reservations from the
database (no charger is contacted; sending is the running CSMS's, through the API).

``csms locallist show CP`` prints the version the charger's list has as far as the CSMS
knows, what it last reported, and what a sync would send now (a dry run of
:func:`csms.domain.local_list.plan`, assuming the charger is in step; ``--full`` as if it were
not); ``csms locallist wanted CP`` prints the entries the charger should hold, one per line
(tab-separated: token, type, status, expiry, group), for scripts.
``csms reservation list CP [--open]`` prints the charger's reservations.
"""

from __future__ import annotations

import argparse
from typing import Any

from csms.app import store_only
from csms.config import Settings
from csms.domain.local_list import ListLimits, LocalListTooLong, plan
from csms.store.local_lists import LocalListStore
from csms.store.reservations import ReservationStore


def register(sub: Any) -> None:
    """Add the ``locallist`` and ``reservation`` command groups."""
    lists = sub.add_parser("locallist", help="local authorization lists (read-only)"
                           ).add_subparsers(required=True, metavar="ACTION")
    show = lists.add_parser("show", help="the list's version and what a sync would send")
    show.add_argument("station_id")
    show.add_argument("--full", action="store_true", help="plan a full update")
    show.add_argument("--per-message", type=int, default=ListLimits().per_message,
                      help="items per SendLocalList message (the charger's limit)")
    show.set_defaults(func=_show)
    wanted = lists.add_parser("wanted", help="the entries the charger should hold")
    wanted.add_argument("station_id")
    wanted.set_defaults(func=_wanted)
    res = sub.add_parser("reservation", help="reservations (read-only)").add_subparsers(
        required=True, metavar="ACTION")
    listing = res.add_parser("list", help="a charger's reservations, newest first")
    listing.add_argument("station_id")
    listing.add_argument("--open", action="store_true", help="only pending or active ones")
    listing.set_defaults(func=_reservations)


async def _show(settings: Settings, args: argparse.Namespace) -> int:
    if args.per_message < 1:
        print("csms: --per-message must be at least 1")
        return 2
    async with store_only(settings, args.clock) as store:
        lists = LocalListStore(store.engine, store.writer)
        sent = await lists.sent(args.station_id)
        wanted = await lists.wanted(args.station_id, args.clock())
    print(f"{args.station_id}: version {sent.version}, {len(sent.entries)} entries sent"
          f" (charger reported {sent.reported_version}; last sync {sent.last_outcome});"
          f" {len(wanted)} wanted")
    try:
        messages = plan(wanted, sent.entries, sent.version, None,
                        ListLimits(per_message=args.per_message), force_full=args.full)
    except LocalListTooLong as exc:
        print(f"csms: {exc}")
        return 1
    if not messages:
        print("  up to date: a sync sends nothing")
    for m in messages:
        removed = sum(1 for e in m.entries if e.authorization is None)
        print(f"  SendLocalList version {m.version} {'Full' if m.full else 'Differential'}:"
              f" {len(m.entries) - removed} set, {removed} removed")
    return 0


async def _wanted(settings: Settings, args: argparse.Namespace) -> int:
    async with store_only(settings, args.clock) as store:
        wanted = await LocalListStore(store.engine, store.writer).wanted(
            args.station_id, args.clock())
    for _, entry in sorted(wanted.items()):
        auth = entry.authorization
        assert auth is not None, "a wanted entry always has its authorization"
        expires = "" if auth.expires_at is None else auth.expires_at.isoformat()
        print("\t".join((entry.id_token.value, entry.id_token.kind, auth.status.value,
                         expires, auth.group_id or "")))
    return 0


async def _reservations(settings: Settings, args: argparse.Namespace) -> int:
    async with store_only(settings, args.clock) as store:
        found = await ReservationStore(store.engine, store.writer).of_station(
            args.station_id, args.clock(), open_only=args.open)
    for r in found:
        where = "any EVSE" if r.evse_id is None else f"EVSE {r.evse_id}"
        print(f"{r.id}\t{r.status.value}\t{where}\t{r.id_token}\t"
              f"until {r.expires_at.isoformat()}\t{r.outcome or '-'}"
              f"\t{'' if r.session_id is None else f'session {r.session_id}'}")
    return 0
