"""``csms resident ...``: residents' PINs for the page behind the charger QR code, and the
QR codes themselves.

``csms resident pin set CARD [--pin 1234 | --generate]`` sets the card's PIN (4 to 8 digits;
``--generate`` picks 6 random digits and prints them once; neither: asked for on the
terminal); ``pin clear CARD`` removes it; ``pin show CARD`` prints when it was set and the
wrong PINs since. ``csms resident qr CP --connector 1 --out qr.png`` writes a connector's
QR code (to ``--base URL``, else ``resident.public_url``, else ``files.public_url``).
"""

from __future__ import annotations

import argparse
import getpass
import secrets
from pathlib import Path
from typing import Any

from csms import passwords
from csms.app import store_only
from csms.config import Settings
from csms.resident.figures import valid_pin
from csms.resident.qr import page_url, qr_png
from csms.store.organisation import NotFound
from csms.store.resident_pins import PinStore

ACTOR = f"cli:{getpass.getuser()}"


def register(sub: Any) -> None:
    """Add the ``resident`` command group."""
    group = sub.add_parser("resident", help="the resident page: PINs and QR codes"
                           ).add_subparsers(required=True, metavar="ACTION")
    pin = group.add_parser("pin", help="a card's PIN for the resident page").add_subparsers(
        required=True, metavar="ACTION")
    put = pin.add_parser("set", help="set or replace a card's PIN")
    put.add_argument("card", help="the id token (card number)")
    how = put.add_mutually_exclusive_group()
    how.add_argument("--pin", help="4 to 8 digits (else asked for, or --generate)")
    how.add_argument("--generate", action="store_true", help="6 random digits, printed once")
    put.set_defaults(func=_set)
    clear = pin.add_parser("clear", help="remove a card's PIN")
    clear.add_argument("card")
    clear.set_defaults(func=_clear)
    show = pin.add_parser("show", help="when the PIN was set, and wrong PINs since")
    show.add_argument("card")
    show.set_defaults(func=_show)
    qr = group.add_parser("qr", help="write a connector's QR code as PNG")
    qr.add_argument("station_id")
    qr.add_argument("--connector", type=int, default=1)
    qr.add_argument("--out", type=Path, required=True)
    qr.add_argument("--base", help="public base URL (default: resident.public_url)")
    qr.add_argument("--scale", type=int, default=10, help="pixels per module")
    qr.set_defaults(func=_qr)


def _pin(args: argparse.Namespace) -> str:
    if args.generate:
        return "".join(secrets.choice("0123456789") for _ in range(6))
    return str(args.pin) if args.pin is not None else getpass.getpass("PIN: ")


async def _set(settings: Settings, args: argparse.Namespace) -> int:
    pin = _pin(args)
    if not valid_pin(pin):
        print("csms: a PIN is 4 to 8 digits")
        return 2
    async with store_only(settings, args.clock) as store:
        try:
            stored = await PinStore(store.engine, store.writer).set_pin(
                args.card, passwords.hash_password(pin), ACTOR)
        except NotFound as exc:
            print(f"csms: {exc}")
            return 1
    print(f"PIN set for {stored}" + (f": {pin}  (shown once)" if args.generate else ""))
    return 0


async def _clear(settings: Settings, args: argparse.Namespace) -> int:
    async with store_only(settings, args.clock) as store:
        try:
            had = await PinStore(store.engine, store.writer).clear_pin(args.card, ACTOR)
        except NotFound as exc:
            print(f"csms: {exc}")
            return 1
    print("PIN cleared" if had else "the card had no PIN")
    return 0


async def _show(settings: Settings, args: argparse.Namespace) -> int:
    async with store_only(settings, args.clock) as store:
        try:
            state = await PinStore(store.engine, store.writer).state(args.card)
        except NotFound as exc:
            print(f"csms: {exc}")
            return 1
    if state is None:
        print(f"{args.card}: no PIN")
        return 0
    last = "never" if state.last_failure_at is None else state.last_failure_at.isoformat()
    print(f"{state.id_token}: PIN set {state.set_at.isoformat()} by {state.set_by};"
          f" {state.failures} wrong since (last {last})")
    return 0


async def _qr(settings: Settings, args: argparse.Namespace) -> int:
    base = args.base or settings.resident.public_url or settings.files.public_url
    if not base:
        print("csms: give --base URL or set resident.public_url")
        return 2
    if not 1 <= args.connector <= 99 or not 2 <= args.scale <= 40:
        print("csms: --connector is 1-99, --scale 2-40")
        return 2
    url = page_url(base, args.station_id, args.connector)
    args.out.write_bytes(qr_png(url, args.scale))
    print(f"{args.out}: {url}")
    return 0
