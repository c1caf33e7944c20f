"""Is a charger's clock plausible (csms.domain.clock): pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from csms.domain.clock import ClockProblem, clock_anomaly

RECEIVED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
REGISTERED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TOLERANCE = timedelta(minutes=5)


class TestClockAnomaly:
    @pytest.mark.parametrize("reported", [
        RECEIVED, RECEIVED - timedelta(days=30), RECEIVED + TOLERANCE,
        REGISTERED - TOLERANCE])
    def test_plausible(self, reported: datetime) -> None:
        """Between registration (minus the tolerance) and now plus the tolerance: fine."""
        assert clock_anomaly(reported, RECEIVED, REGISTERED, TOLERANCE) is None

    def test_a_dead_rtc_reporting_1970(self) -> None:
        """1970 is before the charger's registration."""
        found = clock_anomaly(datetime(1970, 1, 1, tzinfo=UTC), RECEIVED, REGISTERED,
                              TOLERANCE)
        assert found is not None
        assert ClockProblem.BEFORE_REGISTRATION == found.problem
        assert found.skew_s < -50 * 365 * 86400

    def test_in_the_future_beyond_the_tolerance(self) -> None:
        """Six minutes ahead with five of tolerance: in the future, skew +360 s."""
        found = clock_anomaly(RECEIVED + timedelta(minutes=6), RECEIVED, REGISTERED,
                              TOLERANCE)
        assert found is not None
        assert (ClockProblem.IN_THE_FUTURE, 360.0) == (found.problem, found.skew_s)

    def test_unknown_registration_checks_only_the_future(self) -> None:
        """Without a registration time, only the future is checked."""
        assert clock_anomaly(datetime(1970, 1, 1, tzinfo=UTC), RECEIVED, None,
                             TOLERANCE) is None
