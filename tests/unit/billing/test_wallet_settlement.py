"""Settling what is owed from the wallet (csms.tariffs.ledger Rule 7): pure."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from csms.tariffs.ledger import (
    EntryKind,
    LedgerEntry,
    WalletPolicy,
    balance,
    charge_from_balance,
    charge_session,
    owed_yuan,
    settle_owed,
    top_up,
    wallet,
)

AT = datetime(2026, 11, 1, tzinfo=UTC)
fen = st.integers(min_value=1, max_value=100_000).map(lambda n: Decimal(n).scaleb(-2))


def test_nothing_owed_nothing_settled() -> None:
    assert settle_owed([top_up("u", Decimal("5"), AT, "t")], "u", AT, "s") is None


def test_settles_as_far_as_the_wallet_holds() -> None:
    entries: list[LedgerEntry] = [top_up("u", Decimal("3"), AT, "t1")]
    entries += charge_session(entries, "u", "s1", Decimal("8.51"), Decimal("0"), AT)
    assert Decimal("5.51") == owed_yuan(entries, "u")
    entries.append(top_up("u", Decimal("2"), AT, "t2"))
    settled = settle_owed(entries, "u", AT, "t2:settle")
    assert settled is not None
    assert (EntryKind.SETTLEMENT, Decimal("2.00")) == (settled.kind, settled.amount_yuan)
    entries.append(settled)
    assert (Decimal("0.00"), Decimal("3.51")) == (balance(entries, wallet("u")),
                                                  owed_yuan(entries, "u"))


@given(st.lists(st.tuples(st.booleans(), fen), max_size=40))
def test_wallet_and_owed_never_go_below_zero(steps: list[tuple[bool, Decimal]]) -> None:
    """Any mix of top-ups (each followed by a settlement) and session charges: the wallet
    and what is owed stay at zero or above, and the ledger sums to zero."""
    entries: list[LedgerEntry] = []
    for i, (is_top_up, amount) in enumerate(steps):
        if is_top_up:
            entries.append(top_up("u", amount, AT, f"t{i}"))
            settled = settle_owed(entries, "u", AT, f"t{i}:settle")
            entries += [settled] if settled else []
        else:
            entries += charge_session(entries, "u", f"s{i}", amount, Decimal("0"), AT)
        assert balance(entries, wallet("u")) >= 0
        assert owed_yuan(entries, "u") >= 0
        assert owed_yuan(entries, "u") == 0 or balance(entries, wallet("u")) == 0
    accounts = {e.debit for e in entries} | {e.credit for e in entries}
    assert Decimal(0) == sum((balance(entries, a) for a in accounts), Decimal(0))


@given(st.lists(st.tuples(st.booleans(), fen), max_size=30), fen, fen,
       st.sampled_from([Decimal("0.00"), Decimal("-5.00"), Decimal("-50.00")]))
def test_a_charge_from_the_balance_is_the_charge_from_the_ledger(
    steps: list[tuple[bool, Decimal]], electricity: Decimal, service: Decimal, floor: Decimal,
) -> None:
    """What the store posts (the wallet's balance summed in SQL, charge_from_balance) is what
    the whole ledger gives (charge_session), for any history and any credit floor, while
    the session is not charged yet; once it is, only charge_session knows (the store asks
    its session_charges row first)."""
    policy = WalletPolicy(floor)
    entries: list[LedgerEntry] = []
    for i, (is_top_up, amount) in enumerate(steps):
        entries += [top_up("u", amount, AT, f"t{i}")] if is_top_up else charge_session(
            entries, "u", f"s{i}", amount, Decimal("0"), AT, policy)
    from_ledger = charge_session(entries, "u", "new", electricity, service, AT, policy)
    assert from_ledger == charge_from_balance(balance(entries, wallet("u")), "u", "new",
                                              electricity, service, AT, policy)
    assert () == charge_session([*entries, *from_ledger], "u", "new", electricity, service,
                                AT, policy)
