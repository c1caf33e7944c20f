"""Webhook subscriptions and their durable outbox (safety sharing).

Tables on the shared :data:`csms.store.tables.metadata`; :mod:`csms.store.schema` imports
this module so the migrations and ``alembic check`` see them. (The audit chain's columns
are on :data:`csms.store.tables.audit_log`.)

Rules:
1. A subscription is never deleted, only deactivated, so its outbox rows keep their owner.
2. An outbox row is inserted in the same transaction as the notice it carries is recorded
   (or, for notices other parts commit, right after; see csms.services.sharing.service); its
   ``delivery_id`` is sent with every attempt so the receiver can drop repeats.
3. ``status`` goes pending -> delivered, or pending -> failed after the last attempt.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
)

from csms.store.tables import BigId, Stamp, metadata

webhook_subscriptions = Table(
    "webhook_subscriptions", metadata,
    Column("id", Integer, primary_key=True),
    Column("url", String(500), nullable=False),
    Column("secret", String(200), nullable=False),  # HMAC-SHA256 key; needed in clear to sign
    Column("district_id", ForeignKey("districts.id")),
    Column("community_id", ForeignKey("communities.id")),
    Column("kinds", JSON, nullable=False),  # notice kinds, e.g. ["alarm", "station_event"]
    Column("min_level", Integer, nullable=False, server_default="3"),  # alarms up to level
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("description", String(200)),
    Column("created_by", String(100), nullable=False),
    Column("created_at", Stamp, nullable=False),
)

webhook_outbox = Table(
    "webhook_outbox", metadata,
    Column("id", BigId, primary_key=True),
    Column("delivery_id", String(36), nullable=False, unique=True),
    Column("subscription_id", ForeignKey("webhook_subscriptions.id"), nullable=False,
           index=True),
    Column("kind", String(40), nullable=False),
    # the notice's charge point: one charger's deliveries to one subscription go in order
    Column("station_id", String(48)),
    Column("payload", JSON, nullable=False),
    Column("status", String(12), nullable=False),  # pending / delivered / failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("created_at", Stamp, nullable=False),
    Column("next_attempt_at", Stamp, nullable=False),
    Column("delivered_at", Stamp),
    Column("last_error", String(200)),
    Index("ix_webhook_outbox_status_next", "status", "next_attempt_at"),
    Index("ix_webhook_outbox_order", "status", "subscription_id", "station_id", "id"),
)

__all__ = ["webhook_outbox", "webhook_subscriptions"]
