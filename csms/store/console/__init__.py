"""Console user accounts: add, read, and the sign-in outcome (failures, lockout), audited.

Rules:
1. Rows never leave this package: reads return :class:`UserRecord`.
2. Every sign-in, failed sign-in, lockout and new account is an audit row, written in the
   same transaction as the counter it changes (actor ``user:<name>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.store.access import audit
from csms.store.console.tables import console_users
from csms.store.rows import utc
from csms.store.writer import Writer, WriteTx


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    name: str
    password_hash: str
    role: str
    district_id: int | None
    community_id: int | None
    totp_secret: str | None
    failed_count: int
    locked_until: datetime | None
    disabled: bool


class UserExists(Exception):
    """A console user of that name exists already."""


class UserStore:
    def __init__(self, engine: AsyncEngine, writer: Writer) -> None:
        self._engine = engine
        self._writer = writer

    async def add(self, name: str, password_hash: str, role: str, *, created_by: str,
                  district_id: int | None = None, community_id: int | None = None,
                  totp_secret: str | None = None) -> int:
        """A new account; :class:`UserExists` if the name is taken."""

        async def unit(tx: WriteTx) -> int:
            taken = (await tx.conn.execute(select(console_users.c.id).where(
                console_users.c.name == name))).first()
            if taken is not None:
                raise UserExists(name)
            new_id: int = (await tx.conn.execute(console_users.insert().values(
                name=name, password_hash=password_hash, role=role, district_id=district_id,
                community_id=community_id, totp_secret=totp_secret, created_at=tx.now,
                created_by=created_by).returning(console_users.c.id))).scalar_one()
            audit(tx, created_by, "create", "console_user", name,
                  {"role": role, "district_id": district_id, "community_id": community_id,
                   "totp": totp_secret is not None})
            return new_id

        return await self._writer.submit(unit)

    async def get(self, name: str) -> UserRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(console_users).where(
                console_users.c.name == name))).one_or_none()
        return None if row is None else _record(row)

    async def signed_in(self, name: str, details: dict[str, Any]) -> None:
        """A good sign-in: the failure count starts again."""

        async def unit(tx: WriteTx) -> None:
            await tx.conn.execute(update(console_users).where(console_users.c.name == name)
                                  .values(failed_count=0, locked_until=None))
            audit(tx, f"user:{name}", "sign-in", "console_user", name, details)

        await self._writer.submit(unit)

    async def token_signed_in(self, token_id: str, details: dict[str, Any]) -> None:
        """A console sign-in with an API token."""

        async def unit(tx: WriteTx) -> None:
            audit(tx, f"token:{token_id}", "sign-in", "console", token_id, details)

        await self._writer.submit(unit)

    async def failed(self, name: str, failed_count: int, locked_until: datetime | None,
                     details: dict[str, Any]) -> None:
        """A wrong password or code: the new count, and the lock if it reached the limit."""

        async def unit(tx: WriteTx) -> None:
            await tx.conn.execute(update(console_users).where(console_users.c.name == name)
                                  .values(failed_count=failed_count, locked_until=locked_until))
            audit(tx, f"user:{name}", "sign-in-failed", "console_user", name,
                  {**details, "failed_count": failed_count})
            if locked_until is not None:
                audit(tx, f"user:{name}", "lockout", "console_user", name,
                      {**details, "locked_until": locked_until.isoformat()})

        await self._writer.submit(unit)


def _record(row: Any) -> UserRecord:
    return UserRecord(
        row.id, row.name, row.password_hash, row.role, row.district_id, row.community_id,
        row.totp_secret, row.failed_count,
        None if row.locked_until is None else utc(row.locked_until), bool(row.disabled))
