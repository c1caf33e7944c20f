"""Group commit: many units of work, one transaction, answers only after commit.

Rules:
1. A unit's result is delivered only after the transaction that holds its writes has
   committed; a charger is answered only then (acknowledged means durable).
2. Units run one at a time on one connection, so a read-then-write inside a unit (dedupe
   of a retransmitted StartTransaction) cannot race another unit of this node; unique
   constraints guard against other nodes.
3. If anything in a batch fails, the batch is rolled back and each unit is run again in a
   transaction of its own: one bad unit fails alone, the rest still commit. Units must
   therefore do nothing but database work (no side effects outside the transaction).
4. Bulk rows (meter values) are queued with :meth:`WriteTx.insert_later`, and repeated
   statements (heartbeat times, connector statuses) with :meth:`WriteTx.execute_later`; each
   kind is written with one ``executemany`` just before commit, deferred statements first,
   in the order first queued. A unit must not read back what it deferred (or it flushes
   first). A table marked ``info={"ignore_duplicates": True}`` keeps the first of rows that
   share a unique key (ON CONFLICT DO NOTHING): a retransmitted sample is stored once.
5. The writer owns the store's clock: a batch reads it once, and what its units stamp
   (received, created, updated, priced) is that instant, :attr:`WriteTx.now`.
6. :attr:`WriteTx.cache` memoises rarely-changing reads within one batch (a site's tariff
   versions, read once for all the session ends of a stop burst). Only units submitted
   with ``keeps_cache=True`` leave it as it is: they promise to write nothing that is
   memoised (the session recorder's). After any other unit it is emptied, so the units
   after one that changed a tariff or moved a charger read it afresh.
7. :meth:`WriteTx.at_end` hands an item to a finisher that runs once with every item handed
   to it: set-based work over many units (the pricing of a stop burst's session ends,
   csms.store.billing.batch). It runs after the batch's last unit, or earlier, before a
   unit that does not keep the cache (rule 6: it may change what the finisher reads, a
   tariff or a wallet), so a finisher sees what its units would have seen. Finishers run
   in the order they were first handed an item, in the batch's transaction: what they
   write commits with the units or not at all. :meth:`WriteTx.flush` does not run them,
   so the units of a run of cache-keeping units cannot read what their finisher writes.
"""

from __future__ import annotations

import asyncio
import operator
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

import structlog
from sqlalchemy import Dialect, Executable, Insert, Table, bindparam
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from csms.clock import Clock, system_clock

T = TypeVar("T")
log = structlog.get_logger(__name__)


Collector = Callable[[AsyncConnection, list[Any]], Awaitable[None]]
Finisher = Callable[["WriteTx", list[Any]], Awaitable[None]]


