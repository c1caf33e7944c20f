"""OCPP timestamps (csms.handlers.timefmt): RFC 3339 on the wire, aware UTC inside."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csms.handlers.timefmt import format_time, parse_time

NOON = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
BASE = datetime(1970, 1, 1, tzinfo=UTC)

# Aware datetimes 1970..2200 at whole-minute offsets from -14:00 to +14:00.
aware_times = st.builds(
    lambda us, minutes: (BASE + timedelta(microseconds=us)).astimezone(
        timezone(timedelta(minutes=minutes))
    ),
    st.integers(min_value=0, max_value=230 * 366 * 24 * 3600 * 10**6),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
WIRE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


class TestParseTime:
    def test_z(self) -> None:
        """A "Z" timestamp is that instant in UTC."""
        parsed = parse_time("2026-11-27T12:00:00Z")
        assert NOON == parsed
        assert UTC == parsed.tzinfo

    def test_milliseconds(self) -> None:
        """Fractional seconds are kept."""
        assert NOON.replace(microsecond=123000) == parse_time("2026-11-27T12:00:00.123Z")

    def test_seven_fraction_digits(self) -> None:
        """Seven fractional digits (some chargers send them) parse to microseconds."""
        assert NOON.replace(microsecond=123456) == parse_time("2026-11-27T12:00:00.1234567Z")

    @pytest.mark.parametrize(
        "text",
        [
            "2026-11-27T20:00:00+08:00",
            "2026-11-27T07:00:00-05:00",
            "2026-11-27T17:30:00+05:30",
            "2026-11-27T12:00:00+00:00",
            "2026-11-27T12:00:00-00:00",
            "2026-11-28T01:00:00+13:00",
        ],
    )
    def test_offsets_converted_to_utc(self, text: str) -> None:
        """A timestamp with an offset is the same instant, expressed in UTC."""
        parsed = parse_time(text)
        assert NOON == parsed
        assert UTC == parsed.tzinfo
        assert timedelta(0) == parsed.utcoffset()

    def test_offset_across_midnight(self) -> None:
        """An offset can move the UTC date back a day."""
        assert datetime(2026, 11, 26, 16, 30, tzinfo=UTC) == parse_time(
            "2026-11-27T00:30:00+08:00"
        )

    def test_naive_is_utc(self) -> None:
        """A timestamp without offset is taken as UTC."""
        parsed = parse_time("2026-11-27T12:00:00")
        assert NOON == parsed
        assert UTC == parsed.tzinfo

    @pytest.mark.parametrize(
        "text", ["2026-11-27t12:00:00Z", "2026-11-27T12:00:00z", "2026-11-27t12:00:00z"]
    )
    def test_lowercase_t_and_z(self, text: str) -> None:
        """RFC 3339 (section 5.6) allows lowercase "t" and "z"."""
        assert NOON == parse_time(text)

    @pytest.mark.parametrize(
        "text", ["", "yesterday", "27/11/2026 12:00", "2026-13-01T00:00:00Z",
                 "2026-11-27T25:00:00Z", "1764244800"]
    )
    def test_not_a_timestamp(self, text: str) -> None:
        """Text that is not an ISO 8601 timestamp raises ValueError."""
        with pytest.raises(ValueError, match=r"isoformat|month|hour"):
            parse_time(text)

    @pytest.mark.parametrize("text", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
    def test_out_of_range_in_utc(self, text: str) -> None:
        """A timestamp whose UTC time is before year 1 or after 9999 raises ValueError
        (not OverflowError, which the handlers would answer with InternalError)."""
        with pytest.raises(ValueError, match="out of range"):
            parse_time(text)


class TestFormatTime:
    def test_utc(self) -> None:
        """UTC with milliseconds and a Z."""
        assert "2026-11-27T12:00:00.000Z" == format_time(NOON)

    def test_millisecond_precision_truncates(self) -> None:
        """Microseconds are cut to milliseconds, not rounded."""
        assert "2026-11-27T12:00:00.123Z" == format_time(NOON.replace(microsecond=123456))
        assert "2026-11-27T12:00:00.999Z" == format_time(NOON.replace(microsecond=999999))

    def test_offset_converted(self) -> None:
        """A time in another zone is written as the same instant in UTC."""
        cst = datetime(2026, 11, 27, 20, 0, tzinfo=timezone(timedelta(hours=8)))
        assert "2026-11-27T12:00:00.000Z" == format_time(cst)

    @settings(database=None)
    @given(value=aware_times)
    def test_shape(self, value: datetime) -> None:
        """Every formatted time is YYYY-MM-DDTHH:MM:SS.mmmZ, never +00:00."""
        text = format_time(value)
        assert WIRE.fullmatch(text), text
        assert text.endswith("Z")
        assert "+00:00" not in text


class TestRoundTrip:
    @pytest.mark.parametrize(
        "text", ["2026-11-27T12:00:00.000Z", "1999-12-31T23:59:59.999Z",
                 "2028-02-29T00:00:00.001Z"]
    )
    def test_wire_text_survives(self, text: str) -> None:
        """A canonical wire timestamp is formatted back to the same text."""
        assert text == format_time(parse_time(text))

    @settings(database=None)
    @given(value=aware_times)
    def test_parse_of_format_is_the_instant_to_the_millisecond(self, value: datetime) -> None:
        """parse_time(format_time(t)) is t, in UTC, cut to milliseconds."""
        expected = value.astimezone(UTC).replace(microsecond=value.microsecond // 1000 * 1000)
        parsed = parse_time(format_time(value))
        assert expected == parsed
        assert UTC == parsed.tzinfo

    @settings(database=None)
    @given(value=aware_times)
    def test_format_is_idempotent(self, value: datetime) -> None:
        """Formatting a parsed formatted time gives the same text."""
        text = format_time(value)
        assert text == format_time(parse_time(text))
