"""SQLite WAL checkpoints off the writer's path (issue 18).

SQLite copies the write-ahead log back into the database file (a checkpoint) inside the
COMMIT that takes the log past ``wal_autocheckpoint`` pages (1,000 by default). That
commit then also writes up to 4 MB into the database file and syncs it: in the evening
benchmark one commit in every ~5 s took 80-110 ms instead of a few, and every charger
waiting on that group commit was answered that much later (the steady p99).

Rules:
1. With ``[database] sqlite_checkpoint_interval_s`` above 0 (the default, 1 s), every
   connection of the engine has ``wal_autocheckpoint=0`` (csms.store.engine), and this task
   checkpoints every interval on a connection of its own, in a thread: a PASSIVE
   checkpoint, which copies what no reader still needs and never waits for the writer or a
   reader, so commits only ever append to the log. With 0, SQLite checkpoints in the
   commit as it always did.
2. Durability does not change: a commit is in the log, synced (``synchronous``), before it
   returns; a checkpoint only moves committed pages, and the checkpointer's connection
   syncs them with the engine's own ``synchronous``.
3. The log is reused from its start only when a checkpoint has copied all of it before the
   next write begins. Under a steady stream of commits a PASSIVE checkpoint never gets
   there (new frames arrive while it copies), so the log would only grow (335 MB in ten
   minutes at 10,000 chargers). When a PASSIVE checkpoint leaves more than
   ``restart_frames`` pages (64 MiB) in the log, a TRUNCATE checkpoint follows: it waits
   for the writer's current commit, copies the little PASSIVE left, blocks commits while it
   does, and empties the log file. That is one short stall per 64 MiB written, where
   SQLite's own checkpoints stalled a commit for every 4 MiB. A log still over
   ``WARN_FRAMES`` pages after that (a reader holding an old snapshot) is logged as a
   warning, once until it shrinks again.
4. A failed checkpoint is logged and tried again at the next interval; the commits go on.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from contextlib import suppress
from dataclasses import dataclass
from typing import Final

import structlog
from sqlalchemy.engine import make_url

log = structlog.get_logger(__name__)
RESTART_FRAMES: Final = 16_384  # 64 MiB of log pages of 4 KiB (rule 3)
WARN_FRAMES: Final = 256_000  # about 1 GiB


@dataclass(frozen=True, slots=True)
class Checkpointed:
    """What the last ``PRAGMA wal_checkpoint`` reported: pages in the log, copied."""

    busy: bool
    log_frames: int
    checkpointed_frames: int


def database_file(url: str) -> str | None:
    """The file of a SQLite URL; None for PostgreSQL and in-memory databases."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    name = parsed.database or ""
    if name in ("", ":memory:") or parsed.query.get("mode") == "memory":
        return None
    return name


class Checkpointer:
    """Rule 1's task (:meth:`start`, :meth:`stop`); :meth:`checkpoint` runs one now."""

    def __init__(self, path: str, interval_s: float, synchronous: str,
                 restart_frames: int = RESTART_FRAMES) -> None:
        self._path = path
        self._restart_frames = restart_frames
        self._interval_s = interval_s
        self._synchronous = synchronous
        self._conn: sqlite3.Connection | None = None
        self._using = threading.Lock()  # a cancelled checkpoint's thread may still be in it
        self._task: asyncio.Task[None] | None = None
        self._warned = False
        self.checkpoints = 0  # completed, for tests and metrics
        self.last: Checkpointed | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sqlite-checkpoint")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        await asyncio.to_thread(self._close)

    async def checkpoint(self) -> Checkpointed:
        result = await asyncio.to_thread(self._checkpoint)
        self.checkpoints += 1
        self.last = result
        if result.log_frames > WARN_FRAMES and not self._warned:  # rule 3
            log.warning("store.sqlite.wal_large", log_frames=result.log_frames,
                        checkpointed_frames=result.checkpointed_frames)
        self._warned = result.log_frames > WARN_FRAMES
        return result

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)  # the schedule itself
            try:
                await self.checkpoint()
            except Exception:
                log.exception("store.sqlite.checkpoint_failed")

    def _checkpoint(self) -> Checkpointed:
        """In a worker thread: one PASSIVE checkpoint on our own connection."""
        with self._using:
            if self._conn is None:
                conn = sqlite3.connect(self._path, timeout=10.0, check_same_thread=False,
                                       isolation_level=None)
                conn.execute(f"PRAGMA synchronous={self._synchronous}")  # rule 2
                self._conn = conn
            busy, frames, copied = self._conn.execute(
                "PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if frames > self._restart_frames:  # rule 3
                busy, frames, copied = self._conn.execute(
                    "PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                log.info("store.sqlite.wal_truncated", busy=bool(busy), log_frames=frames)
        return Checkpointed(bool(busy), int(frames), int(copied))

    def _close(self) -> None:
        with self._using:  # after a checkpoint still running in its thread
            if self._conn is not None:
                conn, self._conn = self._conn, None
                conn.close()
