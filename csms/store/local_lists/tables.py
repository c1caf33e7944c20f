"""What the CSMS last sent to each charger's local authorization list.

A table pair on the shared :data:`csms.store.tables.metadata`; :mod:`csms.store.schema`
imports this module so the migrations and ``alembic check`` see it.

Rules:
1. ``local_list_state.version`` is the version the charger's list has after the last
   message it accepted; ``local_list_entries`` are exactly the entries it then holds (the
   base of the next differential update, :mod:`csms.domain.local_list`).
2. ``reported_version`` is what the charger last said (GetLocalListVersion), with when.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table

from csms.store.tables import Stamp, metadata

local_list_state = Table(
    "local_list_state", metadata,
    Column("station_id", String(48), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("synced_at", Stamp),
    Column("reported_version", Integer),
    Column("reported_at", Stamp),
    Column("last_outcome", String(40)),
)

local_list_entries = Table(
    "local_list_entries", metadata,
    Column("station_id", String(48), primary_key=True),
    Column("token_key", String(36), primary_key=True),
    Column("id_token", String(36), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("status", String(16), nullable=False),
    Column("expires_at", Stamp),
    Column("group_id", String(36)),
)
