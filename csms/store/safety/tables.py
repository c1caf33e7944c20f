"""Alarms and their protective actions (issue 7: alarm rules and lifecycle).

Tables on the shared :data:`csms.store.tables.metadata`; :mod:`csms.store.schema` imports
this module so the migrations and ``alembic check`` see them.

Rules:
1. One open alarm per condition: ``open_key`` holds the condition (csms.safety.alarms
   rule 6) while the alarm is raised or acknowledged and NULL once cleared; its unique
   constraint admits any number of NULLs on SQLite and PostgreSQL alike, so even two nodes
   cannot open the same condition twice.
2. Where an alarm lies (site, community, district) is resolved when it is raised and kept:
   reports and scopes see the place it happened, even if the charger moves later.
3. Times to acknowledge and to clear are kept in seconds for reports.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Float, ForeignKey, Index, Integer, String, Table

from csms.store.tables import BigId, Stamp, metadata

alarms = Table(
    "alarms", metadata,
    Column("id", BigId, primary_key=True),
    Column("code", String(40), nullable=False),
    Column("level", Integer, nullable=False),  # 1 personal safety, 2 equipment, 3 notice
    Column("state", String(16), nullable=False),  # raised / acknowledged / cleared
    Column("condition_key", String(200), nullable=False),
    Column("open_key", String(200), unique=True),  # rule 1
    Column("station_id", String(48)),
    Column("evse_id", Integer),
    Column("connector_id", Integer),
    Column("session_id", BigInteger),
    Column("site_id", Integer),
    Column("feeder_id", Integer),
    Column("community_id", Integer),
    Column("district_id", Integer),
    Column("evidence", JSON, nullable=False),
    Column("raised_at", Stamp, nullable=False),
    Column("acknowledged_at", Stamp),
    Column("acknowledged_by", String(100)),
    Column("ack_comment", String(1000)),
    Column("cleared_at", Stamp),
    Column("cleared_by", String(100)),  # "rule" for an automatic clear
    Column("clear_reason", String(1000)),
    Column("seconds_to_acknowledge", Float),
    Column("seconds_to_clear", Float),
    Index("ix_alarms_raised_at", "raised_at"),
    Index("ix_alarms_community_raised_at", "community_id", "raised_at"),
    Index("ix_alarms_station_raised_at", "station_id", "raised_at"),
    Index("ix_alarms_condition_key", "condition_key"),
)

alarm_actions = Table(
    "alarm_actions", metadata,
    Column("id", BigId, primary_key=True),
    Column("alarm_id", ForeignKey("alarms.id"), nullable=False, index=True),
    Column("action", String(40), nullable=False),  # stop_session / make_inoperative
    Column("station_id", String(48), nullable=False),
    Column("command", JSON, nullable=False),
    Column("outcome", String(20), nullable=False),  # answered/offline/timeout/callerror/...
    Column("status", String(40)),  # the charger's answer, e.g. Accepted
    Column("detail", String(500)),
    Column("requested_at", Stamp, nullable=False),
    Column("answered_at", Stamp, nullable=False),
)

__all__ = ["alarm_actions", "alarms"]
