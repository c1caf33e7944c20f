"""Prometheus metrics of one CSMS process, in a registry of its own (no globals).

Rule: every label value comes from a bounded set. An action label is an action OCPP
defines (either version) or ``unknown``: a charger inventing 20,000 action names made
20,000 series (RSS +80 MB, a 37 MB scrape that held the event loop for 5.5 s).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from csms.handlers.ocppj import OcppVersion, actions

UNKNOWN_ACTION = "unknown"
KNOWN_ACTIONS = frozenset().union(*(actions(version) for version in OcppVersion))

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """Counters the OCPP endpoints and the writer report to; also an ``RpcObserver``."""

    def __init__(self, node: str | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        if node is not None:  # which node this is, for a cluster's dashboards (value 1)
            Gauge("csms_node_info", "this CSMS node", ["node"], registry=r).labels(node).set(1)
        self.messages = Counter("csms_ocpp_messages", "OCPP messages by direction and action",
                                ["direction", "action"], registry=r)
        self.callerrors = Counter("csms_ocpp_callerrors", "CALLERRORs sent to chargers by code",
                                  ["code"], registry=r)
        self.refused_frames = Counter("csms_ocpp_refused_frames",
                                      "frames refused by closing the connection, by reason",
                                      ["reason"], registry=r)
        self.refused_handshakes = Counter(
            "csms_ocpp_refused_handshakes", "WebSocket handshakes refused, by reason",
            ["reason"], registry=r)
        self.handler_seconds = Histogram(
            "csms_ocpp_handler_seconds", "time from a charger's CALL to our answer",
            ["action"], buckets=_LATENCY_BUCKETS, registry=r)
        self.commit_seconds = Histogram(
            "csms_db_commit_seconds", "time to run and commit one group-commit batch",
            buckets=_LATENCY_BUCKETS, registry=r)
        self.commit_units = Counter("csms_db_committed_units",
                                    "units of work committed (messages persisted)", registry=r)
        self.gc_pause_seconds = Histogram(
            "csms_gc_pause_seconds", "pauses of the garbage collector, by generation",
            ["generation"], buckets=_LATENCY_BUCKETS, registry=r)
        self.connected = Gauge("csms_connected_charge_points", "connected charge points",
                               ["version"], registry=r)
        self.active_sessions = Gauge("csms_active_sessions", "sessions not yet ended",
                                     registry=r)

    def message_handled(self, action: str, seconds: float, error_code: str | None) -> None:
        if action not in KNOWN_ACTIONS:
            action = UNKNOWN_ACTION
        self.messages.labels("in", action).inc()
        self.messages.labels("out", action).inc()
        self.handler_seconds.labels(action).observe(seconds)
        if error_code is not None:
            self.callerrors.labels(error_code).inc()

    def frame_refused(self, reason: str) -> None:
        self.refused_frames.labels(reason).inc()

    def handshake_refused(self, reason: str) -> None:
        """``reason``: one of a fixed few (csms.handlers.server), never a charger's string."""
        self.refused_handshakes.labels(reason).inc()

    def committed(self, seconds: float, units: int) -> None:
        self.commit_seconds.observe(seconds)
        self.commit_units.inc(units)

    def gc_paused(self, generation: int, seconds: float) -> None:
        self.gc_pause_seconds.labels(str(generation)).observe(seconds)

    def watch_connections(self, count_by_version: Callable[[str], int],
                          versions: list[str]) -> None:
        for version in versions:
            self.connected.labels(version).set_function(
                lambda v=version: count_by_version(v))  # type: ignore[misc]

    def watch_wal(self, frames: Callable[[], int]) -> None:
        """SQLite: pages in the write-ahead log after the last checkpoint."""
        Gauge("csms_sqlite_wal_frames", "SQLite: pages in the write-ahead log at the last "
              "checkpoint", registry=self.registry).set_function(frames)

    def watch_sites(self, owned: Callable[[], int]) -> None:
        """In a cluster: how many sites this node allocates (csms.services.load.cluster)."""
        Gauge("csms_load_sites_owned", "sites whose load this node allocates",
              registry=self.registry).set_function(owned)

    async def render(self) -> bytes:
        """The exposition text, rendered in a worker thread: a scrape never holds the loop
        for the whole rendering (prometheus_client's values are locked, so this is safe)."""
        return await asyncio.to_thread(generate_latest, self.registry)
