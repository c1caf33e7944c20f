"""Reservation rules (csms.domain.reservations) and the allocator's rule for reserved
connectors (csms.smartcharging.reservations)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from csms.domain.reservations import (
    ReservationStatus,
    after_answer,
    check_request,
    current,
    may_consume,
)
from csms.smartcharging.reservations import awaiting_car, held

NOW = datetime(2027, 3, 10, 15, 59, 30, tzinfo=UTC)
LATER = NOW + timedelta(minutes=30)
S = ReservationStatus


class TestLifecycle:
    @pytest.mark.parametrize(("answer", "status"), [
        ("Accepted", S.ACTIVE), ("Occupied", S.REFUSED), ("Faulted", S.REFUSED),
        ("Rejected", S.REFUSED), ("Unavailable", S.REFUSED), ("timeout", S.REFUSED)])
    def test_the_answer_decides_active_or_refused(self, answer: str,
                                                  status: ReservationStatus) -> None:
        """Only Accepted holds the connector."""
        assert status is after_answer(answer)

    @pytest.mark.parametrize("status", [S.PENDING, S.ACTIVE])
    def test_open_reservations_expire_at_their_time(self, status: ReservationStatus) -> None:
        """Open until the instant of expiry, expired from it on."""
        assert (status, S.EXPIRED) == (current(status, LATER, LATER - timedelta(seconds=1)),
                                       current(status, LATER, LATER))

    @pytest.mark.parametrize("status", [S.USED, S.CANCELLED, S.REFUSED, S.REMOVED])
    def test_ended_reservations_never_change(self, status: ReservationStatus) -> None:
        """An ended reservation is not 'expired' afterwards."""
        assert status is current(status, NOW, LATER)

    def test_expiry_must_be_in_the_future_and_aware(self) -> None:
        """Now or earlier, or a naive time, is refused."""
        check_request(LATER, NOW)
        for bad in (NOW, NOW - timedelta(seconds=1), LATER.replace(tzinfo=None)):
            with pytest.raises(ValueError, match=r"expire|aware"):
                check_request(bad, NOW)


class TestConsume:
    def test_the_reserved_token_in_any_case_consumes_it(self) -> None:
        """Compared by token key."""
        assert may_consume(S.ACTIVE, LATER, NOW, "04A1B2C3", None, "04a1b2c3")

    def test_another_token_does_not(self) -> None:
        """Not the reserved card, no group: refused."""
        assert not may_consume(S.ACTIVE, LATER, NOW, "04A1B2C3", None, "FFFF")
        assert not may_consume(S.ACTIVE, LATER, NOW, "04A1B2C3", None, None)

    def test_a_token_of_the_reserved_group_does(self) -> None:
        """1.6 parentIdTag / 2.0.1 groupIdToken."""
        assert may_consume(S.ACTIVE, LATER, NOW, "A", "FAMILY-3", "B", "family-3")

    @pytest.mark.parametrize("status", [S.PENDING, S.USED, S.CANCELLED, S.REFUSED])
    def test_only_an_active_reservation_is_consumed(self, status: ReservationStatus) -> None:
        """Pending (no answer yet) or ended: no."""
        assert not may_consume(status, LATER, NOW, "A", None, "A")

    def test_an_expired_reservation_is_not_consumed(self) -> None:
        """Past its expiry the token charges like anyone else."""
        assert not may_consume(S.ACTIVE, NOW, NOW, "A", None, "A")


class TestPowerForReservedConnectors:
    @pytest.mark.parametrize(("status", "consumed", "waits"), [
        ("Reserved", False, True), ("Reserved", True, True),
        ("Preparing", True, True), ("Available", True, True), (None, True, True),
        ("Charging", True, False), ("Occupied", True, False), ("SuspendedEV", True, False),
        ("Preparing", False, False), (None, False, False)])
    def test_no_power_until_the_car_is_there(self, status: str | None, consumed: bool,
                                             waits: bool) -> None:
        """A Reserved connector, or a reservation's session without its car, gets nothing."""
        assert waits is awaiting_car(status, consumed)

    def test_held_picks_the_waiting_evses(self) -> None:
        """Applied to a site: only the reserved ones without a car."""
        keys = [("CP", 1), ("CP", 2), ("CP", 3)]
        statuses = {("CP", 1): "Reserved", ("CP", 2): "Preparing", ("CP", 3): "Charging"}
        assert {("CP", 1), ("CP", 2)} == held(keys, statuses,
                                              frozenset({("CP", 2), ("CP", 3)}))
