"""SQLite through aiosqlite with one thread hand-over per statement instead of three or four.

aiosqlite runs each SQLite connection in a thread of its own; every call into it is a job
queued to that thread and a future resolved back on the event loop (a "hop": two thread
wake-ups and two GIL hand-overs). SQLAlchemy's aiosqlite adapter spends several per
statement: open a cursor, execute, fetch the rows, close the cursor. Measured on a session
end (``bench/end_cost.py``, issue 18): 23 statements took 83 hops, about 60 µs each on this
machine. This adapter makes each statement one job that does all four in the SQLite thread.

Rules:
1. Same SQL, same parameters, same ``sqlite3`` connection, same thread: only the number of
   hand-overs changes. Statements on one connection still run one at a time (the adapter's
   own mutex), and transactions (BEGIN, COMMIT, SAVEPOINT) are statements like any other.
2. Every row is fetched in the job, as SQLAlchemy's adapter already did for its default
   (buffered) cursors; server-side cursors keep SQLAlchemy's own class.
3. What the driver's cursor reports after execution (``description``, ``rowcount``,
   ``lastrowid``) is copied out in the job, so reading it costs no hop.
4. Errors are the driver's, translated by SQLAlchemy's adapter as before.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT


class _Outcome:
    """What a finished ``sqlite3`` cursor reported (Rule 3)."""

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, description: Any = None, rowcount: int = -1,
                 lastrowid: int | None = None) -> None:
        self.description = description
        self.rowcount = rowcount
        self.lastrowid = lastrowid
        self.arraysize = 1

    def close(self) -> None:
        """Nothing to close: the driver's cursor was closed in its job."""


def _run(conn: sqlite3.Connection, operation: str, parameters: Any,
         many: bool) -> tuple[_Outcome, list[Any]]:
    """In SQLite's thread: cursor, execute, fetch, close (Rule 1)."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        outcome = _Outcome(cursor.description, cursor.rowcount, cursor.lastrowid)
        return outcome, cursor.fetchall() if cursor.description else []
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's buffered aiosqlite cursor, one job per statement."""

    __slots__ = ()
    _awaitable_cursor_close = False  # nothing to close in SQLite's thread afterwards

    def __init__(self, adapt_connection: Any) -> None:  # no hop to open a cursor
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = _Outcome()  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._job(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any,
                                 seq_of_parameters: Sequence[Any]) -> Any:
        await self._job(operation, seq_of_parameters, many=True)

    async def _job(self, operation: Any, parameters: Any, *, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            connection = self._connection
            outcome, rows = await connection._execute(
                _run, connection._conn, operation, parameters, many)
        self._cursor = outcome
        self._rows = collections.deque(rows)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor


class OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
    """The aiosqlite DBAPI adapter whose connections use :class:`OneHopCursor`; pass it as
    ``create_async_engine(..., module=OneHopDbapi.load())``."""

    @classmethod
    def load(cls) -> OneHopDbapi:
        import aiosqlite

        return cls(aiosqlite, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        adapted = super().connect(*arg, **kw)
        adapted.__class__ = OneHopConnection  # same layout (no slots of its own)
        return adapted
