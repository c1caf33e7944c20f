"""The local-list planner: differences, splitting, versions, limits (csms.domain.local_list)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from csms.domain.commands_auth import LocalAuthEntry, SendLocalList
from csms.domain.local_list import (
    ListLimits,
    LocalListTooLong,
    applied,
    difference,
    keyed,
    plan,
    split,
)
from csms.domain.model import Authorization, AuthorizationStatus, IdToken

OK = Authorization(AuthorizationStatus.ACCEPTED)
BLOCKED = Authorization(AuthorizationStatus.BLOCKED)


def entry(tag: str, auth: Authorization | None = OK) -> LocalAuthEntry:
    return LocalAuthEntry(IdToken(tag), auth)


def listed(*tags: str) -> dict[str, LocalAuthEntry]:
    return keyed([entry(tag) for tag in tags])


class TestDifference:
    def test_new_changed_and_removed_tokens_and_nothing_else(self) -> None:
        """Only what differs: a new token, a changed status, a removal (no authorization)."""
        sent = listed("A", "B", "C")
        wanted = {**listed("A", "D"), "B": entry("B", BLOCKED)}
        assert (entry("B", BLOCKED), entry("D"), entry("C", None)) == difference(wanted, sent)

    def test_tokens_compare_by_key(self) -> None:
        """A token spelt in another case is the same entry (keyed by token_key)."""
        assert ["ABC"] == list(keyed([entry("abc")]))

    def test_an_expiry_change_is_a_change(self) -> None:
        """The whole authorization counts, not just the status."""
        expires = Authorization(AuthorizationStatus.ACCEPTED,
                                datetime(2027, 1, 31, 16, tzinfo=UTC))
        assert (entry("A", expires),) == difference({"A": entry("A", expires)}, listed("A"))


class TestSplit:
    @pytest.mark.parametrize(("count", "per", "sizes"), [
        (0, 3, [0]), (3, 3, [3]), (5, 2, [2, 2, 1]), (1, 10, [1])])
    def test_chunks_of_at_most_per_message(self, count: int, per: int, sizes: list[int]) -> None:
        """Chunks in order, the last one shorter; an empty list is one empty chunk."""
        chunks = split([entry(str(n)) for n in range(count)], per)
        assert sizes == [len(c) for c in chunks]
        assert [str(n) for n in range(count)] == [e.id_token.value for c in chunks for e in c]

    def test_per_message_must_be_positive(self) -> None:
        """A charger limit of 0 is a bug, not an infinite loop."""
        with pytest.raises(ValueError, match="at least 1"):
            split([], 0)


class TestPlan:
    def test_first_sync_is_full_with_version_one(self) -> None:
        """Nothing sent yet (version 0): a full update, version 1."""
        assert [SendLocalList(1, True, (entry("A"), entry("B")))] == plan(
            listed("A", "B"), {}, 0, 0, ListLimits())

    def test_in_step_sends_a_differential_update(self) -> None:
        """The charger reports the remembered version: only the change, version + 1."""
        assert [SendLocalList(4, False, (entry("C"),))] == plan(
            listed("A", "C"), listed("A"), 3, 3, ListLimits())

    def test_in_step_and_unchanged_sends_nothing(self) -> None:
        """No difference, no message."""
        assert [] == plan(listed("A"), listed("A"), 3, 3, ListLimits())

    @pytest.mark.parametrize("reported", [0, 2, 7])
    def test_out_of_step_sends_a_full_list_above_both_versions(self, reported: int) -> None:
        """Lost list, older or newer list: full, with a version above both."""
        [message] = plan(listed("A"), listed("A"), 3, reported, ListLimits())
        assert (True, max(3, reported) + 1) == (message.full, message.version)

    def test_a_forced_full_update(self) -> None:
        """``force_full`` sends the whole list even when in step."""
        [message] = plan(listed("A"), listed("A"), 3, 3, ListLimits(), force_full=True)
        assert (True, 4, 1) == (message.full, message.version, len(message.entries))

    def test_a_long_full_list_is_full_then_differential_with_rising_versions(self) -> None:
        """Five entries, two per message: Full v1, Differential v2, Differential v3."""
        messages = plan(listed(*"ABCDE"), {}, 0, 0, ListLimits(per_message=2))
        assert [(True, 1, 2), (False, 2, 2), (False, 3, 1)] == [
            (m.full, m.version, len(m.entries)) for m in messages]

    def test_a_long_difference_is_split_too(self) -> None:
        """Three changes, two per message: two differential updates."""
        messages = plan(listed(*"ABC"), {}, 5, 5, ListLimits(per_message=2))
        assert [(False, 6, 2), (False, 7, 1)] == [
            (m.full, m.version, len(m.entries)) for m in messages]

    def test_a_list_the_charger_cannot_hold_is_refused(self) -> None:
        """More entries than LocalAuthListMaxLength: nothing is planned."""
        with pytest.raises(LocalListTooLong, match="3 entries; the charger holds 2"):
            plan(listed(*"ABC"), {}, 0, 0, ListLimits(max_length=2))

    def test_applying_the_plan_gives_the_wanted_list(self) -> None:
        """Whatever the split, the charger ends with exactly the wanted list."""
        wanted = {**listed("A", "C", "E"), "B": entry("B", BLOCKED)}
        held = listed("A", "B", "D")
        for message in plan(wanted, held, 2, 2, ListLimits(per_message=1)):
            held = applied(held, message)
        assert wanted == held
