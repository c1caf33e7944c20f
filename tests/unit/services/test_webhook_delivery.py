"""Webhook pieces without I/O: backoff, signature, and which subscription wants a notice."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from csms.services.sharing.feed import Notice
from csms.services.sharing.webhooks import backoff_s, signature
from csms.store.sharing.outbox import Subscription, matches

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def sub(district: int | None = None, community: int | None = None,
        kinds: tuple[str, ...] = ("alarm",), min_level: int = 3,
        active: bool = True) -> Subscription:
    return Subscription(1, "http://x", district, community, kinds, min_level, active, None,
                        "t", T0, "s" * 16)


def alarm(community: int | None, district: int | None, level: int = 1) -> Notice:
    return Notice("alarm", T0, "CP-1", community, district, {}, level=level)


class TestBackoff:
    @pytest.mark.parametrize(("attempts", "low", "high"),
                             [(1, 0.5, 1.0), (2, 1.0, 2.0), (4, 4.0, 8.0), (30, 50.0, 100.0)])
    def test_doubles_per_attempt_within_jitter_and_cap(
        self, attempts: int, low: float, high: float
    ) -> None:
        """Half the doubled delay is fixed, half random; capped at the maximum."""
        assert low == backoff_s(attempts, 1.0, 100.0, lambda: 0.0)
        assert high == pytest.approx(backoff_s(attempts, 1.0, 100.0, lambda: 0.999999))


class TestSignature:
    def test_hmac_sha256_of_timestamp_dot_body(self) -> None:
        """The header is sha256= and the HMAC of "<timestamp>.<body>" with the secret."""
        expected = hmac.new(b"k" * 16, b"1700000000.{}", hashlib.sha256).hexdigest()
        assert f"sha256={expected}" == signature("k" * 16, 1700000000, b"{}")


class TestMatches:
    def test_community_scope(self) -> None:
        """A community subscription wants its community only, never unassigned notices."""
        assert matches(sub(community=3), alarm(3, 9))
        assert not matches(sub(community=3), alarm(4, 9))
        assert not matches(sub(community=3), alarm(None, None))

    def test_district_scope_and_everything(self) -> None:
        """A district subscription wants its district; an unscoped one wants all."""
        assert matches(sub(district=9), alarm(3, 9))
        assert not matches(sub(district=9), alarm(3, 8))
        assert matches(sub(), alarm(None, None))

    def test_kind_level_and_activity(self) -> None:
        """Other kinds, less severe levels and inactive subscriptions are not matched."""
        assert not matches(sub(kinds=("station_event",)), alarm(3, 9))
        assert not matches(sub(min_level=1), alarm(3, 9, level=2))
        assert matches(sub(min_level=2), alarm(3, 9, level=2))
        assert not matches(sub(active=False), alarm(3, 9))
