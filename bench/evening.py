"""Evening benchmark: a community network's real night's work, every service on (issue 18).

``python -m bench.evening`` starts the CSMS pinned to CPU 0 (as ``bench.load`` does), with
billing, load management, safety rules, audit, a webhook subscription and a live-feed
subscriber, on a network set up before it starts (``bench/evening_setup.py``: the Yunnan
tariff, a package and a wallet for every resident, load settings for every site). From
CPU 1 it drives ``--chargers`` chargers (odd ones OCPP 2.0.1, even ones 1.6, 2 connectors
each) through the evening's phases and prints every figure beside its target:

1. connect and boot all chargers; the server's memory per idle connection;
2. the evening start: every connector's car arrives (status, Authorize, start);
3. the steady evening: the mix of ``bench.evening_chargers.cycle`` (samples of 8 values,
   heartbeats, session turnovers priced at their end), open loop at ``--rate`` calls/s
   (latency from each call's schedule), then closed loop (the most calls/s one core
   answers; every answered sample checked against ``meter_values``);
4. a reconnect storm: every connection dropped, every charger back at once, booting,
   reporting its connectors and replaying ``--offline-queue`` samples;
5. a stop burst: every running session ends within ``--burst-s`` seconds;
6. a census of the database: every session ended once and priced, wallets debited,
   deliveries sent.

``--db sqlite,postgres`` runs it on both databases, ``--compare REV`` also runs the code of
git revision REV (extracted with ``git archive``; the same load generator) in the same run,
and ``--profile burst`` records the server with py-spy during that phase. See
bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.evening_chargers import POWER_W
from bench.evening_report import Figures, report
from bench.evening_run import EveningOptions, run_one
from bench.machine import REPO, machine_busy, pin_self, raise_file_limit


@dataclass(frozen=True, slots=True)
class Tree:
    """The CSMS code a run starts: the working tree, or a revision extracted to ``path``."""

    label: str
    path: Path

    @classmethod
    def extract(cls, rev: str, into: Path) -> Tree:
        """``git archive REV`` into ``into`` (read-only for the repository)."""
        sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=REPO, text=True,
                             capture_output=True, check=True, timeout=30).stdout.strip()
        into.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", sha], cwd=REPO, capture_output=True,
                                 check=True, timeout=120).stdout
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True, timeout=120)
        return cls(f"{rev} ({sha})", into)

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(self.path)}


def implied_rate(connectors: int, session_h: float = 4.0) -> dict[str, float]:
    """The calls/s of a network of ``connectors`` all charging in the evening: a sample a
    minute per session, a heartbeat every 300 s per charger (2 connectors each), and a
    turnover (stop, statuses, Authorize, start: 6 calls on average over both versions) per
    session of ``session_h`` hours."""
    samples = connectors / 60
    heartbeats = connectors / 2 / 300
    turnovers = connectors / (session_h * 3600)
    return {"samples": samples, "heartbeats": heartbeats, "ends": turnovers,
            "total": samples + heartbeats + 6 * turnovers}


def _parse(argv: Sequence[str] | None) -> EveningOptions:
    p = argparse.ArgumentParser(prog="python -m bench.evening", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chargers", type=int, default=10_000,
                   help="chargers connected (2 connectors each; default 10,000)")
    p.add_argument("--per-site", type=int, default=20, help="chargers per site (20)")
    p.add_argument("--duration-s", type=float, default=20.0,
                   help="length of each steady phase (open and closed loop; default 20)")
    p.add_argument("--rate", type=float, default=500.0,
                   help="calls/s of the open-loop steady phase (default 500)")
    p.add_argument("--burst-s", type=float, default=5.0,
                   help="every running session ends within this (default 5)")
    p.add_argument("--offline-queue", type=int, default=4,
                   help="samples each charger replays after the storm (default 4)")
    p.add_argument("--window", type=int, default=200,
                   help="handshakes in flight while first connecting (default 200)")
    p.add_argument("--storm-window", type=int, default=2000,
                   help="handshakes in flight in the reconnect storm (default 2,000)")
    p.add_argument("--db", default="sqlite", help="sqlite, postgres or both: sqlite,postgres")
    p.add_argument("--compare", default=None, metavar="REV",
                   help="also run the CSMS of git revision REV, in the same run")
    p.add_argument("--profile", default=None,
                   choices=["start", "settle", "open", "closed", "storm", "storm-settle",
                            "burst"],
                   help="record the server with py-spy during this phase")
    p.add_argument("--profile-s", type=float, default=5.0)
    p.add_argument("--profile-out", type=Path, default=Path("bench/results/evening"))
    p.add_argument("--grace-s", type=float, default=60.0,
                   help="how long a phase's calls may still take after its end")
    p.add_argument("--timeout-s", type=float, default=7200.0)
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--keep", action="store_true", help="keep the databases and logs")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    a = p.parse_args(argv)
    dbs = [d.strip() for d in a.db.split(",") if d.strip()]
    if not dbs or any(d not in ("sqlite", "postgres") for d in dbs):
        p.error("--db takes sqlite, postgres or sqlite,postgres")
    if a.chargers < 2 or a.duration_s <= 0 or a.rate <= 0 or a.burst_s <= 0:
        p.error("--chargers (>= 2), --duration-s, --rate and --burst-s must be positive")
    return EveningOptions(a.chargers, a.per_site, a.duration_s, a.rate, a.burst_s,
                          a.offline_queue, a.window, a.storm_window, dbs, a.compare,
                          a.profile, a.profile_s, a.profile_out, a.grace_s, a.timeout_s,
                          a.workdir, a.keep, a.json)


def _head(opts: EveningOptions) -> list[str]:
    from bench.machine import code_version

    rate = implied_rate(2 * opts.chargers)
    ten = implied_rate(10_000)
    return [
        f"csms code: {code_version()}" + (f"; compared with {opts.compare}"
                                          if opts.compare else ""),
        f"machine: nproc={os.cpu_count()}; server pinned to CPU 0, load generator to CPU 1 "
        "(the machine is shared: compare the columns of one run, not runs)",
        f"network: {opts.chargers:,} chargers (even 1.6, odd 2.0.1), 2 connectors each, "
        f"{opts.per_site} per site; every connector charging at {POWER_W / 1000:.2f} kW",
        "services on: billing (Yunnan tariff, a 500 kWh electricity package and a wallet "
        "per resident), load management per site, safety rules, audit, a webhook "
        "subscription (every kind) with a local receiver, a live-feed (SSE) subscriber",
        f"implied evening rate of {2 * opts.chargers:,} connectors: {rate['total']:,.0f} "
        f"calls/s ({rate['samples']:,.0f} samples, {rate['heartbeats']:,.1f} heartbeats, "
        f"{rate['ends']:,.2f} session ends/s at 4 h a session); of a 10,000-connector "
        f"network: {ten['total']:,.0f} calls/s; the open loop runs at {opts.rate:,.0f}",
        f"phases: steady {opts.duration_s:g} s open + {opts.duration_s:g} s closed; storm "
        f"with {opts.offline_queue} offline samples each, {opts.storm_window:,} handshakes "
        f"in flight; stop burst of {2 * opts.chargers:,} sessions in {opts.burst_s:g} s",
    ]


async def _main(opts: EveningOptions) -> list[Figures]:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    busy = await machine_busy()
    print("machine before the run: " + ", ".join(f"CPU {c} {p:.0f} %" for c, p in busy.items()),
          flush=True)
    runs: list[Figures] = []
    tmp = Path(tempfile.mkdtemp(prefix="csms-evening-", dir=opts.workdir))
    try:
        trees = [Tree("this tree", REPO)]
        if opts.compare:
            trees.append(Tree.extract(opts.compare, tmp / "compare"))
        async with asyncio.timeout(opts.timeout_s):
            for db in opts.dbs:
                for tree in trees:
                    print(f"running {tree.label} on {db} ...", flush=True)
                    runs.append(await run_one(tree.label, tree.path, tree.env(), db, opts))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    opts = _parse(argv)
    raise_file_limit()
    pin_self()
    for line in _head(opts):
        print(line)
    print(flush=True)
    runs = asyncio.run(_main(opts))
    print()
    print(report(runs))
    if opts.json is not None:
        opts.json.parent.mkdir(parents=True, exist_ok=True)
        opts.json.write_text(json.dumps({
            "head": _head(opts), "options": {k: str(v) if isinstance(v, Path) else v
                                             for k, v in asdict(opts).items()},
            "runs": [asdict(r) for r in runs]}, indent=2, default=str))
        print(f"figures written to {opts.json}")
    return 1 if any(r.error for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
