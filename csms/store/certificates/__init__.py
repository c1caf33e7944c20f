"""Issued and installed certificates (csms.store.certificates.tables has the rules).

Rows never leave this package: reads return :class:`IssuedRecord` / :class:`InstalledRecord`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.store.certificates.tables import installed_certificates, issued_certificates
from csms.store.rows import utc
from csms.store.writer import Writer, WriteTx

ISSUED: Final = "issued"
INSTALLED: Final = "installed"
REJECTED: Final = "rejected"
SUPERSEDED: Final = "superseded"
REVOKED: Final = "revoked"
VALID: Final = (ISSUED, INSTALLED, SUPERSEDED)  # not revoked, not refused by the charger


@dataclass(frozen=True, slots=True)
class IssuedRecord:
    id: int
    station_id: str
    serial: str
    certificate_type: str
    common_name: str | None
    not_before: datetime
    not_after: datetime
    status: str
    pem: str
    sha256: str
    issued_at: datetime
    installed_at: datetime | None
    renewal_requested_at: datetime | None
    revoked_at: datetime | None
    revoked_reason: str | None


@dataclass(frozen=True, slots=True)
class InstalledRecord:
    station_id: str
    certificate_type: str
    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str
    reported_at: datetime


@dataclass(frozen=True, slots=True)
class NewCertificate:
    station_id: str
    serial: str
    certificate_type: str
    common_name: str | None
    not_before: datetime
    not_after: datetime
    pem: str
    sha256: str


class CertificateStore:
    """The CA's ledger and the chargers' reports."""

    def __init__(self, engine: AsyncEngine, writer: Writer) -> None:
        self._engine = engine
        self._writer = writer

    async def issued(self, new: NewCertificate, at: datetime) -> int:
        """Record a certificate just signed (status issued); its id."""
        c = issued_certificates

        async def unit(tx: WriteTx) -> int:
            return int((await tx.conn.execute(insert(c).values(
                station_id=new.station_id, serial=new.serial,
                certificate_type=new.certificate_type, common_name=new.common_name,
                not_before=new.not_before, not_after=new.not_after, status=ISSUED,
                pem=new.pem, sha256=new.sha256, issued_at=at).returning(c.c.id))).scalar_one())

        return await self._writer.submit(unit)

    async def answered(self, serial: str, accepted: bool, at: datetime) -> None:
        """The charger's answer to CertificateSigned: installed (older valid certificates of
        the same charger and type become superseded) or rejected."""
        c = issued_certificates

        async def unit(tx: WriteTx) -> None:
            row = (await tx.conn.execute(select(c.c.station_id, c.c.certificate_type).where(
                c.c.serial == serial, c.c.status == ISSUED))).one_or_none()
            if row is None:
                return
            if accepted:
                await tx.conn.execute(update(c).where(
                    c.c.station_id == row.station_id, c.c.serial != serial,
                    c.c.certificate_type == row.certificate_type,
                    c.c.status.in_((ISSUED, INSTALLED))).values(status=SUPERSEDED))
            await tx.conn.execute(update(c).where(c.c.serial == serial).values(
                status=INSTALLED if accepted else REJECTED,
                installed_at=at if accepted else None))

        await self._writer.submit(unit)

    async def revoke(self, station_id: str, serial: str | None, reason: str,
                     at: datetime) -> list[str]:
        """Revoke one certificate of the charger (or, ``serial`` None, all its valid ones);
        the serials revoked."""
        c = issued_certificates
        where = [c.c.station_id == station_id, c.c.status.in_(VALID)]
        if serial is not None:
            where.append(c.c.serial == serial)

        async def unit(tx: WriteTx) -> list[str]:
            serials = [str(s) for s in (await tx.conn.execute(
                select(c.c.serial).where(*where))).scalars()]
            if serials:
                await tx.conn.execute(update(c).where(c.c.serial.in_(serials)).values(
                    status=REVOKED, revoked_at=at, revoked_reason=reason))
            return serials

        return await self._writer.submit(unit)

    async def renewal_requested(self, ids: Sequence[int], at: datetime) -> None:
        c = issued_certificates

        async def unit(tx: WriteTx) -> None:
            await tx.conn.execute(update(c).where(c.c.id.in_(list(ids))).values(
                renewal_requested_at=at))

        await self._writer.submit(unit)

    async def due_for_renewal(self, before: datetime) -> list[IssuedRecord]:
        """Installed certificates expiring before ``before`` that are each their charger's
        newest valid one and whose renewal was not asked for yet (tables rule 2)."""
        c = issued_certificates
        newer = issued_certificates.alias("newer")
        query = select(c).where(
            c.c.status == INSTALLED, c.c.not_after <= before,
            c.c.renewal_requested_at.is_(None),
            ~select(newer.c.id).where(and_(
                newer.c.station_id == c.c.station_id, newer.c.id > c.c.id,
                newer.c.certificate_type == c.c.certificate_type,
                newer.c.status.in_((ISSUED, INSTALLED)))).exists(),
        ).order_by(c.c.not_after)
        return await self._issued(query)

    async def by_serial(self, serial: str) -> IssuedRecord | None:
        found = await self._issued(select(issued_certificates).where(
            issued_certificates.c.serial == serial.upper().lstrip("0")))
        return found[0] if found else None

    async def list_issued(self, station_id: str | None = None,
                          status: str | None = None) -> list[IssuedRecord]:
        c = issued_certificates
        query = select(c).order_by(c.c.issued_at, c.c.id)
        if station_id is not None:
            query = query.where(c.c.station_id == station_id)
        if status is not None:
            query = query.where(c.c.status == status)
        return await self._issued(query)

    async def revoked(self) -> list[tuple[str, datetime]]:
        """(serial, revoked at) of every revoked certificate, for the CRL."""
        c = issued_certificates
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(c.c.serial, c.c.revoked_at).where(
                c.c.status == REVOKED).order_by(c.c.revoked_at))).all()
        return [(str(r.serial), utc(r.revoked_at)) for r in rows]

    async def replace_installed(self, station_id: str, uses: Sequence[str],
                                reported: Sequence[InstalledRecord], at: datetime) -> None:
        """Tables rule 3: the rows of ``uses`` (every use reported when empty) replaced."""
        i = installed_certificates
        covered = set(uses) | {r.certificate_type for r in reported}

        async def unit(tx: WriteTx) -> None:
            clear = delete(i).where(i.c.station_id == station_id)
            if uses:
                clear = clear.where(i.c.certificate_type.in_(sorted(covered)))
            await tx.conn.execute(clear)
            seen = set()
            for r in reported:
                key = (r.certificate_type, r.hash_algorithm, r.issuer_name_hash,
                       r.issuer_key_hash, r.serial_number)
                if key in seen:
                    continue
                seen.add(key)
                await tx.conn.execute(insert(i).values(
                    station_id=station_id, certificate_type=r.certificate_type,
                    hash_algorithm=r.hash_algorithm, issuer_name_hash=r.issuer_name_hash,
                    issuer_key_hash=r.issuer_key_hash, serial_number=r.serial_number,
                    reported_at=at))

        await self._writer.submit(unit)

    async def forget_installed(self, station_id: str, serial_number: str,
                               issuer_key_hash: str) -> None:
        """The charger deleted it (DeleteCertificate Accepted)."""
        i = installed_certificates

        async def unit(tx: WriteTx) -> None:
            await tx.conn.execute(delete(i).where(
                i.c.station_id == station_id, i.c.serial_number == serial_number,
                i.c.issuer_key_hash == issuer_key_hash))

        await self._writer.submit(unit)

    async def list_installed(self, station_id: str) -> list[InstalledRecord]:
        i = installed_certificates
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(i).where(i.c.station_id == station_id)
                                       .order_by(i.c.certificate_type, i.c.serial_number))).all()
        return [InstalledRecord(r.station_id, r.certificate_type, r.hash_algorithm,
                                r.issuer_name_hash, r.issuer_key_hash, r.serial_number,
                                utc(r.reported_at)) for r in rows]

    async def _issued(self, query: Any) -> list[IssuedRecord]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_record(row) for row in rows]


def _record(r: Any) -> IssuedRecord:
    def at(value: datetime | None) -> datetime | None:
        return None if value is None else utc(value)

    return IssuedRecord(
        int(r.id), r.station_id, r.serial, r.certificate_type, r.common_name,
        utc(r.not_before), utc(r.not_after), r.status, r.pem, r.sha256, utc(r.issued_at),
        at(r.installed_at), at(r.renewal_requested_at), at(r.revoked_at), r.revoked_reason)
