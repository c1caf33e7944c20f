"""Webhook delivery: POST each outbox row to its subscriber until it is accepted.

Rules:
1. A request carries the notice as JSON, ``X-CSMS-Delivery`` (the delivery id, the same on
   every attempt: receivers drop repeats), ``X-CSMS-Timestamp`` (Unix seconds) and
   ``X-CSMS-Signature: sha256=<hex>``, the HMAC-SHA256 with the subscription's secret of
   ``<timestamp>.<body>``.
2. Any 2xx answer delivers. Anything else (another status, a timeout, a refused
   connection) is retried after :func:`backoff_s` (exponential, capped, with jitter) until
   ``webhook_max_attempts`` attempts, then the row is marked failed.
3. A round claims as many rows as it sends at once (``CONCURRENCY``), so every claimed row
   is attempted at once and finishes within its lease (2 x timeout + 5 s); a claim of more
   would leave the last ones waiting past it, to be claimed and sent again by another node.
   Of one charger's rows for one subscription only the oldest is claimable (the outbox's
   rule 2): deliveries arrive in order per charger, one per round, and the next round
   starts at once when this one delivered anything.
4. The deliverer is the composition root's task; pending rows survive restarts because they
   live in the database (csms.store.sharing.outbox), and it starts by sending whatever is due.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta

import httpx
import structlog

from csms.config import SharingSettings
from csms.store.sharing.outbox import Delivery, Outbox

log = structlog.get_logger(__name__)
CONCURRENCY = 8  # rows claimed and sent per round (rule 3)


def backoff_s(attempts: int, initial_s: float, max_s: float, rand: Callable[[], float]) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1, 2, ...): half of
    ``initial_s * 2**(attempts-1)`` (capped at ``max_s``) plus a random part of the other
    half (``rand()`` in [0, 1))."""
    ceiling = min(max_s, initial_s * 2.0 ** min(attempts - 1, 60))
    return ceiling / 2 + ceiling / 2 * rand()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Rule 1: ``sha256=`` and the hex HMAC-SHA256 of ``<timestamp>.<body>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class Deliverer:
    """Sends due deliveries; :meth:`wake` when new ones were queued; run :meth:`run`."""

    def __init__(self, outbox: Outbox, settings: SharingSettings,
                 clock: Callable[[], datetime], rand: Callable[[], float] = random.random
                 ) -> None:
        self._outbox = outbox
        self._s = settings
        self._clock = clock
        self._rand = rand
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled (rule 4)."""
        async with httpx.AsyncClient(timeout=self._s.webhook_timeout_s) as client:
            while True:
                try:
                    due = await self._outbox.claim(self._clock(), self._lease(), CONCURRENCY)
                    outcomes = await asyncio.gather(*(self._attempt(client, d) for d in due))
                except Exception:
                    log.exception("webhooks.round_failed")
                    due, outcomes = [], []
                if len(due) < CONCURRENCY and not any(outcomes):
                    await self._sleep()

    def _lease(self) -> timedelta:
        return timedelta(seconds=self._s.webhook_timeout_s * 2 + 5)

    async def _sleep(self) -> None:
        wait = self._s.webhook_poll_interval_s
        due = await self._outbox.next_due()
        if due is not None:
            wait = max(0.0, min(wait, (due - self._clock()).total_seconds()))
        self._wake.clear()
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), wait)

    async def _attempt(self, client: httpx.AsyncClient, d: Delivery) -> bool:
        """Whether ``d`` was delivered."""
        error = await self._post(client, d)
        now = self._clock()
        if error is None:
            await self._outbox.delivered(d.id, now)
            log.info("webhooks.delivered", delivery_id=d.delivery_id, attempts=d.attempts + 1)
            return True
        attempts = d.attempts + 1
        retry_at = None
        if attempts < self._s.webhook_max_attempts:
            retry_at = now + timedelta(seconds=backoff_s(
                attempts, self._s.webhook_backoff_initial_s, self._s.webhook_backoff_max_s,
                self._rand))
        await self._outbox.failed(d.id, error, retry_at)
        log.warning("webhooks.attempt_failed", delivery_id=d.delivery_id, attempts=attempts,
                    error=error, gave_up=retry_at is None)
        return False

    async def _post(self, client: httpx.AsyncClient, d: Delivery) -> str | None:
        """None if accepted, else why not."""
        body = json.dumps({"delivery_id": d.delivery_id, **d.payload},
                          ensure_ascii=False, separators=(",", ":")).encode()
        stamp = int(self._clock().timestamp())
        headers = {"Content-Type": "application/json", "X-CSMS-Delivery": d.delivery_id,
                   "X-CSMS-Timestamp": str(stamp),
                   "X-CSMS-Signature": signature(d.secret, stamp, body)}
        try:
            answer = await client.post(d.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if 200 <= answer.status_code < 300:
            return None
        return f"HTTP {answer.status_code}"
