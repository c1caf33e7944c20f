"""The charging-profile engine against the specifications' own examples, then rule by rule.

Where the examples come from (each test names its source):

* OCPP 1.6 edition 2, §3.13.7 "Example data structure for smart charging": the daily
  TxDefaultProfile 100 (11 kW, 6 kW from 08:00 to 20:00). Read in a markdown transcription
  of the spec's chapter 3; the spec gives the profile and the words "limits the power to
  6 kW between 08:00h and 20:00h", not a composite schedule, so the expected periods below
  are that sentence applied.
* OCPP 2.0.1 Edition 3 Errata 2025-09 (OCA), part 6, test cases TC_K_40_CS "Get Composite
  Schedule - Stacking ChargingProfiles" and TC_K_41_CS "... - Combining
  chargingProfilePurposes": profiles and the expected composite schedule, in A, with the
  errata's W multiplier (690 for three phases). The OCPP 1.6 test cases TC_072_CS and
  TC_066_CS use the same profiles (seen only in part: ocpplab.com's transcription cuts off
  after the first profile); they are run below with 1.6 validation.
* The OCTT log of a TC_K_41_CS run, kept by EVerest libocpp
  (tests/lib/ocpp/v201/json/OCCT_TC_K_41_CS/): the exact SetChargingProfile payloads and the
  six periods OCTT required (EVerest's test states them).
* EVerest libocpp's CalculateEnhancedCompositeSchedule_ValidatedBaseline (1.6): the §3.13.7
  profile (EVerest's startSchedule 2023-01-17T17:00) under a stack-level-1 18-minute 2 kW
  profile.

Everything else is built from the rules the engine's docstrings cite and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csms.domain.commands import (
    ChargingProfile,
    ChargingSchedule,
    ProfileKind,
    ProfilePurpose,
    SchedulePeriod,
)
from simulators.model import Hardware, Purpose
from simulators.smartcharging.engine import (
    EffectiveLimit,
    InstalledProfile,
    Supply,
    composite_schedule,
    effective_limit,
    ev_draw_a,
    leading_profile,
)
from simulators.smartcharging.profiles import ProfileStore, StoredProfile
from simulators.smartcharging.rules import (
    Rejection,
    StationContext,
    clear,
    end_transaction,
    install,
    validate,
)

MAX, DEFAULT, TX = ProfilePurpose.STATION_MAX, ProfilePurpose.TX_DEFAULT, ProfilePurpose.TX
ABSOLUTE, RELATIVE, RECURRING = ProfileKind.ABSOLUTE, ProfileKind.RELATIVE, ProfileKind.RECURRING
T = datetime(2024, 8, 21, 12, 24, 36, tzinfo=UTC)
W3 = 690  # the errata's W multiplier for three phases: 230 V x 3


def profile(
    pid: int, purpose: ProfilePurpose, periods: list[tuple[int, float]], *, unit: str = "A",
    stack: int = 0, kind: ProfileKind = ABSOLUTE, start: datetime | None = None,
    duration: int | None = None, phases: int | None = None, recurrency: str | None = None,
    valid_from: datetime | None = None, valid_to: datetime | None = None,
    tx: str | None = None, min_rate: float | None = None,
) -> ChargingProfile:
    schedule = ChargingSchedule(
        unit, tuple(SchedulePeriod(s, limit, phases) for s, limit in periods), duration, start,
        min_rate,
    )
    return ChargingProfile(pid, stack, purpose, kind, schedule, recurrency, valid_from,
                           valid_to, tx)


def on(connector_id: int, item: ChargingProfile) -> InstalledProfile:
    return InstalledProfile(connector_id, item)


def steps(schedule: ChargingSchedule) -> list[tuple[int, float]]:
    return [(p.start_s, round(p.limit, 3)) for p in schedule.periods]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- OCPP 1.6 §3.13.7: the daily default profile -------------------------------------------

SPEC_START = datetime(2013, 1, 1, tzinfo=UTC)


def spec_daily(start: datetime = SPEC_START) -> ChargingProfile:
    """1.6 §3.13.7 verbatim: profile 100, TxDefaultProfile, Recurring Daily, 86400 s, W."""
    return profile(100, DEFAULT, [(0, 11000), (28800, 6000), (72000, 11000)], unit="W",
                   kind=RECURRING, recurrency="Daily", start=start, duration=86400, phases=3)


class TestSpec16DailyExample:
    def test_limits_power_to_6_kw_between_8_and_20(self) -> None:
        """1.6 §3.13.7: "limits the power to 6 kW between 08:00h and 20:00h", every day."""
        day = composite_schedule([on(1, spec_daily())], 1, utc("2024-05-01T00:00:00"), 86400,
                                 "W")
        assert [(0, 11000), (28800, 6000), (72000, 11000)] == steps(day)
        assert {3} == {p.number_phases for p in day.periods}

    def test_recurs_across_midnight_and_merges_equal_neighbours(self) -> None:
        """From 06:00 for a day: the evening 11 kW runs on into the next morning."""
        day = composite_schedule([on(1, spec_daily())], 1, utc("2024-05-01T06:00:00"), 86400,
                                 "W")
        assert [(0, 11000), (7200, 6000), (50400, 11000)] == steps(day)

    def test_in_amps_is_power_over_230_v_times_3_phases(self) -> None:
        """The same example asked for in A (2.0.1 K01.FR.50: A = W / (V x numberPhases))."""
        noon = effective_limit([on(1, spec_daily())], 1, utc("2024-05-01T12:00:00"))
        assert noon.current_a == pytest.approx(6000 / 690)
        assert (noon.power_w, noon.phases) == (6000, 3)

    def test_everest_baseline_stacked_overlay(self) -> None:
        """EVerest ValidatedBaseline: §3.13.7's profile (recurring from 17:00) under a stack
        level 1, 1080 s, 2 kW single-phase profile from 18:00; asked 18:01 to midnight in W."""
        overlay = profile(1, DEFAULT, [(0, 2000)], unit="W", stack=1, phases=1,
                          start=utc("2024-01-17T18:00:00"), duration=1080)
        profiles = [on(1, overlay), on(1, spec_daily(utc("2023-01-17T17:00:00")))]
        result = composite_schedule(profiles, 1, utc("2024-01-17T18:01:00"), 21540, "W")
        assert [(0, 2000), (1020, 11000)] == steps(result)
        assert [1, 3] == [p.number_phases for p in result.periods]


# --- OCPP 2.0.1 errata 2025-09 TC_K_40_CS / TC_K_41_CS, 1.6 TC_072_CS / TC_066_CS ----------

UNTIL = T + timedelta(seconds=401)  # validTo: <current dateTime> + 401 seconds


def tc_k_40(multiplier: float = 1, unit: str = "A") -> list[InstalledProfile]:
    """TC_K_40_CS (errata 6.2.72): two Absolute TxDefaultProfiles on EVSE 1, same start."""
    low = profile(1, DEFAULT, [(0, 6 * multiplier), (100, 8 * multiplier),
                               (200, 10 * multiplier)], unit=unit, duration=400, phases=3,
                  start=T, valid_from=T, valid_to=UNTIL)
    high = profile(2, DEFAULT, [(0, 7 * multiplier), (100, 9 * multiplier)], unit=unit,
                   stack=1, duration=150, phases=3, start=T, valid_from=T, valid_to=UNTIL)
    return [on(1, low), on(1, high)]


def tc_k_41(tx_id: str = "tx-1") -> list[InstalledProfile]:
    """TC_K_41_CS (errata 6.2.73): a 24 h station maximum, a 300 s TxDefaultProfile and a
    260 s TxProfile, all Absolute, stack level 0, from the same start."""
    station = profile(1, MAX, [(0, 10)], start=T, duration=86400, phases=3)
    default = profile(2, DEFAULT, [(0, 6), (60, 10), (120, 8), (180, 15), (260, 8)],
                      duration=300, phases=3, start=T, valid_from=T, valid_to=UNTIL)
    tx = profile(3, TX, [(0, 8), (50, 11), (140, 16), (200, 6), (240, 12)], duration=260,
                 phases=3, tx=tx_id, start=T, valid_from=T, valid_to=UNTIL)
    return [on(0, station), on(1, default), on(1, tx)]


class TestConformanceCases:
    @pytest.mark.parametrize("x", [0, 4])
    def test_tc_k_40_stacking(self, x: int) -> None:
        """Errata 6.2.72/6.2.74, asked x s after startSchedule for 350 s: 7, 9 (level 1) then
        8, 10 (level 0) at 0, 100-x, 150-x, 200-x."""
        result = composite_schedule(tc_k_40(), 1, T + timedelta(seconds=x), 350)
        assert [(0, 7), (100 - x, 9), (150 - x, 8), (200 - x, 10)] == steps(result)
        assert (result.duration_s, result.rate_unit) == (350, "A")

    @pytest.mark.parametrize(("given_in", "asked_in", "factor"),
                             [("W", "W", W3), ("W", "A", 1), ("A", "W", W3)])
    def test_tc_k_40_with_the_errata_w_multiplier(self, given_in: str, asked_in: str,
                                                  factor: float) -> None:
        """Errata 6.2.69: in W with three phases every limit is multiplied by 690."""
        given_factor = W3 if given_in == "W" else 1
        result = composite_schedule(tc_k_40(given_factor, given_in), 1, T, 350, asked_in)
        expected = [(0, 7), (100, 9), (150, 8), (200, 10)]
        assert [(s, round(v * factor, 3)) for s, v in expected] == steps(result)

    def test_tc_k_41_combining_purposes(self) -> None:
        """Errata 6.2.73 with x = 0: 8 (Tx), 10 (max) at 50, 6 (Tx) at 200, 10 (max) at 240,
        8 (TxDefault, the TxProfile has ended) at 260, 10 (max) at 300."""
        profiles = tc_k_41()
        result = composite_schedule(profiles, 1, T, 400, tx_start=T - timedelta(seconds=5),
                                    transaction_id="tx-1")
        assert [(0, 8), (50, 10), (200, 6), (240, 10), (260, 8), (300, 10)] == steps(result)
        sources = [
            effective_limit(profiles, 1, T + timedelta(seconds=p.start_s),
                            tx_start=T, transaction_id="tx-1").source
            for p in result.periods
        ]
        assert [TX, MAX, TX, MAX, DEFAULT, MAX] == [
            None if s is None else s.profile.purpose for s in sources]

    def test_octt_tc_k_41_run_as_logged(self) -> None:
        """The payloads of EVerest's OCTT TC_K_41_CS log (start 12:24:36, durations
        86404/304/264, asked at 12:24:40 for 400 s): the six periods OCTT required."""
        tx = "e23889e3-0fc7-424a-b2e9-dce774521b83"
        profiles = [
            on(0, profile(1, MAX, [(0, 10)], start=T, duration=86404, phases=3)),
            on(1, profile(2, DEFAULT, [(0, 6), (60, 10), (120, 8), (180, 15), (260, 8)],
                          start=T, duration=304, phases=3, valid_from=T,
                          valid_to=utc("2024-08-21T12:31:25"))),
            on(1, profile(2 + 100, TX, [(0, 8), (50, 11), (140, 16), (200, 6), (240, 12)],
                          start=T, duration=264, phases=3, tx=tx)),
        ]
        context = StationContext(frozenset({1}), {1: tx})
        assert [None, None, None] == [validate(p, context) for p in profiles]
        result = composite_schedule(profiles, 1, utc("2024-08-21T12:24:40"), 400,
                                    tx_start=utc("2024-08-21T12:24:38"), transaction_id=tx)
        assert [(0, 8), (46, 10), (196, 6), (236, 10), (260, 8), (300, 10)] == steps(result)

    @pytest.mark.parametrize("version", ["1.6", "2.0.1"])
    @pytest.mark.parametrize(("case", "expected"), [
        (tc_k_40, [(0, 7), (100, 9), (150, 8), (200, 10)]),
        (tc_k_41, [(0, 8), (50, 10), (200, 6), (240, 10), (260, 8), (300, 10)]),
    ], ids=["stacking", "combining"])
    def test_sent_one_by_one_through_set_charging_profile(
        self, version: str, case: Callable[[], list[InstalledProfile]],
        expected: list[tuple[int, float]],
    ) -> None:
        """1.6 TC_072_CS/TC_066_CS and 2.0.1 TC_K_40_CS/TC_K_41_CS send the profiles one by
        one: each is Accepted, none replaces another, the composite is as above."""
        context = StationContext(frozenset({1}), {1: "tx-1"}, version=version)
        installed: tuple[InstalledProfile, ...] = ()
        for placed in case():
            assert validate(placed, context) is None
            installed = install(installed, placed)
        assert len(case()) == len(installed)
        result = composite_schedule(installed, 1, T, 400, tx_start=T, transaction_id="tx-1")
        assert expected == steps(result)


# --- Stacking, purposes, time: built from the rules ---------------------------------------

class TestRules:
    def test_tx_profile_only_during_its_transaction(self) -> None:
        """1.6 §3.13.1: a TxProfile overrules the TxDefaultProfile for its transaction only."""
        profiles = [on(1, profile(1, DEFAULT, [(0, 16)])), on(1, profile(2, TX, [(0, 8)],
                                                                        tx="a"))]
        assert 16 == effective_limit(profiles, 1, T).current_a  # no transaction
        assert 8 == effective_limit(profiles, 1, T, tx_start=T, transaction_id="a").current_a
        assert 16 == effective_limit(profiles, 1, T, tx_start=T, transaction_id="b").current_a

    def test_tx_default_on_connector_0_applies_everywhere_unless_replaced_there(self) -> None:
        """1.6 §3.13.1: connector 0's TxDefaultProfile applies to all connectors; one sent for
        connector > 0 replaces it for that connector only (same stack level)."""
        profiles = [on(0, profile(1, DEFAULT, [(0, 10)])), on(2, profile(2, DEFAULT, [(0, 20)]))]
        assert [10, 20, 32] == [effective_limit(profiles, c, T).current_a for c in (1, 2, 0)]
        higher = [*profiles, on(0, profile(3, DEFAULT, [(0, 12)], stack=1))]
        assert 12 == effective_limit(higher, 2, T).current_a

    def test_a_higher_level_without_a_period_does_not_hide_a_lower_one(self) -> None:
        """2.0.1's leading schedule "has a schedule period defined for that time"; 1.6 §3.13.2:
        without a duration the highest level never falls back."""
        base = on(1, profile(1, DEFAULT, [(0, 10)]))
        short = on(1, profile(2, DEFAULT, [(0, 20)], stack=1, start=T, duration=60))
        assert [(0, 20), (60, 10)] == steps(composite_schedule([base, short], 1, T, 120))
        endless = on(1, profile(2, DEFAULT, [(0, 20)], stack=1, start=T))
        assert [(0, 20)] == steps(composite_schedule([base, endless], 1, T, 120))

    def test_validity_window_and_default_behaviour_before_it(self) -> None:
        """1.6 §3.13.2: a profile valid from the future leaves the default (no constraint,
        §3.13.6: the supply) until validFrom; validTo ends it."""
        later = on(1, profile(1, DEFAULT, [(0, 10)], valid_from=T + timedelta(seconds=30),
                              valid_to=T + timedelta(seconds=90)))
        assert [(0, 32), (30, 10), (90, 32)] == steps(composite_schedule([later], 1, T, 120))

    def test_relative_profile_runs_from_the_transaction_start(self) -> None:
        """Relative: periods count from the start of the transaction."""
        relative = on(1, profile(1, DEFAULT, [(0, 16), (3600, 6)], kind=RELATIVE))
        tx_start = utc("2024-01-01T10:00:00")
        result = composite_schedule([relative], 1, utc("2024-01-01T10:15:00"), 7200,
                                    tx_start=tx_start)
        assert [(0, 16), (2700, 6)] == steps(result)
        alone = composite_schedule([relative], 1, utc("2024-01-01T10:15:00"), 7200)
        assert [(0, 16), (3600, 6)] == steps(alone)  # no transaction: as if it started now

    def test_weekly_recurrence_and_recurrence_cut_by_duration(self) -> None:
        """Recurring Weekly from Monday 00:00: 0 A on weekdays, open at the weekend; a daily
        one lasting 2 h says nothing for the other 22 h."""
        weekly = on(1, profile(1, DEFAULT, [(0, 0), (5 * 86400, 32)], kind=RECURRING,
                               recurrency="Weekly", start=utc("2024-01-01T00:00:00")))
        saturday, next_monday = utc("2024-01-13T12:00:00"), utc("2024-01-15T12:00:00")
        assert [32, 0] == [effective_limit([weekly], 1, t).current_a
                           for t in (saturday, next_monday)]
        daily = on(1, profile(2, DEFAULT, [(0, 8)], kind=RECURRING, recurrency="Daily",
                              start=utc("2024-01-01T06:00:00"), duration=7200, stack=1))
        day = composite_schedule([weekly, daily], 1, utc("2024-01-02T00:00:00"), 86400)
        assert [(0, 0), (21600, 8), (28800, 0)] == steps(day)

    def test_recurring_starts_at_its_start_schedule(self) -> None:
        daily = on(1, profile(1, DEFAULT, [(0, 8)], kind=RECURRING, recurrency="Daily",
                              start=T))
        assert [(0, 32), (60, 8)] == steps(composite_schedule([daily], 1, T - timedelta(
            seconds=60), 120))

    def test_station_maximum_caps_and_connector_0_reports_it(self) -> None:
        """1.6 §3.13.3: the composite is at most the lowest merged schedule; connector 0 is
        the station's own maximum (engine rule 6)."""
        profiles = [on(0, profile(1, MAX, [(0, 11040)], unit="W")),
                    on(1, profile(2, DEFAULT, [(0, 20)]))]
        amps = effective_limit(profiles, 1, T)
        assert (amps.current_a, amps.power_w) == (16, 11040)
        assert [(0, 16)] == steps(composite_schedule(profiles, 0, T, 60))

    def test_phases_follow_the_transaction_period_and_the_supply(self) -> None:
        """1.6 §3.13.7 note: phases are limited by station, EV and cable."""
        profiles = [on(0, profile(1, MAX, [(0, 10)], phases=3)),
                    on(1, profile(2, DEFAULT, [(0, 16)], phases=1))]
        one = effective_limit(profiles, 1, T)
        assert (one.current_a, one.phases, one.power_w) == (10, 1, 2300)
        two_phase = effective_limit(profiles[:1], 1, T, supply=Supply(phases=2))
        assert (two_phase.phases, two_phase.power_w) == (2, 4600)

    def test_watts_convert_with_the_periods_own_phases(self) -> None:
        """2.0.1 K01.FR.49/50: W / (V x numberPhases), 3 phases when absent; 110 V set."""
        single = on(1, profile(1, DEFAULT, [(0, 2300)], unit="W", phases=1))
        assert 10 == effective_limit([single], 1, T).current_a
        three = on(1, profile(1, DEFAULT, [(0, 6600)], unit="W"))
        assert 20 == effective_limit([three], 1, T, supply=Supply(voltage_v=110)).current_a

    def test_min_charging_rate_is_reported_not_enforced(self) -> None:
        item = on(1, profile(1, DEFAULT, [(0, 6900)], unit="W", phases=3, min_rate=2070))
        result = composite_schedule([item], 1, T, 60, "W")
        assert [(0, 6900)] == steps(result)
        assert result.min_rate == pytest.approx(2070)
        assert 3 == effective_limit([item], 1, T).min_rate_a

    def test_composite_starts_on_a_whole_second(self) -> None:
        result = composite_schedule([], 1, T + timedelta(milliseconds=700), 10)
        assert (result.start_at, steps(result)) == (T, [(0, 32)])


