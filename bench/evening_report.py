"""The evening benchmark's figures, their targets (issue 18) and the printed table.

Rules:
1. One ``Figures`` per run (a code tree on a database). The table has one column per run,
   the code under test first; for a ``--compare`` run the ratio this/compared follows it.
2. A figure with a target is marked PASS or FAIL for every run. A target stated for 10,000
   chargers is still judged at a smaller ``--chargers``, and the verdict says at which N.
3. Under the table, per run: failures, refusals, the consistency checks (every sample
   answered is stored, every session ended once and priced, every delivery received) and
   the phases that other processes disturbed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from bench.machine import OTHERS_WARN_PCT

TARGET_AT: Final = 10_000  # chargers the targets are stated for


@dataclass(slots=True)
class Figures:
    label: str
    db: str
    chargers: int = 0
    connected: int = 0
    connect_boot_s: float | None = None
    kib_per_connection: float | None = None
    starts: int = 0
    starts_per_s: float | None = None
    settle_s: float | None = None  # the start's aftermath (webhooks, cost displays, passes)
    storm_settle_s: float | None = None  # the storm's (safe shares, replays' listeners)
    rate: float = 0.0
    open_achieved: float | None = None
    open_p50_ms: float | None = None
    open_p99_ms: float | None = None
    open_max_ms: float | None = None
    open_stop_p99_ms: float | None = None
    closed_calls_per_s: float | None = None
    closed_ends_per_s: float | None = None
    server_cpu_pct: float | None = None
    loadgen_cpu_pct: float | None = None
    rows_added: int | None = None
    rows_expected: int | None = None
    storm_boot_s: float | None = None
    storm_replay_s: float | None = None
    replayed: int = 0
    listen_overflows: int | None = None
    burst_offered_per_s: float | None = None
    burst_ends: int = 0
    burst_ends_per_s: float | None = None
    burst_p50_ms: float | None = None
    burst_p99_ms: float | None = None
    burst_max_ms: float | None = None
    webhooks: int = 0
    webhook_repeats: int = 0
    webhook_kinds: dict[str, int] = field(default_factory=dict)
    feed_events: int = 0
    feed_problem: str | None = None
    census: dict[str, int] = field(default_factory=dict)
    server_calls: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    not_accepted: dict[str, int] = field(default_factory=dict)
    failures: dict[str, dict[str, int]] = field(default_factory=dict)
    disturbed: dict[str, tuple[float, float]] = field(default_factory=dict)
    server_cpu: dict[str, float] = field(default_factory=dict)  # % of one core, by phase
    phase_walls: dict[str, tuple[float, float]] = field(default_factory=dict)  # epoch s
    gc_pauses: dict[str, list[float]] = field(default_factory=dict)  # ms >= 50, by phase
    open_p99_by_s: list[float] = field(default_factory=list)  # ms, per second of the open loop
    profile: list[str] = field(default_factory=list)
    setup_s: float | None = None
    error: str | None = None


Getter = Callable[[Figures], float | None]
# label, getter, format, target text, verdict (value, figures) -> ok, higher is better
Row = tuple[str, Getter, str, str, Callable[[float, Figures], bool] | None, bool]


def _burst_target(f: Figures) -> int:
    return 2000 if f.db == "postgres" else 3000


ROWS: Final[list[Row]] = [
    ("connect + boot all chargers (s)", lambda f: f.connect_boot_s, ",.2f", "", None, False),
    ("server RSS per idle connection (KiB)", lambda f: f.kib_per_connection, ",.1f",
     "<= 30", lambda v, f: v <= 30, False),
    ("evening start: session starts/s", lambda f: f.starts_per_s, ",.0f", "", None, True),
    ("evening start: aftermath until quiet (s)", lambda f: f.settle_s, ",.1f", "", None,
     False),
    ("steady: achieved calls/s (open loop)", lambda f: f.open_achieved, ",.0f", "", None, True),
    ("steady: p50 (ms)", lambda f: f.open_p50_ms, ",.2f", "", None, False),
    ("steady: p99 (ms)", lambda f: f.open_p99_ms, ",.2f", "< 10 at 500/s",
     lambda v, f: v < 10 and f.rate >= 500, False),
    ("steady: max (ms)", lambda f: f.open_max_ms, ",.1f", "", None, False),
    ("steady: p99 of stops (ms)", lambda f: f.open_stop_p99_ms, ",.1f", "", None, False),
    ("steady: max calls/s (closed loop)", lambda f: f.closed_calls_per_s, ",.0f",
     ">= 3,000", lambda v, f: v >= 3000, True),
    ("steady: session ends/s among them", lambda f: f.closed_ends_per_s, ",.1f", "", None,
     True),
    ("steady: server CPU (%)", lambda f: f.server_cpu_pct, ".0f", "", None, False),
    ("storm: all booted + statuses (s)", lambda f: f.storm_boot_s, ",.2f", "< 10",
     lambda v, f: v < 10, False),
    ("storm: offline replays answered (s)", lambda f: f.storm_replay_s, ",.2f", "", None,
     False),
    ("storm: aftermath until quiet (s)", lambda f: f.storm_settle_s, ",.1f", "", None,
     False),
    ("burst: stops offered/s", lambda f: f.burst_offered_per_s, ",.0f", "", None, True),
    ("burst: session ends/s", lambda f: f.burst_ends_per_s, ",.0f",
     ">= 3,000 (pg 2,000)", lambda v, f: v >= _burst_target(f), True),
    ("burst: p50 of the stop answer (ms)", lambda f: f.burst_p50_ms, ",.1f", "", None, False),
    ("burst: p99 of the stop answer (ms)", lambda f: f.burst_p99_ms, ",.1f", "< 250",
     lambda v, f: v < 250, False),
    ("burst: max (ms)", lambda f: f.burst_max_ms, ",.0f", "", None, False),
    ("webhook deliveries received", lambda f: float(f.webhooks), ",.0f", "", None, True),
    ("live-feed events received", lambda f: float(f.feed_events), ",.0f", "", None, True),
]


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def report(runs: list[Figures]) -> str:
    """Rules 1-3: the table, then the notes of every run."""
    base = runs[0].label if runs else ""
    columns: list[tuple[str, Figures | None, Figures | None]] = []
    for run in runs:
        columns.append((f"{run.label} {run.db}"[:22], run, None))
        if run.label != base:
            this = next((r for r in runs if r.label == base and r.db == run.db), None)
            columns.append(("ratio", this, run))
    width = 18
    head = f"{'figure':<40} {'target':<20}" + "".join(f" {c[0]:>{width}}" for c in columns)
    lines = [head, "-" * len(head)]
    for label, get, spec, target, ok, _ in ROWS:
        cells = []
        for _, shown, other in columns:
            if other is not None:  # a ratio column: this / compared
                a = get(shown) if shown is not None and shown.error is None else None
                b = get(other) if other.error is None else None
                cells.append("—" if a is None or not b else f"{a / b:.2f}x")
                continue
            assert shown is not None
            value = get(shown) if shown.error is None else None
            text = _fmt(value, spec)
            if ok is not None and value is not None:
                text += " PASS" if ok(value, shown) else " FAIL"
            cells.append(text)
        lines.append(f"{label:<40} {target:<20}" + "".join(f" {c:>{width}}" for c in cells))
    small = [r for r in runs if r.chargers < TARGET_AT]
    if small:
        lines.append(f"(targets are stated for {TARGET_AT:,} chargers; this run had "
                     f"{small[0].chargers:,}: the verdicts say how this size fared)")
    for run in runs:
        lines += ["", f"{run.label} on {run.db}:", *notes(run)]
    return "\n".join(lines)


def notes(r: Figures) -> list[str]:
    """Rule 3 for one run."""
    out: list[str] = []
    if r.error:
        out.append(f"  FAILED: {r.error}")
    if r.connected != r.chargers:
        out.append(f"  connected {r.connected:,} of {r.chargers:,}")
    if r.setup_s is not None:
        out.append(f"  setup of the network (before the server started): {r.setup_s:.1f} s")
    if r.rows_added is not None:
        check = "all stored" if r.rows_added == r.rows_expected else "MISMATCH"
        out.append(f"  closed loop: meter_values rows added {r.rows_added:,}, expected from "
                   f"the answered samples {r.rows_expected:,}: {check}")
    c = r.census
    if c:
        priced = c.get("charged", 0) + c.get("billing_pending", 0) + c.get("billing_unpriced", 0)
        check = "every end priced" if priced == c.get("ended", -1) and \
            c.get("charged", 0) == c.get("ended", -1) else "NOT every end priced"
        out.append(f"  sessions: {c.get('ended', 0):,} ended, {c.get('active', 0):,} still "
                   f"active; {c.get('charged', 0):,} charges, {c.get('package_usage', 0):,} "
                   f"package uses, {c.get('wallet_debits', 0):,} wallet debits; "
                   f"billing_pending {c.get('billing_pending', 0)}, billing_unpriced "
                   f"{c.get('billing_unpriced', 0)}: {check}")
        out.append(f"  stops answered (burst + turnovers) {c.get('stops_answered', 0):,}; "
                   f"audit rows {c.get('audit', 0):,}; alarms {c.get('alarms', 0):,}; webhook "
                   f"outbox: {c.get('outbox_delivered', 0):,} delivered, "
                   f"{c.get('outbox_pending', 0):,} pending, {c.get('outbox_failed', 0):,} "
                   f"failed at the end")
        codes = {k.split(":", 1)[1]: v for k, v in c.items() if k.startswith("alarm:")}
        if codes:
            out.append(f"  alarms by code: {codes}")
    out.append(f"  webhooks received {r.webhooks:,} {dict(sorted(r.webhook_kinds.items()))} "
               f"(repeats {r.webhook_repeats}); feed events {r.feed_events:,}"
               + (f"; feed: {r.feed_problem}" if r.feed_problem else ""))
    if r.server_calls:
        out.append(f"  calls from the CSMS, answered: {dict(sorted(r.server_calls.items()))}")
    if r.refused:
        out.append(f"  CALLERRORs: {r.refused}")
    if r.not_accepted:
        out.append(f"  not Accepted: {r.not_accepted}")
    for phase, failures in r.failures.items():
        if failures:
            out.append(f"  {phase}: failures {failures}")
    for phase, (server, loadgen) in r.disturbed.items():
        if max(server, loadgen) >= OTHERS_WARN_PCT:
            out.append(f"  WARNING: other processes used {server:.0f} % of the server's CPU "
                       f"and {loadgen:.0f} % of the load generator's during {phase}: "
                       "figures disturbed")
    if r.server_cpu:
        out.append("  server CPU by phase (% of one core): " + ", ".join(
            f"{phase} {pct:.0f}" for phase, pct in r.server_cpu.items()))
    if r.gc_pauses:
        out.append("  server GC pauses >= 50 ms (count, max ms): " + ", ".join(
            f"{phase} {len(v)}, {max(v):.0f}" for phase, v in r.gc_pauses.items()))
    if r.open_p99_by_s:
        out.append("  open loop, p99 of each second (ms): " + " ".join(
            f"{ms:.0f}" for ms in r.open_p99_by_s))
    if r.listen_overflows:
        out.append(f"  accept-queue overflows in the storm: {r.listen_overflows}")
    if r.profile:
        out += ["  profile:", *(f"    {line}" for line in r.profile)]
    return out
