"""security profiles: the lowest profile each charge point is held to

Revision ID: 0020
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('charge_points') as batch:
        batch.add_column(sa.Column('security_profile', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('charge_points') as batch:
        batch.drop_column('security_profile')
