"""Failed-authentication throttling: a token bucket per key (charge point id, source address).

Rules:
1. Each key starts with ``burst`` tokens; every failed attempt takes one; tokens come back at
   one per ``refill_s``. A key without tokens is *locked*: its attempts are refused before any
   password is checked, until a token has come back.
2. A success does not refill the id's bucket (a thief who learns the password late does not
   get the guesses back), but it is not counted either.
3. Time is a monotonic seconds value the caller passes: the rules never read a clock.
5. Attempts in flight count: :meth:`FailureThrottle.begin` reserves a token for an attempt
   whose password is still being checked, :meth:`FailureThrottle.end` releases it (a failure
   then takes the token with :meth:`FailureThrottle.failed`). A key whose tokens are all
   reserved is locked too, so fifty guesses sent at once get no more checks than the bucket
   holds.
4. Memory is bounded: at most ``max_keys`` buckets, the least recently touched dropped first
   (a dropped bucket is a full one again, so an attacker can only forget his own history by
   flooding ``max_keys`` other keys, which the per-address bucket limits).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float
    pending: int = 0  # attempts in flight (rule 5)


class FailureThrottle:
    """Token buckets of failed attempts (module rules)."""

    def __init__(self, burst: int, refill_s: float, max_keys: int = 100_000) -> None:
        if burst < 1 or refill_s <= 0 or max_keys < 1:
            raise ValueError("burst and max_keys must be at least 1, refill_s positive")
        self.burst = burst
        self.refill_s = refill_s
        self.max_keys = max_keys
        self._buckets: OrderedDict[Hashable, _Bucket] = OrderedDict()

    def _bucket(self, key: Hashable, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = max(0.0, now - bucket.at)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed / self.refill_s)
            bucket.at = now
        return bucket

    def retry_after_s(self, keys: Iterable[Hashable], now: float) -> float:
        """0 when no key is locked; else the seconds until every one has a token again."""
        wait = 0.0
        for key in keys:
            if key not in self._buckets:
                continue
            bucket = self._bucket(key, now)
            free = bucket.tokens - bucket.pending
            if free < 1:
                wait = max(wait, (1 - free) * self.refill_s)
        return wait

    def begin(self, keys: Iterable[Hashable], now: float) -> bool:
        """Reserve a token of every key for an attempt in flight (rule 5); False, reserving
        nothing, when a key has none free."""
        buckets = [self._bucket(key, now) for key in keys]
        if any(b.tokens - b.pending < 1 for b in buckets):
            return False
        for bucket in buckets:
            bucket.pending += 1
        return True

    def end(self, keys: Iterable[Hashable]) -> None:
        """Release what :meth:`begin` reserved (call :meth:`failed` first for a failure)."""
        for key in keys:
            bucket = self._buckets.get(key)
            if bucket is not None and bucket.pending > 0:
                bucket.pending -= 1

    def failed(self, keys: Iterable[Hashable], now: float) -> list[Hashable]:
        """Take a token from each key; the keys this failure locked (their last token)."""
        locked = []
        for key in keys:
            bucket = self._bucket(key, now)
            before = bucket.tokens
            bucket.tokens = max(0.0, bucket.tokens - 1)
            if before >= 1 > bucket.tokens:
                locked.append(key)
        return locked

    def __len__(self) -> int:
        return len(self._buckets)
