"""the municipal platform feed's outbox of pushes

Revision ID: 0021
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0022'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
STAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table("platform_pushes",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("interface", sa.String(60), nullable=False),
        sa.Column("push_key", sa.String(120), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", STAMP, nullable=False),
        sa.Column("next_attempt_at", STAMP, nullable=False),
        sa.Column("delivered_at", STAMP, nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_pushes")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_platform_pushes_status_next", "platform_pushes",
                    ["status", "next_attempt_at"])
    op.create_index("ix_platform_pushes_push_key", "platform_pushes", ["push_key"])


def downgrade() -> None:
    op.drop_index("ix_platform_pushes_push_key", table_name="platform_pushes")
    op.drop_index("ix_platform_pushes_status_next", table_name="platform_pushes")
    op.drop_table("platform_pushes")
