"""residents' PINs for the page behind the charger QR code; sessions by id token

Revision ID: 0023
Revises: 0024
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0024'
branch_labels = None
depends_on = None

STAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table("resident_pins",
        sa.Column("id_token", sa.String(36), nullable=False),
        sa.Column("pin_hash", sa.String(200), nullable=False),
        sa.Column("set_at", STAMP, nullable=False),
        sa.Column("set_by", sa.String(100), nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_failure_at", STAMP, nullable=True),
        sa.ForeignKeyConstraint(["id_token"], ["id_tokens.id_token"],
                                name=op.f("fk_resident_pins_id_token_id_tokens"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id_token", name=op.f("pk_resident_pins")),
    )
    op.create_index("ix_sessions_id_token", "sessions", ["id_token"])


def downgrade() -> None:
    op.drop_index("ix_sessions_id_token", table_name="sessions")
    op.drop_table("resident_pins")
