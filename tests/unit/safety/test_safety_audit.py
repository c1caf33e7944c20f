"""The audit hash chain (csms.safety.audit): canonical form, chaining, and tamper detection."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.safety.audit import (
    GENESIS,
    AuditEntry,
    AuditRecord,
    Break,
    Link,
    Problem,
    against_anchor,
    canonical,
    chain,
    verify,
)

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
FIELDS = ("seq", "at", "actor", "action", "resource", "details", "prev_hash", "hash",
          "resource_id")


def entry(n: int) -> AuditEntry:
    return AuditEntry(T0 + timedelta(seconds=n), f"operator-{n}", "alarm.acknowledge",
                      f"alarm/{n}", {"note": f"checked {n}", "n": n})


def head_of(records: tuple[AuditRecord, ...]) -> Link:
    return Link(records[-1].seq, records[-1].hash)


def broken(records: list[AuditRecord] | tuple[AuditRecord, ...], head: Link | None = None) -> Break:
    """The break verify reports; the test fails if there is none."""
    found = verify(records, head=head)
    assert found is not None
    return found


def altered(record: AuditRecord, name: str) -> AuditRecord:
    """``record`` with field ``name`` changed to a different value, hashes left as they were."""
    def flip(h: str) -> str:
        return ("1" if h[0] != "1" else "2") + h[1:]

    if name == "seq":
        return replace(record, seq=record.seq + 100)
    if name == "at":
        return replace(record, at=record.at + timedelta(microseconds=1))
    if name == "details":
        return replace(record, details={**record.details, "extra": True})
    if name == "prev_hash":
        return replace(record, prev_hash=flip(record.prev_hash))
    if name == "hash":
        return replace(record, hash=flip(record.hash))
    if name == "actor":
        return replace(record, actor=record.actor + "x")
    if name == "action":
        return replace(record, action=record.action + "x")
    if name == "resource_id":
        return replace(record, resource_id=(record.resource_id or "") + "x")
    return replace(record, resource=record.resource + "x")


class TestCanonicalForm:
    def test_sorted_keys_no_spaces_utf8_iso_utc(self) -> None:
        """Keys sorted, no spaces, non-ASCII kept as UTF-8, time as ISO UTC with Z."""
        at = datetime(2026, 1, 2, 11, 4, 5, tzinfo=timezone(timedelta(hours=8)))
        e = AuditEntry(at, "张三", "login", "user/1", {"b": 1, "a": [1.5, None]})
        assert (
            '{"action":"login","actor":"张三","at":"2026-01-02T03:04:05.000000Z",'
            '"details":{"a":[1.5,null],"b":1},"prev_hash":"p","resource":"user/1",'
            '"resource_id":null,"seq":7}'
        ).encode() == canonical(7, e, "p")

    def test_resource_id_is_part_of_the_hash(self) -> None:
        """Two entries that differ only in resource id hash differently."""
        first = replace(entry(1), resource_id="CP-1")
        assert b'"resource_id":"CP-1"' in canonical(1, first, "p")
        assert chain([first])[0].hash != chain([replace(first, resource_id="CP-2")])[0].hash

    def test_naive_timestamp_is_refused(self) -> None:
        """A timestamp without zone cannot be put in canonical form."""
        with pytest.raises(ValueError, match="timezone-aware"):
            canonical(1, replace(entry(1), at=datetime(2026, 1, 1)), "p")  # noqa: DTZ001

    def test_record_hash_is_sha256_of_canonical_form(self) -> None:
        """Each record's hash is the SHA-256 of its canonical form, including prev_hash."""
        first, second = chain([entry(1), entry(2)])
        assert hashlib.sha256(canonical(1, first, GENESIS.hash)).hexdigest() == first.hash
        assert first.hash == second.prev_hash


class TestChain:
    def test_numbers_from_one_and_links_from_genesis(self) -> None:
        """Records are numbered 1, 2, 3 and the first links to 64 zeros."""
        records = chain(entry(n) for n in range(3))
        assert [1, 2, 3] == [r.seq for r in records]
        assert "0" * 64 == records[0].prev_hash

    def test_continues_after_an_anchor(self) -> None:
        """Chaining after a pruned prefix continues its numbering and hashes."""
        full = chain(entry(n) for n in range(4))
        tail = chain([entry(2), entry(3)], previous=Link(2, full[1].hash))
        assert full[2:] == tail
        assert verify(tail, previous=Link(2, full[1].hash)) is None

    def test_intact_chain_verifies(self) -> None:
        """An untouched chain has no break, with or without its head."""
        records = chain(entry(n) for n in range(5))
        assert verify(records) is None
        assert verify(records, head=head_of(records)) is None
        assert verify(()) is None


