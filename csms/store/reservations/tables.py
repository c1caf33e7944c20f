"""Reservations the CSMS made on chargers (ReserveNow) and what became of them.

A table on the shared :data:`csms.store.tables.metadata`; :mod:`csms.store.schema` imports
this module so the migrations and ``alembic check`` see it.

Rules:
1. A row's ``id`` is the ``reservationId`` sent (``AUTOINCREMENT`` on SQLite: never reused).
2. ``status`` follows :class:`csms.domain.reservations.ReservationStatus`; ``outcome`` is
   the charger's answer to ReserveNow (Accepted, Occupied, ...) or what went wrong.
3. ``session_id`` is the session that consumed the reservation (unique; no foreign key, as
   for remote starts).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table

from csms.store.tables import BigId, Stamp, metadata

reservations = Table(
    "reservations", metadata,
    Column("id", BigId, primary_key=True),
    Column("station_id", String(48), nullable=False),
    Column("evse_id", Integer),  # None: any EVSE
    Column("connector_type", String(20)),
    Column("id_token", String(36), nullable=False),
    Column("token_kind", String(20), nullable=False),
    Column("token_key", String(36), nullable=False),
    Column("group_id", String(36)),
    Column("expires_at", Stamp, nullable=False),
    Column("status", String(16), nullable=False),
    Column("outcome", String(20)),
    Column("created_at", Stamp, nullable=False),
    Column("requested_by", String(100)),
    Column("ended_at", Stamp),
    Column("session_id", BigInteger, unique=True),
    Index("ix_reservations_station_status", "station_id", "status"),
    sqlite_autoincrement=True,
)
