"""``csms billing ...``: tariffs, packages, subscriptions, top-ups and statements from the
command line (the same store writes as the API, audited as ``cli:<user>``).

    csms billing seed yunnan --community 1
    csms billing tariff create data/tariffs/yunnan-residential.toml --community 1
    csms billing package create valley-20 --name "谷时 20 度" --price 30 --kwh 20 \\
        --periods valley --community 1
    csms billing subscribe 7 3 --month 2026-11
    csms billing top-up 7 200 --ref pay-0001
    csms billing statement 7 --month 2026-11 [--csv]
    csms billing renew-due

Exit codes: 0 done, 1 refused (named in the message), 2 bad input.
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
import uuid
from dataclasses import asdict
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from csms.app import store_only
from csms.config import Settings
from csms.errors import ConfigError
from csms.services.billing.statement import statement_csv
from csms.services.billing.tariffs import PackageBody, load_tariff_file
from csms.store.billing.admin import BillingAdmin
from csms.store.billing.reads import BillingReads
from csms.store.organisation import StoreError
from csms.tariffs.ledger import WalletPolicy

SEEDS = {"yunnan": Path(__file__).parents[2] / "data" / "tariffs" / "yunnan-residential.toml"}


def register(sub: Any) -> None:
    """Add ``billing`` and its actions to the ``csms`` parser."""
    billing = sub.add_parser("billing", help="tariffs, packages, wallets, statements")
    actions = billing.add_subparsers(required=True, metavar="ACTION")
    tariff = actions.add_parser("tariff", help="tariff versions").add_subparsers(
        required=True, metavar="ACTION")
    create = tariff.add_parser("create", help="a new tariff version from a TOML file")
    create.add_argument("path", type=Path)
    _place(create)
    create.set_defaults(func=_tariff_create)
    seed = actions.add_parser("seed", help="load a shipped tariff (yunnan: Yunnan residential)")
    seed.add_argument("name", choices=sorted(SEEDS))
    _place(seed)
    seed.set_defaults(func=_seed)
    _package_parser(actions)
    subscribe = actions.add_parser("subscribe", help="buy a package for a month (wallet pays)")
    subscribe.add_argument("resident_id", type=int)
    subscribe.add_argument("package_id", type=int)
    subscribe.add_argument("--month", required=True, type=_month, help="YYYY-MM (local)")
    subscribe.add_argument("--auto-renew", action="store_true")
    subscribe.set_defaults(func=_subscribe)
    renew = actions.add_parser("renew-due", help="renew the auto-renewing subscriptions that "
                               "have ended (run it daily, e.g. from cron)")
    renew.set_defaults(func=_renew_due)
    top_up = actions.add_parser("top-up", help="money into a resident's wallet")
    top_up.add_argument("resident_id", type=int)
    top_up.add_argument("amount_yuan", type=_yuan)
    top_up.add_argument("--ref", help="idempotency key (default: generated)")
    top_up.add_argument("--memo", default="")
    top_up.set_defaults(func=_top_up)
    statement = actions.add_parser("statement", help="a resident's monthly statement")
    statement.add_argument("resident_id", type=int)
    statement.add_argument("--month", required=True, type=_month, help="YYYY-MM (local)")
    statement.add_argument("--csv", action="store_true", help="CSV instead of JSON")
    statement.set_defaults(func=_statement)


def _package_parser(actions: Any) -> None:
    package = actions.add_parser("package", help="packages").add_subparsers(
        required=True, metavar="ACTION")
    create = package.add_parser("create", help="a package, or the next version of its code")
    create.add_argument("code")
    create.add_argument("--name", required=True)
    create.add_argument("--price", required=True, type=_yuan, help="yuan")
    create.add_argument("--kwh", required=True, type=Decimal, help="included kWh per month")
    create.add_argument("--coverage", choices=["electricity", "service", "both"],
                        default="both")
    create.add_argument("--periods", help="comma-separated tariff periods, e.g. valley")
    create.add_argument("--community", type=int, action="append", required=True,
                        help="a community where it applies (repeat for more)")
    create.set_defaults(func=_package_create)


def _place(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--community", type=int, help="community id")
    where.add_argument("--site", type=int, help="site id")


def _month(text: str) -> tuple[int, int]:
    found = re.fullmatch(r"(\d{4})-(0[1-9]|1[0-2])", text)
    if found is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not YYYY-MM")
    return int(found[1]), int(found[2])


def _yuan(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in yuan") from None
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of fen ≥ 0")
    return value


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _admin(settings: Settings, writer: Any) -> BillingAdmin:
    return BillingAdmin(writer, WalletPolicy(settings.billing.credit_floor_yuan))


def _fail(message: object, code: int = 1) -> int:
    print(f"csms: {message}", file=sys.stderr)
    return code


async def _create_tariff(settings: Settings, args: argparse.Namespace, path: Path) -> int:
    try:
        spec = load_tariff_file(path, community_id=args.community, site_id=args.site)
    except ConfigError as exc:
        return _fail(exc, 2)
    async with store_only(settings, args.clock) as store:
        try:
            tariff_id = await _admin(settings, store.writer).create_tariff(
                spec, args.clock(), _actor())
        except StoreError as exc:
            return _fail(exc)
    print(f"tariff {tariff_id} ({spec.name}) takes effect at {spec.effective_from.isoformat()}")
    return 0


async def _tariff_create(settings: Settings, args: argparse.Namespace) -> int:
    return await _create_tariff(settings, args, args.path)


async def _seed(settings: Settings, args: argparse.Namespace) -> int:
    return await _create_tariff(settings, args, SEEDS[args.name])


async def _package_create(settings: Settings, args: argparse.Namespace) -> int:
    try:
        body = PackageBody(code=args.code, name=args.name, price_yuan=args.price,
                           included_kwh=args.kwh, coverage=args.coverage,
                           periods=args.periods.split(",") if args.periods else None,
                           communities=args.community)
    except ValidationError as exc:
        return _fail(exc, 2)
    async with store_only(settings, args.clock) as store:
        try:
            package_id = await _admin(settings, store.writer).create_package(
                body.spec(), args.clock(), _actor())
        except StoreError as exc:
            return _fail(exc)
    print(f"package {package_id} ({args.code})")
    return 0


async def _subscribe(settings: Settings, args: argparse.Namespace) -> int:
    year, month = args.month
    async with store_only(settings, args.clock) as store:
        try:
            made = await _admin(settings, store.writer).subscribe(
                args.resident_id, args.package_id, year, month, args.clock(), _actor(),
                args.auto_renew)
        except StoreError as exc:
            return _fail(exc)
    print(f"subscription {made}: resident {args.resident_id}, package {args.package_id}, "
          f"{year:04d}-{month:02d}")
    return 0


async def _renew_due(settings: Settings, args: argparse.Namespace) -> int:
    async with store_only(settings, args.clock) as store:
        admin = BillingAdmin(store.writer, WalletPolicy(settings.billing.credit_floor_yuan),
                             store.engine)
        results = await admin.renew_due(args.clock(), _actor())
    for old, new in results:
        print(f"subscription {old}: " + (f"renewed as {new}" if isinstance(new, int)
                                         else f"not renewed ({new})"))
    return 1 if any(isinstance(new, str) for _, new in results) else 0


async def _top_up(settings: Settings, args: argparse.Namespace) -> int:
    if args.amount_yuan <= 0:
        return _fail("a top-up is more than 0 yuan", 2)
    async with store_only(settings, args.clock) as store:
        try:
            entry = await _admin(settings, store.writer).top_up(
                args.resident_id, args.amount_yuan, args.clock(), _actor(),
                args.ref or f"top_up:{uuid.uuid4().hex}", args.memo)
        except StoreError as exc:
            return _fail(exc)
        balance, _ = await BillingReads(store.engine).balance(args.resident_id)
    print(f"topped up {entry.amount_yuan} yuan (ref {entry.ref}); balance {balance} yuan")
    return 0


async def _statement(settings: Settings, args: argparse.Namespace) -> int:
    year, month = args.month
    async with store_only(settings, args.clock) as store:
        statement = await BillingReads(store.engine).statement(args.resident_id, year, month)
    if args.csv:
        sys.stdout.write(statement_csv(statement))
    else:
        print(json.dumps(asdict(statement), default=str, ensure_ascii=False, indent=2))
    return 0
