"""Prometheus metrics (csms.metrics): bounded labels, rendering off the event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from csms.handlers.ocppj import OcppVersion, Schemas
from csms.metrics import Metrics


def series(metrics: Metrics, name: str) -> set[str]:
    """The action labels of ``name``'s samples."""
    return {sample.labels["action"] for family in metrics.registry.collect()
            for sample in family.samples if sample.name == name}


class TestActionLabels:
    def test_made_up_actions_share_one_series(self) -> None:
        """A thousand invented action names count under ``unknown``; real ones by name."""
        metrics = Metrics()
        for n in range(1000):
            metrics.message_handled(f"MadeUp{n}", 0.001, "NotImplemented")
        metrics.message_handled("Heartbeat", 0.001, None)
        metrics.message_handled("TransactionEvent", 0.001, None)
        assert {"unknown", "Heartbeat", "TransactionEvent"} == series(
            metrics, "csms_ocpp_messages_total")
        assert {"unknown", "Heartbeat", "TransactionEvent"} == series(
            metrics, "csms_ocpp_handler_seconds_count")

    def test_made_up_actions_do_not_grow_the_schema_cache(self) -> None:
        """Checking invented action names leaves the validator cache as it was."""
        schemas = Schemas(OcppVersion.V16)
        schemas.has_action("Heartbeat")
        before = len(schemas._cache)
        for n in range(500):
            assert not schemas.has_action(f"MadeUp{n}")
        assert before == len(schemas._cache)


class _SlowCollector(Collector):
    """A collector that takes a while, as 37 MB of series did."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        time.sleep(0.3)  # simulated rendering work in the scrape's thread, not a wait
        yield GaugeMetricFamily("slow", "a slow metric", value=1.0)


class TestRender:
    async def test_a_slow_scrape_does_not_hold_the_loop(self) -> None:
        """While a scrape renders, other tasks of the loop keep running."""
        metrics = Metrics()
        metrics.registry.register(_SlowCollector())
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        await asyncio.sleep(0)
        start = ticks
        text = await metrics.render()
        during = ticks - start
        ticker.cancel()
        assert b"slow 1.0" in text
        assert during >= 5
