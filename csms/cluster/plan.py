"""The plan of a cluster on one machine: N CSMS nodes on one PostgreSQL database behind
HAProxy. Pure: it computes configuration text; :mod:`csms.cluster.run` writes and runs it.

Rules:
1. Node ``i`` (from 1) is named ``<prefix>-<i>`` and listens on 127.0.0.1 only, for OCPP on
   ``node_ocpp_port + i - 1`` and for the API on ``node_api_port + i - 1``: chargers and
   operators reach it through the balancer.
2. A node's configuration is the base configuration (the operator's TOML, as read) with the
   per-node keys replaced: ``server.host``/``port``, ``api.host``/``port``,
   ``cluster.command_bus = "postgres"`` and ``cluster.node_name``; ``files.directory`` is one
   directory shared by the nodes and ``files.public_url`` the balancer's API unless the base
   sets it (a file is served by whichever node a URL reaches); ``database.url`` is the node's
   own when the plan gives one (a test puts a proxy there), else the base's.
3. What the base enables and must run on one node only (:data:`ONE_NODE_ONLY`) stays on
   node 1 and is switched off on the others.
4. HAProxy runs in HTTP mode, so a WebSocket upgrade passes (``Upgrade``/``Connection``
   headers kept) and the open connection is a tunnel bounded by ``timeout tunnel``, not by
   the short request timeouts. OCPP is balanced ``leastconn`` (long-lived connections), the
   API ``roundrobin`` with a cookie that keeps a browser on one node (console sessions live
   in one node's memory; token clients ignore it). Every server is health-checked with
   ``GET /readyz`` on its node's API port; a node marked down has its sessions shut
   (``on-marked-down shutdown-sessions``), so its chargers reconnect to the others, and a
   connection that fails on a dead node is redispatched to another.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Final

# (section, key) of jobs that must not run on two nodes at once (config.example.toml says
# "set it on one node only"). Load management runs on every node: each site has one owner
# (csms.services.load.cluster).
ONE_NODE_ONLY: Final = (("files", "run_rollouts"), ("certificates", "run_watch"))

CHECK_INTERVAL_MS: Final = 1000  # /readyz every second
CHECK_FALL: Final = 2  # two failed checks in a row: down
CHECK_RISE: Final = 2  # two good ones: up again
CHECK_TIMEOUT_MS: Final = 3000  # /readyz gives each of its probes 2 s
TUNNEL_TIMEOUT: Final = "1h"  # an idle WebSocket; the CSMS pings every 30 s by default


@dataclass(frozen=True, slots=True)
class NodePlan:
    """One CSMS node of the plan (rule 1)."""

    name: str
    ocpp_port: int
    api_port: int
    database_url: str | None = None  # None: the base configuration's
    cpu: int | None = None  # pin the node to this CPU (taskset), or not at all


@dataclass(frozen=True, slots=True)
class ClusterPlan:
    """What runs: the nodes, the balancer's ports, the run directory."""

    nodes: tuple[NodePlan, ...]
    run_dir: Path
    bind: str = "127.0.0.1"  # where the balancer listens
    ocpp_port: int = 9000  # chargers: ws://<bind>:9000/<charge point id>
    api_port: int = 8080  # operators: http://<bind>:8080
    stats_port: int = 8404  # HAProxy's own statistics page
    maxconn: int = 10_000  # HAProxy's connections; it needs two descriptors each
    base: Mapping[str, Any] = field(default_factory=dict)  # the base configuration (TOML)

    def node(self, name: str) -> NodePlan:
        """The node called ``name``; raises KeyError for another."""
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def config_path(self, node: NodePlan) -> Path:
        return self.run_dir / f"{node.name}.toml"

    def log_path(self, name: str) -> Path:
        return self.run_dir / f"{name}.log"

    @property
    def haproxy_path(self) -> Path:
        return self.run_dir / "haproxy.cfg"

    @property
    def socket_path(self) -> Path:
        """HAProxy's runtime API (``set server csms_ocpp/csms-2 state maint``, ...)."""
        return self.run_dir / "haproxy.sock"

    @property
    def files_dir(self) -> Path:
        return self.run_dir / "files"

    @property
    def public_host(self) -> str:
        return "127.0.0.1" if self.bind in ("0.0.0.0", "::") else self.bind


def plan(base: Mapping[str, Any], run_dir: Path, count: int = 3, *, prefix: str = "csms",
         node_ocpp_port: int = 9101, node_api_port: int = 8181, **balancer: Any
         ) -> ClusterPlan:
    """``count`` nodes numbered from 1 (rule 1); ``balancer`` sets the ClusterPlan's ports
    and bind address. Raises ValueError for fewer than one node."""
    if count < 1:
        raise ValueError("a cluster needs at least one node")
    nodes = tuple(NodePlan(f"{prefix}-{i}", node_ocpp_port + i - 1, node_api_port + i - 1)
                  for i in range(1, count + 1))
    return ClusterPlan(nodes, run_dir, base=base, **balancer)


