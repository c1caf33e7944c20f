"""A sample's keys, hashed with their shared parts once, are the digests of all their parts
(csms.store.rows): rows stored before and after that change are duplicates alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from csms.domain.model import MeterSample, SampledValue
from csms.store.rows import meter_rows, natural_key

TEXT = st.one_of(st.none(), st.text(max_size=12))
VALUES = st.builds(SampledValue, value=st.floats(allow_nan=False),
                   measurand=st.text(min_size=1, max_size=30), unit=TEXT, phase=TEXT,
                   context=TEXT, location=TEXT)
ZONES = st.timedeltas(min_value=timedelta(hours=-12), max_value=timedelta(hours=14)).map(
    timezone)


@given(st.datetimes(timezones=ZONES), st.lists(VALUES, min_size=1, max_size=10),
       st.one_of(st.none(), st.integers(min_value=1)), st.text(min_size=1, max_size=20),
       st.one_of(st.none(), st.integers(0, 9)), st.one_of(st.none(), st.integers(0, 9)))
def test_each_key_is_the_digest_of_the_values_identifying_parts(
        at: datetime, values: list[SampledValue], session_id: int | None, station: str,
        evse_id: int | None, connector_id: int | None) -> None:
    rows = meter_rows(station, evse_id, connector_id, session_id,
                      [MeterSample(at, tuple(values))], received_at=at)
    instant = at.astimezone(UTC).isoformat()
    expected = [
        natural_key("s", session_id, instant, v.measurand, v.phase, v.location)
        if session_id is not None else
        natural_key("m", station, evse_id, connector_id, instant, v.measurand, v.phase,
                    v.location, v.context)
        for v in values
    ]
    assert [row["sample_key"] for row in rows] == expected
    assert [row["measurand"] for row in rows] == [v.measurand for v in values]
