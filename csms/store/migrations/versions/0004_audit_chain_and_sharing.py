"""audit chain and sharing

Revision ID: 0004
Revises: 0003

The audit log becomes a hash chain (seq, prev_hash, hash; rows written before this revision
are chained here in id order) and append-only: triggers refuse UPDATE and DELETE (and, on
PostgreSQL, TRUNCATE). ``alembic check`` does not compare triggers; a test does.
Webhook subscriptions and their outbox are new tables.
"""

from __future__ import annotations

from datetime import UTC

import sqlalchemy as sa
from alembic import op

from csms.safety.audit import AuditEntry, chain

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

REFUSED = "audit_log is append-only"
SQLITE_TRIGGERS = [
    f"CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END",
    f"CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END",
]
PG_TRIGGERS = [
    "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN RAISE EXCEPTION '{REFUSED}: % refused', TG_OP; END $$",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
]


def upgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
    _chain_existing_rows()
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_log_seq'), ['seq'])
    for statement in _triggers():
        op.execute(statement)
    _create_sharing_tables()


def _triggers() -> list[str]:
    return PG_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS


def _chain_existing_rows() -> None:
    """Number and link the rows written before this revision, oldest id first."""
    log = sa.table('audit_log', sa.column('id'), sa.column('at', sa.DateTime(timezone=True)),
                   sa.column('actor'),
                   sa.column('action'), sa.column('resource'), sa.column('resource_id'),
                   sa.column('details', sa.JSON()), sa.column('seq'),
                   sa.column('prev_hash'), sa.column('hash'))
    bind = op.get_bind()
    rows = bind.execute(sa.select(log).order_by(log.c.id)).all()
    records = chain(AuditEntry(
        r.at.replace(tzinfo=UTC) if r.at.tzinfo is None else r.at, r.actor, r.action,
        r.resource, r.details, r.resource_id) for r in rows)
    for row, record in zip(rows, records, strict=True):
        bind.execute(sa.update(log).where(log.c.id == row.id).values(
            seq=record.seq, prev_hash=record.prev_hash, hash=record.hash))


def _create_sharing_tables() -> None:
    op.create_table('webhook_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('secret', sa.String(length=200), nullable=False),
    sa.Column('district_id', sa.Integer(), nullable=True),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('kinds', sa.JSON(), nullable=False),
    sa.Column('min_level', sa.Integer(), server_default='3', nullable=False),
    sa.Column('active', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('description', sa.String(length=200), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'],
                            name=op.f('fk_webhook_subscriptions_community_id_communities')),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'],
                            name=op.f('fk_webhook_subscriptions_district_id_districts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_subscriptions'))
    )
    op.create_table('webhook_outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('delivery_id', sa.String(length=36), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['subscription_id'], ['webhook_subscriptions.id'],
                            name=op.f('fk_webhook_outbox_subscription_id_webhook_subscriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_outbox')),
    sa.UniqueConstraint('delivery_id', name=op.f('uq_webhook_outbox_delivery_id'))
    )
    with op.batch_alter_table('webhook_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_outbox_status_next', ['status', 'next_attempt_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_outbox_subscription_id'),
                              ['subscription_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('webhook_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_outbox_subscription_id'))
        batch_op.drop_index('ix_webhook_outbox_status_next')
    op.drop_table('webhook_outbox')
    op.drop_table('webhook_subscriptions')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER audit_log_no_update")
        op.execute("DROP TRIGGER audit_log_no_delete")
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_log_seq'), type_='unique')
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('seq')
