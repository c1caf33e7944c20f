"""2.0.1 device model, variable monitors and report requests

Revision ID: 0016
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0020'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
STAMP = sa.DateTime(timezone=True)


def _component() -> list[sa.Column[object]]:
    return [
        sa.Column("component", sa.String(50), nullable=False),
        sa.Column("component_instance", sa.String(50), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("variable", sa.String(50), nullable=False),
        sa.Column("variable_instance", sa.String(50), nullable=False),
    ]


def upgrade() -> None:
    op.create_table("device_variables",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("station_id", sa.String(48), nullable=False),
        *_component(),
        sa.Column("attribute_type", sa.String(10), nullable=False),
        sa.Column("value", sa.String(2500), nullable=True),
        sa.Column("mutability", sa.String(10), nullable=True),
        sa.Column("persistent", sa.Boolean(), nullable=True),
        sa.Column("constant", sa.Boolean(), nullable=True),
        sa.Column("data_type", sa.String(20), nullable=True),
        sa.Column("unit", sa.String(16), nullable=True),
        sa.Column("min_limit", sa.Float(), nullable=True),
        sa.Column("max_limit", sa.Float(), nullable=True),
        sa.Column("values_list", sa.String(1000), nullable=True),
        sa.Column("supports_monitoring", sa.Boolean(), nullable=True),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", STAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_variables")),
        sa.UniqueConstraint("station_id", "component", "component_instance", "evse_id",
                            "connector_id", "variable", "variable_instance", "attribute_type",
                            name="uq_device_variables_key"),
    )
    op.create_table("device_reports",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("station_id", sa.String(48), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("requested_at", STAMP, nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("seen", sa.JSON(), nullable=False),
        sa.Column("last_seq_no", sa.Integer(), nullable=True),
        sa.Column("completed_at", STAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_reports")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_device_reports_station_requested", "device_reports",
                    ["station_id", "requested_at"])
    op.create_table("variable_monitors",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("station_id", sa.String(48), nullable=False),
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        *_component(),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("transaction", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(10), nullable=False),
        sa.Column("updated_at", STAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_variable_monitors")),
        sa.UniqueConstraint("station_id", "monitor_id",
                            name="uq_variable_monitors_station_monitor"),
    )


def downgrade() -> None:
    op.drop_table("variable_monitors")
    op.drop_index("ix_device_reports_station_requested", table_name="device_reports")
    op.drop_table("device_reports")
    op.drop_table("device_variables")
