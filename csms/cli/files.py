"""``csms firmware ...`` and ``csms logs ...``: what an operator scripts.

``csms firmware upload FILE --version V`` stores a firmware file (``--sha256`` checks it;
``--signing-certificate PEM --signature B64`` make its updates signed);
``csms firmware rollout FILE_ID CP... --wave-size N --failure-threshold K`` records a
rollout that the running CSMS starts within ``files.rollout_tick_s``;
``csms firmware status ROLLOUT_ID`` prints each charger's outcome (exit 0 completed, 1
stopped, 3 still running). ``csms logs list CP`` lists a charger's log requests and
``csms logs fetch REQUEST_ID OUT`` writes the uploaded file (checked against its SHA-256).
Sending commands needs the running CSMS: use the HTTP API for single updates and log
requests.
"""

from __future__ import annotations

import argparse
import getpass
from datetime import datetime
from pathlib import Path
from typing import Any

from csms.app import store_only
from csms.config import Settings
from csms.services.files.firmware import FileRejected, store_file
from csms.services.files.vault import LOGS, Corrupt, FileVault, one_chunk
from csms.store.files import FirmwareStore, LogStore

RUNNING = 3


def register(sub: Any) -> None:
    """Add the ``firmware`` and ``logs`` command groups."""
    fw = sub.add_parser("firmware", help="firmware files and rollouts").add_subparsers(
        required=True, metavar="ACTION")
    up = fw.add_parser("upload", help="store a firmware file for updates and rollouts")
    up.add_argument("file", type=Path)
    up.add_argument("--name", help="file name in the download URL (default: the file's)")
    up.add_argument("--version", help="the firmware version it installs")
    up.add_argument("--sha256", help="refuse the file unless it has this SHA-256")
    up.add_argument("--signing-certificate", type=Path, help="PEM file: signed updates")
    up.add_argument("--signature", help="base64 signature (with --signing-certificate)")
    up.set_defaults(func=_upload)
    fw.add_parser("files", help="list firmware files").set_defaults(func=_files)
    roll = fw.add_parser("rollout", help="update chargers in waves (the running CSMS sends)")
    roll.add_argument("file_id", type=int)
    roll.add_argument("station_ids", nargs="+", metavar="CHARGE_POINT")
    roll.add_argument("--wave-size", type=int, help="default files.rollout_wave_size")
    roll.add_argument("--failure-threshold", type=int,
                      help="failures a wave may have; default files.rollout_failure_threshold")
    roll.add_argument("--retrieve-at", type=datetime.fromisoformat,
                      help="ISO time with offset the chargers download at (default: when sent)")
    roll.set_defaults(func=_rollout)
    status = fw.add_parser("status", help="a rollout and each charger's outcome")
    status.add_argument("rollout_id", type=int)
    status.set_defaults(func=_status)
    logs = sub.add_parser("logs", help="diagnostics and logs chargers uploaded"
                          ).add_subparsers(required=True, metavar="ACTION")
    ls = logs.add_parser("list", help="a charger's log requests")
    ls.add_argument("station_id")
    ls.set_defaults(func=_logs)
    fetch = logs.add_parser("fetch", help="write an uploaded log to a file")
    fetch.add_argument("request_id", type=int)
    fetch.add_argument("out", type=Path)
    fetch.set_defaults(func=_fetch)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


async def _upload(settings: Settings, args: argparse.Namespace) -> int:
    if (args.signing_certificate is None) != (args.signature is None):
        print("csms: --signing-certificate and --signature go together")
        return 2
    try:
        data = args.file.read_bytes()
        certificate = (None if args.signing_certificate is None
                       else args.signing_certificate.read_text(encoding="ascii"))
    except (OSError, UnicodeDecodeError) as exc:
        print(f"csms: {exc}")
        return 2
    async with store_only(settings, args.clock) as store:
        firmware = FirmwareStore(store.engine, store.writer)
        try:
            file = await store_file(
                firmware, FileVault(settings.files.directory), settings.files,
                one_chunk(data), args.name or args.file.name, version=args.version,
                sha256=args.sha256, at=args.clock(), uploaded_by=_actor())
        except FileRejected as exc:
            print(f"csms: {exc}")
            return 1
        if certificate is not None:
            await firmware.set_signing(file.id, certificate, args.signature)
    print(f"firmware file {file.id}: {file.name} {file.size_bytes} bytes sha256 {file.sha256}")
    return 0


