"""What one session end costs the store: statements, thread hops, seconds (issue 18, part 2).

Run by path, with ``PYTHONPATH`` naming the CSMS tree under test, against a network that
``bench/evening_setup.py`` wrote (``python -m bench.ends`` does both, for the working tree
and ``--compare REV``); it imports nothing from ``bench``::

    python bench/end_cost.py --config csms.toml --chargers 1000

Pinned to one CPU, it starts a session on every connector of ``--chargers`` chargers
(even ones OCPP 1.6 StartTransaction, odd ones 2.0.1 TransactionEvent Started, through the
handlers' own translation and the store's ``SessionRecorder`` with billing attached, as
``csms run`` wires it), records one sample of 8 values per session, then ends them all at
once (StopTransaction / TransactionEvent Ended, each its own group-committed unit, all
submitted together so the writer batches them as it does in a stop burst). It prints one
JSON line: ends per second, and per end the SQL statements executed and the thread hops
(calls into aiosqlite's worker thread), plus the statements of one end run alone.

Only the store's part of an end is measured: no WebSocket, no event-bus listeners (load
management, safety, sharing react after the answer).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import event

from csms.app import store_only
from csms.config import load_settings
from csms.domain import authorization
from csms.domain.model import Authorization
from csms.store.billing.store import SessionBilling
from csms.store.repository import Store
from csms.store.sessions import Limits
from csms.tariffs.ledger import WalletPolicy


def _translation(version: str) -> ModuleType:
    """The translation module, where the tree under test has it: trees from before the
    handlers were grouped (6756a5e) have it as csms.handlers.translate_vXX (--compare)."""
    try:
        return importlib.import_module(f"csms.handlers.translate.{version}")
    except ModuleNotFoundError:
        return importlib.import_module(f"csms.handlers.translate_{version}")


tr16, tr201 = _translation("v16"), _translation("v201")


class Counts:
    """Statements (by their first words) and aiosqlite thread hops while ``on``."""

    def __init__(self) -> None:
        self.on = False
        self.statements: Counter[str] = Counter()
        self.hops = 0
        self.hop_s = 0.0  # wall time spent waiting for the worker thread

    def statement(self, sql: str) -> None:
        if self.on:
            self.statements[" ".join(sql.split())[:90]] += 1


def _hook(store: Store, counts: Counts) -> None:
    def before(_c: Any, _cur: Any, sql: str, *_: Any) -> None:
        counts.statement(sql)

    event.listen(store.engine.sync_engine, "before_cursor_execute", before)
    import aiosqlite.core

    original = aiosqlite.core.Connection._execute

    async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if not counts.on:
            return await original(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]
        counts.hops += 1
        t0 = time.perf_counter()
        try:
            return await original(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]
        finally:
            counts.hop_s += time.perf_counter() - t0

    aiosqlite.core.Connection._execute = counted  # type: ignore[method-assign]


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _register(wh: int, at: datetime, context: str) -> list[dict[str, Any]]:
    return [{"timestamp": _stamp(at), "sampledValue": [
        {"value": wh, "context": context, "measurand": "Energy.Active.Import.Register",
         "unitOfMeasure": {"unit": "Wh"}}]}]


SAMPLED = [("Power.Active.Import", "W", 7040.0), ("Current.Import", "A", 30.5),
           ("Voltage", "V", 230.4), ("Current.Offered", "A", 32.0),
           ("Power.Offered", "W", 7040.0), ("SoC", "Percent", 55.0)]


class Connector:
    """One connector's session, as the messages a charger sends for it."""

    def __init__(self, i: int, c: int, at: datetime) -> None:
        self.station = f"EVE-{i:05d}"
        self.v201 = i % 2 == 1
        self.c = c
        self.tag = f"EVT{i:05d}{c}"
        self.tx = f"{self.station}-{c}"
        self.wh = 100_000 + 1_000 * i + 500 * c
        self.at = at

    def start(self) -> Any:
        if not self.v201:
            return tr16.start_transaction(self.station, {
                "connectorId": self.c, "idTag": self.tag, "meterStart": self.wh,
                "timestamp": _stamp(self.at)})
        return tr201.transaction_event(self.station, {
            "eventType": "Started", "timestamp": _stamp(self.at), "triggerReason": "Authorized",
            "seqNo": 0, "transactionInfo": {"transactionId": self.tx, "chargingState": "Charging"},
            "evse": {"id": self.c, "connectorId": 1},
            "idToken": {"idToken": self.tag, "type": "ISO14443"},
            "meterValue": _register(self.wh, self.at, "Transaction.Begin")})

    def sample(self, minutes: int) -> Any:
        at, wh = self.at + timedelta(minutes=minutes), self.wh + 117 * minutes
        mv = _register(wh, at, "Sample.Periodic")
        mv[0]["sampledValue"] += [{"value": v, "context": "Sample.Periodic", "measurand": m,
                                   "unitOfMeasure": {"unit": u}} for m, u, v in SAMPLED]
        mv[0]["sampledValue"].append({"value": 50.0, "context": "Sample.Periodic",
                                      "measurand": "Frequency", "unitOfMeasure": {"unit": "Hz"}})
        return tr201.transaction_event(self.station, {
            "eventType": "Updated", "timestamp": _stamp(at), "triggerReason": "MeterValuePeriodic",
            "seqNo": 1, "transactionInfo": {"transactionId": self.tx, "chargingState": "Charging"},
            "meterValue": mv}) if self.v201 else None

    def stop(self, minutes: int) -> Any:
        at, wh = self.at + timedelta(minutes=minutes), self.wh + 117 * minutes
        if not self.v201:
            return tr16.stop_transaction(self.station, {
                "transactionId": int(self.tx), "idTag": self.tag, "meterStop": wh,
                "timestamp": _stamp(at), "reason": "EVDisconnected"})
        return tr201.transaction_event(self.station, {
            "eventType": "Ended", "timestamp": _stamp(at), "triggerReason": "EVCommunicationLost",
            "seqNo": 2, "transactionInfo": {"transactionId": self.tx, "chargingState": "Idle",
                                            "stoppedReason": "EVDisconnected"},
            "meterValue": _register(wh, at, "Transaction.End")})