class TestEvDraw:
    @pytest.mark.parametrize(("limit_a", "ev_max_a", "min_rate_a", "drawn"), [
        (16, 32, None, 16), (32, 16, None, 16), (6, 32, None, 6), (5.9, 32, None, 0),
        (0, 32, None, 0), (8, 32, 10, 0), (12, 32, 10, 12), (32, 5, None, 0),
    ])
    def test_min_of_ev_and_limit_paused_below_6_a(self, limit_a: float, ev_max_a: float,
                                                  min_rate_a: float | None,
                                                  drawn: float) -> None:
        """Engine rule 8: min(EV maximum, limit); 0 below 6 A or below minChargingRate."""
        limit = EffectiveLimit(limit_a, limit_a * 690, 3, None, min_rate_a)
        assert drawn == ev_draw_a(limit, ev_max_a)


# --- SetChargingProfile, install, ClearChargingProfile --------------------------------------

CONTEXT = StationContext(frozenset({1, 2}), {1: "tx-1"}, max_periods=3, max_stack_level=8,
                         rate_units=frozenset({"A"}))


@pytest.mark.parametrize(("placed", "version", "reason"), [
    (on(3, profile(1, DEFAULT, [(0, 6)], start=T)), "2.0.1", Rejection.UNKNOWN_CONNECTOR),
    (on(1, profile(1, MAX, [(0, 6)], start=T)), "1.6", Rejection.STATION_MAX_OFF_STATION),
    (on(0, profile(1, MAX, [(0, 6)], kind=RELATIVE)), "2.0.1", Rejection.STATION_MAX_RELATIVE),
    (on(0, profile(1, TX, [(0, 6)], tx="tx-1")), "1.6", Rejection.TX_ON_STATION),
    (on(2, profile(1, TX, [(0, 6)])), "1.6", Rejection.NO_TRANSACTION),
    (on(1, profile(1, TX, [(0, 6)], tx="tx-2")), "1.6", Rejection.OTHER_TRANSACTION),
    (on(1, profile(1, TX, [(0, 6)], kind=RELATIVE)), "2.0.1", Rejection.MISSING_TRANSACTION_ID),
    (on(1, profile(1, DEFAULT, [(0, 6)], unit="W")), "1.6", Rejection.UNIT_NOT_ALLOWED),
    (on(1, profile(1, DEFAULT, [(0, 6), (1, 7), (2, 8), (3, 9)])), "1.6",
     Rejection.TOO_MANY_PERIODS),
    (on(1, profile(1, DEFAULT, [(0, 6)], stack=9)), "1.6", Rejection.STACK_LEVEL_TOO_HIGH),
    (on(1, profile(1, DEFAULT, [])), "1.6", Rejection.NO_PERIODS),
    (on(1, profile(1, DEFAULT, [(10, 6)])), "1.6", Rejection.FIRST_PERIOD_NOT_ZERO),
    (on(1, profile(1, DEFAULT, [(0, 6), (0, 7)])), "1.6", Rejection.PERIODS_OUT_OF_ORDER),
    (on(1, profile(1, DEFAULT, [(0, 6)])), "2.0.1", Rejection.MISSING_START),
    (on(1, profile(1, DEFAULT, [(0, 6)], kind=RECURRING, recurrency="Daily")), "1.6",
     Rejection.MISSING_START),
    (on(1, profile(1, DEFAULT, [(0, 6)], kind=RELATIVE, start=T)), "2.0.1",
     Rejection.EXTRA_START),
    (on(1, profile(1, DEFAULT, [(0, 6)], kind=RECURRING, start=T)), "1.6",
     Rejection.NO_RECURRENCY),
    (on(1, profile(1, DEFAULT, [(0, 6)], valid_from=T, valid_to=T)), "1.6",
     Rejection.EMPTY_VALIDITY),
])
def test_set_charging_profile_rejections(placed: InstalledProfile, version: str,
                                         reason: Rejection) -> None:
    context = StationContext(CONTEXT.connector_ids, CONTEXT.transactions, version,
                             CONTEXT.rate_units, CONTEXT.max_periods, CONTEXT.max_stack_level)
    assert reason == validate(placed, context)


