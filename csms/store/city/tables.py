"""Stored monthly reports (csms.city.report): one row per month, district and format.

A table on the shared :data:`csms.store.tables.metadata`; :mod:`csms.store.schema` imports
this module so the migrations and ``alembic check`` see it.

Rules:
1. ``scope_key`` is ``<month>:<district id or "city">:<format>``: unique, so one report per
   month, district (NULL: the whole city) and format, even though NULLs never collide.
   Generating it again replaces the row.
2. ``content`` holds the file itself (a report is tens of kB); ``sha256`` is its hex digest,
   so a downloaded copy can be checked.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, LargeBinary, String, Table

from csms.store.tables import BigId, Stamp, metadata

monthly_reports = Table(
    "monthly_reports", metadata,
    Column("id", BigId, primary_key=True),
    Column("scope_key", String(40), nullable=False, unique=True),
    Column("month", String(7), nullable=False, index=True),  # "2026-11"
    Column("district_id", Integer),  # None: the whole city
    Column("format", String(8), nullable=False),  # xlsx / csv / json
    Column("content", LargeBinary, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("generated_at", Stamp, nullable=False),
    Column("generated_by", String(100), nullable=False),
)


# When each charger connected and disconnected (csms.services.city.connection_log): the offline
# windows of the report's availability (csms.city.report rule 3).
charger_connections = Table(
    "charger_connections", metadata,
    Column("id", BigId, primary_key=True),
    Column("station_id", String(48), nullable=False),
    Column("connected", Boolean, nullable=False),  # False: disconnected
    Column("at", Stamp, nullable=False),
    Column("node", String(60)),  # the node it connected to (None: before migration 0026)
    Index("ix_charger_connections_station_at", "station_id", "at"),
)

__all__ = ["charger_connections", "monthly_reports"]
