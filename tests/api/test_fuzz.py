"""Schema-driven fuzz of the HTTP API with schemathesis against a real CSMS process.

Bounded: a fixed number of examples per operation and a time budget for the whole run.
An admin token fuzzes every operation (no 5xx); a property token fuzzes every operation too,
and afterwards the audit log shows that none of its requests wrote anything.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, insert, select

from csms.store import tables as t
from tests.conftest import eventually
from tests.e2e.test_crash_durability import _listening, free_port

SCHEMATHESIS = Path(sys.executable).parent / "st"
MAX_EXAMPLES = "12"
MAX_TIME_S = "45"


class Server:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.log = workdir / "csms.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.api_port = free_port()
        self.db = workdir / "csms.db"
        self.env = {
            **os.environ, "CSMS_DATABASE__URL": f"sqlite+aiosqlite:///{self.db}",
            "CSMS_DATABASE__SQLITE_SYNCHRONOUS": "NORMAL",
            "CSMS_SERVER__HOST": "127.0.0.1", "CSMS_SERVER__PORT": str(free_port()),
            "CSMS_API__HOST": "127.0.0.1", "CSMS_API__PORT": str(self.api_port),
        }

    async def started(self) -> None:
        """Wait until the API answers; fail at once, with the server's log, if it exited."""
        async def up() -> bool:
            assert self.process is not None
            assert self.process.poll() is None, f"the CSMS exited:\n{self.output()}"
            return await _listening(self.api_port)
        try:
            await eventually(up, timeout_s=60)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.output()}") from None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:] if self.log.exists() else ""

    def csms(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "csms", *args], env=self.env, cwd=self.workdir,
            capture_output=True, text=True, timeout=60, check=True,
        )
        return done.stdout

    def token(self, *args: str) -> str:
        return self.csms("token", "create", *args).strip().splitlines()[-1]

    def fuzz(self, token: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - schemathesis from our own venv
            [str(SCHEMATHESIS), "run", f"http://127.0.0.1:{self.api_port}/openapi.json",
             "--header", f"Authorization: Bearer {token}", "--checks", "not_a_server_error",
             "--max-examples", MAX_EXAMPLES, "--max-time", MAX_TIME_S, "--seed", "20261128",
             "--request-timeout", "10", "--workers", "1", "--no-color"],
            cwd=self.workdir, capture_output=True, text=True, timeout=300, check=False,
        )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A CSMS process on SQLite with a district and a community to scope a token to."""
    srv = Server(tmp_path)
    srv.csms("db", "upgrade")
    engine = create_engine(f"sqlite:///{srv.db}")
    with engine.begin() as conn:
        district = conn.execute(insert(t.districts).values(name="五华区", code="530102")
                                .returning(t.districts.c.id)).scalar_one()
        conn.execute(insert(t.communities).values(district_id=district, name="翠湖小区"))
    engine.dispose()
    with srv.log.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "csms", "run"], env=srv.env, cwd=tmp_path,
            stdout=log, stderr=subprocess.STDOUT,
        )
    srv.process = process
    try:
        yield srv
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)


def audit_by(db: Path, prefix: str) -> int:
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(t.audit_log).where(
            t.audit_log.c.actor.startswith(prefix))).scalar_one()
    engine.dispose()
    return int(count)


@pytest.mark.timeout(400)
async def test_fuzzing_finds_no_server_error(server: Server) -> None:
    """Every operation, fuzzed as admin and as a scoped property token: no 5xx; the property
    token's requests write nothing."""
    await server.started()
    admin = server.token("--role", "admin")
    prop = server.token("--role", "property", "--community", "1")
    for token in (admin, prop):
        result = server.fuzz(token)
        assert 0 == result.returncode, (
            result.stdout[-6000:] + result.stderr[-2000:] + "\nCSMS log:\n" + server.output())
    assert 0 == audit_by(server.db, f"token:{prop.split('_')[1]}")
    assert audit_by(server.db, f"token:{admin.split('_')[1]}") > 0  # the fuzz did write
