"""job claims: once-only jobs of a cluster (csms.store.cluster.tables)

Revision ID: 0025
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0025'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'job_claims',
        sa.Column('job', sa.String(length=100), nullable=False),
        sa.Column('holder', sa.String(length=64), nullable=False),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('job', name=op.f('pk_job_claims')),
    )


def downgrade() -> None:
    op.drop_table('job_claims')