class TestTampering:
    @pytest.mark.parametrize("name", FIELDS)
    def test_altering_any_field_of_a_middle_record_names_it(self, name: str) -> None:
        """Changing any one field of record 3 of 5 is reported as record 3, altered."""
        records = list(chain(entry(n) for n in range(5)))
        records[2] = altered(records[2], name)
        assert (3, Problem.ALTERED) == (broken(records).seq, broken(records).problem)

    def test_rewriting_a_record_with_a_fresh_hash_names_it(self) -> None:
        """Record 2 rewritten with a recomputed hash breaks record 3's link: record 2."""
        records = list(chain(entry(n) for n in range(4)))
        forged = chain([replace(entry(1), actor="mallory")], previous=Link(1, records[0].hash))
        records[1] = forged[0]
        assert Break(2, Problem.ALTERED, "record 3 links elsewhere") == verify(records)

    def test_rewriting_the_last_record_is_caught_by_the_head(self) -> None:
        """Without a successor, only the kept head reveals a rewritten last record."""
        records = list(chain(entry(n) for n in range(3)))
        head = head_of(tuple(records))
        records[2] = chain([replace(entry(2), actor="m")], previous=Link(2, records[1].hash))[0]
        assert verify(records) is None
        assert Break(3, Problem.ALTERED, "the last record does not match the head") == verify(
            records, head=head)

    def test_deleting_a_record_names_it_removed(self) -> None:
        """Deleting record 2 of 4 reports record 2 removed."""
        records = list(chain(entry(n) for n in range(4)))
        del records[1]
        assert Break(2, Problem.REMOVED, "record 2 is missing") == verify(records)

    def test_deleting_the_last_records_needs_the_head(self) -> None:
        """Dropping the tail is invisible alone and named with the head."""
        records = chain(entry(n) for n in range(4))
        assert verify(records[:2]) is None
        found = broken(records[:2], head=head_of(records))
        assert (3, Problem.REMOVED) == (found.seq, found.problem)

    def test_swapping_two_records_names_the_first_position(self) -> None:
        """Swapping records 2 and 4 reports record 2 reordered."""
        records = list(chain(entry(n) for n in range(5)))
        records[1], records[3] = records[3], records[1]
        assert Break(2, Problem.REORDERED, "record 4 is where 2 belongs") == verify(records)

    def test_duplicated_record_is_reordered(self) -> None:
        """A record appearing twice is out of order where it repeats."""
        records = list(chain(entry(n) for n in range(3)))
        records.insert(2, records[1])
        assert Problem.REORDERED == broken(records).problem


@st.composite
def tampered_chains(
    draw: st.DrawFn,
) -> tuple[tuple[AuditRecord, ...], list[AuditRecord], Break]:
    """A random chain, one random tampering of it, and the break verify must report."""
    texts = st.text(max_size=8)
    entries = draw(st.lists(st.builds(
        AuditEntry,
        at=st.datetimes(timezones=st.just(UTC)), actor=texts, action=texts, resource=texts,
        details=st.dictionaries(texts, st.integers() | texts | st.none(), max_size=3),
    ), min_size=1, max_size=8))
    original = chain(entries)
    records = list(original)
    size = len(records)
    kind = draw(st.sampled_from(["alter", "delete", "swap"] if size > 1 else ["alter", "delete"]))
    k = draw(st.integers(0, size - 1))
    if kind == "alter":
        records[k] = altered(records[k], draw(st.sampled_from(FIELDS)))
        return original, records, Break(k + 1, Problem.ALTERED, "")
    if kind == "delete":
        del records[k]
        return original, records, Break(k + 1, Problem.REMOVED, "")
    other = draw(st.integers(0, size - 1).filter(lambda i: i != k))
    first, second = sorted((k, other))
    records[first], records[second] = records[second], records[first]
    return original, records, Break(first + 1, Problem.REORDERED, "")


class TestTamperingProperty:
    @given(tampered_chains())
    def test_verify_names_the_first_bad_record(
        self, case: tuple[tuple[AuditRecord, ...], list[AuditRecord], Break]
    ) -> None:
        """Any single alteration, deletion or swap is found, at the right record and why."""
        original, records, expected = case
        found = broken(records, head=head_of(original))
        assert (expected.seq, expected.problem) == (found.seq, found.problem)

    @given(st.lists(st.text(max_size=5), max_size=6))
    def test_untouched_chains_verify(self, actors: list[str]) -> None:
        """A chain nobody touched never reports a break."""
        records = chain(replace(entry(i), actor=a) for i, a in enumerate(actors))
        assert verify(records) is None


class TestAnchor:
    def test_a_grown_chain_still_holding_the_anchor_passes(self) -> None:
        """Records added after the anchor was kept are fine."""
        records = chain(entry(n) for n in range(5))
        anchor = Link(3, records[2].hash)
        assert against_anchor(head_of(records), records[2].hash, anchor) is None

    def test_truncation_before_the_anchor_is_removed(self) -> None:
        """The last records deleted below the anchor: the first missing one, removed."""
        records = chain(entry(n) for n in range(5))
        found = against_anchor(head_of(records[:2]), None, head_of(records))
        assert found is not None
        assert (3, Problem.REMOVED) == (found.seq, found.problem)

    def test_a_rewritten_anchor_record_is_altered(self) -> None:
        """The record at the anchor with another hash: that record, altered."""
        records = chain(entry(n) for n in range(3))
        assert Break(3, Problem.ALTERED, "it does not match the kept head") == against_anchor(
            head_of(records), "f" * 64, head_of(records))