async def measure(config: Path, chargers: int) -> dict[str, Any]:
    settings = load_settings(config)
    now = datetime.now(UTC)
    start_at = now - timedelta(minutes=90)

    def decide(record: authorization.TokenRecord | None) -> Authorization:
        return authorization.decide(record, accept_unknown=False, now=now,
                                    min_balance_yuan=None)

    counts = Counts()
    async with store_only(settings) as store:
        _hook(store, counts)
        recorder = store.sessions
        recorder.limits = Limits(settings.transactions.max_power_w,
                                 settings.safety.register_backwards_tolerance_wh)
        billing = SessionBilling(WalletPolicy(settings.billing.credit_floor_yuan))
        if hasattr(recorder, "end_hooks"):
            recorder.end_hooks.append(billing.session_ended)
        else:  # a tree before the end hooks became a list (--compare REV)
            setattr(recorder, "on_ended", billing.session_ended)  # noqa: B010
        connectors = [Connector(i, c, start_at) for i in range(chargers) for c in (1, 2)]
        for conn, verdict in zip(connectors, await asyncio.gather(
                *(recorder.record(k.start(), decide) for k in connectors)), strict=True):
            if not conn.v201:
                conn.tx = verdict.transaction_ref
        samples = [k.sample(60) for k in connectors]
        await asyncio.gather(*(recorder.record(s, decide) for s in samples if s is not None))
        alone, rest = connectors[0], connectors[1:]
        counts.on = True
        await recorder.record(alone.stop(90), decide)
        counts.on = False
        one = dict(counts.statements)
        one_hops, counts.hops, counts.statements = counts.hops, 0, Counter()
        stops = [k.stop(90) for k in rest]
        counts.on = True
        t0 = time.perf_counter()
        await asyncio.gather(*(recorder.record(s, decide) for s in stops))
        seconds = time.perf_counter() - t0
        counts.on = False
    total = sum(counts.statements.values())
    return {"ends": len(rest), "seconds": round(seconds, 3),
            "ends_per_s": round(len(rest) / seconds, 1),
            "statements_per_end": round(total / len(rest), 2),
            "hops_per_end": round(counts.hops / len(rest), 2),
            "hop_wait_us": round(1e6 * counts.hop_s / max(1, counts.hops), 1),
            "alone": {"statements": sum(one.values()), "hops": one_hops, "list": one}}


def main() -> int:
    p = argparse.ArgumentParser(prog="bench/end_cost.py", description=__doc__)
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--chargers", type=int, required=True)
    p.add_argument("--cpu", type=int, default=0, help="pin to this CPU (default 0)")
    a = p.parse_args()
    if (os.cpu_count() or 1) > a.cpu:
        os.sched_setaffinity(0, {a.cpu})
    print(json.dumps(asyncio.run(measure(a.config, a.chargers))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
