"""city places: site coordinates, districts' short names and pilot targets

Revision ID: 0018
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sites') as batch:
        batch.add_column(sa.Column('latitude', sa.Numeric(precision=9, scale=6), nullable=True))
        batch.add_column(sa.Column('longitude', sa.Numeric(precision=9, scale=6), nullable=True))
    with op.batch_alter_table('districts') as batch:
        batch.add_column(sa.Column('short_name', sa.String(length=50), nullable=True))
        batch.add_column(sa.Column('pilot_target', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('districts') as batch:
        batch.drop_column('pilot_target')
        batch.drop_column('short_name')
    with op.batch_alter_table('sites') as batch:
        batch.drop_column('longitude')
        batch.drop_column('latitude')
