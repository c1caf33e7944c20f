"""Password checks off the event loop, at the lowest CPU priority, with a bounded queue.

A wrong-password flood must not slow the chargers already connected. scrypt is meant to be
expensive (csms.passwords); run in the default executor it competes with the event loop for
the same core at equal priority.

Rules:
1. Checks run on this pool's own threads (one per CPU), each lowered to nice 19 when it
   starts (Linux: a thread has its own nice value), so the event loop keeps its core while
   checks wait for spare cycles.
2. At most ``max_waiting`` checks wait; one more raises :class:`PoolBusy` at once (the
   handshake is answered 503 with ``Retry-After``), so a flood cannot queue unbounded work.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import structlog

from csms import passwords
from csms.store.repository import StationRecord

log = structlog.get_logger(__name__)
LOWEST_PRIORITY = 19


class PoolBusy(Exception):
    """Too many password checks are waiting (rule 2)."""


def _lower_priority() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not Linux: normal priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOWEST_PRIORITY)


class PasswordPool:
    """``await pool.verify(password, stored)`` (module rules)."""

    def __init__(self, threads: int | None = None, max_waiting: int = 512) -> None:
        self.threads = threads or os.cpu_count() or 1
        self.max_waiting = max_waiting
        self.waiting = 0
        self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="password",
                                            initializer=_lower_priority)

    async def verify(self, password: str, stored: str) -> bool:
        """Whether ``password`` matches ``stored``.

        Raises:
            PoolBusy: ``max_waiting`` checks are already waiting.
        """
        if self.waiting >= self.max_waiting:
            raise PoolBusy
        self.waiting += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, passwords.verify, password,
                                              stored)
        finally:
            self.waiting -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


VERIFIED_MAX = 50_000  # verified passwords remembered (a scrypt check costs ~50 ms)


class StationPasswords:
    """A charge point's Basic-auth password checked through a :class:`PasswordPool`, with the
    passwords that verified remembered (a reconnect costs no scrypt) and unknown ids given a
    check of the same cost (csms.handlers.server rule 3)."""

    def __init__(self, pool: PasswordPool) -> None:
        self.pool = pool
        # station id -> (hash, sha256 of the password) that verified: a bounded LRU
        self._verified: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
        self._dummy_hash: str | None = None  # made on first use

    async def check_unknown(self, password: str) -> None:
        """The cost of a real check, for an id that has no password (the answer is no)."""
        if self._dummy_hash is None:
            self._dummy_hash = passwords.hash_password(secrets.token_urlsafe(24))
        await self.pool.verify(password, self._dummy_hash)

    async def authenticated(self, record: StationRecord,
                            credentials: tuple[str, str] | None) -> bool:
        """Whether ``credentials`` (user, password) are the charge point's.

        Raises:
            PoolBusy: too many checks are waiting.
        """
        if credentials is None:
            return False
        if record.password_hash is None:
            await self.check_unknown(credentials[1])
            return False
        user, password = credentials
        if user != record.station_id:
            return False
        digest = hashlib.sha256(password.encode()).digest()
        cached = self._verified.get(record.station_id)
        if cached == (record.password_hash, digest):
            self._verified.move_to_end(record.station_id)
            return True
        ok = await self.pool.verify(password, record.password_hash)
        if ok:
            self._verified[record.station_id] = (record.password_hash, digest)
            while len(self._verified) > VERIFIED_MAX:
                self._verified.popitem(last=False)
        return ok
