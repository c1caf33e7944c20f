"""The servers under test and what they need: processes, configuration, database, profiler.

``ServerProcess`` starts a server (the CSMS or ``bench.bare_ocpp``) as a child process on
127.0.0.1, pinned to ``SERVER_CPU``, waits for it to listen and stops it by its PID.
For the CSMS, ``csms_toml`` writes its configuration, ``Database`` creates (PostgreSQL),
counts the ``meter_values`` rows of and drops its database, ``preregister`` registers the
fleet before the start and ``csms_executable`` finds the ``csms`` command. ``profiler``
records a server with py-spy (``--profile``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Final

from bench.machine import REPO, SERVER_CPU, is_listening

PG_ADMIN_DSN: Final = os.environ.get(
    "CSMS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


class ServerProcess:
    """A server under test: started pinned to one CPU, stopped by its PID."""

    def __init__(self, argv: list[str], log_path: Path, port: int,
                 env: dict[str, str] | None = None, cwd: Path = REPO) -> None:
        self.argv = argv
        self.log_path = log_path
        self.port = port
        self.env = env  # None: this process's environment
        self.cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    async def start(self, deadline_s: float = 60.0) -> None:
        self._spawn()
        assert self._proc is not None
        self.pin()  # before the interpreter has started any thread; pin() again once up
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_s
        while not is_listening(self.port):
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self._proc.returncode}:\n{self.log_tail()}")
            if loop.time() > deadline:
                raise RuntimeError(f"server not listening after {deadline_s} s:\n"
                                   f"{self.log_tail()}")
            await asyncio.sleep(0.05)  # polling interval of a deadline loop
        self.pin()

    def _spawn(self) -> None:
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )

    def pin(self) -> None:
        """Pin every thread of the server to SERVER_CPU (threads started later inherit)."""
        if os.cpu_count() is None or (os.cpu_count() or 1) < 2:
            return
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{self.pid}/task").iterdir():
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(int(task.name), {SERVER_CPU})

    def check_alive(self) -> None:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise RuntimeError(f"server died ({self._proc.returncode}):\n{self.log_tail()}")

    def stop(self, timeout_s: float = 20.0) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            text = self.log_path.read_text(errors="replace").splitlines()
            return "\n".join(text[-lines:])
        return ""


# -- the CSMS's configuration and database ---------------------------------------------------


def csms_toml(port: int, db_url: str, event_loop: str = "asyncio") -> str:
    return "\n".join([
        "[server]",
        'host = "127.0.0.1"',
        f"port = {port}",
        f'event_loop = "{event_loop}"',
        'unknown_charge_points = "accept"',
        "[database]",
        f'url = "{db_url}"',
        'sqlite_synchronous = "FULL"',
        "[api]",
        "enabled = false",  # the bench measures OCPP; no port 8080 to collide with
        "[logging]",
        'level = "warning"',
        'format = "json"',
        "",
    ])


class Database:
    """Where the CSMS under test stores its data, and how to count its meter values."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind = kind
        self.sqlite_path = tmp / "csms.db"
        self.pg_name = f"csms_bench_{uuid.uuid4().hex[:12]}"

    @property
    def url(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite+aiosqlite:///{self.sqlite_path}"
        return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{self.pg_name}"

    async def create(self) -> None:
        if self.kind == "postgres":
            await _pg_admin(f'CREATE DATABASE "{self.pg_name}"')

    async def drop(self) -> None:
        if self.kind == "postgres":
            await _pg_admin(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')

    async def meter_rows(self) -> int:
        if self.kind == "sqlite":
            uri = f"file:{self.sqlite_path}?mode=ro"
            with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=30)) as db:
                return int(db.execute("SELECT count(*) FROM meter_values").fetchone()[0])
        import asyncpg  # only with --db postgres

        conn = await asyncpg.connect(PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + self.pg_name)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM meter_values"))
        finally:
            await conn.close()


async def _pg_admin(statement: str) -> None:
    import asyncpg  # only with --db postgres

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def preregister(config: Path, ids: list[str]) -> None:
    """Register the charge points as Accepted before the server starts (a known fleet)."""
    from csms.app import store_only  # the csms stack only
    from csms.config import load_settings
    from csms.domain.model import RegistrationStatus

    async with store_only(load_settings(config)) as store:
        await asyncio.gather(*(store.add_station(station_id, RegistrationStatus.ACCEPTED)
                               for station_id in ids))


def csms_executable() -> str:
    beside = Path(sys.executable).with_name("csms")
    if beside.exists():
        return str(beside)
    found = shutil.which("csms")
    if found is None:
        raise RuntimeError("no csms executable: run from the project's virtualenv")
    return found


# -- profiling (optional) ---------------------------------------------------------------------


def profiler(pid: int, seconds: float, out: Path) -> Callable[[], Coroutine[Any, Any, None]]:
    async def record() -> None:
        py_spy = Path(sys.executable).with_name("py-spy")
        exe = str(py_spy) if py_spy.exists() else shutil.which("py-spy")
        if exe is None:
            print("  py-spy not found: pip install py-spy", flush=True)
            return
        proc = await asyncio.create_subprocess_exec(
            exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
            "--format", "raw", "--output", str(out), "--threads",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(seconds + 30):
                _, err = await proc.communicate()
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return
        if proc.returncode != 0:
            print(f"  py-spy failed: {err.decode(errors='replace')[-400:]}", flush=True)

    return record
