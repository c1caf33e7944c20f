"""``csms user add``: console user accounts (csms.console), from the database.

``csms user add --name NAME --role ROLE [--district D | --community C] [--password P]
[--totp]``: without ``--password`` one is generated and shown once; ``--totp`` (admin and
operator only) gives the account an RFC 6238 second factor and prints its otpauth:// URI
for an authenticator app.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from sqlalchemy.exc import IntegrityError

from csms import passwords
from csms.api.access import Role, scope_valid
from csms.app import store_only
from csms.config import Settings
from csms.console.auth import TOTP_ROLES, new_totp_secret, totp_uri
from csms.store.console import UserExists, UserStore

MIN_PASSWORD = 10


def register(sub: Any) -> None:
    """Add the ``user`` command group."""
    users = sub.add_parser("user", help="console user accounts").add_subparsers(
        required=True, metavar="ACTION")
    add = users.add_parser("add", help="add a console user")
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    where = add.add_mutually_exclusive_group()
    where.add_argument("--district", help="district id, code or name (role district)")
    where.add_argument("--community", type=int, help="community id (role property)")
    add.add_argument("--password", help=f"at least {MIN_PASSWORD} characters (default: "
                     "generate one and show it once)")
    add.add_argument("--totp", action="store_true",
                     help="require an authenticator code too (admin and operator)")
    add.set_defaults(func=_add)


async def _add(settings: Settings, args: argparse.Namespace) -> int:
    role = Role(args.role)
    password = args.password or passwords.generate()
    if len(password) < MIN_PASSWORD:
        print(f"csms: --password needs at least {MIN_PASSWORD} characters", file=sys.stderr)
        return 2
    if args.totp and role not in TOTP_ROLES:
        print("csms: --totp is for admin and operator users", file=sys.stderr)
        return 2
    if not 1 <= len(args.name) <= 64:
        print("csms: --name needs 1 to 64 characters", file=sys.stderr)
        return 2
    secret = new_totp_secret() if args.totp else None
    async with store_only(settings, args.clock) as store:
        district = await store.find_district(args.district) if args.district else None
        if args.district and district is None:
            print(f"csms: no district {args.district!r}", file=sys.stderr)
            return 1
        problem = scope_valid(role, district, args.community)
        if problem:
            print(f"csms: {problem.replace('token', 'user')}", file=sys.stderr)
            return 2
        try:
            await UserStore(store.engine, store.writer).add(
                args.name, passwords.hash_password(password), role.value,
                created_by=f"cli:{getpass.getuser()}", district_id=district,
                community_id=args.community, totp_secret=secret)
        except UserExists:
            print(f"csms: user {args.name!r} exists already", file=sys.stderr)
            return 1
        except IntegrityError:
            print(f"csms: no community {args.community}", file=sys.stderr)
            return 1
    print(f"user {args.name} ({role.value}) created")
    if not args.password:
        print(f"password (shown only once): {password}")
    if secret is not None:
        print(f"authenticator: {totp_uri(secret, args.name)}")
    return 0
