"""firmware files, rollouts and updates; log requests and their uploads

Revision ID: 0015
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('firmware_files',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('version', sa.String(length=50), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('stored_name', sa.String(length=100), nullable=False),
    sa.Column('download_token', sa.String(length=64), nullable=False),
    sa.Column('signing_certificate', sa.Text(), nullable=True),
    sa.Column('signature', sa.Text(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('uploaded_by', sa.String(length=100), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_firmware_files')),
    sa.UniqueConstraint('download_token', name=op.f('uq_firmware_files_download_token')),
    sqlite_autoincrement=True
    )
    op.create_table('log_requests',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('station_id', sa.String(length=48), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answer', sa.String(length=30), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=True),
    sa.Column('last_status', sa.String(length=30), nullable=True),
    sa.Column('status_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stored_name', sa.String(length=100), nullable=True),
    sa.Column('upload_name', sa.String(length=255), nullable=True),
    sa.Column('content_type', sa.String(length=100), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_requests')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_log_requests_token_hash')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('log_requests', schema=None) as batch_op:
        batch_op.create_index('ix_log_requests_station', ['station_id', 'requested_at'], unique=False)

    op.create_table('firmware_rollouts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('file_id', sa.BigInteger(), nullable=False),
    sa.Column('wave_size', sa.Integer(), nullable=False),
    sa.Column('failure_threshold', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('retrieve_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['file_id'], ['firmware_files.id'], name=op.f('fk_firmware_rollouts_file_id_firmware_files')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_firmware_rollouts')),
    sqlite_autoincrement=True
    )
    op.create_table('firmware_updates',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('station_id', sa.String(length=48), nullable=False),
    sa.Column('file_id', sa.BigInteger(), nullable=True),
    sa.Column('rollout_id', sa.BigInteger(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('wave', sa.Integer(), nullable=True),
    sa.Column('location', sa.String(length=512), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('answer', sa.String(length=30), nullable=True),
    sa.Column('last_status', sa.String(length=30), nullable=True),
    sa.Column('detail', sa.String(length=200), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['file_id'], ['firmware_files.id'], name=op.f('fk_firmware_updates_file_id_firmware_files')),
    sa.ForeignKeyConstraint(['rollout_id'], ['firmware_rollouts.id'], name=op.f('fk_firmware_updates_rollout_id_firmware_rollouts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_firmware_updates')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('firmware_updates', schema=None) as batch_op:
        batch_op.create_index('ix_firmware_updates_rollout', ['rollout_id', 'position'], unique=False)
        batch_op.create_index('ix_firmware_updates_station', ['station_id', 'requested_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('firmware_updates', schema=None) as batch_op:
        batch_op.drop_index('ix_firmware_updates_station')
        batch_op.drop_index('ix_firmware_updates_rollout')

    op.drop_table('firmware_updates')
    op.drop_table('firmware_rollouts')
    with op.batch_alter_table('log_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_log_requests_station')

    op.drop_table('log_requests')
    op.drop_table('firmware_files')
