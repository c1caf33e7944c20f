"""Residents' cards as the resident page sees them, and the PINs the operator sets for them.

Rules (and those of :mod:`csms.store.resident_pins.tables`):
1. A card is found by any spelling of its id token (``token_key``) and named by the spelling
   it was registered with.
2. Setting or clearing a PIN is an audited write; the audit details never hold the PIN or
   its hash.
3. Reads return frozen records; rows never leave this package.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.domain.authorization import token_key
from csms.store import tables as t
from csms.store.access import audit
from csms.store.organisation import NotFound, StoreError, submit
from csms.store.resident_pins.tables import resident_pins
from csms.store.rows import utc
from csms.store.writer import Writer, WriteTx


@dataclass(frozen=True, slots=True)
class Card:
    """An id token with what the resident page needs to admit it."""

    id_token: str
    kind: str
    status: str
    expires_at: datetime | None
    resident_id: int | None
    pin_hash: str | None


@dataclass(frozen=True, slots=True)
class PinState:
    id_token: str
    set_at: datetime
    set_by: str
    failures: int
    last_failure_at: datetime | None


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


class PinStore:
    """Cards and their PINs (module rules)."""

    def __init__(self, engine: AsyncEngine, writer: Writer) -> None:
        self._engine = engine
        self._writer = writer

    async def card(self, id_token: str) -> Card | None:
        """The card by any spelling, with its PIN hash if one is set."""
        tok, p = t.id_tokens, resident_pins
        query = select(tok.c.id_token, tok.c.kind, tok.c.status, tok.c.expires_at,
                       tok.c.resident_id, p.c.pin_hash).select_from(
            tok.outerjoin(p, p.c.id_token == tok.c.id_token)).where(
            tok.c.token_key == token_key(id_token))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).one_or_none()
        if row is None:
            return None
        return Card(row.id_token, row.kind, row.status, _aware(row.expires_at),
                    row.resident_id, row.pin_hash)

    async def state(self, id_token: str) -> PinState | None:
        """The card's PIN record (never the hash); None if no PIN is set.

        Raises:
            NotFound: there is no such id token.
        """
        tok, p = t.id_tokens, resident_pins
        query = select(tok.c.id_token, p.c.set_at, p.c.set_by, p.c.failures,
                       p.c.last_failure_at).select_from(
            tok.outerjoin(p, p.c.id_token == tok.c.id_token)).where(
            tok.c.token_key == token_key(id_token))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).one_or_none()
        if row is None:
            raise NotFound(f"no id token {id_token}")
        if row.set_at is None:
            return None
        return PinState(row.id_token, utc(row.set_at), row.set_by, row.failures,
                        _aware(row.last_failure_at))

    async def set_pin(self, id_token: str, pin_hash: str, actor: str) -> str:
        """Set (or replace) the card's PIN hash, resetting its failure count; the card's
        registered spelling.

        Raises:
            NotFound: there is no such id token.
        """

        async def unit(tx: WriteTx) -> str | StoreError:
            stored = await _spelling(tx, id_token)
            if stored is None:
                return NotFound(f"no id token {id_token}")
            await tx.conn.execute(delete(resident_pins).where(
                resident_pins.c.id_token == stored))
            await tx.conn.execute(resident_pins.insert().values(
                id_token=stored, pin_hash=pin_hash, set_at=tx.now, set_by=actor, failures=0))
            audit(tx, actor, "set_pin", "id_token", stored)
            return stored

        return await submit(self._writer, unit)

    async def clear_pin(self, id_token: str, actor: str) -> bool:
        """Remove the card's PIN (it can no longer sign in); whether it had one.

        Raises:
            NotFound: there is no such id token.
        """

        async def unit(tx: WriteTx) -> bool | StoreError:
            stored = await _spelling(tx, id_token)
            if stored is None:
                return NotFound(f"no id token {id_token}")
            done = await tx.conn.execute(delete(resident_pins).where(
                resident_pins.c.id_token == stored))
            audit(tx, actor, "clear_pin", "id_token", stored)
            return bool(done.rowcount)

        return await submit(self._writer, unit)

    async def failed(self, id_token: str) -> None:
        """Count a wrong PIN for the card (rule 3 of the table); nothing for a card
        without a PIN."""
        p = resident_pins

        async def unit(tx: WriteTx) -> None:
            stored = await _spelling(tx, id_token)
            if stored is not None:
                await tx.conn.execute(update(p).where(p.c.id_token == stored).values(
                    failures=p.c.failures + 1, last_failure_at=tx.now))

        await self._writer.submit(unit)

    async def record(self, actor: str, action: str, station_id: str,
                     details: dict[str, object]) -> None:
        """Audit what a resident did on a charge point (a start or a stop)."""

        async def unit(tx: WriteTx) -> None:
            audit(tx, actor, action, "charge_point", station_id, dict(details))

        await self._writer.submit(unit)


async def _spelling(tx: WriteTx, id_token: str) -> str | None:
    tok = t.id_tokens
    found = await tx.conn.execute(select(tok.c.id_token).where(
        tok.c.token_key == token_key(id_token)))
    return found.scalar_one_or_none()
