"""What makes two transaction messages the same (csms.domain.transactions). Pure."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from csms.domain.model import IdToken, SessionEvent, SessionEventKind
from csms.domain.transactions import (
    SessionFlag,
    event_fingerprint,
    fell_back,
    needs_review,
    plausible_energy,
    start_fingerprint,
)

T0 = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)

starts = st.builds(
    lambda connector, tag, meter, minutes, reservation: SessionEvent(
        "CP-1", SessionEventKind.STARTED, T0 + timedelta(minutes=minutes), connector, 1, None,
        id_token=IdToken(tag), meter_wh=float(meter), reservation_id=reservation),
    st.integers(1, 4), st.sampled_from(["FREE", "free", "04A1B2C3", "X"]),
    st.integers(0, 3), st.integers(0, 2), st.none() | st.integers(1, 3),
)


def sent_fields(event: SessionEvent) -> tuple[object, ...]:
    """What a 1.6 charger sends in StartTransaction, as the translation gives it."""
    token = event.id_token.value if event.id_token else None
    return (event.evse_id, token, event.meter_wh, event.at, event.reservation_id)


class TestStartFingerprint:
    @given(starts, starts)
    def test_two_starts_are_one_exactly_when_every_sent_field_is_equal(
        self, a: SessionEvent, b: SessionEvent
    ) -> None:
        """Any two starts that differ in any field the charger sent are two sessions."""
        same = sent_fields(a) == sent_fields(b)
        assert same == (start_fingerprint(a) == start_fingerprint(b))

    def test_the_same_instant_in_another_offset_is_the_same_start(self) -> None:
        """20:00Z and 04:00+08:00 are one timestamp."""
        a = SessionEvent("CP-1", SessionEventKind.STARTED, T0, 1, 1, None,
                         id_token=IdToken("A"), meter_wh=0.0)
        shifted = replace(a, at=T0.astimezone(timezone(timedelta(hours=8))))
        assert start_fingerprint(a) == start_fingerprint(shifted)


class TestEventFingerprint:
    def event(self, **changes: object) -> SessionEvent:
        base = SessionEvent("CP-1", SessionEventKind.UPDATED, T0, 1, 1, "TX", seq_no=0,
                            trigger_reason="MeterValuePeriodic")
        return replace(base, **changes)  # type: ignore[arg-type]

    def test_a_retransmission_has_the_same_fingerprint(self) -> None:
        assert event_fingerprint(self.event()) == event_fingerprint(self.event())

    def test_a_reused_seq_no_with_another_type_time_or_trigger_differs(self) -> None:
        """seqNo 0 again, but Ended, later, or another trigger: a new event."""
        base = event_fingerprint(self.event())
        for other in (self.event(kind=SessionEventKind.ENDED),
                      self.event(at=T0 + timedelta(seconds=1)),
                      self.event(trigger_reason="StopAuthorized")):
            assert base != event_fingerprint(other)


class TestReadings:
    def test_a_whole_wh_reading_is_compared_with_at_least_1_wh(self) -> None:
        """12.44 then 12 is rounding; 12.44 then 11.4 is a fall; 0.5 below is a fall when
        neither reading is whole and there is no tolerance."""
        assert (False, True, True) == (fell_back(12.44, 12.0), fell_back(12.44, 11.4),
                                       fell_back(12.7, 12.2))

    def test_a_tolerance_above_1_wh_applies_to_every_reading(self) -> None:
        assert not fell_back(1000.0, 996.0, tolerance_wh=5.0)

    def test_energy_beyond_the_maximum_power_is_implausible(self) -> None:
        """150 kW for 60 s is 2.5 kWh: 909,948 Wh in a minute is not."""
        assert plausible_energy(2500.0, 60, 150_000)
        assert not plausible_energy(909_948.0, 60, 150_000)
        assert plausible_energy(2500.0, 0, 150_000)  # at least a minute is allowed

    def test_review_flags_wait_until_decided(self) -> None:
        flagged = [SessionFlag.IMPLAUSIBLE_BASELINE.value]
        assert (True, False, False, False) == (
            needs_review(flagged), needs_review([*flagged, "reviewed"]),
            needs_review([*flagged, "void"]), needs_review(["superseded"]))
