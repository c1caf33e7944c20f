"""Job claims (csms.store.cluster.claims): one row per once-only job of the cluster; and
the cluster's nodes with the last time each said it was alive (csms.store.cluster.nodes).

A table on the shared :data:`csms.store.tables.metadata`; :mod:`csms.store.schema` imports
this module so the migrations and ``alembic check`` see it.
"""

from __future__ import annotations

from sqlalchemy import Column, String, Table

from csms.store.tables import Stamp, metadata

job_claims = Table(
    "job_claims", metadata,
    Column("job", String(100), primary_key=True),  # "monthly-report:2026-11"
    Column("holder", String(64), nullable=False),  # the claiming node
    Column("claimed_at", Stamp, nullable=False),
    Column("done_at", Stamp),  # None: claimed, not (yet) done
)

cluster_nodes = Table(
    "cluster_nodes", metadata,
    Column("node", String(60), primary_key=True),  # [cluster] node_name
    Column("started_at", Stamp, nullable=False),
    Column("seen_at", Stamp, nullable=False),  # its last heartbeat (the CSMS clock)
)

__all__ = ["cluster_nodes", "job_claims"]
