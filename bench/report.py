"""The results of the benchmark: one ``RunResult`` per stack and N, and the printed table.

``report`` lays the figures of both stacks side by side per N, with the ratio csms/bare,
the issue's targets (``TARGET_*``) marked MET or MISSED for the CSMS, and under each N the
notes of its runs: failures, connections lost, accept-queue overflows, other processes
disturbing the figures, unanswered calls, the persistence check, CALLERRORs and the
profile. ``percentile`` is the nearest-rank percentile the latency figures use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from bench.frames import SAMPLES_PER_METER_VALUES
from bench.machine import LOAD_CPU, OTHERS_WARN_PCT, SERVER_CPU
from bench.options import Options

TARGET_CALLS_PER_S: Final = 3000
TARGET_P99_MS: Final = 10.0
TARGET_P99_AT_N: Final = 5000
TARGET_KIB_PER_CONN: Final = 30.0


# -- results ----------------------------------------------------------------------------------


@dataclass(slots=True)
class RunResult:
    stack: str
    n: int
    connected: int = 0
    connect_failures: dict[str, int] = field(default_factory=dict)
    connect_boot_s: float | None = None
    listen_overflows: int | None = None
    rss_before_kib: int | None = None
    rss_after_kib: int | None = None
    kib_per_connection: float | None = None
    latency_rate: float | None = None
    latency_calls: int = 0
    latency_achieved_per_s: float | None = None
    latency_unanswered: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    closed_window_s: float | None = None
    calls_per_s: float | None = None
    meter_values_per_s: float | None = None
    server_cpu_pct: float | None = None
    loadgen_cpu_pct: float | None = None
    others_closed: tuple[float, float] | None = None
    others_latency: tuple[float, float] | None = None
    others_connect: tuple[float, float] | None = None
    closed_meter_values_answered: int | None = None
    meter_rows_added: int | None = None
    persisted_ok: bool | None = None
    refused: dict[str, int] = field(default_factory=dict)
    stale_answers: int = 0
    profile_top: list[str] = field(default_factory=list)
    error: str | None = None


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, int(q * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


# -- report -----------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str = ",.0f") -> str:
    return "—" if value is None else format(value, spec)


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}×"


def report(results: list[RunResult], opts: Options) -> str:
    lines: list[str] = []
    by_key = {(r.stack, r.n): r for r in results}
    rows: list[tuple[str, Callable[[RunResult], float | None], str, str]] = [
        ("connect + boot all N (s)", lambda r: r.connect_boot_s, ",.2f", ""),
        ("max calls/s, closed loop", lambda r: r.calls_per_s, ",.0f",
         f">= {TARGET_CALLS_PER_S:,}"),
        ("MeterValues/s (csms: persisted)", lambda r: r.meter_values_per_s, ",.0f", ""),
        ("server CPU in closed loop (%)", lambda r: r.server_cpu_pct, ".0f", ""),
        ("load generator CPU (%)", lambda r: r.loadgen_cpu_pct, ".0f", ""),
        (f"p50 at {opts.rate:,.0f} calls/s (ms)", lambda r: r.p50_ms, ",.2f", ""),
        (f"p99 at {opts.rate:,.0f} calls/s (ms)", lambda r: r.p99_ms, ",.2f",
         f"< {TARGET_P99_MS:g} (N={TARGET_P99_AT_N:,})"),
        (f"max at {opts.rate:,.0f} calls/s (ms)", lambda r: r.max_ms, ",.1f", ""),
        ("achieved rate in latency phase (/s)", lambda r: r.latency_achieved_per_s, ",.0f", ""),
        ("server RSS per idle connection (KiB)", lambda r: r.kib_per_connection, ",.1f",
         f"<= {TARGET_KIB_PER_CONN:g}"),
    ]
    both = "csms" in opts.stacks and "bare" in opts.stacks
    header = f"{'N':>6}  {'figure':<38} {'csms':>10} {'bare':>10} {'csms/bare':>10}  target"
    lines += [header, "-" * len(header)]
    for n in opts.sizes:
        csms, bare = by_key.get(("csms", n)), by_key.get(("bare", n))
        for label, get, spec, target in rows:
            a = get(csms) if csms else None
            b = get(bare) if bare else None
            verdict = ""
            if target and csms is not None and a is not None:
                verdict = _verdict(label, n, a)
            lines.append(f"{n:>6,}  {label:<38} {_fmt(a, spec):>10} {_fmt(b, spec):>10} "
                         f"{_ratio(a, b) if both else '':>10}  {target}{verdict}")
        for run in (csms, bare):
            if run is not None:
                lines.extend(_notes(run))
        lines.append("")
    return "\n".join(lines)


def _verdict(label: str, n: int, value: float) -> str:
    if label.startswith("max calls/s"):
        ok = value >= TARGET_CALLS_PER_S
    elif label.startswith("p99"):
        if n != TARGET_P99_AT_N:
            return ""
        ok = value < TARGET_P99_MS
    elif label.startswith("server RSS"):
        ok = value <= TARGET_KIB_PER_CONN
    else:
        return ""
    return "  MET" if ok else "  MISSED"


def _notes(r: RunResult) -> list[str]:
    out: list[str] = []
    tag = f"{'':>8}{r.stack}:"
    if r.error:
        out.append(f"{tag} FAILED: {r.error}")
    if r.connected != r.n:
        out.append(f"{tag} connected {r.connected:,} of {r.n:,}: {r.connect_failures}")
    if r.listen_overflows:
        out.append(f"{tag} accept-queue overflows during connect: {r.listen_overflows} "
                   "(SYN/ACK retried; adds ~1 s to some handshakes)")
    for phase, others in (("connect", r.others_connect), ("latency", r.others_latency),
                          ("closed-loop", r.others_closed)):
        if others is not None and max(others) >= OTHERS_WARN_PCT:
            out.append(f"{tag} WARNING: other processes used {others[0]:.0f} % of CPU "
                       f"{SERVER_CPU} (server) and {others[1]:.0f} % of CPU {LOAD_CPU} "
                       f"(load generator) during the {phase} phase: figures disturbed")
    if r.latency_unanswered:
        out.append(f"{tag} {r.latency_unanswered} calls of the latency phase unanswered "
                   "at its deadline (counted at their age then)")
    if r.meter_rows_added is not None:
        expected = SAMPLES_PER_METER_VALUES * (r.closed_meter_values_answered or 0)
        check = "all persisted" if r.persisted_ok else "MISMATCH"
        out.append(f"{tag} meter_values rows added in the closed-loop phase: "
                   f"{r.meter_rows_added:,} = {r.meter_rows_added / 8:,.0f} MeterValues × 8; "
                   f"answered: {r.closed_meter_values_answered:,} ({expected:,} rows) → {check}")
    if r.refused:
        out.append(f"{tag} CALLERRORs: {r.refused}")
    if r.profile_top:
        out.append(f"{tag} profile of the server in the closed-loop phase:")
        out.extend(f"{'':>10}{line}" for line in r.profile_top)
    return out
