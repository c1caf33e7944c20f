"""hardening: readiness probe rows, meter values' receive time

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('node_probes',
    sa.Column('node_id', sa.String(length=64), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('node_id', name=op.f('pk_node_probes'))
    )
    # Nullable: rows from before this migration have only the charger's timestamp.
    op.add_column('meter_values', sa.Column('received_at', sa.DateTime(timezone=True),
                                            nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('meter_values') as batch:
        batch.drop_column('received_at')
    op.drop_table('node_probes')