@pytest.mark.parametrize(("placed", "version"), [
    (on(0, profile(1, MAX, [(0, 6)], start=T)), "2.0.1"),
    (on(1, profile(1, TX, [(0, 6)])), "1.6"),  # 1.6: the connector's transaction is meant
    (on(1, profile(1, TX, [(0, 6)], tx="tx-1", kind=RELATIVE)), "2.0.1"),
    (on(0, profile(1, DEFAULT, [(0, 6)])), "1.6"),  # 1.6 §7.13: Absolute may omit the start
    (on(1, profile(1, DEFAULT, [(0, 6)], kind=RELATIVE, start=T)), "1.6"),
])
def test_set_charging_profile_accepted(placed: InstalledProfile, version: str) -> None:
    assert None is validate(placed, StationContext(frozenset({1}), {1: "tx-1"}, version))


def test_lenient_start_accepts_2_0_1_absolute_without_start() -> None:
    placed = on(1, profile(1, DEFAULT, [(0, 6)]))
    assert None is validate(placed, StationContext(frozenset({1}), lenient_start=True))


class TestInstallAndClear:
    def test_same_id_replaces_wherever_it_was(self) -> None:
        """1.6 §5.16.3 / 2.0.1 K01.FR.05."""
        first = on(1, profile(7, DEFAULT, [(0, 6)]))
        moved = on(2, profile(7, DEFAULT, [(0, 8)], stack=3))
        assert (moved,) == install((first,), moved)

    def test_same_connector_purpose_and_level_replaces(self) -> None:
        """1.6 §3.13.2: one profile per stack level and purpose (per connector)."""
        a, b = on(1, profile(1, DEFAULT, [(0, 6)])), on(1, profile(2, DEFAULT, [(0, 8)]))
        other_level = on(1, profile(3, DEFAULT, [(0, 8)], stack=1))
        other_connector = on(0, profile(4, DEFAULT, [(0, 8)]))
        other_purpose = on(0, profile(5, MAX, [(0, 8)]))
        result = install((a, other_level, other_connector, other_purpose), b)
        assert (other_level, other_connector, other_purpose, b) == result

    def test_tx_profiles_share_a_level_per_transaction_only(self) -> None:
        old = on(1, profile(1, TX, [(0, 6)], tx="a"))
        same_tx, other_tx = on(1, profile(2, TX, [(0, 7)], tx="a")), on(1, profile(
            3, TX, [(0, 7)], tx="b"))
        assert (same_tx,) == install((old,), same_tx)
        assert (old, other_tx) == install((old,), other_tx)

    def test_clear_by_id_alone_or_by_every_criterion(self) -> None:
        profiles = (on(1, profile(1, DEFAULT, [(0, 6)])),
                    on(1, profile(2, DEFAULT, [(0, 6)], stack=1)),
                    on(0, profile(3, MAX, [(0, 6)])))
        kept, removed = clear(profiles, profile_id=3, connector_id=1)
        assert (profiles[:2], profiles[2:]) == (kept, removed)
        kept, removed = clear(profiles, connector_id=1, stack_level=1)
        assert (profiles[1],) == removed
        assert (profiles, ()) == clear(profiles, purpose=TX)
        assert ((), profiles) == clear(profiles)

    def test_a_transaction_ending_takes_its_tx_profiles(self) -> None:
        mine, other = on(1, profile(1, TX, [(0, 6)], tx="a")), on(2, profile(2, TX, [(0, 6)],
                                                                            tx="b"))
        assert (other,) == end_transaction((mine, other), "a")


