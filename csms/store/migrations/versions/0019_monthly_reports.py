"""monthly reports: the stored monthly district reports and the chargers' connection log
(csms.store.city.tables)

Revision ID: 0019
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'monthly_reports',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('scope_key', sa.String(length=40), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('district_id', sa.Integer(), nullable=True),
        sa.Column('format', sa.String(length=8), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('generated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('generated_by', sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_monthly_reports')),
        sa.UniqueConstraint('scope_key', name=op.f('uq_monthly_reports_scope_key')),
    )
    op.create_index(op.f('ix_monthly_reports_month'), 'monthly_reports', ['month'],
                    unique=False)
    op.create_table(
        'charger_connections',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('station_id', sa.String(length=48), nullable=False),
        sa.Column('connected', sa.Boolean(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_charger_connections')),
    )
    op.create_index('ix_charger_connections_station_at', 'charger_connections',
                    ['station_id', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_charger_connections_station_at', table_name='charger_connections')
    op.drop_table('charger_connections')
    op.drop_index(op.f('ix_monthly_reports_month'), table_name='monthly_reports')
    op.drop_table('monthly_reports')
