"""The tamper-evident audit log: a SHA-256 hash chain. Pure.

Rules:
1. A record is (seq, at, actor, action, resource, resource_id, details) plus ``prev_hash``,
   the hash of the record before it (:data:`GENESIS`, 64 zeros, before the first), and
   ``hash``, its own.
2. Canonical form: JSON of seq, at, actor, action, resource, resource_id (null when there is
   none), details and prev_hash with
   sorted keys, no spaces, UTF-8 (not ASCII-escaped), no NaN; ``at`` as ISO 8601 UTC with
   microseconds and "Z". A record's hash is the SHA-256 hex digest of its canonical form.
3. :func:`chain` numbers entries from the anchor's seq + 1 and links them.
4. :func:`verify` walks the records in the order given and names the first sequence number
   at which the chain is not intact, and why:
   - ALTERED: the record's stored hash is not the hash of its content (any field changed),
     or it was rewritten whole with a fresh hash, so the next record (or the head anchor)
     links to something else;
   - REMOVED: the expected sequence number is missing and does not appear later;
   - REORDERED: the expected sequence number appears later, or an earlier one appears again.
5. A chain proves nothing about its own end: pass ``head`` (the last seq and hash, kept
   elsewhere) to detect removal or rewriting of the last records. Pass ``previous`` to
   verify a chain whose older records were pruned after their retention time.
6. A head kept from an earlier check is an *anchor* of a chain that has grown since:
   :func:`against_anchor` checks that the record at the anchor's seq still exists with the
   anchor's hash (the records after it are vouched for by their links).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from csms.safety.alarms import Json


@dataclass(frozen=True, slots=True)
class Link:
    """A point in the chain: a sequence number and the hash of that record."""

    seq: int
    hash: str


GENESIS = Link(0, "0" * 64)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What happened, before it is numbered and linked."""

    at: datetime
    actor: str
    action: str
    resource: str
    details: dict[str, Json]
    resource_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    at: datetime
    actor: str
    action: str
    resource: str
    details: dict[str, Json]
    prev_hash: str
    hash: str
    resource_id: str | None = None


class Problem(StrEnum):
    ALTERED = "altered"
    REMOVED = "removed"
    REORDERED = "reordered"


@dataclass(frozen=True, slots=True)
class Break:
    """The first sequence number at which the chain is not intact."""

    seq: int
    problem: Problem
    detail: str


def iso_utc(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def canonical(seq: int, entry: AuditEntry | AuditRecord, prev_hash: str) -> bytes:
    """Rule 2."""
    body = {
        "seq": seq, "at": iso_utc(entry.at), "actor": entry.actor, "action": entry.action,
        "resource": entry.resource, "resource_id": entry.resource_id,
        "details": entry.details, "prev_hash": prev_hash,
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
    return text.encode("utf-8")


def digest(seq: int, entry: AuditEntry | AuditRecord, prev_hash: str) -> str:
    return hashlib.sha256(canonical(seq, entry, prev_hash)).hexdigest()


def append(previous: Link, entry: AuditEntry) -> AuditRecord:
    """The record that follows ``previous``."""
    seq = previous.seq + 1
    return AuditRecord(
        seq, entry.at, entry.actor, entry.action, entry.resource, entry.details,
        prev_hash=previous.hash, hash=digest(seq, entry, previous.hash),
        resource_id=entry.resource_id,
    )


def chain(entries: Iterable[AuditEntry], previous: Link = GENESIS) -> tuple[AuditRecord, ...]:
    """Rule 3."""
    records = []
    for entry in entries:
        record = append(previous, entry)
        records.append(record)
        previous = Link(record.seq, record.hash)
    return tuple(records)


def _out_of_place(records: Sequence[AuditRecord], index: int, expected: int) -> Break:
    found = records[index].seq
    later = any(r.seq == expected for r in records[index + 1:])
    if found > expected and not later:
        return Break(expected, Problem.REMOVED, f"record {expected} is missing")
    return Break(expected, Problem.REORDERED, f"record {found} is where {expected} belongs")


def verify(
    records: Sequence[AuditRecord], previous: Link = GENESIS, head: Link | None = None
) -> Break | None:
    """Rule 4: the first break, or ``None`` when the chain is intact."""
    for index, record in enumerate(records):
        expected = previous.seq + 1
        if record.hash != digest(record.seq, record, record.prev_hash):
            return Break(expected, Problem.ALTERED, "content does not match its hash")
        if record.seq != expected:
            return _out_of_place(records, index, expected)
        if record.prev_hash != previous.hash:
            # Self-consistent but unlinked: the previous record was rewritten with a new hash
            # (or, for the first record given, this one was).
            culprit = expected if index == 0 else previous.seq
            return Break(culprit, Problem.ALTERED, f"record {record.seq} links elsewhere")
        previous = Link(record.seq, record.hash)
    return _check_head(previous, head)


def _check_head(last: Link, head: Link | None) -> Break | None:
    if head is None or head == last:
        return None
    if last.seq < head.seq:
        return Break(last.seq + 1, Problem.REMOVED, f"records after {last.seq} are missing")
    return Break(head.seq, Problem.ALTERED, "the last record does not match the head")


def against_anchor(last: Link, hash_at_anchor: str | None, anchor: Link) -> Break | None:
    """Rule 6: ``last`` is the chain's last record, ``hash_at_anchor`` the hash of its record
    numbered ``anchor.seq`` (None if there is none)."""
    if last.seq < anchor.seq:
        return Break(last.seq + 1, Problem.REMOVED,
                     f"records {last.seq + 1} to {anchor.seq} are missing (kept head "
                     f"{anchor.seq})")
    if hash_at_anchor != anchor.hash:
        return Break(anchor.seq, Problem.ALTERED, "it does not match the kept head")
    return None
