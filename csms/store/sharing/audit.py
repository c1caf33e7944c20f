"""The audit log in the database: chained appends, reading, and verifying the chain.

Rules:
1. Rows are appended only through :func:`append_later` (what :func:`csms.store.access.audit`
   calls): it queues the entry on the unit's transaction; when the group-commit writer
   flushes, every entry queued in that transaction is numbered and linked
   (:func:`csms.safety.audit.chain`) after the chain head read *inside the same
   transaction*, then inserted. The chain order is therefore the commit order.
2. On one node the single writer serialises appends. With PostgreSQL and several nodes the
   flush first takes a transaction-level advisory lock (:data:`CHAIN_LOCK`), so two nodes
   never read the same head; the lock is released by the commit. On SQLite (one writer at a
   time anyway) a second process that read a stale head fails on the unique ``seq`` and its
   batch is retried, never forking the chain.
3. Details are normalised through JSON before hashing (what is hashed is what is stored):
   tuples become lists, dates strings; NaN is refused.
4. The database refuses UPDATE and DELETE on ``audit_log`` (migration 0004's triggers);
   nothing here ever tries.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from csms.safety.audit import (
    GENESIS,
    AuditEntry,
    AuditRecord,
    Break,
    Link,
    against_anchor,
    chain,
    verify,
)
from csms.store import tables as t
from csms.store.rows import utc
from csms.store.writer import WriteTx

CHAIN_LOCK = 0x63736D735F617564  # pg_advisory_xact_lock key of the audit chain ("csms_aud")
_COLUMNS = ("at", "actor", "action", "resource", "resource_id", "details")


def normalised(details: dict[str, Any] | None) -> dict[str, Any]:
    """``details`` as it will read back from the JSON column (rule 3).

    Raises:
        ValueError: a float is NaN or infinite.
    """
    result: dict[str, Any] = json.loads(json.dumps(
        details or {}, default=str, ensure_ascii=False, allow_nan=False))
    return result


async def _append_chained(conn: AsyncConnection, entries: list[dict[str, Any]]) -> None:
    """Chain ``entries`` after the head and insert them, in the batch's transaction (the
    :meth:`WriteTx.collect` finisher of every audit entry): under the advisory lock on
    PostgreSQL, so nodes append one at a time; the unique ``seq`` forbids forks anyway."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
    head = (await conn.execute(
        select(t.audit_log.c.seq, t.audit_log.c.hash)
        .order_by(t.audit_log.c.seq.desc()).limit(1))).one_or_none()
    previous = GENESIS if head is None else Link(head.seq, head.hash)
    records = chain((AuditEntry(p["at"], p["actor"], p["action"], p["resource"],
                                p["details"], p["resource_id"]) for p in entries), previous)
    rows = [{**{c: p[c] for c in _COLUMNS}, "seq": r.seq, "prev_hash": r.prev_hash,
             "hash": r.hash} for p, r in zip(entries, records, strict=True)]
    await conn.execute(t.audit_log.insert(), rows)


def append_later(tx: WriteTx, at: datetime, actor: str, action: str, resource: str,
                 resource_id: str | None, details: dict[str, Any] | None) -> None:
    """Queue one audit entry on ``tx``; it is chained and inserted before commit (rule 1).

    Raises:
        ValueError: ``at`` is naive, or ``details`` holds NaN (rule 3).
    """
    if at.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    tx.collect(_append_chained, {
        "at": at, "actor": actor, "action": action, "resource": resource,
        "resource_id": resource_id, "details": normalised(details),
    })


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One stored audit record with its row id."""

    id: int
    record: AuditRecord


def _row(row: Any) -> AuditRow:
    return AuditRow(row.id, AuditRecord(
        row.seq, utc(row.at), row.actor, row.action, row.resource, row.details,
        prev_hash=row.prev_hash, hash=row.hash, resource_id=row.resource_id))


async def rows_in_order(engine: AsyncEngine, chunk: int = 2000) -> AsyncIterator[list[AuditRow]]:
    """Every audit row by ``seq``, in chunks of at most ``chunk`` (keyset paging)."""
    after = 0
    while True:
        async with engine.connect() as conn:
            found = (await conn.execute(
                select(t.audit_log).where(t.audit_log.c.seq > after)
                .order_by(t.audit_log.c.seq).limit(chunk))).all()
        if not found:
            return
        yield [_row(r) for r in found]
        after = found[-1].seq


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of :func:`verify_stored`: ``count`` records intact; ``broken`` the first
    break (None: intact) and ``row_id`` the id of the row it names, if that row exists;
    ``head`` the last record's seq and hash (keep it, and pass it as the next anchor)."""

    count: int
    broken: Break | None
    row_id: int | None
    head: Link = GENESIS


