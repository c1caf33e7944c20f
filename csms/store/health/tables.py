"""``node_probes``: one row per CSMS process, rewritten by every readiness check, so that
``/readyz`` proves the group-commit writer can still commit (a full disk, a read-only
database) instead of only that the database answers a read."""

from __future__ import annotations

from sqlalchemy import Column, String, Table

from csms.store.tables import Stamp, metadata

node_probes = Table(
    "node_probes", metadata,
    Column("node_id", String(64), primary_key=True),
    Column("checked_at", Stamp, nullable=False),
)
