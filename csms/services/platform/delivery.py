"""Delivery of the platform outbox: a token from ``query_token``, then each push, in order.

Rules:
1. Every request is a sealed envelope (csms.city.tcec.envelope) POSTed to
   ``<url>/<interface>``; pushes carry ``Authorization: Bearer <token>``. ``Seq`` counts
   1–9999 and wraps; ``TimeStamp`` is the clock's time in ``platform.timezone``.
2. The token is fetched with ``query_token`` ({OperatorID, OperatorSecret}) and renewed
   when a tenth of its ``TokenAvailableTime`` (at most ``RENEW_BEFORE``) is left; a 4002
   answer drops it (the push is retried with a new one).
3. A push is delivered when the answer verifies and ``Ret`` is 0 (and an order's
   ``ConfirmResult`` is 0). Anything else (busy -1, another code, a timeout, a refused
   connection, an answer that does not verify) is retried ``retry_interval_s`` later, until
   ``max_attempts`` attempts; then it is parked (visible and retriable in the API).
4. Pushes are claimed oldest first, :data:`BATCH` at a time; those of one key (a
   connector's status) are sent one after the other in order, the keys concurrently; so
   every status change arrives, in order (csms.store.platform rule 3).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import structlog

from csms.city.tcec import envelope as env
from csms.config.platform import PlatformSettings
from csms.store.platform import CHARGE_ORDER, Push, PushStore

log = structlog.get_logger(__name__)
BATCH = 8  # also the concurrency: a batch's lease covers one attempt
RENEW_BEFORE = timedelta(seconds=300)


class DeliveryError(Exception):
    """A push was not accepted; the message says why."""


def keys_of(s: PlatformSettings) -> env.Keys:
    return env.Keys(s.data_secret, s.data_iv, s.sig_secret)


class PlatformClient:
    """Sealed requests to the platform with a token kept fresh (rules 1–2)."""

    def __init__(self, settings: PlatformSettings, clock: Callable[[], datetime]) -> None:
        self._s = settings
        self._keys = keys_of(settings)
        self._clock = clock
        self._seq = 0
        self._token: tuple[str, datetime] | None = None
        self._fetching = asyncio.Lock()  # one query_token at a time

    def _next_seq(self) -> int:
        self._seq = self._seq % 9999 + 1
        return self._seq

    async def call(self, client: httpx.AsyncClient, interface: str, data: dict[str, Any],
                   token: str | None) -> env.Answer:
        """POST ``data`` sealed to ``interface``; the verified answer (DeliveryError if the
        request failed or the answer does not verify)."""
        stamp = self._clock().astimezone(ZoneInfo(self._s.timezone)).strftime("%Y%m%d%H%M%S")
        body = env.build_request(self._keys, self._s.operator_id, data, stamp,
                                 self._next_seq())
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        try:
            answer = await client.post(f"{self._s.url.rstrip('/')}/{interface}", json=body,
                                       headers=headers)
            parsed = env.parse_answer(self._keys, answer.json())
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        except (ValueError, env.EnvelopeError) as exc:  # not JSON, or does not verify
            raise DeliveryError(f"bad answer (HTTP {answer.status_code}): {exc}") from exc
        if parsed.ret == env.BAD_TOKEN:
            self._token = None
        return parsed

    async def token(self, client: httpx.AsyncClient) -> str:
        """Rule 2."""
        async with self._fetching:
            now = self._clock()
            if self._token is not None and self._token[1] > now:
                return self._token[0]
            return await self._fetch(client, now)

    async def _fetch(self, client: httpx.AsyncClient, now: datetime) -> str:
        answer = await self.call(client, "query_token", {
            "OperatorID": self._s.operator_id, "OperatorSecret": self._s.operator_secret},
            None)
        data = answer.data or {}
        if answer.ret != env.OK or data.get("SuccStat") != 0 or not data.get("AccessToken"):
            raise DeliveryError(f"query_token refused: Ret {answer.ret} {answer.msg} "
                                f"FailReason {data.get('FailReason')}")
        lifetime = timedelta(seconds=float(data.get("TokenAvailableTime", 7200)))
        self._token = (str(data["AccessToken"]), now + lifetime - min(RENEW_BEFORE,
                                                                       lifetime / 10))
        log.info("platform.token", lifetime_s=lifetime.total_seconds())
        return self._token[0]


def by_key(pushes: list[Push]) -> list[list[Push]]:
    """Rule 4: the pushes grouped by key, each group in the order given."""
    groups: dict[str, list[Push]] = {}
    for push in pushes:
        groups.setdefault(push.push_key, []).append(push)
    return list(groups.values())


class PlatformDeliverer:
    """Sends due pushes; :meth:`wake` when new ones were queued; run :meth:`run`."""

    def __init__(self, pushes: PushStore, settings: PlatformSettings,
                 clock: Callable[[], datetime]) -> None:
        self._pushes = pushes
        self._s = settings
        self._clock = clock
        self._client = PlatformClient(settings, clock)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled; pending rows survive restarts (they are in the database)."""
        async with httpx.AsyncClient(timeout=self._s.timeout_s) as client:
            while True:
                try:
                    due = await self._pushes.claim(self._clock(), self._lease(), BATCH)
                    await asyncio.gather(*(self._in_order(client, group)
                                           for group in by_key(due)))
                except Exception:
                    log.exception("platform.round_failed")
                    await asyncio.sleep(self._s.poll_interval_s)  # not a tight loop
                    continue
                if len(due) < BATCH:
                    await self._sleep()

    def _lease(self) -> timedelta:
        return timedelta(seconds=self._s.timeout_s * 2 + 5)  # token, then the push

    async def _sleep(self) -> None:
        wait = self._s.poll_interval_s
        due = await self._pushes.next_due()
        if due is not None:
            wait = max(0.0, min(wait, (due - self._clock()).total_seconds()))
        self._wake.clear()
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), wait)

    async def _in_order(self, client: httpx.AsyncClient, pushes: list[Push]) -> None:
        for push in pushes:
            await self._attempt(client, push)

    async def _attempt(self, client: httpx.AsyncClient, push: Push) -> None:
        try:
            await self._push(client, push)
        except DeliveryError as exc:
            attempts = push.attempts + 1
            retry_at = None
            if attempts < self._s.max_attempts:
                retry_at = self._clock() + timedelta(seconds=self._s.retry_interval_s)
            await self._pushes.failed(push.id, str(exc), retry_at)
            log.warning("platform.push_failed", push_id=push.id, interface=push.interface,
                        attempts=attempts, error=str(exc), parked=retry_at is None)
            return
        await self._pushes.delivered(push, self._clock())
        log.info("platform.pushed", push_id=push.id, interface=push.interface,
                 key=push.push_key, attempts=push.attempts + 1)

    async def _push(self, client: httpx.AsyncClient, push: Push) -> None:
        """Rule 3; DeliveryError if not accepted."""
        token = await self._client.token(client)
        answer = await self._client.call(client, push.interface, push.payload, token)
        if answer.ret != env.OK:
            raise DeliveryError(f"Ret {answer.ret}: {answer.msg}"[:200])
        data = answer.data or {}
        if push.interface == CHARGE_ORDER and data.get("ConfirmResult", 0) != 0:
            raise DeliveryError(f"ConfirmResult {data.get('ConfirmResult')}")
