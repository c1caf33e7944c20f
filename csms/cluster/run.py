"""Run a cluster on this machine: N CSMS nodes on one PostgreSQL database behind HAProxy
(``make cluster``; the plan is :mod:`csms.cluster.plan`)::

    python -m csms.cluster.run --config cluster.example.toml --nodes 3 --dir .cluster

Rules:
1. What it writes goes into the run directory, rewritten at each start: each node's
   configuration (``csms-1.toml``) and log (``csms-1.log``), ``haproxy.cfg`` and
   ``haproxy.log``, and the ``files`` directory the nodes share.
2. Start-up order: the database (created when missing), the migrations once, from here (three
   nodes migrating an empty database at once would race), the nodes (each ready when its
   ``/readyz`` answers 200), then HAProxy (its configuration checked first, ``haproxy -c``).
3. Every process is a child in a session of its own, stopped by its PID: SIGTERM, then SIGKILL
   after a grace period. SIGINT (Ctrl-C) or SIGTERM stops them all, HAProxy first (no new
   connections reach a stopping node), then the nodes.
4. ``CSMS_*`` variables naming a per-node key (:data:`PER_NODE`) are not passed to the nodes:
   they would put every node on one port (or one name).
5. A node that exits while the cluster runs is reported and the others go on (HAProxy takes
   it out); HAProxy exiting stops the cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import resource
import shutil
import signal
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from csms.cluster.plan import ClusterPlan, NodePlan, haproxy_config, node_config, plan, toml_text
from csms.config import DatabaseSettings
from csms.store import migrate
from csms.store.engine import create_engine

HAPROXY: Final = "/usr/sbin/haproxy"
PER_NODE: Final = frozenset({"CSMS_SERVER__HOST", "CSMS_SERVER__PORT", "CSMS_API__HOST",
                             "CSMS_API__PORT", "CSMS_API__ENABLED", "CSMS_CLUSTER__NODE_NAME",
                             "CSMS_CLUSTER__COMMAND_BUS", "CSMS_FILES__DIRECTORY"})
POLL_S: Final = 0.05  # polling interval of the deadline loops


class ClusterError(Exception):
    """The cluster could not start (a node or HAProxy failed; the message says which)."""


class Child:
    """One process of the cluster: started in its own session, output to a log file."""

    def __init__(self, name: str, argv: list[str], log_path: Path,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(  # noqa: S603 - our own argv, no shell
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, env=self.env)

    @property
    def pid(self) -> int:
        assert self._proc is not None, f"{self.name} was not started"
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to this process (by PID) if it still runs."""
        if self.alive:
            os.kill(self.pid, sig)

    async def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after ``grace_s``; returns once the process is reaped."""
        if self._proc is None:
            return
        self.signal(signal.SIGTERM)
        await self._reap(grace_s)
        if self._proc.poll() is None:
            self.signal(signal.SIGKILL)
            await self._reap(10.0)

    async def _reap(self, within_s: float) -> None:
        assert self._proc is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while self._proc.poll() is None and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(POLL_S)  # a child's exit has no event to await

    def log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


class Cluster:
    """The running cluster of a :class:`ClusterPlan`; see the module rules."""

    def __init__(self, cluster: ClusterPlan, *, haproxy: str = HAPROXY,
                 python: str = sys.executable, env: dict[str, str] | None = None) -> None:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        if hard != resource.RLIM_INFINITY:  # HAProxy refuses a maxconn it has no fds for
            cluster = dataclasses.replace(
                cluster, maxconn=max(100, min(cluster.maxconn, (hard - 200) // 2)))
        self.plan = cluster
        self.haproxy_exe = haproxy
        self.python = python
        self.env = dict(os.environ if env is None else env)
        self.nodes: dict[str, Child] = {}
        self.balancer: Child | None = None

    @property
    def ocpp_url(self) -> str:
        """Where chargers connect: ``ws://<host>:<port>/`` plus their id."""
        return f"ws://{self.plan.public_host}:{self.plan.ocpp_port}/"

    @property
    def api_url(self) -> str:
        return f"http://{self.plan.public_host}:{self.plan.api_port}"

    def write(self) -> None:
        """Rule 1: the configurations, a fresh log per process."""
        run = self.plan.run_dir
        run.mkdir(parents=True, exist_ok=True)
        self.plan.files_dir.mkdir(exist_ok=True)
        for node in self.plan.nodes:
            self.plan.config_path(node).write_text(toml_text(node_config(self.plan, node)))
            self.plan.log_path(node.name).write_text("")
        self.plan.haproxy_path.write_text(haproxy_config(self.plan))
        self.plan.log_path("haproxy").write_text("")

    async def start(self, timeout_s: float = 90.0) -> None:
        """Rule 2; raises :class:`ClusterError` naming what failed (everything started so far
        is stopped again)."""
        try:
            async with asyncio.timeout(timeout_s):
                self.write()
                await self._check_haproxy()
                await prepare_database(self.database_url())
                for node in self.plan.nodes:
                    self.start_node(node.name)
                await asyncio.gather(*(self.wait_ready(n.name) for n in self.plan.nodes))
                self.balancer = Child("haproxy", [self.haproxy_exe, "-db", "-f",
                                                  str(self.plan.haproxy_path)],
                                      self.plan.log_path("haproxy"), self.env)
                self.balancer.start()
                await self._wait_listening()
        except BaseException as exc:
            await self.stop()
            if isinstance(exc, TimeoutError):
                raise ClusterError(f"not started within {timeout_s} s") from exc
            raise

    def database_url(self) -> str:
        """The base configuration's database (every node shares it; rule 2 of the plan)."""
        database = self.plan.base.get("database", {})
        url = database.get("url") if isinstance(database, dict) else None
        if not isinstance(url, str) or not url.startswith("postgresql+asyncpg://"):
            raise ClusterError("the base configuration needs database.url = "
                               '"postgresql+asyncpg://..." (a cluster shares PostgreSQL)')
        return url

    def start_node(self, name: str) -> Child:
        """Start (or start again) node ``name``; does not wait for it."""
        node = self.plan.node(name)
        argv = [self.python, "-m", "csms", "--config", str(self.plan.config_path(node)), "run"]
        if node.cpu is not None:
            argv = ["taskset", "-c", str(node.cpu), *argv]
        env = {k: v for k, v in self.env.items() if k not in PER_NODE}
        if node.database_url is not None:
            env.pop("CSMS_DATABASE__URL", None)
        child = Child(name, argv, self.plan.log_path(name), env)
        child.start()
        self.nodes[name] = child
        return child

    async def wait_ready(self, name: str, timeout_s: float = 60.0) -> None:
        """Until node ``name`` answers ``/readyz`` with 200; ClusterError if it exits first."""
        child, node = self.nodes[name], self.plan.node(name)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        async with httpx.AsyncClient(timeout=3.0) as http:
            while True:  # bounded by the deadline
                if not child.alive:
                    raise ClusterError(f"{name} exited with {child.returncode}:\n"
                                       f"{child.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    answer = await http.get(f"http://127.0.0.1:{node.api_port}/readyz")
                    if answer.status_code == 200:
                        return
                if loop.time() > deadline:
                    raise ClusterError(f"{name} not ready after {timeout_s} s:\n"
                                       f"{child.log_tail()}")
                await asyncio.sleep(POLL_S)

    async def server_states(self) -> dict[tuple[str, str], str]:
        """HAProxy's view, from its statistics: (backend, node) -> UP, DOWN, ..."""
        url = f"http://{self.plan.public_host}:{self.plan.stats_port}/;csv"
        async with httpx.AsyncClient(timeout=3.0) as http:
            text = (await http.get(url)).text
        states: dict[tuple[str, str], str] = {}
        header: list[str] = []
        for line in text.splitlines():
            if line.startswith("# "):
                header = line[2:].split(",")
                continue
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("svname") not in (None, "FRONTEND", "BACKEND"):
                states[row["pxname"], row["svname"]] = row.get("status", "")
        return states

    async def haproxy_command(self, command: str) -> str:
        """One command to HAProxy's runtime API (its UNIX socket); returns the answer.
        ``set server csms_ocpp/csms-2 state maint`` takes a node out (``ready`` puts it
        back), ``shutdown sessions server csms_ocpp/csms-2`` closes its chargers' tunnels."""
        reader, writer = await asyncio.open_unix_connection(str(self.plan.socket_path))
        try:
            writer.write(command.encode() + b"\n")
            await writer.drain()
            return (await reader.read()).decode()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def stop(self, grace_s: float = 15.0) -> None:
        """Rule 3: HAProxy first, then every node (in parallel, each given ``grace_s`` to
        finish); by PID."""
        if self.balancer is not None:
            await self.balancer.stop(min(grace_s, 5.0))
        await asyncio.gather(*(child.stop(grace_s) for child in self.nodes.values()))

    async def _check_haproxy(self) -> None:
        if shutil.which(self.haproxy_exe) is None:
            raise ClusterError(f"{self.haproxy_exe} not found: apt-get install haproxy")
        proc = await asyncio.create_subprocess_exec(
            self.haproxy_exe, "-c", "-q", "-f", str(self.plan.haproxy_path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise ClusterError(f"haproxy rejects {self.plan.haproxy_path}:\n{out.decode()}")

    async def _wait_listening(self, timeout_s: float = 20.0) -> None:
        assert self.balancer is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        for port in (self.plan.ocpp_port, self.plan.api_port):
            while not await _accepts(self.plan.public_host, port):  # bounded: deadline
                if not self.balancer.alive:
                    raise ClusterError(f"haproxy exited:\n{self.balancer.log_tail()}")
                if loop.time() > deadline:
                    raise ClusterError(f"haproxy not listening on {port}:\n"
                                       f"{self.balancer.log_tail()}")
                await asyncio.sleep(POLL_S)


async def prepare_database(url: str) -> None:
    """Create the database of ``url`` when missing (through the server's ``postgres``
    database), then bring it to the latest migration."""
    parsed = make_url(url)
    name = parsed.database
    if not name:
        raise ClusterError(f"{url}: no database name")
    admin_dsn = parsed.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False)
    try:
        admin = await asyncpg.connect(admin_dsn)
    except (OSError, asyncpg.PostgresError) as exc:
        raise ClusterError(f"cannot reach PostgreSQL at {parsed.host}:{parsed.port}: {exc}"
                           ) from exc
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            quoted = '"' + name.replace('"', '""') + '"'
            await admin.execute(f"CREATE DATABASE {quoted}")
    finally:
        await admin.close()
    engine = create_engine(DatabaseSettings(url=url))
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


async def _accepts(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


# -- the command ------------------------------------------------------------------------------


async def serve(cluster: Cluster) -> int:
    """Start, report, run until SIGINT/SIGTERM or HAProxy's exit (rule 5), stop."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        await cluster.start()
    except ClusterError as exc:
        print(f"cluster: {exc}", file=sys.stderr)
        return 1
    for line in summary(cluster):
        print(line, flush=True)
    reported: set[str] = set()
    try:
        while not stopping.is_set():  # bounded by a signal or HAProxy's exit
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), 1.0)
            for name, child in cluster.nodes.items():
                if not child.alive and name not in reported:
                    reported.add(name)
                    print(f"cluster: {name} exited with {child.returncode} (log: "
                          f"{child.log_path}); the others go on", file=sys.stderr, flush=True)
            if cluster.balancer is not None and not cluster.balancer.alive:
                print("cluster: haproxy exited; stopping", file=sys.stderr, flush=True)
                return 1
    finally:
        print("cluster: stopping", flush=True)
        await cluster.stop()
    return 0


def summary(cluster: Cluster) -> list[str]:
    p = cluster.plan
    lines = [f"cluster: {len(p.nodes)} nodes on {make_url(cluster.database_url())!r}",
             f"  chargers:  {cluster.ocpp_url}<charge point id>   (HAProxy, leastconn)",
             f"  API:       {cluster.api_url}   (HAProxy, roundrobin)",
             f"  HAProxy:   http://{p.public_host}:{p.stats_port}/   (statistics)"]
    for node in p.nodes:
        child = cluster.nodes[node.name]
        lines.append(f"  {node.name}: pid {child.pid}, OCPP 127.0.0.1:{node.ocpp_port}, API "
                     f"127.0.0.1:{node.api_port}, log {p.log_path(node.name)}")
    lines.append(f"  configurations and logs in {p.run_dir}; Ctrl-C stops everything")
    return lines


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m csms.cluster.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=Path("cluster.example.toml"),
                        help="the base configuration every node starts from")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path(".cluster"), help="run directory")
    parser.add_argument("--bind", default="127.0.0.1", help="the balancer's address")
    parser.add_argument("--port", type=int, default=9000, help="the balancer's OCPP port")
    parser.add_argument("--api-port", type=int, default=8080, help="the balancer's API port")
    parser.add_argument("--stats-port", type=int, default=8404)
    parser.add_argument("--node-port", type=int, default=9101,
                        help="node 1's OCPP port; node i listens on this + i - 1")
    parser.add_argument("--node-api-port", type=int, default=8181,
                        help="node 1's API port; node i listens on this + i - 1")
    parser.add_argument("--haproxy", default=HAPROXY)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        base: dict[str, Any] = tomllib.loads(args.config.read_text(encoding="utf-8"))
        cluster_plan = plan(base, args.dir, args.nodes, node_ocpp_port=args.node_port,
                            node_api_port=args.node_api_port, bind=args.bind,
                            ocpp_port=args.port, api_port=args.api_port,
                            stats_port=args.stats_port)
    except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
        print(f"cluster: {args.config}: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(serve(Cluster(cluster_plan, haproxy=args.haproxy)))


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["Child", "Cluster", "ClusterError", "NodePlan", "main", "prepare_database"]
