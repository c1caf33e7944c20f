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
