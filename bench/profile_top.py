"""Summarise a py-spy ``--format raw --threads`` recording: where the server's CPU goes.

``python -m bench.profile_top bench/results/profile.csms-1000.raw.txt [seconds] [rate]``

py-spy counts a thread waiting inside a C call as busy when it cannot tell, so samples
whose innermost frame is a known wait (aiosqlite's worker waiting for work, the event loop
in ``epoll``, a pool thread in ``Condition.wait``) are counted apart as idle. The rest
is split by innermost frame (own time) and by the package that frame belongs to; C code
(SQLite's engine, socket writes) counts for the Python function that called it.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

_FRAME_RE: Final = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _aiosqlite_wait_line() -> int | None:
    """The line of aiosqlite's worker thread that waits for the next job."""
    try:
        import aiosqlite.core  # optional: only to find one line

        source = Path(aiosqlite.core.__file__).read_text().splitlines()
    except (ImportError, OSError):
        return None
    for number, text in enumerate(source, 1):
        if "= tx.get(" in text:
            return number
    return None


_WAIT_LINE: Final = _aiosqlite_wait_line()


def parse_frame(frame: str) -> tuple[str, str, int | None]:
    match = _FRAME_RE.match(frame)
    if match is None:
        return frame, "", None
    line = match["line"]
    return match["func"], match["file"], int(line) if line else None


def short_path(path: str) -> str:
    for marker in ("site-packages/", "/lib/python3.11/", "/lib/python3.12/", "/work/main/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def package_of(path: str) -> str:
    short = short_path(path)
    if short.startswith("<string>"):
        return "fastjsonschema validators (generated code)"
    if short.startswith("csms/"):
        return "csms/" + short.split("/")[1].removesuffix(".py")
    head = short.split("/", 1)[0].removesuffix(".py")
    return head or "?"


def is_idle(func: str, path: str, line: int | None) -> bool:
    if func == "_connection_worker_thread" and path.endswith("aiosqlite/core.py"):
        return line == _WAIT_LINE
    if func == "Condition.wait" and path.endswith("threading.py"):
        return True  # an idle pool thread (the API's AnyIO workers) waiting for work
    return func.endswith("Selector.select") and path.endswith("selectors.py")


@dataclass
class Profile:
    total: int = 0
    idle: int = 0
    own: Counter[str] = field(default_factory=Counter)
    packages: Counter[str] = field(default_factory=Counter)
    threads: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)

    @property
    def busy(self) -> int:
        return self.total - self.idle


def analyse(raw: str) -> Profile:
    profile = Profile()
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = frames[0] if frames[0].startswith("thread") else "?"
        profile.total += count
        func, path, number = parse_frame(frames[-1])
        if len(frames) == 1 and thread != "?":
            func, path, number = "(no Python frame: C code, GC or GIL hand-over)", "", None
        if is_idle(func, path, number):
            profile.idle += count
            continue
        if "MainThread" not in thread:
            thread = "worker threads (aiosqlite: SQLite calls)"
        else:
            thread = "main thread (event loop)"
        profile.threads[thread] += count
        profile.own[f"{func} ({short_path(path)})" if path else func] += count
        profile.packages[package_of(path) if path else "(no Python frame)"] += count
        if len(frames) > 1 and "sqlalchemy/" in parse_frame(frames[1])[1]:
            # SQLAlchemy's async layer runs statements in a greenlet: the sampled stack
            # starts there and hides the csms caller (the store writer, the readers).
            profile.inclusive["(SQLAlchemy statement execution in a greenlet: caller "
                              "not visible, the store's writer or readers)"] += count
        seen = set()
        for frame in frames[1:]:
            f_func, f_path, _ = parse_frame(frame)
            if short_path(f_path).startswith("csms/") and f_func not in seen:
                seen.add(f_func)
                profile.inclusive[f"{f_func} ({short_path(f_path)})"] += count
    return profile


def report(profile: Profile, seconds: float | None = None, rate: float = 100.0,
           limit: int = 10) -> list[str]:
    busy = profile.busy
    if not busy:
        return ["no samples"]
    lines = []
    if seconds:
        lines.append(f"samples: {profile.total:,}; busy {busy / (rate * seconds):.0%} of "
                     f"{seconds:g} s wall, idle/waiting samples left out: {profile.idle:,}")
    lines.append(f"top {limit} functions by own time (% of busy samples):")
    lines += [f"  {100 * n / busy:5.1f} %  {name}" for name, n in profile.own.most_common(limit)]
    lines.append("own time by package:")
    lines += [f"  {100 * n / busy:5.1f} %  {name}"
              for name, n in profile.packages.most_common(12)]
    lines.append("csms functions by inclusive time (themselves and what they call):")
    lines += [f"  {100 * n / busy:5.1f} %  {name}"
              for name, n in profile.inclusive.most_common(15)]
    lines.append("by thread:")
    lines += [f"  {100 * n / busy:5.1f} %  {name}" for name, n in profile.threads.most_common()]
    return lines


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print(__doc__)
        return 2
    seconds = float(args[1]) if len(args) > 1 else None
    rate = float(args[2]) if len(args) > 2 else 100.0
    print("\n".join(report(analyse(Path(args[0]).read_text()), seconds, rate)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
