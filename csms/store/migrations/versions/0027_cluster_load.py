"""cluster load management and ordered webhooks: site owners with fencing tokens and the
allocator's memory (csms.store.load.owners); the charge point of each webhook delivery, so
that one charger's deliveries go in order (csms.store.sharing.outbox)

Revision ID: 0027
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0027'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'load_site_owners',
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('node', sa.String(length=60), nullable=False),
        sa.Column('token', sa.BigInteger(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('state', sa.JSON(), nullable=True),
        sa.Column('state_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'], ondelete='CASCADE',
                                name=op.f('fk_load_site_owners_site_id_sites')),
        sa.PrimaryKeyConstraint('site_id', name=op.f('pk_load_site_owners')),
    )
    with op.batch_alter_table('webhook_outbox') as batch:
        batch.add_column(sa.Column('station_id', sa.String(length=48), nullable=True))
        batch.create_index('ix_webhook_outbox_order',
                           ['status', 'subscription_id', 'station_id', 'id'])


def downgrade() -> None:
    with op.batch_alter_table('webhook_outbox') as batch:
        batch.drop_index('ix_webhook_outbox_order')
        batch.drop_column('station_id')
    op.drop_table('load_site_owners')
