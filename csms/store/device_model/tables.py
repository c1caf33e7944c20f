"""The 2.0.1 device model the stations reported, their monitors, and the report requests.

Tables on the shared :data:`csms.store.tables.metadata`; :mod:`csms.store.schema` imports
this module so the migrations and ``alembic check`` see them.

Rules:
1. ``device_variables``: one row per station, component (instance, EVSE, connector),
   variable (instance) and attribute type; absent parts are ``""`` / 0, never NULL, so the
   unique key makes a re-report replace the row (csms.domain.device_model rule 2).
   ``report_id`` is the report that last wrote the row: a complete full inventory removes
   the station's rows that it did not report.
2. ``device_reports``: a row per GetBaseReport / GetReport / GetMonitoringReport the CSMS
   sent; its ``id`` is the ``requestId`` (AUTOINCREMENT on SQLite: never reused). ``seen``
   lists the seqNos received, ``last_seq_no`` the part with tbc false.
3. ``variable_monitors``: the monitors a station runs, by the station's monitor id: those
   the CSMS set (``origin`` "safety" or "api") and those a monitoring report listed
   ("reported").
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from csms.store.tables import BigId, Stamp, metadata

device_variables = Table(
    "device_variables", metadata,
    Column("id", BigId, primary_key=True),
    Column("station_id", String(48), nullable=False),
    Column("component", String(50), nullable=False),
    Column("component_instance", String(50), nullable=False),
    Column("evse_id", Integer, nullable=False),
    Column("connector_id", Integer, nullable=False),
    Column("variable", String(50), nullable=False),
    Column("variable_instance", String(50), nullable=False),
    Column("attribute_type", String(10), nullable=False),
    Column("value", String(2500)),
    Column("mutability", String(10)),
    Column("persistent", Boolean),
    Column("constant", Boolean),
    Column("data_type", String(20)),
    Column("unit", String(16)),
    Column("min_limit", Float),
    Column("max_limit", Float),
    Column("values_list", String(1000)),
    Column("supports_monitoring", Boolean),
    Column("report_id", Integer),
    Column("updated_at", Stamp, nullable=False),
    UniqueConstraint("station_id", "component", "component_instance", "evse_id",
                     "connector_id", "variable", "variable_instance", "attribute_type",
                     name="uq_device_variables_key"),
)

device_reports = Table(
    "device_reports", metadata,
    Column("id", BigId, primary_key=True),
    Column("station_id", String(48), nullable=False),
    Column("kind", String(30), nullable=False),  # FullInventory, ..., Report, Monitoring
    Column("requested_at", Stamp, nullable=False),
    Column("requested_by", String(100)),
    Column("status", String(20), nullable=False),  # pending, the answer, complete
    Column("seen", JSON, nullable=False),
    Column("last_seq_no", Integer),
    Column("completed_at", Stamp),
    Index("ix_device_reports_station_requested", "station_id", "requested_at"),
    sqlite_autoincrement=True,
)

variable_monitors = Table(
    "variable_monitors", metadata,
    Column("id", BigId, primary_key=True),
    Column("station_id", String(48), nullable=False),
    Column("monitor_id", Integer, nullable=False),
    Column("component", String(50), nullable=False),
    Column("component_instance", String(50), nullable=False),
    Column("evse_id", Integer, nullable=False),
    Column("connector_id", Integer, nullable=False),
    Column("variable", String(50), nullable=False),
    Column("variable_instance", String(50), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("value", Float, nullable=False),
    Column("severity", Integer, nullable=False),
    Column("transaction", Boolean, nullable=False),
    Column("origin", String(10), nullable=False),
    Column("updated_at", Stamp, nullable=False),
    UniqueConstraint("station_id", "monitor_id", name="uq_variable_monitors_station_monitor"),
)
