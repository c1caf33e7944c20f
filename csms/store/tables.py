"""Database tables (SQLAlchemy Core). Migrations in ``migrations/`` are made from these.

Rules:
1. Every timestamp column is ``DateTime(timezone=True)`` and holds UTC; SQLite gets it back
   naive, and :func:`csms.store.repository.utc` makes it aware again.
2. Natural keys that make retransmissions idempotent are unique constraints, so even two
   nodes racing cannot create a duplicate session or transaction event.
3. Rows never leave ``csms.store``: repositories return domain types.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    UniqueConstraint,
)

from csms.domain.authorization import token_key

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# An integer primary key that is BIGINT on PostgreSQL and INTEGER (the rowid) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Stamp = DateTime(timezone=True)

districts = Table(
    "districts", metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(12), unique=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("short_name", String(50)),
    Column("pilot_target", Integer),  # the plan's pilot-year target, communities
)

communities = Table(
    "communities", metadata,
    Column("id", Integer, primary_key=True),
    Column("district_id", ForeignKey("districts.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("address", String(400)),
    Column("latitude", Numeric(9, 6)),
    Column("longitude", Numeric(9, 6)),
)

sites = Table(
    "sites", metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", ForeignKey("communities.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("transformer_kva", Numeric(10, 2)),
    Column("max_power_w", Integer),
    Column("timezone", String(64), nullable=False, server_default="Asia/Shanghai"),
    # WGS-84; null: the site stands at its community's coordinates (csms.city.coverage)
    Column("latitude", Numeric(9, 6)),
    Column("longitude", Numeric(9, 6)),
)

charge_points = Table(
    "charge_points", metadata,
    Column("id", String(48), primary_key=True),
    Column("site_id", ForeignKey("sites.id"), index=True),
    Column("registration_status", String(16), nullable=False),
    Column("password_hash", String(200)),
    # The lowest security profile this charge point is held to (null: the server's); raised
    # to 3 when it first connects with a client certificate, lowered only by an operator.
    Column("security_profile", Integer),
    Column("ocpp_version", String(16)),
    Column("vendor", String(50)),
    Column("model", String(50)),
    Column("serial_number", String(50)),
    Column("firmware_version", String(50)),
    Column("created_at", Stamp, nullable=False),
    Column("last_boot_at", Stamp),
    Column("last_seen_at", Stamp),
)

evses = Table(
    "evses", metadata,
    Column("station_id", ForeignKey("charge_points.id", ondelete="CASCADE"), primary_key=True),
    Column("evse_id", Integer, primary_key=True),
    Column("max_current_a", Float),
    Column("phases", Integer),
)

connectors = Table(
    "connectors", metadata,
    Column("station_id", String(48), primary_key=True),
    Column("evse_id", Integer, primary_key=True),
    Column("connector_id", Integer, primary_key=True),
    Column("status", String(20), nullable=False),
    Column("error_code", String(50)),
    Column("vendor_error_code", String(50)),
    Column("status_at", Stamp, nullable=False),
    ForeignKeyConstraint(
        ["station_id", "evse_id"], ["evses.station_id", "evses.evse_id"], ondelete="CASCADE"
    ),
)

connector_status_history = Table(
    "connector_status_history", metadata,
    Column("id", BigId, primary_key=True),
    Column("station_id", ForeignKey("charge_points.id"), nullable=False),
    Column("evse_id", Integer, nullable=False),
    Column("connector_id", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("error_code", String(50)),
    Column("vendor_error_code", String(50)),
    Column("info", String(100)),
    Column("at", Stamp, nullable=False),
    Column("received_at", Stamp, nullable=False),
    # station, EVSE, connector, charger's time, status, error code (csms.store.rows): a
    # retransmitted StatusNotification is stored once
    Column("status_key", String(32)),
    # unique within (station, time), so a station's new rows sit together (migration 0028);
    # it also serves the look-ups by station and time
    Index("uq_status_history_station_at_key", "station_id", "at", "status_key", unique=True),
    info={"ignore_duplicates": True},
)

residents = Table(
    "residents", metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", ForeignKey("communities.id"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("unit", String(50)),  # building and room, e.g. "3-201"
    Column("phone", String(30)),
    Column("created_at", Stamp, nullable=False),
)

def _token_key(context: Any) -> str:
    """``token_key`` of the row's ``id_token``: every insert gets the key it is compared by."""
    return token_key(context.get_current_parameters()["id_token"])


id_tokens = Table(
    "id_tokens", metadata,
    Column("id_token", String(36), primary_key=True),  # as first registered
    # What look-ups compare (csms.domain.authorization.token_key): one row per key.
    Column("token_key", String(36), nullable=False, unique=True, index=True,
           default=_token_key),
    Column("kind", String(20), nullable=False, server_default="ISO14443"),
    Column("status", String(16), nullable=False),
    Column("expires_at", Stamp),
    Column("group_id", String(36)),
    Column("owner", String(200)),
    Column("resident_id", ForeignKey("residents.id"), index=True),
    Column("created_at", Stamp, nullable=False),
)

