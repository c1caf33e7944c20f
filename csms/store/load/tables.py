"""Site load limits, feeders, base load, allocations and the site series (orderly charging).

Tables on the shared :data:`csms.store.tables.metadata`; :mod:`csms.store.schema` imports
this module so the migrations and ``alembic check`` see them.

Rules:
1. A site takes part in load management only when it has a ``site_load`` row.
2. Power is in W, current in A per phase, the transformer in kVA; factors are ratios.
3. ``load_evses`` overrides the core ``evses`` columns (``max_current_a``, ``phases``) and
   places an EVSE under a feeder; EVSE 0 stands for every EVSE of that charge point.
4. ``load_site_owners``: which node allocates a site, until when, under which fencing token
   (csms.store.load.owners), and what its passes remember (leases, safe shares, refusals,
   declared needs) so that the next owner carries on where it stopped.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
)

from csms.store.tables import BigId, Stamp, metadata

site_load = Table(
    "site_load", metadata,
    Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("transformer_kva", Float, nullable=False),
    Column("loading_factor", Float, nullable=False),
    Column("power_factor", Float, nullable=False),
    Column("margin_w", Float, nullable=False),
    Column("supply_phases", Integer, nullable=False),
    Column("voltage_v", Float, nullable=False),
    Column("hard_cap_w", Float),
    Column("reading_max_age_s", Integer, nullable=False),
    Column("updated_at", Stamp, nullable=False),
)

site_base_load_profile = Table(
    "site_base_load_profile", metadata,
    Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
    Column("day_type", String(10), primary_key=True),  # workday / rest_day
    Column("hour", Integer, primary_key=True),  # local hour 0..23
    Column("load_w", Float, nullable=False),
    CheckConstraint("hour >= 0 AND hour < 24", name="hour"),
)

site_base_load_reading = Table(
    "site_base_load_reading", metadata,
    Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
    Column("load_w", Float, nullable=False),
    Column("at", Stamp, nullable=False),
    Column("received_at", Stamp, nullable=False),
)

site_feeders = Table(
    "site_feeders", metadata,
    Column("id", Integer, primary_key=True),
    Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("parent_id", ForeignKey("site_feeders.id")),  # None: directly under the site
    Column("name", String(100), nullable=False),
    Column("limit_w", Float, nullable=False),
)

load_evses = Table(
    "load_evses", metadata,
    Column("station_id", ForeignKey("charge_points.id", ondelete="CASCADE"),
           primary_key=True),
    Column("evse_id", Integer, primary_key=True),
    Column("feeder_id", ForeignKey("site_feeders.id")),
    Column("max_current_a", Float),
    Column("phases", Integer),
)

site_load_series = Table(
    "site_load_series", metadata,
    Column("id", BigId, primary_key=True),
    Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    Column("at", Stamp, nullable=False),
    Column("limit_w", Float, nullable=False),
    Column("allocated_w", Float, nullable=False),
    Column("measured_w", Float, nullable=False),
    Column("base_load_w", Float, nullable=False),
    Index("ix_site_load_series_site_at", "site_id", "at"),
)

load_site_owners = Table(
    "load_site_owners", metadata,
    Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
    Column("node", String(60), nullable=False),  # [cluster] node_name of the owner
    Column("token", BigInteger, nullable=False),  # +1 on every change of owner (fencing)
    Column("expires_at", Stamp, nullable=False),  # the owner's lease; renewed while alive
    Column("state", JSON),  # csms.services.load.memory: what the passes remember
    Column("state_at", Stamp),
)

__all__ = [
    "load_evses",
    "load_site_owners",
    "site_base_load_profile",
    "site_base_load_reading",
    "site_feeders",
    "site_load",
    "site_load_series",
]
