"""The plan of a local cluster (csms.cluster.plan): node configurations and HAProxy's."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from csms.cluster.plan import ONE_NODE_ONLY, haproxy_config, node_config, plan, toml_text
from csms.config import load_settings

BASE: dict[str, Any] = {
    "server": {"unknown_charge_points": "accept", "port": 9000},
    "database": {"url": "postgresql+asyncpg://postgres@127.0.0.1:5432/csms_cluster"},
    "load": {"enabled": True, "lease_s": 600.0},
    "logging": {"level": "info"},
}


class TestNodeConfig:
    def test_nodes_get_their_own_ports_and_names_and_keep_the_rest(self) -> None:
        """Node i: OCPP and API ports counted from the first node's, its name, the bus on
        PostgreSQL; every other key as in the base."""
        cluster = plan(BASE, Path("/run/c"), 3, node_ocpp_port=9101, node_api_port=8181)
        third = node_config(cluster, cluster.nodes[2])
        assert {"unknown_charge_points": "accept", "host": "127.0.0.1",
                "port": 9103, "trusted_proxies": ["127.0.0.1"]} == third["server"]
        assert 8183 == third["api"]["port"]
        assert {"command_bus": "postgres", "node_name": "csms-3"} == third["cluster"]
        assert BASE["database"] == third["database"]
        assert 600.0 == third["load"]["lease_s"]

    def test_once_only_jobs_run_on_the_first_node_alone(self) -> None:
        """Rollouts and the certificate watch stay as the base says on csms-1 and are off on
        the others; load management stays on everywhere (each site has one owner)."""
        base = {**BASE, "certificates": {"run_watch": True}}
        cluster = plan(base, Path("/run/c"), 2)
        first, second = (node_config(cluster, node) for node in cluster.nodes)
        assert first["certificates"]["run_watch"] is True
        assert "run_rollouts" not in first["files"]
        for section, key in ONE_NODE_ONLY:
            assert second[section][key] is False
        assert first["load"]["enabled"] is second["load"]["enabled"] is True

    def test_files_are_shared_and_served_through_the_balancer(self) -> None:
        """One files directory for all nodes; download URLs name the balancer's API unless
        the base names another."""
        cluster = plan(BASE, Path("/run/c"), 2, api_port=8088)
        a, b = (node_config(cluster, node)["files"] for node in cluster.nodes)
        assert a["directory"] == b["directory"] == "/run/c/files"
        assert "http://127.0.0.1:8088" == a["public_url"]
        own = plan({**BASE, "files": {"public_url": "https://csms.example.org"}}, Path("/r"))
        assert "https://csms.example.org" == node_config(own, own.nodes[1])["files"][
            "public_url"]

    def test_a_node_may_have_its_own_database_url(self) -> None:
        cluster = plan(BASE, Path("/run/c"), 2)
        proxied = "postgresql+asyncpg://postgres@127.0.0.1:6543/csms_cluster"
        node = type(cluster.nodes[1])("csms-2", 1, 2, database_url=proxied)
        assert proxied == node_config(cluster, node)["database"]["url"]

    def test_the_written_file_is_a_valid_configuration(self, tmp_path: Path,
                                                       clean_env: None) -> None:
        """What the runner writes loads as the node's settings."""
        cluster = plan(BASE, tmp_path, 2)
        path = tmp_path / "csms-2.toml"
        path.write_text(toml_text(node_config(cluster, cluster.nodes[1])))
        settings = load_settings(path)
        assert ("csms-2", "postgres", 9102) == (
            settings.cluster.node_name, settings.cluster.command_bus, settings.server.port)
        assert settings.files.run_rollouts is False

    def test_no_nodes_is_refused(self) -> None:
        with pytest.raises(ValueError, match="at least one node"):
            plan(BASE, Path("/run/c"), 0)


class TestToml:
    def test_round_trip(self) -> None:
        """Scalars, strings needing escapes, arrays, nested and inline tables come back
        as they went in; None is left out."""
        data: dict[str, Any] = {
            "a": {"s": 'say "hi"\n\\ 小区', "i": -3, "f": 0.1, "b": False, "none": None,
                  "list": ["x", 1.5], "at": datetime(2026, 11, 27, 12, tzinfo=UTC),
                  "rows": [{"k": 1}], "sub": {"deep": {"x": 1}}},
            "odd key": {"inf": float("inf")},
        }
        back = tomllib.loads(toml_text(data))
        expected = {**data, "a": {k: v for k, v in data["a"].items() if k != "none"}}
        assert expected == back


class TestHaproxy:
    def test_websockets_pass_and_nodes_are_checked_on_readyz(self) -> None:
        """HTTP mode with a tunnel timeout, leastconn for OCPP, each server checked on its
        node's API port with GET /readyz and its sessions shut when marked down."""
        cluster = plan(BASE, Path("/run/c"), 2, bind="0.0.0.0", ocpp_port=9000)
        text = haproxy_config(cluster)
        assert "    mode http" in text
        assert "    timeout tunnel 1h" in text
        assert "    http-check send meth GET uri /readyz" in text
        assert "    bind 0.0.0.0:9000" in text
        backend = text.split("\nbackend csms_ocpp\n")[1].split("\n\n")[0].splitlines()
        assert "    balance leastconn" == backend[0]
        assert backend[2].startswith("    server csms-2 127.0.0.1:9102 check ")
        assert backend[2].endswith("on-marked-down shutdown-sessions port 8182")
