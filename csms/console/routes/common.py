"""What the pages share: paging links and the HTTP answers of API route functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from csms.api.models import Paging

PAGE = 25


@dataclass(frozen=True, slots=True)
class Pager:
    offset: int
    limit: int
    total: int
    prev: str | None  # the query string of the previous page, None on the first
    next: str | None


def paging(offset: int, limit: int = PAGE) -> Paging:
    return Paging(limit, max(0, offset))


def pager(request: Request, window: Paging, total: int) -> Pager:
    def at(offset: int) -> str:
        params = {k: v for k, v in request.query_params.items() if k != "offset" and v}
        return urlencode({**params, "offset": offset})

    prev = at(max(0, window.offset - window.limit)) if window.offset > 0 else None
    nxt = at(window.offset + window.limit) if window.offset + window.limit < total else None
    return Pager(window.offset, window.limit, total, prev, nxt)


def blank_none(value: str | None) -> str | None:
    """A form's empty field as None."""
    return value if value not in (None, "") else None


def int_or_none(value: str | None) -> int | None:
    value = blank_none(value)
    return int(value) if value is not None and value.isdigit() else None


def answer_of(result: BaseModel | JSONResponse) -> tuple[int, Any]:
    """An API route function's answer as (HTTP status, JSON-able body)."""
    if isinstance(result, JSONResponse):
        return result.status_code, orjson.loads(result.body)
    return 200, result.model_dump(mode="json")
