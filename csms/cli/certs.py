"""``csms ca ...``: the CSMS's certificate authority from the command line.

``csms ca init`` creates the CA's key (mode 0600, encrypted with
``certificates.ca_key_passphrase`` when set) and self-signed certificate at
``certificates.ca_key_file`` / ``ca_cert_file``; ``csms ca check`` loads them as the server
does at start (permissions, passphrase, key matches certificate). ``csms ca list [CP]``
prints the certificates issued, one JSON object per line; ``csms ca sign CP CSR.pem``
signs a CSR out of band (first provisioning) and prints the chain; ``csms ca revoke CP
[--serial S] --reason R`` revokes (the running CSMS refuses it at the next handshake; to
close an open connection at once use the HTTP API); ``csms ca crl`` prints the CRL;
``csms ca installed CP`` what the charger last reported as installed. Asking a charger for
a CSR, and installing or deleting certificates on it, need the running CSMS: use the API.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from csms.app import store_only
from csms.config import Settings
from csms.errors import ConfigError
from csms.security import ca, ca_files
from csms.store.certificates import CertificateStore, NewCertificate


def register(sub: Any) -> None:
    """Add the ``ca`` command group."""
    group = sub.add_parser("ca", help="the CSMS's certificate authority").add_subparsers(
        required=True, metavar="ACTION")
    init = group.add_parser("init", help="create the CA key and certificate")
    init.add_argument("--common-name", default="CSMS Charging Station CA")
    init.add_argument("--validity-days", type=int, default=3650)
    init.set_defaults(func=_init)
    group.add_parser("check", help="load the CA as the server does").set_defaults(func=_check)
    listing = group.add_parser("list", help="certificates issued, one JSON line each")
    listing.add_argument("station_id", nargs="?")
    listing.add_argument("--status", default=None)
    listing.set_defaults(func=_list)
    sign = group.add_parser("sign", help="sign a charger's CSR out of band")
    sign.add_argument("station_id")
    sign.add_argument("csr", type=Path)
    sign.set_defaults(func=_sign)
    revoke = group.add_parser("revoke", help="revoke a charger's certificate(s)")
    revoke.add_argument("station_id")
    revoke.add_argument("--serial", default=None, help="one certificate; default: all valid")
    revoke.add_argument("--reason", required=True)
    revoke.set_defaults(func=_revoke)
    group.add_parser("crl", help="print the revocation list (PEM)").set_defaults(func=_crl)
    installed = group.add_parser("installed", help="what a charger reported as installed")
    installed.add_argument("station_id")
    installed.set_defaults(func=_installed)


def _fail(exc: ConfigError) -> int:
    print(f"csms: {exc}", file=sys.stderr)
    return 2


def _line(value: dict[str, Any]) -> None:
    print(json.dumps(value, ensure_ascii=False, default=str))


async def _init(settings: Settings, args: argparse.Namespace) -> int:
    try:
        authority = ca_files.init(settings.certificates, args.common_name, args.clock(),
                                  args.validity_days)
    except ConfigError as exc:
        return _fail(exc)
    print(f"created {settings.certificates.ca_key_file} (mode 0600) and "
          f"{settings.certificates.ca_cert_file}, valid until "
          f"{authority.certificate.not_valid_after_utc.isoformat()}")
    return 0


async def _check(settings: Settings, args: argparse.Namespace) -> int:
    try:
        authority = ca_files.load(settings.certificates)
    except ConfigError as exc:
        return _fail(exc)
    cert = authority.certificate
    _line({"subject": cert.subject.rfc4514_string(), "serial": ca.serial_hex(cert.serial_number),
           "not_after": cert.not_valid_after_utc, "key_file": settings.certificates.ca_key_file})
    return 0


async def _list(settings: Settings, args: argparse.Namespace) -> int:
    async with store_only(settings, args.clock) as store:
        rows = await CertificateStore(store.engine, store.writer).list_issued(
            args.station_id, args.status)
    for row in rows:
        _line({k: v for k, v in asdict(row).items() if k != "pem"})
    return 0


async def _sign(settings: Settings, args: argparse.Namespace) -> int:
    s = settings.certificates
    try:
        authority = ca_files.load(s)
    except ConfigError as exc:
        return _fail(exc)
    policy = ca.Policy(s.organization, s.validity_days, s.rsa_min_bits, s.ec_curves)
    now = args.clock()
    try:
        cert = ca.sign_csr(authority, args.csr.read_text(), args.station_id, policy, now)
    except (OSError, ca.CsrRefused) as exc:
        print(f"csms: {args.csr}: {exc}", file=sys.stderr)
        return 1
    facts = ca.info(cert)
    async with store_only(settings, args.clock) as store:
        await CertificateStore(store.engine, store.writer).issued(NewCertificate(
            args.station_id, facts.serial, "ChargingStationCertificate", facts.common_name,
            facts.not_before, facts.not_after, ca.to_pem(cert), facts.sha256), now)
    print(ca.chain_pem(authority, cert), end="")
    return 0


async def _revoke(settings: Settings, args: argparse.Namespace) -> int:
    serial = None if args.serial is None else args.serial.upper().lstrip("0")
    async with store_only(settings, args.clock) as store:
        revoked = await CertificateStore(store.engine, store.writer).revoke(
            args.station_id, serial, args.reason, args.clock())
    if not revoked:
        print(f"csms: {args.station_id} has no such valid certificate", file=sys.stderr)
        return 1
    print("revoked " + " ".join(revoked))
    if settings.certificates.crl_file is not None:
        path = settings.certificates.crl_file
        pem = await _crl_text(settings, args)
        if pem is not None:
            path.write_text(pem)
    return 0


async def _crl(settings: Settings, args: argparse.Namespace) -> int:
    pem = await _crl_text(settings, args)
    if pem is None:
        return 2
    print(pem, end="")
    return 0


async def _crl_text(settings: Settings, args: argparse.Namespace) -> str | None:
    try:
        authority = ca_files.load(settings.certificates)
    except ConfigError as exc:
        _fail(exc)
        return None
    async with store_only(settings, args.clock) as store:
        revoked = await CertificateStore(store.engine, store.writer).revoked()
    days = settings.certificates.crl_next_update_days
    return ca.crl_pem(ca.revocation_list(authority, revoked, args.clock(),
                                         timedelta(days=days)))


async def _installed(settings: Settings, args: argparse.Namespace) -> int:
    async with store_only(settings, args.clock) as store:
        rows = await CertificateStore(store.engine, store.writer).list_installed(
            args.station_id)
    for row in rows:
        _line(asdict(row))
    return 0
