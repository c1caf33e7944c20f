"""Packages, the wallet ledger and settling a session (csms.tariffs)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csms.tariffs.examples import yunnan_residential
from csms.tariffs.ledger import (
    CASH,
    REVENUE_ELECTRICITY,
    REVENUE_SERVICE,
    LedgerEntry,
    WalletPolicy,
    adjust,
    balance,
    buy_package,
    charge_session,
    owed_yuan,
    receivable,
    refund,
    top_up,
    wallet,
)
from csms.tariffs.model import Period
from csms.tariffs.packages import Coverage, Package, Subscription, apply_packages, subscribe
from csms.tariffs.pricing import ChargeDetail, PricedSession, RegisterSample, price_session
from csms.tariffs.settlement import settle_session

SHANGHAI = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 3, 11, 1, tzinfo=UTC)
D = Decimal


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def package(coverage: Coverage = Coverage.BOTH, kwh: str = "50",
            periods: frozenset[Period] | None = None) -> Package:
    return Package("p", D("30"), D(kwh), coverage, frozenset({"翠湖小区"}), periods=periods)


def yunnan_session() -> PricedSession:
    """The 23:30–01:00 weekday session at 7 kW: 3.5 kWh flat, then 7 kWh valley."""
    start, end = local(2026, 3, 10, 23, 30), local(2026, 3, 11, 1)
    samples = [RegisterSample(start, D(0)), RegisterSample(end, D(10_500))]
    return price_session([yunnan_residential()], samples, start, end)


class TestPackages:
    def test_valley_only_package_covers_only_the_valley_detail(self) -> None:
        sub = subscribe("s1", package(periods=frozenset({Period.VALLEY})), 2026, 3)
        result = apply_packages(yunnan_session().details, [sub], "翠湖小区")
        assert [(1, D("7"))] == [(u.detail_index, u.energy_kwh) for u in result.usage]
        assert D("43") == result.subscriptions[0].remaining_kwh
        assert (D("3.5") * D("0.61"), D("3.5") * D("0.40")) == (
            result.electricity_yuan, result.service_yuan)

    def test_earliest_expiry_first_and_never_below_zero(self) -> None:
        march = subscribe("march", package(kwh="3"), 2026, 3)
        april = subscribe("april", package(kwh="100"), 2026, 4)
        early = Subscription("early", package(kwh="1"), march.valid_from,
                             march.valid_until - timedelta(days=1), D("1"))
        result = apply_packages(yunnan_session().details, [april, march, early], "翠湖小区")
        assert ["early", "march", "march"] == [u.subscription_id for u in result.usage]
        assert [D("100"), D("0"), D("0")] == [s.remaining_kwh for s in result.subscriptions]
        assert [D("1"), D("2.5"), D("0.5")] == [u.energy_kwh for u in result.usage]
        assert D("6.5") * D("0.31") + D("6.5") * D("0.40") == result.total_yuan

    def test_community_month_and_coverage(self) -> None:
        details = yunnan_session().details
        sub = subscribe("s", package(Coverage.ELECTRICITY), 2026, 3)
        assert () == apply_packages(details, [sub], "other community").usage
        assert () == apply_packages(details, [subscribe("s", package(), 2026, 4)],
                                    "翠湖小区").usage
        result = apply_packages(details, [sub], "翠湖小区")
        assert (D(0), D("10.5") * D("0.40")) == (result.electricity_yuan, result.service_yuan)
        assert local(2026, 3, 1) == sub.valid_from
        assert local(2026, 4, 1) == sub.valid_until
        assert local(2027, 1, 1) == subscribe("d", package(), 2026, 12).valid_until

    def test_service_package_then_both_package(self) -> None:
        """Rule 4: a 'both' kWh after a 'service' one still counts in full."""
        detail = yunnan_session().details[1]  # 7 kWh valley
        service = subscribe("a", package(Coverage.SERVICE, kwh="3"), 2026, 3)
        both = Subscription("b", package(), service.valid_from,
                            service.valid_until + timedelta(days=1), D("5"))
        result = apply_packages([detail], [both, service], "翠湖小区")
        assert [D("3"), D("5")] == [u.energy_kwh for u in result.usage]
        assert (D("2") * D("0.31"), D(0)) == (result.electricity_yuan, result.service_yuan)


class TestLedger:
    def test_charge_up_to_the_balance_and_record_the_shortfall(self) -> None:
        entries = [top_up("u", D("5"), AT, "pay-1")]
        posted = charge_session(entries, "u", "session-1", D("4.305"), D("4.2"), AT)
        assert [(wallet("u"), REVENUE_ELECTRICITY, D("4.31")),
                (wallet("u"), REVENUE_SERVICE, D("0.69")),
                (receivable("u"), REVENUE_SERVICE, D("3.51"))] == [
            (e.debit, e.credit, e.amount_yuan) for e in posted]
        entries += posted
        assert D("0.00") == balance(entries, wallet("u"))
        assert D("3.51") == owed_yuan(entries, "u")
        assert () == charge_session(entries, "u", "session-1", D("1"), D("1"), AT)

    def test_credit_floor(self) -> None:
        policy = WalletPolicy(D("-10.00"))
        posted = charge_session([], "u", "s", D("8"), D("4"), AT, policy)
        assert D("-10.00") == balance(posted, wallet("u"))
        assert D("2.00") == owed_yuan(posted, "u")
        with pytest.raises(ValueError, match="floor"):
            WalletPolicy(D("5"))

    def test_refund_adjust_and_package_purchase(self) -> None:
        entries = [top_up("u", D("20"), AT, "pay")]
        with pytest.raises(ValueError, match="exceed"):
            refund(entries, "u", D("20.01"), AT, "r")
        entries.append(buy_package(entries, "u", D("15"), AT, "buy"))
        with pytest.raises(ValueError, match="not enough"):
            buy_package(entries, "u", D("15"), AT, "buy-2")
        entries.append(adjust(entries, "u", D("-5"), AT, "fix"))
        with pytest.raises(ValueError, match="below its floor"):
            adjust(entries, "u", D("-0.01"), AT, "fix-2")
        entries.append(adjust(entries, "u", D("1"), AT, "goodwill"))
        entries.append(refund(entries, "u", D("1"), AT, "r"))
        assert D("0.00") == balance(entries, wallet("u"))
        assert D("-19.00") == balance(entries, CASH)

    def test_entries_are_valid_double_entries(self) -> None:
        with pytest.raises(ValueError, match="whole fen"):
            top_up("u", D("0"), AT, "x")
        with pytest.raises(ValueError, match="different"):
            LedgerEntry(top_up("u", D(1), AT, "x").kind, AT, CASH, CASH, D(1), "x")


class TestSettlement:
    def test_package_first_wallet_second(self) -> None:
        """The order shows the full 8.51 yuan; the valley package takes 7 kWh (2.17 + 2.80),
        the wallet pays the flat 3.5 kWh: 2.135 → 2.14 and 1.40."""
        sub = subscribe("s1", package(periods=frozenset({Period.VALLEY})), 2026, 3)
        ledger = [top_up("u", D("10"), AT, "pay")]
        result = settle_session(yunnan_session(), [sub], "翠湖小区", ledger, "u", "sess", AT)
        assert D("8.51") == result.order.total_yuan
        assert D("3.54") == result.charged_yuan
        assert D("0.00") == result.shortfall_yuan("u")
        assert D("6.46") == balance([*ledger, *result.entries], wallet("u"))
        assert D("43") == result.packages.subscriptions[0].remaining_kwh


# -- properties -------------------------------------------------------------------------

money = st.decimals(min_value=0, max_value=500, places=6)


@st.composite
def details(draw: st.DrawFn) -> list[ChargeDetail]:
    out, at = [], local(2026, 3, 1)
    for _ in range(draw(st.integers(1, 8))):
        end = at + timedelta(minutes=draw(st.integers(1, 600)))
        out.append(ChargeDetail(at, end, "t", draw(st.sampled_from(list(Period))),
                                draw(st.decimals(0, 50, places=6)),
                                draw(st.decimals(0, 2, places=4)),
                                draw(st.decimals(0, 2, places=4))))
        at = end
    return out


@st.composite
def subscriptions(draw: st.DrawFn) -> list[Subscription]:
    return [subscribe(f"s{i}", package(draw(st.sampled_from(list(Coverage))),
                                       str(draw(st.decimals(0, 40, places=3))),
                                       draw(st.none() | st.frozensets(st.sampled_from(
                                           list(Period)), min_size=1))),
                      2026, draw(st.sampled_from([2, 3, 4])))
            for i in range(draw(st.integers(0, 4)))]


class TestProperties:
    @settings(max_examples=200, deadline=None)
    @given(details(), subscriptions())
    def test_package_kwh_never_below_zero_and_money_is_conserved(
        self, charge_details: list[ChargeDetail], subs: list[Subscription]
    ) -> None:
        result = apply_packages(charge_details, subs, "翠湖小区")
        assert all(s.remaining_kwh >= 0 for s in result.subscriptions)
        for before, after in zip(subs, result.subscriptions, strict=True):
            used = sum((u.energy_kwh for u in result.usage
                        if u.subscription_id == before.subscription_id), D(0))
            assert before.remaining_kwh - used == after.remaining_kwh
        covered = sum((u.electricity_yuan + u.service_yuan for u in result.usage), D(0))
        full = sum((d.electricity_yuan + d.service_yuan for d in charge_details), D(0))
        assert result.electricity_yuan >= 0
        assert result.service_yuan >= 0
        assert full == covered + result.total_yuan

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.tuples(st.sampled_from(["top_up", "charge", "adjust"]), money,
                              money, st.sampled_from(["u", "v"])), max_size=25),
           st.sampled_from([D("0.00"), D("-10.00"), D("-50.00")]))
    def test_wallets_stay_above_the_floor_and_the_ledger_balances(
        self, operations: list[tuple[str, Decimal, Decimal, str]], floor: Decimal
    ) -> None:
        policy, entries = WalletPolicy(floor), list[LedgerEntry]()
        for n, (kind, a, b, user) in enumerate(operations):
            if kind == "top_up" and a >= D("0.005"):
                entries.append(top_up(user, a, AT, f"pay-{n}"))
            elif kind == "charge":
                entries += charge_session(entries, user, f"s-{n}", a, b, AT, policy)
            elif kind == "adjust" and a >= D("0.005"):
                with contextlib.suppress(ValueError):  # refused below the floor
                    entries.append(adjust(entries, user, -a, AT, f"adj-{n}", policy))
            for who in ("u", "v"):
                assert balance(entries, wallet(who)) >= floor
                assert owed_yuan(entries, who) >= 0
        accounts = {e.debit for e in entries} | {e.credit for e in entries}
        assert D(0) == sum((balance(entries, account) for account in accounts), D(0))
