"""Job claims (csms.store.cluster.claims): one row per once-only job of the cluster.

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

__all__ = ["job_claims"]