# --- Properties -----------------------------------------------------------------------------

@st.composite
def profiles_strategy(draw: st.DrawFn, stacks: tuple[int, int] = (0, 3)) -> InstalledProfile:
    purpose = draw(st.sampled_from([MAX, DEFAULT, DEFAULT, TX]))
    connector = 0 if purpose is MAX else draw(st.sampled_from([0, 1] if purpose is DEFAULT
                                                              else [1]))
    kind = draw(st.sampled_from([ABSOLUTE, RELATIVE, RECURRING]))
    starts = draw(st.lists(st.integers(1, 7200), max_size=3, unique=True))
    unit = draw(st.sampled_from(["A", "W"]))
    limits = st.integers(0, 40) if unit == "A" else st.integers(0, 40 * 690)
    periods = [(s, float(draw(limits))) for s in [0, *sorted(starts)]]
    start = None if kind is RELATIVE else T + timedelta(seconds=draw(st.integers(-7200, 7200)))
    since = draw(st.none() | st.integers(-3600, 3600))
    return on(connector, profile(
        draw(st.integers(1, 10**6)), purpose, periods, unit=unit,
        stack=draw(st.integers(*stacks)), kind=kind, start=start,
        duration=draw(st.none() | st.integers(60, 7200)),
        phases=draw(st.sampled_from([None, 1, 3])),
        recurrency="Daily" if kind is RECURRING else None,
        valid_from=None if since is None else T + timedelta(seconds=since),
        valid_to=None if since is None else T + timedelta(seconds=since + 5400),
        tx=draw(st.sampled_from([None, "tx-1", "tx-2"])) if purpose is TX else None,
    ))