def node_config(cluster: ClusterPlan, node: NodePlan) -> dict[str, Any]:
    """The node's configuration as data (rules 2 and 3)."""
    data: dict[str, Any] = {section: dict(values) if isinstance(values, Mapping) else values
                            for section, values in cluster.base.items()}

    def section(name: str) -> dict[str, Any]:
        found = data.setdefault(name, {})
        assert isinstance(found, dict), f"[{name}] must be a table"
        return found

    # the balancer is on this machine: its X-Forwarded-For names the charger or browser
    section("server").update(host="127.0.0.1", port=node.ocpp_port,
                             trusted_proxies=["127.0.0.1"])
    section("api").update(enabled=True, host="127.0.0.1", port=node.api_port)
    section("cluster").update(command_bus="postgres", node_name=node.name)
    files = section("files")
    files["directory"] = str(cluster.files_dir.resolve())
    files.setdefault("public_url", f"http://{cluster.public_host}:{cluster.api_port}")
    if node.database_url is not None:
        section("database")["url"] = node.database_url
    if node is not cluster.nodes[0]:
        for name, key in ONE_NODE_ONLY:
            section(name)[key] = False
    return data


def haproxy_config(cluster: ClusterPlan) -> str:
    """HAProxy's configuration for the plan (rule 4)."""
    check = (f"check inter {CHECK_INTERVAL_MS} fastinter {CHECK_INTERVAL_MS // 2}"
             f" fall {CHECK_FALL} rise {CHECK_RISE}"
             " on-marked-down shutdown-sessions")
    ocpp = [f"    server {n.name} 127.0.0.1:{n.ocpp_port} {check} port {n.api_port}"
            for n in cluster.nodes]
    api = [f"    server {n.name} 127.0.0.1:{n.api_port} {check} cookie {n.name}"
           for n in cluster.nodes]
    lines = [
        "# Generated by csms.cluster.run; edits are overwritten at the next start.",
        "global",
        f"    maxconn {cluster.maxconn}",
        "    log stderr format short local0 info",
        f"    stats socket {cluster.socket_path.resolve()} mode 600 level admin",
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option httplog",
        "    option dontlognull",
        "    timeout connect 2s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    timeout http-request 10s",
        f"    timeout tunnel {TUNNEL_TIMEOUT}",
        "    timeout client-fin 5s",
        f"    timeout check {CHECK_TIMEOUT_MS}ms",
        "    retries 3",
        "    option redispatch 1",
        "    option httpchk",
        "    http-check send meth GET uri /readyz",
        "    http-check expect status 200",
        "",
        "frontend ocpp",
        f"    bind {cluster.bind}:{cluster.ocpp_port}",
        "    option forwardfor",
        "    default_backend csms_ocpp",
        "",
        "backend csms_ocpp",
        "    balance leastconn",
        *ocpp,
        "",
        "frontend api",
        f"    bind {cluster.bind}:{cluster.api_port}",
        "    option forwardfor",
        "    http-request set-header X-Forwarded-Proto https if { ssl_fc }",
        "    http-request set-header X-Forwarded-Proto http if !{ ssl_fc }",
        "    default_backend csms_api",
        "",
        "backend csms_api",
        "    balance roundrobin",
        "    cookie csms_node insert indirect nocache httponly",
        *api,
        "",
        "frontend stats",
        f"    bind {cluster.bind}:{cluster.stats_port}",
        "    stats enable",
        "    stats uri /",
        "    stats refresh 5s",
        "",
    ]
    return "\n".join(lines)


# -- TOML out ---------------------------------------------------------------------------------


def toml_text(data: Mapping[str, Any]) -> str:
    """``data`` (what :mod:`tomllib` reads: tables, arrays, scalars) as TOML text; ``None``
    values are left out (TOML has no null)."""
    out: list[str] = []
    _table(out, (), data)
    return "\n".join(out).lstrip("\n") + "\n"


def _table(out: list[str], path: tuple[str, ...], data: Mapping[str, Any]) -> None:
    scalars = [(k, v) for k, v in data.items() if v is not None and not isinstance(v, Mapping)]
    tables = [(k, v) for k, v in data.items() if isinstance(v, Mapping)]
    if path and (scalars or not tables):
        out.extend(["", f"[{'.'.join(_key(p) for p in path)}]"])
    out.extend(f"{_key(k)} = {_value(v)}" for k, v in scalars)
    for key, table in tables:
        _table(out, (*path, key), table)


def _key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key)
    return key if bare else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value if v is not None) + "]"
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None)
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"no TOML form for {type(value).__name__}")
