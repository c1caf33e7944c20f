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
