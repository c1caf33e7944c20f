"""The remote starts the CSMS asked for (RequestStartTransaction / RemoteStartTransaction).

A table on the shared :data:`csms.store.tables.metadata`; :mod:`csms.store.schema` imports
this module so the migrations and ``alembic check`` see it.

Rules:
1. A row's ``id`` is the ``remoteStartId`` sent: unique per request (``AUTOINCREMENT`` on
   SQLite, so an id is never reused even after the newest row is gone).
2. ``outcome`` is "pending" until the charger answers, then its status (Accepted,
   Rejected) or what went wrong (offline, timeout, callerror, not_supported, invalid).
3. ``session_id`` is the session the charger started for the request, once seen; a session
   answers at most one request (unique; NULLs never collide). No foreign key: like the
   command log, a request does not keep its session from retention.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table

from csms.store.tables import BigId, Stamp, metadata

remote_starts = Table(
    "remote_starts", metadata,
    Column("id", BigId, primary_key=True),
    Column("station_id", String(48), nullable=False),
    Column("evse_id", Integer),  # None: the charger picks the EVSE
    Column("id_token", String(36), nullable=False),
    Column("token_key", String(36), nullable=False),  # csms.domain.authorization.token_key
    Column("requested_at", Stamp, nullable=False),
    Column("requested_by", String(100)),
    Column("outcome", String(20), nullable=False),
    Column("session_id", BigInteger, unique=True),
    Column("matched_at", Stamp),
    Column("matched_by", String(16)),  # "remote_start_id" or "window" (1.6, no id)
    Index("ix_remote_starts_station_requested", "station_id", "requested_at"),
    sqlite_autoincrement=True,
)
