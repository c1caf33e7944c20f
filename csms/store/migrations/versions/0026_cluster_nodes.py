"""cluster nodes: each node's heartbeat, and the node in the chargers' connection log
(csms.store.cluster.tables, csms.store.city.tables)

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'cluster_nodes',
        sa.Column('node', sa.String(length=60), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('node', name=op.f('pk_cluster_nodes')),
    )
    with op.batch_alter_table('charger_connections') as batch:
        batch.add_column(sa.Column('node', sa.String(length=60), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('charger_connections') as batch:
        batch.drop_column('node')
    op.drop_table('cluster_nodes')
