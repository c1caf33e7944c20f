"""site load

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def _site_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(['site_id'], ['sites.id'],
                                   name=op.f(f'fk_{table}_site_id_sites'), ondelete='CASCADE')


def upgrade() -> None:
    op.create_table('site_base_load_profile',
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('day_type', sa.String(length=10), nullable=False),
    sa.Column('hour', sa.Integer(), nullable=False),
    sa.Column('load_w', sa.Float(), nullable=False),
    sa.CheckConstraint('hour >= 0 AND hour < 24', name=op.f('ck_site_base_load_profile_hour')),
    _site_fk('site_base_load_profile'),
    sa.PrimaryKeyConstraint('site_id', 'day_type', 'hour', name=op.f('pk_site_base_load_profile'))
    )
    op.create_table('site_base_load_reading',
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('load_w', sa.Float(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    _site_fk('site_base_load_reading'),
    sa.PrimaryKeyConstraint('site_id', name=op.f('pk_site_base_load_reading'))
    )
    op.create_table('site_feeders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('limit_w', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['site_feeders.id'], name=op.f('fk_site_feeders_parent_id_site_feeders')),
    _site_fk('site_feeders'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_feeders'))
    )
    op.create_index(op.f('ix_site_feeders_site_id'), 'site_feeders', ['site_id'], unique=False)
    op.create_table('site_load',
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('transformer_kva', sa.Float(), nullable=False),
    sa.Column('loading_factor', sa.Float(), nullable=False),
    sa.Column('power_factor', sa.Float(), nullable=False),
    sa.Column('margin_w', sa.Float(), nullable=False),
    sa.Column('supply_phases', sa.Integer(), nullable=False),
    sa.Column('voltage_v', sa.Float(), nullable=False),
    sa.Column('hard_cap_w', sa.Float(), nullable=True),
    sa.Column('reading_max_age_s', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    _site_fk('site_load'),
    sa.PrimaryKeyConstraint('site_id', name=op.f('pk_site_load'))
    )
    op.create_table('site_load_series',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('limit_w', sa.Float(), nullable=False),
    sa.Column('allocated_w', sa.Float(), nullable=False),
    sa.Column('measured_w', sa.Float(), nullable=False),
    sa.Column('base_load_w', sa.Float(), nullable=False),
    _site_fk('site_load_series'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_load_series'))
    )
    op.create_index('ix_site_load_series_site_at', 'site_load_series', ['site_id', 'at'], unique=False)
    op.create_table('load_evses',
    sa.Column('station_id', sa.String(length=48), nullable=False),
    sa.Column('evse_id', sa.Integer(), nullable=False),
    sa.Column('feeder_id', sa.Integer(), nullable=True),
    sa.Column('max_current_a', sa.Float(), nullable=True),
    sa.Column('phases', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['feeder_id'], ['site_feeders.id'], name=op.f('fk_load_evses_feeder_id_site_feeders')),
    sa.ForeignKeyConstraint(['station_id'], ['charge_points.id'], name=op.f('fk_load_evses_station_id_charge_points'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('station_id', 'evse_id', name=op.f('pk_load_evses'))
    )


def downgrade() -> None:
    op.drop_table('load_evses')
    op.drop_index('ix_site_load_series_site_at', table_name='site_load_series')
    op.drop_table('site_load_series')
    op.drop_table('site_load')
    op.drop_index(op.f('ix_site_feeders_site_id'), table_name='site_feeders')
    op.drop_table('site_feeders')
    op.drop_table('site_base_load_reading')
    op.drop_table('site_base_load_profile')