class WriteTx:
    """What a unit of work gets: the connection, and a buffer for bulk inserts."""

    def __init__(self, conn: AsyncConnection, compiled: _Compiled, now: datetime) -> None:
        self.conn = conn
        self.now = now  # the batch's instant, from the writer's clock: stamps what it writes
        self._compiled = compiled
        self._bulk: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
        self._deferred: dict[Executable, list[dict[str, Any]]] = {}
        self._collected: dict[Collector, list[Any]] = {}
        self._at_end: dict[Finisher, list[Any]] = {}
        self.cache: dict[Any, Any] = {}  # rule 6

    def execute_later(self, statement: Executable, params: dict[str, Any]) -> None:
        """Run ``statement`` (a prebuilt one with bind parameters) with ``params`` at the end
        of the batch, in one ``executemany`` with every other unit's use of it."""
        self._deferred.setdefault(statement, []).append(params)

    def collect(self, finish: Collector, item: Any) -> None:
        """Hand ``item`` to ``finish``, which runs once at the end of the batch, before the
        bulk inserts and the commit, with every item collected for it, in order."""
        self._collected.setdefault(finish, []).append(item)

    def insert_later(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows`` into ``table`` at the end of the batch, before commit."""
        for row in rows:
            self._bulk.setdefault((table, tuple(row)), []).append(row)

    def at_end(self, finish: Finisher, item: Any) -> None:
        """Hand ``item`` to ``finish``, which runs once after the batch's last unit, with
        every item handed to it, in order (rule 7)."""
        self._at_end.setdefault(finish, []).append(item)

    @property
    def finishing(self) -> bool:
        """Whether a finisher has items waiting (rule 7)."""
        return bool(self._at_end)

    async def finish(self) -> None:
        """The batch's end: flush, run the finishers (rule 7), and flush what they queued,
        until nothing is left."""
        await self.flush()
        while self._at_end:
            pending, self._at_end = self._at_end, {}
            for finish, items in pending.items():
                await finish(self, items)
            await self.flush()

    async def flush(self) -> None:
        for statement, params in self._deferred.items():
            await self.conn.execute(statement, params)
        self._deferred.clear()
        for finish, items in self._collected.items():
            await finish(self.conn, items)
        self._collected.clear()
        for (table, columns), rows in self._bulk.items():
            insert = self._compiled.get((table, columns))
            if insert is None:
                insert = self._compiled[table, columns] = _BulkInsert(
                    table, columns, self.conn.dialect)
            await self.conn.exec_driver_sql(insert.sql, insert.parameters(rows))
        self._bulk.clear()


class _BulkInsert:
    """An INSERT compiled once per table, column set and dialect, fed with tuples.

    This is what ``conn.execute(table.insert(), rows)`` does, minus its per-row parameter
    processing in Python (measured: about a third of the cost of inserting meter values).
    The columns' own bind processors still run, so stored values are the same.

    On PostgreSQL the rows go as one array per column in a single statement,
    ``INSERT ... SELECT * FROM unnest($1::type[], ...)``, instead of one execution per row:
    PostgreSQL then plans and starts the insert once for the whole batch. Measured with
    the meter-value table and its indexes: about a quarter less of PostgreSQL's CPU per row
    (docs/decisions.md). Rows are inserted in the order given; ON CONFLICT DO NOTHING keeps
    the first of rows that share a unique key, within the statement as across batches.
    """

    def __init__(self, table: Table, columns: tuple[str, ...], dialect: Dialect) -> None:
        self.by_column = dialect.name == "postgresql"
        if self.by_column:
            self.keys = columns
            self.sql = _unnest_insert(table, columns, dialect)
        else:
            statement: Insert = table.insert()
            if table.info.get("ignore_duplicates"):  # rows with a unique natural key: keep one
                statement = sqlite.insert(table).on_conflict_do_nothing()
            compiled = statement.values({c: bindparam(c) for c in columns}).compile(
                dialect=dialect)
            self.sql = str(compiled)
            assert compiled.positiontup is not None  # every async driver we use is positional
            self.keys = tuple(compiled.positiontup)
        processors = (_bind_processor(table, key, dialect) for key in self.keys)
        # the positions whose values a bind processor converts (DATETIME, JSON, ...)
        self.converted = tuple((i, p) for i, p in enumerate(processors) if p is not None)
        keys = self.keys
        self.values: Callable[[dict[str, Any]], tuple[Any, ...]] = (
            operator.itemgetter(*keys) if len(keys) > 1 else lambda row: (row[keys[0]],))

    def parameters(self, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        """The parameters of one ``executemany``: a tuple per row, or on PostgreSQL a single
        tuple of one list per column (``rows`` is never empty)."""
        values, converted = self.values, self.converted
        bound: list[tuple[Any, ...]] = []
        for row in rows:
            row_values = values(row)
            if converted:
                as_list = list(row_values)
                for i, process in converted:
                    if as_list[i] is not None:
                        as_list[i] = process(as_list[i])
                row_values = tuple(as_list)
            bound.append(row_values)
        if self.by_column:
            return [tuple(list(column) for column in zip(*bound, strict=True))]
        return bound


def _bind_processor(table: Table, column: str, dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column's bind processor; for SQLite's DATETIME in its default storage format, an
    equivalent one at half the cost (it is about 4 % of storing a MeterValues)."""
    impl = table.c[column].type.dialect_impl(dialect)
    process = impl.bind_processor(dialect)
    if process is None or not isinstance(impl, sqlite.DATETIME) or (
            impl._storage_format != sqlite.DATETIME._storage_format):
        return process
    general = process
    # The rows of a batch share their datetimes (a sample's time for its 8 values, the
    # batch's receiving time for all): the last one formatted is kept, as one tuple so that
    # value and text always belong together.
    last: list[tuple[Any, Any]] = [(None, None)]

    def sqlite_datetime(value: Any) -> Any:
        """``YYYY-MM-DD HH:MM:SS.ffffff``, the value's own wall time, as SQLAlchemy stores it
        (an aware value's offset is not applied there either); anything else as there."""
        seen, text = last[0]
        if value is seen:
            return text
        if isinstance(value, datetime):
            text = value.isoformat(" ", "microseconds")[:26]
            last[0] = (value, text)  # datetimes are immutable: the same object, the same text
            return text
        return general(value)

    return sqlite_datetime


def _unnest_insert(table: Table, columns: tuple[str, ...], dialect: Dialect) -> str:
    """``INSERT INTO table (a, b) SELECT * FROM unnest($1::A[], $2::B[])``, with ON CONFLICT
    DO NOTHING for a table marked ``ignore_duplicates`` (writer rule 4)."""
    quote = dialect.identifier_preparer
    names = ", ".join(quote.quote(column) for column in columns)
    arrays = ", ".join(
        f"${i}::{table.c[column].type.compile(dialect=dialect)}[]"
        for i, column in enumerate(columns, start=1))
    # names and types come from the table metadata, never from input
    sql = f"INSERT INTO {quote.format_table(table)} ({names}) SELECT * FROM unnest({arrays})"  # noqa: S608
    return sql + " ON CONFLICT DO NOTHING" if table.info.get("ignore_duplicates") else sql


_Compiled = dict[tuple[Table, tuple[str, ...]], _BulkInsert]


Unit = Callable[[WriteTx], Awaitable[T]]


class _Job(Generic[T]):
    __slots__ = ("future", "keeps_cache", "unit")

    def __init__(self, unit: Unit[T], future: asyncio.Future[T], keeps_cache: bool = False
                 ) -> None:
        self.unit = unit
        self.future = future
        self.keeps_cache = keeps_cache


class Writer:
    """Runs submitted units in group-committed transactions; run :meth:`run` as a task."""

    def __init__(
        self,
        engine: AsyncEngine,
        batch_max: int = 512,
        on_commit: Callable[[float, int], None] | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._batch_max = batch_max
        self._queue: asyncio.Queue[_Job[Any]] = asyncio.Queue()
        self._on_commit = on_commit
        self._conn: AsyncConnection | None = None
        self._compiled: _Compiled = {}  # bulk INSERTs, per table and column set

    async def submit(self, unit: Unit[T], *, keeps_cache: bool = False) -> T:
        """Run ``unit`` in the next batch; return its result once committed.
        ``keeps_cache``: the unit writes nothing :attr:`WriteTx.cache` holds (rule 6).

        Raises:
            Whatever the unit raised, or the database error that made its commit fail.
        """
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(unit, future, keeps_cache))
        return await future

    @property
    def queued(self) -> int:
        """Units waiting for the next batch."""
        return self._queue.qsize()

    def post(self, unit: Unit[Any], *, keeps_cache: bool = False) -> None:
        """Run ``unit`` in the next batch without waiting for it: for stamps whose loss in a
        crash costs nothing (a station's last sign of life). A failure is logged."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_log_posted)
        self._queue.put_nowait(_Job(unit, future, keeps_cache))

    async def run(self) -> None:
        """Drain the queue forever (until cancelled), on one connection of its own."""
        try:
            while True:
                jobs = [await self._queue.get()]
                while len(jobs) < self._batch_max and not self._queue.empty():
                    jobs.append(self._queue.get_nowait())
                jobs = [job for job in jobs if not job.future.cancelled()]
                if jobs:
                    await self._run_batch(jobs)
        finally:
            await self._disconnect()

    async def _run_batch(self, jobs: list[_Job[Any]]) -> None:
        started = time.perf_counter()
        try:
            results = await self._transaction(jobs)
        except Exception as exc:  # noqa: BLE001 - rule 3: retry each unit alone
            if len(jobs) == 1:
                _fail(jobs[0], exc)
                return
            log.warning("store.batch.retrying_alone", units=len(jobs), error=repr(exc))
            for job in jobs:
                await self._run_batch([job])
            return
        if self._on_commit is not None:
            self._on_commit(time.perf_counter() - started, len(jobs))
        for job, result in zip(jobs, results, strict=True):
            if not job.future.done():
                job.future.set_result(result)

    async def _transaction(self, jobs: list[_Job[Any]]) -> list[Any]:
        if self._conn is None:
            self._conn = await self._engine.connect()
        try:
            async with self._conn.begin():
                tx = WriteTx(self._conn, self._compiled, self._clock())
                results = []
                for job in jobs:
                    if not job.keeps_cache and tx.finishing:
                        await tx.finish()  # rule 7: before a unit that may change their reads
                    results.append(await job.unit(tx))
                    if not job.keeps_cache:
                        tx.cache.clear()
                await tx.finish()
        except Exception:
            if self._conn.invalidated:  # the connection itself broke: open a new one next time
                await self._disconnect()
            raise
        return results

    async def _disconnect(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()


def _log_posted(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("store.posted_unit_failed", error=repr(future.exception()))


def _fail(job: _Job[Any], exc: Exception) -> None:
    if not job.future.done():
        job.future.set_exception(exc)
