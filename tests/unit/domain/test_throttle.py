"""The failed-attempt token buckets (csms.domain.throttle), with time passed in."""

from __future__ import annotations

import pytest

from csms.domain.throttle import FailureThrottle


def test_a_key_locks_on_its_last_token_and_a_token_comes_back_per_refill() -> None:
    throttle = FailureThrottle(burst=3, refill_s=10.0)
    assert 0 == throttle.retry_after_s(["cp"], 0.0)
    assert [[], [], ["cp"]] == [throttle.failed(["cp"], 0.0) for _ in range(3)]
    assert throttle.retry_after_s(["cp"], 0.0) == pytest.approx(10.0)
    assert throttle.retry_after_s(["cp"], 4.0) == pytest.approx(6.0)
    assert 0 == throttle.retry_after_s(["cp"], 10.0)  # one token back
    assert ["cp"] == throttle.failed(["cp"], 10.0)  # ...and used up again at once
    assert 0 == throttle.retry_after_s(["cp"], 100.0)
    assert [[], [], ["cp"]] == [throttle.failed(["cp"], 100.0) for _ in range(3)]  # full again


def test_keys_are_independent_and_memory_is_bounded() -> None:
    throttle = FailureThrottle(burst=1, refill_s=60.0, max_keys=2)
    assert ["a"] == throttle.failed(["a"], 0.0)
    assert 0 == throttle.retry_after_s(["b"], 0.0)
    throttle.failed(["b"], 0.0)
    throttle.failed(["c"], 0.0)  # "a" is the least recently touched: dropped
    assert 2 == len(throttle)
    assert 0 == throttle.retry_after_s(["a"], 0.0)
    assert throttle.retry_after_s(["c"], 0.0) > 0


def test_time_going_backwards_gives_nothing_back() -> None:
    throttle = FailureThrottle(burst=1, refill_s=60.0)
    throttle.failed(["a"], 100.0)
    assert throttle.retry_after_s(["a"], 50.0) == pytest.approx(60.0)


def test_nonsense_limits_are_refused() -> None:
    for args in ((0, 1.0), (1, 0.0)):
        with pytest.raises(ValueError, match="burst"):
            FailureThrottle(*args)


def test_attempts_in_flight_hold_their_tokens() -> None:
    """Rule 5: with a bucket of 3, of five attempts begun at once three are let through; two
    failures and a success leave one token, and the reservations are gone."""
    throttle = FailureThrottle(burst=3, refill_s=60)
    begun = [throttle.begin(["cp"], 0.0) for _ in range(5)]
    assert [True, True, True, False, False] == begun
    assert throttle.retry_after_s(["cp"], 0.0) > 0  # all reserved: locked meanwhile
    assert [] == throttle.failed(["cp"], 1.0)
    throttle.end(["cp"])
    assert [] == throttle.failed(["cp"], 1.0)
    throttle.end(["cp"])
    throttle.end(["cp"])  # the success: not counted (rule 2)
    assert 0 == throttle.retry_after_s(["cp"], 1.0)
    assert throttle.begin(["cp"], 1.0)
    assert not throttle.begin(["cp"], 1.0)  # one token left, and it is reserved
    throttle.end(["cp"])
    throttle.end(["cp"])  # more ends than begins: nothing goes negative
    assert throttle.begin(["cp"], 1.0)


def test_a_begin_reserves_all_keys_or_none() -> None:
    throttle = FailureThrottle(burst=1, refill_s=60)
    assert throttle.begin(["id"], 0.0)
    assert not throttle.begin(["address", "id"], 0.0)  # "id" is reserved: nothing taken
    assert throttle.begin(["address"], 0.0)
