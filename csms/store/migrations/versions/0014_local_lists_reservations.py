"""local authorization lists (what each charger was sent) and reservations

Revision ID: 0014
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0019'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
STAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table("local_list_state",
        sa.Column("station_id", sa.String(48), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("synced_at", STAMP, nullable=True),
        sa.Column("reported_version", sa.Integer(), nullable=True),
        sa.Column("reported_at", STAMP, nullable=True),
        sa.Column("last_outcome", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("station_id", name=op.f("pk_local_list_state")),
    )
    op.create_table("local_list_entries",
        sa.Column("station_id", sa.String(48), nullable=False),
        sa.Column("token_key", sa.String(36), nullable=False),
        sa.Column("id_token", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expires_at", STAMP, nullable=True),
        sa.Column("group_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("station_id", "token_key", name=op.f("pk_local_list_entries")),
    )
    op.create_table("reservations",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("station_id", sa.String(48), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=True),
        sa.Column("connector_type", sa.String(20), nullable=True),
        sa.Column("id_token", sa.String(36), nullable=False),
        sa.Column("token_kind", sa.String(20), nullable=False),
        sa.Column("token_key", sa.String(36), nullable=False),
        sa.Column("group_id", sa.String(36), nullable=True),
        sa.Column("expires_at", STAMP, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=True),
        sa.Column("created_at", STAMP, nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=True),
        sa.Column("ended_at", STAMP, nullable=True),
        sa.Column("session_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
        sa.UniqueConstraint("session_id", name=op.f("uq_reservations_session_id")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_reservations_station_status", "reservations", ["station_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_reservations_station_status", table_name="reservations")
    op.drop_table("reservations")
    op.drop_table("local_list_entries")
    op.drop_table("local_list_state")
