"""The ``csms`` command: run the server, migrate the database, set up charge points and tokens.

Every sub-command reads the same configuration (``--config`` or ``CSMS_CONFIG``, then
``CSMS_*`` variables). Exit codes: 0 done, 1 failed, 2 bad configuration or usage.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import tomllib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, ValidationError
from sqlalchemy.exc import IntegrityError

from csms import passwords
from csms.api.access import Role, scope_valid
from csms.api.tokens import new_token
from csms.app import serve_forever, store_only
from csms.cli import audit as cli_audit
from csms.cli import auth as cli_auth
from csms.cli import billing as cli_billing
from csms.cli import certs as cli_certs
from csms.cli import city as cli_city
from csms.cli import console as cli_console
from csms.cli import db as cli_db
from csms.cli import device as cli_device
from csms.cli import files as cli_files
from csms.cli import load as cli_load
from csms.cli import platform as cli_platform
from csms.cli import report as cli_report
from csms.cli import resident as cli_resident
from csms.clock import Clock, system_clock
from csms.config import Settings, load_settings
from csms.domain.model import AuthorizationStatus, RegistrationStatus
from csms.errors import ConfigError
from csms.handlers.timefmt import parse_time
from csms.logs import configure_logging
from csms.store import migrate
from csms.store.access import AccessStore
from csms.store.engine import create_engine
from csms.store.network import Network
from csms.store.organisation import DistrictSeed, Organisation, StoreError
from csms.store.repository import Store
from csms.store.residents import Residents


def main(argv: Sequence[str] | None = None, clock: Clock = system_clock) -> int:
    """Run the sub-command of ``argv``; ``clock`` is the one clock its writes are dated by."""
    args = _parser().parse_args(argv)
    args.clock = clock
    config = args.config or os.environ.get("CSMS_CONFIG")
    try:
        settings = load_settings(Path(config) if config else None)
    except ConfigError as exc:
        print(f"csms: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.logging.level, settings.logging.format,
                      node=settings.cluster.node())
    try:
        with asyncio.Runner(loop_factory=_loop_factory(settings)) as runner:
            return int(runner.run(args.func(settings, args)) or 0)
    except KeyboardInterrupt:
        return 0
    except ConfigError as exc:  # found at start-up (e.g. an exposed CA key)
        print(f"csms: {exc}", file=sys.stderr)
        return 2


def _loop_factory(settings: Settings) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """``[server] event_loop``: None for asyncio's own loop."""
    if settings.server.event_loop == "uvloop":
        import uvloop  # only when asked for

        return uvloop.new_event_loop
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="csms", description=__doc__)
    parser.add_argument("--config", help="TOML configuration file (default: $CSMS_CONFIG)")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the CSMS until SIGINT/SIGTERM")
    run.set_defaults(func=_run)

    db = sub.add_parser("db", help="database").add_subparsers(required=True, metavar="ACTION")
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=_db_upgrade)
    cli_db.register(db)  # db prune
    cli_audit.register(sub)  # audit verify
    cli_load.register(sub)  # load configure / profile / show
    cli_billing.register(sub)  # billing tariff/package/subscribe/top-up/statement
    cli_device.register(sub)  # devicemodel show / monitors / safety-monitors
    cli_files.register(sub)  # firmware upload/files/rollout/status, logs list/fetch
    cli_auth.register(sub)  # locallist show / wanted, reservation list
    cli_certs.register(sub)  # ca init / check / list / sign / revoke / crl / installed
    cli_resident.register(sub)  # resident pin set/clear/show, resident qr

    cp = sub.add_parser("chargepoint", help="charge points").add_subparsers(
        required=True, metavar="ACTION")
    add = cp.add_parser("add", help="register a charge point")
    add.add_argument("station_id")
    add.add_argument("--password", help="Basic-auth password (else none, or --generate)")
    add.add_argument("--generate-password", action="store_true",
                     help="generate a password and print it once")
    add.add_argument("--status", choices=[s.value for s in RegistrationStatus],
                     default="Accepted")
    add.add_argument("--site", type=int, metavar="SITE_ID", help="the site it stands on")
    add.set_defaults(func=_chargepoint_add)
    for name, status in (("accept", "Accepted"), ("reject", "Rejected")):
        action = cp.add_parser(name, help=f"set registration to {status}")
        action.add_argument("station_id")
        action.set_defaults(func=_chargepoint_status, status=status)
    pw = cp.add_parser("set-password", help="set or generate a new password")
    pw.add_argument("station_id")
    pw.add_argument("--password")
    pw.set_defaults(func=_chargepoint_password, generate_password=True)

    api = sub.add_parser("token", help="API tokens").add_subparsers(
        required=True, metavar="ACTION")
    create = api.add_parser("create", help="create an API token (shown once)")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    where = create.add_mutually_exclusive_group()
    where.add_argument("--district", help="district id, code or name (role district)")
    where.add_argument("--community", type=int, help="community id (role property)")
    create.add_argument("--expires-days", type=float, default=365.0,
                        help="lifetime in days (default 365; 0 = never)")
    create.add_argument("--description")
    create.set_defaults(func=_token_create)
    revoke = api.add_parser("revoke", help="revoke an API token")
    revoke.add_argument("token_id")
    revoke.set_defaults(func=_token_revoke)
    api.add_parser("list", help="list API tokens").set_defaults(func=_token_list)

    tok = sub.add_parser("idtoken", help="id tokens (residents' cards)").add_subparsers(
        required=True, metavar="ACTION")
    tadd = tok.add_parser("add", help="add or replace an id token")
    tadd.add_argument("id_token")
    tadd.add_argument("--status", default="Accepted",
                      choices=["Accepted", "Blocked", "Expired", "Invalid"])
    tadd.add_argument("--expires", help="expiry, ISO 8601 (UTC if no offset)")
    tadd.add_argument("--owner")
    tadd.add_argument("--resident", type=int, metavar="RESIDENT_ID",
                      help="the resident whose card it is")
    tadd.set_defaults(func=_idtoken_add)
    _add_seed_parser(sub)
    return parser


