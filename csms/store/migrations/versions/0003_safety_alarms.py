"""safety alarms

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_STAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('alarms',
    sa.Column('id', _ID, nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('condition_key', sa.String(length=200), nullable=False),
    sa.Column('open_key', sa.String(length=200), nullable=True),
    sa.Column('station_id', sa.String(length=48), nullable=True),
    sa.Column('evse_id', sa.Integer(), nullable=True),
    sa.Column('connector_id', sa.Integer(), nullable=True),
    sa.Column('session_id', sa.BigInteger(), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('feeder_id', sa.Integer(), nullable=True),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('district_id', sa.Integer(), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('raised_at', _STAMP, nullable=False),
    sa.Column('acknowledged_at', _STAMP, nullable=True),
    sa.Column('acknowledged_by', sa.String(length=100), nullable=True),
    sa.Column('ack_comment', sa.String(length=1000), nullable=True),
    sa.Column('cleared_at', _STAMP, nullable=True),
    sa.Column('cleared_by', sa.String(length=100), nullable=True),
    sa.Column('clear_reason', sa.String(length=1000), nullable=True),
    sa.Column('seconds_to_acknowledge', sa.Float(), nullable=True),
    sa.Column('seconds_to_clear', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alarms')),
    sa.UniqueConstraint('open_key', name=op.f('uq_alarms_open_key'))
    )
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.create_index('ix_alarms_raised_at', ['raised_at'], unique=False)
        batch_op.create_index('ix_alarms_community_raised_at', ['community_id', 'raised_at'],
                              unique=False)
        batch_op.create_index('ix_alarms_station_raised_at', ['station_id', 'raised_at'],
                              unique=False)
        batch_op.create_index('ix_alarms_condition_key', ['condition_key'], unique=False)

    op.create_table('alarm_actions',
    sa.Column('id', _ID, nullable=False),
    sa.Column('alarm_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('station_id', sa.String(length=48), nullable=False),
    sa.Column('command', sa.JSON(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=40), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=True),
    sa.Column('requested_at', _STAMP, nullable=False),
    sa.Column('answered_at', _STAMP, nullable=False),
    sa.ForeignKeyConstraint(['alarm_id'], ['alarms.id'],
                            name=op.f('fk_alarm_actions_alarm_id_alarms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alarm_actions'))
    )
    with op.batch_alter_table('alarm_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alarm_actions_alarm_id'), ['alarm_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('alarm_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alarm_actions_alarm_id'))
    op.drop_table('alarm_actions')
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.drop_index('ix_alarms_condition_key')
        batch_op.drop_index('ix_alarms_station_raised_at')
        batch_op.drop_index('ix_alarms_community_raised_at')
        batch_op.drop_index('ix_alarms_raised_at')
    op.drop_table('alarms')