def period_at(schedule: ChargingSchedule, offset: int) -> SchedulePeriod:
    return [p for p in schedule.periods if p.start_s <= offset][-1]


TX_START = T - timedelta(seconds=1800)
HOURS = 4 * 3600


@settings(max_examples=150, deadline=None)
@given(profiles=st.lists(profiles_strategy(), max_size=6),
       offsets=st.lists(st.integers(0, HOURS - 1), min_size=1, max_size=8),
       unit=st.sampled_from(["A", "W"]), tx_start=st.sampled_from([None, TX_START, T]))
def test_composite_agrees_with_effective_limit_everywhere(
    profiles: list[InstalledProfile], offsets: list[int], unit: str, tx_start: datetime | None,
) -> None:
    """Without a transaction a Relative profile is anchored where the question is asked (the
    composite's start, or the instant), so those two answers may differ: left out then."""
    if tx_start is None:
        profiles = [p for p in profiles if p.profile.kind is not RELATIVE]
    schedule = composite_schedule(profiles, 1, T, HOURS, unit, tx_start=tx_start,
                                  transaction_id="tx-1")
    for offset in offsets:
        at = T + timedelta(seconds=offset)
        limit = effective_limit(profiles, 1, at, tx_start=tx_start, transaction_id="tx-1")
        period = period_at(schedule, offset)
        assert (period.limit, period.number_phases) == (limit.in_unit(unit), limit.phases)