def _add_seed_parser(sub: Any) -> None:
    seed = sub.add_parser("seed", help="load reference data").add_subparsers(
        required=True, metavar="WHAT")
    districts = seed.add_parser("districts", help="add or update districts from a TOML file "
                                "with [[district]] tables (name, code); idempotent")
    districts.add_argument("path", type=Path)
    districts.set_defaults(func=_seed_districts)
    cli_city.register(sub, seed)  # seed city; coverage
    cli_report.register(sub)  # report monthly
    cli_console.register(sub)  # user add (console accounts)
    cli_platform.register(sub)  # platform pushes / retry / station-info


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    await serve_forever(settings, args.clock)
    return 0


async def _db_upgrade(settings: Settings, _: argparse.Namespace) -> int:
    engine = create_engine(settings.database)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    print("database is at the latest revision")
    return 0


async def _chargepoint_add(settings: Settings, args: argparse.Namespace) -> int:
    password = _password(args)
    values = {
        "id": args.station_id, "registration_status": RegistrationStatus(args.status).value,
        "site_id": args.site, "created_at": args.clock(),
        "password_hash": passwords.hash_password(password) if password else None,
    }
    async with store_only(settings, args.clock) as store:
        try:
            await Network(store.engine, store.writer).add_charge_point(values, _cli_actor())
        except StoreError as exc:
            print(f"csms: {exc}", file=sys.stderr)
            return 1
    print(f"charge point {args.station_id} added ({args.status})")
    if password and args.generate_password:
        print(f"password (shown once): {password}")
    return 0


async def _chargepoint_status(settings: Settings, args: argparse.Namespace) -> int:
    async with store_only(settings, args.clock) as store:
        try:
            await Network(store.engine, store.writer).update_charge_point(
                args.station_id, {"registration_status": args.status}, _cli_actor())
        except StoreError as exc:
            print(f"csms: {exc}", file=sys.stderr)
            return 1
    print(f"charge point {args.station_id} is {args.status}")
    return 0


async def _chargepoint_password(settings: Settings, args: argparse.Namespace) -> int:
    password = args.password or passwords.generate()
    async with store_only(settings, args.clock) as store:
        try:
            await Network(store.engine, store.writer).set_password(
                args.station_id, passwords.hash_password(password), _cli_actor())
        except StoreError as exc:
            print(f"csms: {exc}", file=sys.stderr)
            return 1
    print(f"password of {args.station_id} set" + (
        "" if args.password else f" (shown once): {password}"))
    return 0


