"""Session arithmetic (csms.domain.sessions): energy, register readings, seqNo gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csms.domain.model import MeterSample, SampledValue
from csms.domain.sessions import (
    ENERGY_REGISTER,
    register_readings_wh,
    register_went_backwards,
    seq_gap,
    session_energy_wh,
)

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

registers = st.floats(min_value=0.0, max_value=1e12, allow_nan=False, allow_infinity=False)
optional_registers = st.none() | registers
seq_numbers = st.integers(min_value=0, max_value=2**31 - 1)


def sample(minutes: float, *values: SampledValue) -> MeterSample:
    return MeterSample(T0 + timedelta(minutes=minutes), values)


def typical_sample(minutes: float, register_wh: float) -> MeterSample:
    """What a three-phase charger reports: the register, its phases, power, currents..."""
    return sample(
        minutes,
        SampledValue(register_wh, ENERGY_REGISTER, "Wh", context="Sample.Periodic"),
        SampledValue(register_wh / 3, ENERGY_REGISTER, "Wh", phase="L1"),
        SampledValue(register_wh / 3, ENERGY_REGISTER, "Wh", phase="L2"),
        SampledValue(register_wh / 3, ENERGY_REGISTER, "Wh", phase="L3"),
        SampledValue(7012.5, "Power.Active.Import", "W"),
        SampledValue(10.2, "Current.Import", "A", phase="L1"),
        SampledValue(812.0, "Energy.Active.Export.Register", "Wh"),
        SampledValue(64.0, "SoC", "Percent", location="EV"),
    )


class TestSessionEnergy:
    def test_stop_minus_start(self) -> None:
        """Energy is the register at stop minus the register at start."""
        assert 13678.0 == session_energy_wh(1520340.0, 1534018.0)

    def test_unchanged_register(self) -> None:
        """A register that did not move gives 0."""
        assert 0.0 == session_energy_wh(1520340.0, 1520340.0)

    def test_register_went_backwards_gives_zero(self) -> None:
        """A register lower at stop than at start (meter swap, reset) gives 0, not negative."""
        assert 0.0 == session_energy_wh(1520340.0, 120.0)

    @pytest.mark.parametrize(("start", "stop"), [(None, 1520340.0), (1520340.0, None),
                                                 (None, None)])
    def test_missing_reading_gives_zero(self, start: float | None, stop: float | None) -> None:
        """A missing start or stop reading gives 0."""
        assert 0.0 == session_energy_wh(start, stop)

    @settings(database=None)
    @given(start=optional_registers, stop=optional_registers)
    def test_never_negative(self, start: float | None, stop: float | None) -> None:
        """Whatever the readings, the energy is never negative."""
        assert session_energy_wh(start, stop) >= 0.0

    @settings(database=None)
    @given(start=registers, stop=registers)
    def test_equals_difference_when_register_grew(self, start: float, stop: float) -> None:
        """When stop >= start the energy is exactly stop - start, else 0."""
        expected = stop - start if stop >= start else 0.0
        assert expected == session_energy_wh(start, stop)


class TestRegisterWentBackwards:
    @pytest.mark.parametrize(
        ("start", "stop", "expected"),
        [
            (1520340.0, 120.0, True),
            (1520340.0, 1520339.9, True),
            (1520340.0, 1520340.0, False),
            (1520340.0, 1534018.0, False),
            (None, 120.0, False),
            (1520340.0, None, False),
            (None, None, False),
        ],
    )
    def test_cases(self, start: float | None, stop: float | None, expected: bool) -> None:
        """True only when both readings exist and stop is below start."""
        assert expected is register_went_backwards(start, stop)

    @settings(database=None)
    @given(start=optional_registers, stop=optional_registers)
    def test_backwards_means_zero_energy(self, start: float | None, stop: float | None) -> None:
        """A register that went backwards always gives zero energy."""
        if register_went_backwards(start, stop):
            assert 0.0 == session_energy_wh(start, stop)


class TestRegisterReadings:
    def test_only_phaseless_import_register(self) -> None:
        """Of a typical sample only the whole-meter import register counts."""
        samples = [typical_sample(0, 1520340.0), typical_sample(15, 1523418.0)]
        assert [1520340.0, 1523418.0] == register_readings_wh(samples)

    def test_kwh_scaled_to_wh(self) -> None:
        """A kWh reading is multiplied by 1000."""
        samples = [sample(0, SampledValue(1523.5, ENERGY_REGISTER, "kWh"))]
        assert [1523500.0] == register_readings_wh(samples)

    def test_wh_and_missing_unit_unscaled(self) -> None:
        """Wh and an absent unit are taken as Wh."""
        samples = [sample(0, SampledValue(1523418.0, ENERGY_REGISTER, "Wh"),
                          SampledValue(1523419.0, ENERGY_REGISTER, None))]
        assert [1523418.0, 1523419.0] == register_readings_wh(samples)

    @pytest.mark.parametrize("unit", ["W", "kW", "varh", "kvarh", "MWh", "A"])
    def test_other_units_ignored(self, unit: str) -> None:
        """A register reading in a unit that is not an energy unit we know is ignored."""
        assert [] == register_readings_wh([sample(0, SampledValue(5.0, ENERGY_REGISTER, unit))])

    @pytest.mark.parametrize("phase", ["L1", "L2", "L3", "N", "L1-N"])
    def test_phase_readings_ignored(self, phase: str) -> None:
        """A per-phase register reading is ignored."""
        reading = SampledValue(500000.0, ENERGY_REGISTER, "Wh", phase=phase)
        assert [] == register_readings_wh([sample(0, reading)])

    @pytest.mark.parametrize(
        "measurand",
        ["Energy.Active.Export.Register", "Energy.Active.Import.Interval",
         "Energy.Reactive.Import.Register", "Power.Active.Import"],
    )
    def test_other_measurands_ignored(self, measurand: str) -> None:
        """Only Energy.Active.Import.Register is a register reading."""
        assert [] == register_readings_wh([sample(0, SampledValue(5.0, measurand, "Wh"))])

    def test_order_is_sample_order(self) -> None:
        """Readings come in sample order, mixed units scaled, even if they decrease."""
        samples = [
            sample(0, SampledValue(1520.0, ENERGY_REGISTER, "kWh")),
            sample(5, SampledValue(1519000.0, ENERGY_REGISTER, "Wh")),
            sample(10, SampledValue(1521.25, ENERGY_REGISTER, "kWh")),
        ]
        assert [1520000.0, 1519000.0, 1521250.0] == register_readings_wh(samples)

    def test_empty(self) -> None:
        """No samples, no readings; a sample without values, no readings."""
        assert [] == register_readings_wh([])
        assert [] == register_readings_wh([sample(0)])

    def test_accepts_any_iterable(self) -> None:
        """A generator of samples works as well as a list."""
        readings = register_readings_wh(typical_sample(m, 1000.0 * m) for m in range(3))
        assert [0.0, 1000.0, 2000.0] == readings


class TestSeqGap:
    @pytest.mark.parametrize(
        ("last", "seq_no", "expected"),
        [
            (None, 0, 0),
            (None, 1, 1),
            (None, 5, 5),
            (0, 1, 0),
            (4, 5, 0),
            (4, 8, 3),
            (5, 5, 0),
            (5, 2, 0),
        ],
    )
    def test_cases(self, last: int | None, seq_no: int, expected: int) -> None:
        """Missing events before seq_no: first is 0, then last + 1; repeats give 0."""
        assert expected == seq_gap(last, seq_no)

    @settings(database=None)
    @given(last=st.none() | seq_numbers, seq_no=seq_numbers)
    def test_never_negative(self, last: int | None, seq_no: int) -> None:
        """The gap is never negative."""
        assert seq_gap(last, seq_no) >= 0

    @settings(database=None)
    @given(last=seq_numbers, missing=st.integers(min_value=0, max_value=10_000))
    def test_counts_skipped_numbers(self, last: int, missing: int) -> None:
        """After last, seqNo last + 1 + k means k events are missing."""
        assert missing == seq_gap(last, last + 1 + missing)

    @settings(database=None)
    @given(seq_no=seq_numbers)
    def test_first_event_counts_from_zero(self, seq_no: int) -> None:
        """With no event seen, seqNo n means n events (0..n-1) are missing."""
        assert seq_no == seq_gap(None, seq_no)