sessions = Table(
    "sessions", metadata,
    Column("id", BigId, primary_key=True),
    Column("station_id", ForeignKey("charge_points.id"), nullable=False),
    Column("evse_id", Integer),
    Column("connector_id", Integer),
    Column("transaction_id", String(36)),
    Column("id_token", String(36)),
    Column("auth_status", String(16)),
    Column("status", String(16), nullable=False),  # active / ended
    Column("started_at", Stamp),
    Column("ended_at", Stamp),
    Column("meter_start_wh", Float),
    Column("meter_stop_wh", Float),
    Column("energy_wh", Float),
    Column("stop_reason", String(40)),
    Column("last_seq_no", Integer),
    Column("had_offline_events", Boolean, nullable=False, server_default="0"),
    # 1.6: what the charger sent in StartTransaction (csms.domain.transactions), so that a
    # retransmission finds its session and any other start is a new one
    Column("start_key", String(32)),
    Column("flags", JSON),  # csms.domain.transactions.SessionFlag values, sorted
    Column("created_at", Stamp, nullable=False),
    Column("updated_at", Stamp, nullable=False),
    UniqueConstraint("station_id", "transaction_id"),
    UniqueConstraint("station_id", "start_key"),
    Index("ix_sessions_station_status", "station_id", "status"),
    Index("ix_sessions_started_at", "started_at"),
    Index("ix_sessions_id_token", "id_token"),  # a card's sessions (csms.resident)
)

transaction_events = Table(
    "transaction_events", metadata,
    Column("id", BigId, primary_key=True),
    Column("session_id", ForeignKey("sessions.id"), nullable=False),
    Column("seq_no", Integer, nullable=False),
    # seqNo, eventType, timestamp, triggerReason (csms.domain.transactions): a retransmission
    # has the same; a charger that reuses a seqNo for another event does not
    Column("fingerprint", String(32), nullable=False),
    Column("event_type", String(10), nullable=False),
    Column("trigger_reason", String(40)),
    Column("offline", Boolean, nullable=False),
    Column("at", Stamp, nullable=False),
    Column("received_at", Stamp, nullable=False),
    UniqueConstraint("session_id", "fingerprint"),
    Index("ix_transaction_events_session_seq", "session_id", "seq_no"),
)

meter_values = Table(
    "meter_values", metadata,
    Column("id", BigId, primary_key=True),
    Column("station_id", String(48), nullable=False),
    Column("session_id", ForeignKey("sessions.id")),
    Column("evse_id", Integer),  # unknown for a 2.0.1 transaction first seen without its EVSE
    Column("connector_id", Integer),
    Column("at", Stamp, nullable=False),
    Column("measurand", String(50), nullable=False),
    Column("phase", String(8)),
    Column("unit", String(20)),
    Column("context", String(24)),
    Column("location", String(10)),
    Column("value", Float, nullable=False),
    # the sample's natural key (csms.store.rows.sample_keys): each sample is stored once
    Column("sample_key", String(32)),
    Column("received_at", Stamp),  # the CSMS's clock (retention); NULL before migration 0008
    Index("ix_meter_values_session", "session_id"),
    # unique within (station, time), so a station's new rows sit together (migration 0028);
    # it also serves the look-ups by station and time
    Index("uq_meter_values_station_at_key", "station_id", "at", "sample_key", unique=True),
    info={"ignore_duplicates": True},
)

station_events = Table(
    "station_events", metadata,
    Column("id", BigId, primary_key=True),
    Column("station_id", String(48), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("code", String(100)),
    Column("evse_id", Integer),
    Column("connector_id", Integer),
    Column("at", Stamp, nullable=False),
    Column("received_at", Stamp, nullable=False),
    Column("details", JSON, nullable=False),
    Index("ix_station_events_station_at", "station_id", "at"),
    Index("ix_station_events_kind", "kind"),
)

command_log = Table(
    "command_log", metadata,
    Column("id", BigId, primary_key=True),
    Column("station_id", String(48), nullable=False, index=True),
    Column("action", String(40), nullable=False),
    Column("request", JSON, nullable=False),
    Column("outcome", String(20), nullable=False),  # answered / callerror / timeout / offline
    Column("response", JSON),
    Column("requested_by", String(100)),
    Column("requested_at", Stamp, nullable=False),
    Column("answered_at", Stamp),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", String(24), primary_key=True),  # public part of the bearer token
    Column("secret_hash", String(64), nullable=False),  # sha256 of the random secret
    Column("role", String(20), nullable=False),
    Column("district_id", ForeignKey("districts.id")),
    Column("community_id", ForeignKey("communities.id")),
    Column("description", String(200)),
    Column("created_by", String(100), nullable=False),
    Column("created_at", Stamp, nullable=False),
    Column("expires_at", Stamp),
    Column("revoked_at", Stamp),
)

# Append-only and hash-chained (csms.safety.audit; written only by csms.store.access.audit):
# ``seq`` numbers the chain without gaps, ``hash`` is the SHA-256 of the canonical form of
# the row including ``prev_hash``. Migration 0004 adds triggers that refuse UPDATE and DELETE.
audit_log = Table(
    "audit_log", metadata,
    Column("id", BigId, primary_key=True),
    Column("at", Stamp, nullable=False),
    Column("actor", String(100), nullable=False),  # "token:<id>" or "cli:<user>"
    Column("action", String(40), nullable=False),  # create / update / delete / command
    Column("resource", String(40), nullable=False),
    Column("resource_id", String(100)),
    Column("details", JSON, nullable=False),
    Column("seq", BigInteger, nullable=False, unique=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_at", "at"),
)

__all__ = [
    "api_tokens",
    "audit_log",
    "charge_points",
    "command_log",
    "communities",
    "connector_status_history",
    "connectors",
    "districts",
    "evses",
    "id_tokens",
    "metadata",
    "meter_values",
    "residents",
    "sessions",
    "sites",
    "station_events",
    "transaction_events",
]