async def _idtoken_add(settings: Settings, args: argparse.Namespace) -> int:
    expires: datetime | None = parse_time(args.expires) if args.expires else None
    values = {"status": AuthorizationStatus(args.status).value, "expires_at": expires,
              "owner": args.owner, "resident_id": args.resident}
    async with store_only(settings, args.clock) as store:
        try:
            stored = await Residents(store.engine, store.writer).put_id_token(
                args.id_token, values, args.clock(), f"cli:{getpass.getuser()}")
        except StoreError as exc:
            print(f"csms: {exc}", file=sys.stderr)
            return 1
    print(f"id token {stored.id_token} is {args.status}")  # the spelling first registered
    return 0


class _SeedDistrict(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                           max_length=100)]
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                           max_length=12)] | None = None
    short: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=50)] | None = None
    pilot_target: Annotated[int, Field(ge=0, le=100_000)] | None = None


class _SeedFile(BaseModel):
    district: list[_SeedDistrict]


async def _seed_districts(settings: Settings, args: argparse.Namespace) -> int:
    try:
        seed = _SeedFile.model_validate(tomllib.loads(args.path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValidationError) as exc:
        print(f"csms: {args.path}: {exc}", file=sys.stderr)
        return 1
    async with store_only(settings, args.clock) as store:
        try:
            done = await Organisation(store.engine, store.writer).seed_districts(
                [DistrictSeed(d.name, d.code, d.short, d.pilot_target)
                 for d in seed.district], f"cli:{getpass.getuser()}")
        except StoreError as exc:
            print(f"csms: {args.path}: {exc}; nothing was changed", file=sys.stderr)
            return 1
    print(f"districts: {done.added} added, {done.updated} updated, "
          f"{done.unchanged} unchanged")
    return 0


async def _token_create(settings: Settings, args: argparse.Namespace) -> int:
    role = Role(args.role)
    now = args.clock()
    async with store_only(settings, args.clock) as store:
        access = AccessStore(store.writer, store.engine)
        district = await _district_id(store, args.district) if args.district else None
        if args.district and district is None:
            print(f"csms: no district {args.district!r}", file=sys.stderr)
            return 1
        problem = scope_valid(role, district, args.community)
        if problem:
            print(f"csms: {problem}", file=sys.stderr)
            return 2
        expires = now + timedelta(days=args.expires_days) if args.expires_days else None
        token, record = new_token(role, created_by=f"cli:{getpass.getuser()}", now=now,
                                  district_id=district, community_id=args.community,
                                  expires_at=expires, description=args.description)
        try:
            await access.add_token(record)
        except IntegrityError:
            print(f"csms: no community {args.community}", file=sys.stderr)
            return 1
    print(f"token {record.token_id} ({role.value}) created; it is shown only once:")
    print(token)
    return 0


async def _token_revoke(settings: Settings, args: argparse.Namespace) -> int:
    async with store_only(settings, args.clock) as store:
        access = AccessStore(store.writer, store.engine)
        if not await access.revoke_token(args.token_id, f"cli:{getpass.getuser()}"):
            print(f"csms: no active token {args.token_id}", file=sys.stderr)
            return 1
    print(f"token {args.token_id} revoked")
    return 0


async def _token_list(settings: Settings, args: argparse.Namespace) -> int:
    async with store_only(settings, args.clock) as store:
        for r in await AccessStore(store.writer, store.engine).list_tokens():
            state = "revoked" if r.revoked_at else f"expires {r.expires_at or 'never'}"
            scope = (f"district {r.district_id}" if r.district_id else
                     f"community {r.community_id}" if r.community_id else "all")
            print(f"{r.token_id}  {r.role:16} {scope:16} {state}  {r.description or ''}")
    return 0


async def _district_id(store: Store, key: str) -> int | None:
    return await store.find_district(key)


def _cli_actor() -> str:
    """Who the audit log names for a command-line write."""
    return f"cli:{getpass.getuser()}"


def _password(args: argparse.Namespace) -> str | None:
    if args.generate_password:
        return passwords.generate()
    return args.password  # type: ignore[no-any-return]

