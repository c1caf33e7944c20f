"""Billing rules outside the pure tariff core: the credit rule of authorization, register
readings for pricing, money conversions, cost messages per OCPP version, tariff files."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.config import BillingSettings
from csms.domain.authorization import Credit, TokenRecord, decide
from csms.domain.commands import ShowCost
from csms.domain.model import (
    AuthorizationStatus,
    MeterValuesReported,
    SessionEvent,
    SessionEventKind,
)
from csms.errors import CommandNotSupported, ConfigError
from csms.handlers.commands import v16 as commands_v16
from csms.handlers.commands import v201 as commands_v201
from csms.services.billing.costs import CostDisplay
from csms.services.billing.tariffs import load_tariff_file
from csms.services.events import MeterValuesRecorded, SessionRecorded, StationConnected
from csms.store.billing.rows import fen, yuan
from csms.store.billing.store import register_samples

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
money = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False,
                    allow_infinity=False)
kwh = st.decimals(min_value=0, max_value=100, places=3, allow_nan=False, allow_infinity=False)


class TestCreditRule:
    @given(status=st.sampled_from(list(AuthorizationStatus)), balance=money, left=kwh,
           minimum=st.none() | money.filter(lambda m: m >= 0))
    def test_no_credit_exactly_when_accepted_poor_and_without_package(
        self, status: AuthorizationStatus, balance: Decimal, left: Decimal,
        minimum: Decimal | None,
    ) -> None:
        """NoCredit iff the token would be Accepted, a minimum is configured, the wallet is
        below it and no package kWh is left; any other verdict is the plain one."""
        record = TokenRecord("T", status, credit=Credit(balance, left))
        plain = decide(TokenRecord("T", status), accept_unknown=False, now=NOW)
        verdict = decide(record, accept_unknown=False, now=NOW, min_balance_yuan=minimum)
        poor = minimum is not None and balance < minimum and left <= 0
        if status is AuthorizationStatus.ACCEPTED and poor:
            assert AuthorizationStatus.NO_CREDIT == verdict.status
        else:
            assert plain == verdict

    def test_a_token_without_a_resident_is_not_checked(self) -> None:
        """No credit information (no resident): the stored status stands."""
        record = TokenRecord("T", AuthorizationStatus.ACCEPTED)
        verdict = decide(record, accept_unknown=False, now=NOW, min_balance_yuan=Decimal(5))
        assert AuthorizationStatus.ACCEPTED == verdict.status


class TestRegisterSamples:
    @given(st.lists(st.tuples(st.integers(0, 7200), st.floats(0, 1e7)), max_size=30))
    def test_in_time_order_one_per_instant_never_down(
        self, points: list[tuple[int, float]]
    ) -> None:
        """Readings become samples strictly increasing in time and never going down; each
        is one of the readings (a reading below an earlier one is left out)."""
        at = [(NOW + timedelta(seconds=s), wh) for s, wh in points]
        samples = register_samples(at, NOW)
        assert samples
        for before, after in itertools.pairwise(samples):
            assert before.at < after.at
            assert before.energy_wh <= after.energy_wh
        if at:
            assert {(s.at, s.energy_wh) for s in samples} <= {
                (a, Decimal(str(w))) for a, w in at}

    def test_a_register_going_backwards_is_skipped(self) -> None:
        points = [(NOW, 100.0), (NOW + timedelta(minutes=1), 90.0),
                  (NOW + timedelta(minutes=2), 120.0)]
        assert [Decimal("100.0"), Decimal("120.0")] == [
            s.energy_wh for s in register_samples(points, NOW)]


class TestMoney:
    @given(st.integers(min_value=-10**12, max_value=10**12))
    def test_fen_and_yuan_round_trip(self, amount_fen: int) -> None:
        assert amount_fen == fen(yuan(amount_fen))

    def test_a_fraction_of_a_fen_is_refused(self) -> None:
        with pytest.raises(ValueError, match="whole number of fen"):
            fen(Decimal("0.005"))


class TestCostMessages:
    def test_v16_california_pricing(self) -> None:
        """DataTransfer costmsg with the cost written from the Decimal, as JSON text."""
        action, payload = commands_v16.to_call("CP", ShowCost("42", Decimal("8.51"), final=True,
                                                             text="合计 8.51 元"))
        assert ("DataTransfer", "org.openchargealliance.costmsg", "FinalCost") == (
            action, payload["vendorId"], payload["messageId"])
        assert '"cost": 8.51' in payload["data"]
        assert {"transactionId": 42, "cost": 8.51, "priceText": "合计 8.51 元"} == json.loads(
            payload["data"])
        _, running = commands_v16.to_call("CP", ShowCost("42", Decimal("1.00")))
        assert "RunningCost" == running["messageId"]

    def test_v201_cost_updated_running_only(self) -> None:
        assert ("CostUpdated", {"totalCost": 2.5, "transactionId": "tx-1"}) == (
            commands_v201.to_call("CS", ShowCost("tx-1", Decimal("2.50"))))
        with pytest.raises(CommandNotSupported):
            commands_v201.to_call("CS", ShowCost("tx-1", Decimal("2.50"), final=True))


class TestTariffFile:
    def test_the_shipped_yunnan_file(self) -> None:
        path = Path(__file__).parents[3] / "data" / "tariffs" / "yunnan-residential.toml"
        spec = load_tariff_file(path, community_id=3)
        assert (Decimal("0.61"), Decimal("0.31"), Decimal("0.40"), 3) == (
            spec.electricity.default_yuan_per_kwh, spec.electricity.segments[0].yuan_per_kwh,
            spec.service.default_yuan_per_kwh, spec.community_id)

    @pytest.mark.parametrize(("text", "named"), [
        ('zone = "Mars/Base"', "zone"),
        ('[[electricity.segments]]\nstart = "22:00"\nend = "06:00"\nperiod = "valley"\n'
         'yuan_per_kwh = "0.31"', "wrap midnight"),
        ('[electricity]\ndefault_yuan_per_kwh = "-1"', "default_yuan_per_kwh"),
    ])
    def test_a_bad_file_names_the_problem(self, tmp_path: Path, text: str, named: str) -> None:
        base = {"zone": 'zone = "Asia/Shanghai"', "[electricity]":
                '[electricity]\ndefault_yuan_per_kwh = "0.61"'}
        body = ['name = "x"', "effective_from = 2024-01-01T00:00:00+08:00",
                text if text.startswith("zone") else base["zone"],
                '[service]\ndefault_yuan_per_kwh = "0.40"',
                text if text.startswith("[electricity]") else base["[electricity]"]]
        if text.startswith("[[electricity"):
            body.append(text)
        path = tmp_path / "t.toml"
        path.write_text("\n".join(body), encoding="utf-8")
        with pytest.raises(ConfigError, match=named):
            load_tariff_file(path, community_id=1)


class TestCostDisplayDecisions:
    """What the cost display queues, decided without a database (billing_costs Rules 1-3)."""

    @staticmethod
    def display(clock: list[datetime], **settings: object) -> CostDisplay:
        return CostDisplay(None, None, BillingSettings(**settings),  # type: ignore[arg-type]
                           lambda: clock[0])

    @staticmethod
    def reading(station: str, session: int) -> MeterValuesRecorded:
        return MeterValuesRecorded(MeterValuesReported(station, 1, 1, "7", ()), session)

    @staticmethod
    def ended(station: str, session: int) -> SessionRecorded:
        return SessionRecorded(SessionEvent(station, SessionEventKind.ENDED, NOW, 1, 1, "7"),
                               session)

    def test_running_cost_throttled_per_session_and_only_where_shown(self) -> None:
        clock = [NOW]
        display = self.display(clock, cost_update_interval_s=60,
                               show_cost_charge_points=("CP-SHOW",))
        for station, version in (("CS", "ocpp2.0.1"), ("CP-SHOW", "ocpp1.6"),
                                 ("CP-HIDE", "ocpp1.6")):
            display.listen(StationConnected(station, version, NOW))
        for station, session in (("CS", 1), ("CS", 1), ("CP-SHOW", 2), ("CP-HIDE", 3)):
            display.listen(self.reading(station, session))
        clock[0] = NOW + timedelta(seconds=60)
        display.listen(self.reading("CS", 1))
        for station, session in (("CS", 1), ("CP-SHOW", 2), ("CP-HIDE", 3)):
            display.listen(self.ended(station, session))
        queued = []
        while not display._queue.empty():
            ask = display._queue.get_nowait()
            queued.append((ask.station_id, ask.session_id, ask.final))
        assert [("CS", 1, False), ("CP-SHOW", 2, False), ("CS", 1, False),
                ("CP-SHOW", 2, True)] == queued

    def test_interval_zero_sends_no_running_cost(self) -> None:
        display = self.display([NOW], cost_update_interval_s=0)
        display.listen(StationConnected("CS", "ocpp2.0.1", NOW))
        display.listen(self.reading("CS", 1))
        assert display._queue.empty()
