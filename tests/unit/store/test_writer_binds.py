"""The bulk insert's parameters are what SQLAlchemy itself would bind (csms.store.writer)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects.sqlite import aiosqlite

from csms.store import tables as t
from csms.store.writer import _bind_processor

DIALECT = aiosqlite.dialect()
AT = t.meter_values.c.at
SQLALCHEMY = AT.type.dialect_impl(DIALECT).bind_processor(DIALECT)
OURS = _bind_processor(t.meter_values, "at", DIALECT)
ZONES = st.one_of(st.none(), st.timedeltas(min_value=timedelta(hours=-23, minutes=-59),
                                           max_value=timedelta(hours=23, minutes=59))
                  .map(timezone))


@given(st.datetimes(timezones=ZONES))
def test_a_datetime_is_stored_as_sqlalchemy_stores_it(value: datetime) -> None:
    assert SQLALCHEMY is not None
    assert OURS is not None
    assert SQLALCHEMY(value) == OURS(value)


def test_other_values_are_left_to_sqlalchemy() -> None:
    """A date is formatted as SQLAlchemy does; what it refuses is refused alike."""
    assert SQLALCHEMY is not None
    assert OURS is not None
    assert SQLALCHEMY(date(2027, 1, 31)) == OURS(date(2027, 1, 31))
    with pytest.raises(TypeError) as theirs:
        SQLALCHEMY("2027-01-31")
    with pytest.raises(TypeError) as ours:
        OURS("2027-01-31")
    assert str(theirs.value) == str(ours.value)


def test_other_columns_keep_their_own_processor() -> None:
    """A JSON column is still serialised by SQLAlchemy's processor, a float converted by
    its own."""
    details = t.station_events.c.details.type.dialect_impl(DIALECT).bind_processor(DIALECT)
    ours = _bind_processor(t.station_events, "details", DIALECT)
    assert details is not None
    assert ours is not None
    assert details({"k": [1, "é"]}) == ours({"k": [1, "é"]})
    value = t.meter_values.c.value.type.dialect_impl(DIALECT).bind_processor(DIALECT)
    assert value is _bind_processor(t.meter_values, "value", DIALECT)


@given(st.lists(st.datetimes(timezones=ZONES).filter(lambda v: 2 <= v.year <= 9998),
                min_size=1, max_size=5),
       st.lists(st.integers(min_value=0, max_value=4), max_size=30))
def test_the_last_datetime_kept_is_only_reused_for_that_same_value(
        values: list[datetime], picks: list[int]) -> None:
    """Rows repeat one datetime object (a sample's time, the batch's receiving time) and
    interleave others, equal instants in other zones among them: each is still formatted
    as SQLAlchemy formats it."""
    assert SQLALCHEMY is not None
    ours = _bind_processor(t.meter_values, "at", DIALECT)
    assert ours is not None
    # each value also at the same instant in another zone: equal, but formatted otherwise
    east8 = timezone(timedelta(hours=8))
    values += [value.astimezone(east8) if value.tzinfo else value.replace(tzinfo=east8)
               for value in values]
    for pick in picks:
        value = values[pick % len(values)]
        assert ours(value) == SQLALCHEMY(value)
        assert ours(value) == SQLALCHEMY(value)  # the one kept