@settings(max_examples=150, deadline=None)
@given(profiles=st.lists(profiles_strategy(), max_size=6),
       offset=st.integers(-3600, HOURS))
def test_never_above_the_station_maximum_or_the_supply(
    profiles: list[InstalledProfile], offset: int,
) -> None:
    at = T + timedelta(seconds=offset)
    limit = effective_limit(profiles, 1, at, tx_start=TX_START, transaction_id="tx-1")
    station_only = [p for p in profiles if p.profile.purpose is MAX]
    ceiling = effective_limit(station_only, 1, at, tx_start=TX_START)
    assert limit.current_a <= ceiling.current_a <= Supply().max_current_a


@settings(max_examples=150, deadline=None)
@given(profiles=st.lists(profiles_strategy(stacks=(1, 3)), max_size=6),
       extra=profiles_strategy(stacks=(0, 0)), offset=st.integers(-3600, HOURS))
def test_a_lower_stack_level_changes_nothing_where_a_higher_one_leads(
    profiles: list[InstalledProfile], extra: InstalledProfile, offset: int,
) -> None:
    at = T + timedelta(seconds=offset)
    purpose = extra.profile.purpose
    if leading_profile(profiles, 1, purpose, at, tx_start=TX_START, transaction_id="tx-1"):
        before = effective_limit(profiles, 1, at, tx_start=TX_START, transaction_id="tx-1")
        after = effective_limit([*profiles, extra], 1, at, tx_start=TX_START,
                                transaction_id="tx-1")
        assert before == after


