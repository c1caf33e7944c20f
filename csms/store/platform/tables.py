"""The durable outbox of pushes to the municipal platform (csms.store.platform).

A table on the shared :data:`csms.store.tables.metadata`; :mod:`csms.store.schema` imports
this module so the migrations and ``alembic check`` see it.

Rules:
1. A row is inserted in the unit of work that stores its cause (a status notification, a
   session's end, a boot), so a cause that committed always has its push.
2. ``status`` goes pending -> delivered, pending -> parked after the last attempt (an
   operator may retry it: back to pending), or pending -> superseded when a newer push with
   the same ``push_key`` (a connector's status) was delivered first.
3. ``push_key`` of an order is ``order:<session id>``, unique among orders: one order per
   session.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, String, Table

from csms.store.tables import BigId, Stamp, metadata

platform_pushes = Table(
    "platform_pushes", metadata,
    Column("id", BigId, primary_key=True),
    Column("interface", String(60), nullable=False),  # e.g. notification_stationStatus
    Column("push_key", String(120), nullable=False),
    Column("payload", JSON, nullable=False),  # the Data, in clear (sealed when sent)
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("created_at", Stamp, nullable=False),
    Column("next_attempt_at", Stamp, nullable=False),
    Column("delivered_at", Stamp),
    Column("last_error", String(200)),
    Index("ix_platform_pushes_status_next", "status", "next_attempt_at"),
    Index("ix_platform_pushes_push_key", "push_key"),
    sqlite_autoincrement=True,
)

__all__ = ["platform_pushes"]