async def verify_stored(engine: AsyncEngine, chunk: int = 2000,
                        anchor: Link | None = None) -> Verdict:
    """Walk the whole stored chain from :data:`GENESIS` and report the first break; with
    ``anchor`` (a head kept from an earlier check) also a removed or rewritten tail.

    Chunks overlap by one record, so a record rewritten with a fresh hash at the end of a
    chunk is still named by its successor's link (rule 4 of csms.safety.audit).
    """
    before, carry, count = GENESIS, list[AuditRow](), 0
    at_anchor: str | None = None
    async for rows in rows_in_order(engine, chunk):
        window = carry + rows
        found = verify([r.record for r in window], before)
        if found is not None:
            ids = {r.record.seq: r.id for r in window}
            return Verdict(found.seq - 1 - GENESIS.seq, found, ids.get(found.seq))
        count += len(rows)
        at_anchor = next((r.record.hash for r in rows if anchor and r.record.seq == anchor.seq),
                         at_anchor)
        if len(window) > 1:
            before = Link(window[-2].record.seq, window[-2].record.hash)
        carry = window[-1:]
    last = Link(carry[0].record.seq, carry[0].record.hash) if carry else GENESIS
    found = None if anchor is None else against_anchor(last, at_anchor, anchor)
    if found is not None:
        row = await _row_id(engine, found.seq)
        return Verdict(min(count, found.seq - 1), found, row, last)
    return Verdict(count, None, None, last)


async def _row_id(engine: AsyncEngine, seq: int) -> int | None:
    async with engine.connect() as conn:
        found = (await conn.execute(select(t.audit_log.c.id).where(
            t.audit_log.c.seq == seq))).scalar_one_or_none()
    return None if found is None else int(found)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    resource: str | None = None
    resource_id: str | None = None
    action: str | None = None


async def list_rows(engine: AsyncEngine, where: AuditFilter, limit: int,
                    offset: int) -> tuple[list[AuditRow], int]:
    """Matching rows, newest first, one page of them and the total matched."""
    c = t.audit_log.c
    conditions = [cond for cond in (
        None if where.since is None else c.at >= where.since,
        None if where.until is None else c.at < where.until,
        None if where.actor is None else c.actor == where.actor,
        None if where.resource is None else c.resource == where.resource,
        None if where.resource_id is None else c.resource_id == where.resource_id,
        None if where.action is None else c.action == where.action,
    ) if cond is not None]
    async with engine.connect() as conn:
        total = (await conn.execute(
            select(func.count()).select_from(t.audit_log).where(*conditions))).scalar_one()
        found = (await conn.execute(select(t.audit_log).where(*conditions)
                                    .order_by(c.seq.desc()).limit(limit).offset(offset))).all()
    return [_row(r) for r in found], int(total)


CONFIG_RESOURCE = "csms_config"


def _masked(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings without secrets: the database password hidden, secret-named keys
    masked."""
    out = {section: dict(values) if isinstance(values, dict) else values
           for section, values in settings.items()}
    database = out.get("database")
    if isinstance(database, dict) and "url" in database:
        database["url"] = make_url(database["url"]).render_as_string(hide_password=True)
    for values in out.values():
        if isinstance(values, dict):
            for key in values:
                if any(word in key for word in ("password", "secret", "token")):
                    values[key] = "***"
    return out


async def record_configuration(engine: AsyncEngine, writer: Any, settings: dict[str, Any],
                               actor: str, now: datetime) -> bool:
    """Audit the effective configuration (secrets masked) if it differs from the last one
    recorded: ``create`` the first time, ``update`` after a change. Whether it wrote."""
    shown = normalised(_masked(settings))
    digest = hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()
    async with engine.connect() as conn:
        last = (await conn.execute(select(t.audit_log.c.details).where(
            t.audit_log.c.resource == CONFIG_RESOURCE).order_by(t.audit_log.c.seq.desc())
            .limit(1))).one_or_none()
    if last is not None and last.details.get("sha256") == digest:
        return False
    previous = None if last is None else last.details.get("settings")
    changed = sorted(k for k in shown if previous is None or previous.get(k) != shown[k])

    async def unit(tx: WriteTx) -> None:
        append_later(tx, now, actor, "create" if last is None else "update",
                     CONFIG_RESOURCE, None,
                     {"sha256": digest, "changed_sections": changed, "settings": shown})

    await writer.submit(unit)
    return True
