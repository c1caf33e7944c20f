"""The options of one benchmark run, as ``python -m bench.load`` parses them from its command line.

A frozen record shared by the modules that need them: ``bench.load`` runs the phases with
them, ``bench.machine`` describes them in the output's head and ``bench.report`` takes the
latency phase's rate and the sizes and stacks from them; ``--json`` writes them with the
results.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Options:
    sizes: list[int]
    duration_s: float
    rate: float
    stacks: list[str]
    db: str
    window: int
    register: str
    workdir: Path | None
    keep: bool
    profile: bool
    profile_s: float
    profile_out: Path
    grace_s: float
    timeout_s: float
    json: Path | None
    wait_quiet_s: float
    event_loop: str = "asyncio"  # the csms stack's [server] event_loop
