"""Counters for a simulator run: what was sent, what came back, how fast, how much energy.

One :class:`Stats` may be shared by any number of stations of one event loop (no locking is
needed: asyncio runs one task at a time). Latencies go into a logarithmic histogram with
buckets 2 % wide, so memory stays constant however long the run.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Final

_GROWTH: Final = 1.02
_FLOOR_MS: Final = 0.01


class LatencyHistogram:
    """Quantiles of latencies in milliseconds, accurate to about 2 %; the max is exact."""

    def __init__(self) -> None:
        self._buckets: Counter[int] = Counter()
        self.count = 0
        self.max_ms = 0.0

    def add(self, ms: float) -> None:
        """Record one latency."""
        self._buckets[math.floor(math.log(max(ms, _FLOOR_MS) / _FLOOR_MS, _GROWTH))] += 1
        self.count += 1
        self.max_ms = max(self.max_ms, ms)

    def digest(self) -> dict[str, Any]:
        """``count``, ``p50``, ``p99`` and ``max`` in milliseconds (JSON-ready)."""
        return {"count": self.count, "p50": self.quantile(0.50), "p99": self.quantile(0.99),
                "max": round(self.max_ms, 3)}

    def quantile(self, q: float) -> float | None:
        """The latency below which a fraction ``q`` of the samples lie, or ``None`` if empty."""
        if self.count == 0:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for bucket in sorted(self._buckets):
            seen += self._buckets[bucket]
            if seen >= rank:
                upper = _FLOOR_MS * _GROWTH ** (bucket + 1)
                return round(min(upper, self.max_ms), 3)
        return round(self.max_ms, 3)  # pragma: no cover - ranks never exceed the count


def answer_status(payload: dict[str, Any]) -> str | None:
    """The status an answer carries: ``status``, or ``idTagInfo``/``idTokenInfo`` status."""
    status = payload.get("status")
    if isinstance(status, str):
        return status
    for key in ("idTagInfo", "idTokenInfo"):
        info = payload.get(key)
        if isinstance(info, dict) and isinstance(info.get("status"), str):
            return str(info["status"])
    return None


class Stats:
    """Everything a run counts; :meth:`summary` is the JSON the CLI prints."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        self.received: Counter[str] = Counter()
        self.answers: Counter[str] = Counter()
        self.call_errors: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.latency = LatencyHistogram()
        self.latency_by_action: dict[str, LatencyHistogram] = {}
        # Calls answered once the run's deadline passed, when every running session stops
        # at once: a burst no charger fleet produces in normal operation, kept apart.
        self.stopping = False
        self.latency_at_stop = LatencyHistogram()
        self.energy_wh = 0.0
        self.connected = 0
        self.booted = 0
        self.sessions = 0
        self.online = 0  # gauge: connections open now
        self.charging = 0  # gauge: connectors drawing power now
        self.faulted = 0  # gauge: connectors Faulted now
        self.reconnects = 0
        self.reboots = 0
        self.faults: Counter[str] = Counter()
        self.displayed = 0  # price / cost messages shown on the display

    def call_sent(self, action: str) -> None:
        """We sent a CALL."""
        self.sent[action] += 1

    def call_answered(self, action: str, seconds: float, payload: dict[str, Any]) -> None:
        """Our CALL got a valid CALLRESULT after ``seconds``."""
        ms = seconds * 1000
        self.latency.add(ms)
        by_action = self.latency_by_action.get(action)
        if by_action is None:
            by_action = self.latency_by_action[action] = LatencyHistogram()
        by_action.add(ms)
        if self.stopping:
            self.latency_at_stop.add(ms)
        status = answer_status(payload)
        if status is not None:
            self.answers[status] += 1

    def call_failed(self, action: str, reason: str) -> None:
        """Our CALL got a CALLERROR (``reason`` is its code) or no usable answer."""
        self.call_errors[f"{action}:{reason}"] += 1

    def command_received(self, action: str) -> None:
        """The CSMS sent us a CALL."""
        self.received[action] += 1

    def fault_injected(self, kind: str) -> None:
        """A fault of ``kind`` was injected."""
        self.faults[kind] += 1

    @property
    def messages(self) -> int:
        """CALLs sent plus CSMS commands received so far."""
        return sum(self.sent.values()) + sum(self.received.values())

    @property
    def errors(self) -> int:
        """CALLERRORs and failed calls plus failed stations so far."""
        return sum(self.call_errors.values()) + sum(self.failures.values())

    def station_failed(self, reason: str) -> None:
        """A station gave up (could not connect, lost its connection, ...)."""
        self.failures[reason] += 1

    def summary(self) -> dict[str, Any]:
        """A JSON-ready digest of the run."""
        return {
            "stations_connected": self.connected,
            "boots_accepted": self.booted,
            "sessions_completed": self.sessions,
            "messages_sent": dict(sorted(self.sent.items())),
            "commands_received": dict(sorted(self.received.items())),
            "answers_by_status": dict(sorted(self.answers.items())),
            "call_errors": dict(sorted(self.call_errors.items())),
            "station_failures": dict(sorted(self.failures.items())),
            "latency_ms": self.latency.digest(),
            "latency_ms_by_action": {
                action: h.digest() for action, h in sorted(self.latency_by_action.items())},
            "latency_ms_at_stop": self.latency_at_stop.digest(),
            "energy_wh": round(self.energy_wh, 3),
            "profiles_received": self.received["SetChargingProfile"],
            "faults_injected": dict(sorted(self.faults.items())),
            "reconnects": self.reconnects,
            "reboots": self.reboots,
            "cost_messages_displayed": self.displayed,
        }