# --- The simulator's profile store over the engine -----------------------------------------

def stored(raw: dict[str, Any], connector_id: int, purpose: Purpose) -> StoredProfile:
    return StoredProfile(raw["chargingProfileId"], connector_id, raw["stackLevel"], purpose, (),
                         None, raw)


class TestProfileStore:
    def test_the_1_6_example_on_the_wire_drives_offer_and_composite(self) -> None:
        raw = {
            "chargingProfileId": 100, "stackLevel": 0, "chargingProfilePurpose":
            "TxDefaultProfile", "chargingProfileKind": "Recurring", "recurrencyKind": "Daily",
            "chargingSchedule": {
                "duration": 86400, "startSchedule": "2013-01-01T00:00Z",
                "chargingRateUnit": "W", "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": 11000, "numberPhases": 3},
                    {"startPeriod": 28800, "limit": 6000, "numberPhases": 3},
                    {"startPeriod": 72000, "limit": 11000, "numberPhases": 3}]},
        }
        store = ProfileStore(Hardware(max_current_a=32))
        store.install(stored(raw, 1, Purpose.TX_DEFAULT))
        assert 6000 == store.limit(1, "W", at=utc("2024-05-01T12:00:00"))
        composite = store.composite(1, 86400, "W", at=utc("2024-05-01T00:00:00"))
        assert [(0, 11000), (28800, 6000), (72000, 11000)] == [
            (p.start_s, p.limit) for p in composite.periods]
        assert composite.limit == 11000

    def test_below_6_a_the_connector_pauses_but_the_composite_tells_the_truth(self) -> None:
        raw = {"chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose":
               "TxDefaultProfile", "chargingProfileKind": "Relative",
               "chargingSchedule": {"chargingRateUnit": "A",
                                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 5}]}}
        store = ProfileStore(Hardware())
        store.install(stored(raw, 1, Purpose.TX_DEFAULT))
        assert (0, 0) == (store.limit(1, "A", at=T), store.limit(1, "W", at=T))
        assert 5 == store.composite(1, 60, None, at=T).limit

    def test_transactions_come_from_the_station_when_it_says(self) -> None:
        raw = {"chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose":
               "TxDefaultProfile", "chargingProfileKind": "Relative",
               "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [
                   {"startPeriod": 0, "limit": 16}, {"startPeriod": 600, "limit": 10}]}}
        store = ProfileStore(Hardware(), transactions=lambda cid: ("t", T) if cid == 1 else None)
        store.install(stored(raw, 0, Purpose.TX_DEFAULT))
        later = T + timedelta(seconds=900)
        assert (10, 16) == (store.limit(1, "A", at=later), store.limit(2, "A", at=later))
