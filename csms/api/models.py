"""Shared pieces of the API's models: the list envelope and its paging parameters, checked
text, time and id types, the error answers endpoints declare, and store errors as HTTP.

Rules:
1. A list answers ``{"items", "total", "limit", "offset"}`` (:class:`Page`); ``limit`` is
   capped at ``api.page_size_max``.
2. Text fields are stripped and may not hold control characters (PostgreSQL refuses NUL);
   times must carry an offset and are kept in UTC; ids fit the database's 32-bit integers.
3. A store error becomes 404, 409, or a 422 whose ``detail[].loc`` names the body field
   (the same shape as FastAPI's own validation errors).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, HTTPException, Query, status
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, PlainSerializer

from csms.api.access import Principal, in_scope
from csms.api.deps import CsmsDep
from csms.store.access import Location
from csms.store.organisation import BadReference, Conflict, NotFound, StoreError

T = TypeVar("T")
# A calendar month, as the statements and reports take it: 1970-01 to 2999-12 (datetime has
# no year 0, and a report of year 9999 has no following month).
MONTH = r"^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])$"
MAX_ID = 2**31 - 1
DEFAULT_PAGE_SIZE = 50

Responses = dict[int | str, dict[str, Any]]
FORBIDDEN: Responses = {
    403: {"description": "the role may not do this, or it is outside the token's scope"}}
ONE: Responses = {**FORBIDDEN, 404: {"description": "no such resource"}}
CONFLICT: Responses = {
    409: {"description": "conflicts with an existing resource, or is still referenced"}}
WRITE: Responses = {**FORBIDDEN, **CONFLICT}
WRITE_ONE: Responses = {**ONE, **CONFLICT}


class Page(BaseModel, Generic[T]):
    """One slice of a list: ``items`` from ``offset``, at most ``limit``; ``total`` matched."""

    items: list[T]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class Paging:
    limit: int
    offset: int


def paging(
    csms: CsmsDep,
    limit: Annotated[int, Query(ge=1, le=MAX_ID, description="page size; capped at the "
                                "server's api.page_size_max")] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, le=MAX_ID, description="items to skip")] = 0,
) -> Paging:
    """The requested page, its size capped at ``api.page_size_max``."""
    return Paging(min(limit, csms.settings.api.page_size_max), offset)


PagingDep = Annotated[Paging, Depends(paging)]


def _printable(value: str | None) -> str | None:
    if value is None:  # an optional field sent as null (`Annotated[str | None, ..., Printable]`)
        return value
    if any(ord(c) < 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise ValueError("must not contain control characters")
    return value


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range") from None


def _not_null(value: T | None) -> T:
    if value is None:
        raise ValueError("may be left out, but not null")
    return value


Printable = AfterValidator(_printable)
NotNull = AfterValidator(_not_null)
UtcTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
AsNumber = PlainSerializer(float, return_type=float, when_used="json")  # Decimal out as number
Latitude = Annotated[Decimal, Field(ge=-90, le=90, max_digits=8, decimal_places=6,
                                    description="WGS-84 degrees, at most 6 decimals"), AsNumber]
Longitude = Annotated[Decimal, Field(ge=-180, le=180, max_digits=9, decimal_places=6,
                                     description="WGS-84 degrees, at most 6 decimals"),
                      AsNumber]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def found(value: T | None, what: str) -> T:
    """``value``; 404 if there is none."""
    if value is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no such {what}")
    return value


def page_of(items: list[T], total: int, window: Paging) -> Page[T]:
    return Page[T](items=items, total=total, limit=window.limit, offset=window.offset)


@contextmanager
def store_errors() -> Iterator[None]:
    """Turn the store's errors into HTTP answers (module rule 3)."""
    try:
        yield
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except Conflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except BadReference as exc:
        raise RequestValidationError([{
            "type": "unknown_reference", "loc": ("body", exc.field), "msg": str(exc),
            "input": exc.value,
        }]) from exc
    except StoreError as exc:  # pragma: no cover - every kind is mapped above
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


def require_reference_scope(principal: Principal, location: Location | None) -> None:
    """403 if a resource a write refers to lies outside the principal's scope. A reference
    that does not exist is left to the store (422 naming the field)."""
    if location is not None and not in_scope(principal, location.district_id,
                                             location.community_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "outside the token's scope")