async def _files(settings: Settings, args: argparse.Namespace) -> int:
    async with store_only(settings, args.clock) as store:
        files = await FirmwareStore(store.engine, store.writer).files()
    for f in files:
        signed = " signed" if f.signature else ""
        print(f"{f.id}\t{f.name}\t{f.version or '-'}\t{f.size_bytes}\t{f.sha256}{signed}")
    return 0


async def _rollout(settings: Settings, args: argparse.Namespace) -> int:
    wave = args.wave_size or settings.files.rollout_wave_size
    threshold = (settings.files.rollout_failure_threshold if args.failure_threshold is None
                 else args.failure_threshold)
    if wave < 1 or threshold < 0:
        print("csms: --wave-size must be at least 1, --failure-threshold at least 0")
        return 2
    if args.retrieve_at is not None and args.retrieve_at.tzinfo is None:
        print("csms: --retrieve-at needs an offset (e.g. 2027-01-01T02:00:00+08:00)")
        return 2
    async with store_only(settings, args.clock) as store:
        firmware = FirmwareStore(store.engine, store.writer)
        if await firmware.file(args.file_id) is None:
            print(f"csms: no firmware file {args.file_id}")
            return 1
        rollout_id = await firmware.create_rollout(
            args.file_id, list(dict.fromkeys(args.station_ids)), wave, threshold,
            args.retrieve_at, args.clock(), _actor())
    print(f"rollout {rollout_id}: {len(set(args.station_ids))} charge points, {wave} at a"
          f" time, at most {threshold} failures a wave")
    return 0


async def _status(settings: Settings, args: argparse.Namespace) -> int:
    async with store_only(settings, args.clock) as store:
        rollout = await FirmwareStore(store.engine, store.writer).rollout(args.rollout_id)
    if rollout is None:
        print(f"csms: no rollout {args.rollout_id}")
        return 1
    print(f"rollout {rollout.id}: {rollout.state}" + (f" ({rollout.reason})"
                                                       if rollout.reason else ""))
    for u in rollout.updates:
        print(f"  {u.station_id}\twave {u.wave or '-'}\t{u.state.value}\t"
              f"{u.last_status or u.answer or '-'}")
    return {"completed": 0, "stopped": 1}.get(rollout.state, RUNNING)


async def _logs(settings: Settings, args: argparse.Namespace) -> int:
    async with store_only(settings, args.clock) as store:
        found = await LogStore(store.engine, store.writer).of_station(args.station_id)
    for r in found:
        print(f"{r.id}\t{r.kind}\t{r.requested_at.isoformat()}\t{r.answer or '-'}\t"
              f"{r.last_status or '-'}\t{r.size_bytes if r.size_bytes is not None else '-'}")
    return 0


async def _fetch(settings: Settings, args: argparse.Namespace) -> int:
    async with store_only(settings, args.clock) as store:
        found = await LogStore(store.engine, store.writer).get(args.request_id)
    if found is None or found.stored_name is None or found.sha256 is None:
        print(f"csms: log request {args.request_id} has no upload")
        return 1
    try:
        data = await FileVault(settings.files.directory).read(LOGS, found.stored_name,
                                                               found.sha256)
        args.out.write_bytes(data)
    except (Corrupt, OSError) as exc:
        print(f"csms: {exc}")
        return 1
    print(f"{args.out}: {len(data)} bytes from {found.station_id}")
    return 0
