"""token keys (id tokens compared case-insensitively) and remote starts

Revision ID: 0013
Revises: 0008

``id_tokens.token_key`` is computed here for existing rows with the rule of this revision
(csms.domain.authorization.token_key as of 0013: ASCII letters upper-cased; copied, so a
later change of the rule needs its own migration). Two rows that now share a key (say
``deadbeef`` and ``DEADBEEF``) are one card under the new rule, but they may differ in
status, expiry or resident, and picking one could unblock a blocked card: the upgrade then
stops *before changing anything*, naming every such group, and the operator keeps one row
of each (delete or rename the others) and upgrades again.
"""

from __future__ import annotations

import string
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0008'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
STAMP = sa.DateTime(timezone=True)
_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)


class TokenKeyClash(RuntimeError):
    """Existing id tokens that differ only in letter case; the message names them."""


def _key(value: str) -> str:
    return value.translate(_ASCII_UPPER)


def _keys(connection: sa.Connection) -> dict[str, str]:
    """id_token -> its key; raises TokenKeyClash if two tokens share one."""
    tokens = connection.execute(sa.text("SELECT id_token FROM id_tokens")).scalars().all()
    groups: dict[str, list[str]] = defaultdict(list)
    for token in tokens:
        groups[_key(token)].append(token)
    clashes = [sorted(group) for group in groups.values() if len(group) > 1]
    if clashes:
        named = "; ".join(", ".join(map(repr, group)) for group in sorted(clashes))
        raise TokenKeyClash(
            "migration 0013 compares id tokens case-insensitively, and these id tokens are"
            f" now the same card: {named}. Nothing was changed. Keep one row of each group"
            " (remove or rename the others in the id_tokens table) and run `csms db upgrade`"
            " again.")
    return {token: _key(token) for token in tokens}


def upgrade() -> None:
    keys = _keys(op.get_bind())  # first: a clash stops the upgrade before any change
    with op.batch_alter_table("id_tokens") as batch:
        batch.add_column(sa.Column("token_key", sa.String(36), nullable=True))
    if keys:
        op.get_bind().execute(
            sa.text("UPDATE id_tokens SET token_key = :key WHERE id_token = :token"),
            [{"key": key, "token": token} for token, key in keys.items()])
    with op.batch_alter_table("id_tokens") as batch:
        batch.alter_column("token_key", existing_type=sa.String(36), nullable=False)
        batch.create_index(batch.f("ix_id_tokens_token_key"), ["token_key"], unique=True)
    op.create_table("remote_starts",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("station_id", sa.String(48), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=True),
        sa.Column("id_token", sa.String(36), nullable=False),
        sa.Column("token_key", sa.String(36), nullable=False),
        sa.Column("requested_at", STAMP, nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("session_id", sa.BigInteger(), nullable=True),
        sa.Column("matched_at", STAMP, nullable=True),
        sa.Column("matched_by", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remote_starts")),
        sa.UniqueConstraint("session_id", name=op.f("uq_remote_starts_session_id")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_remote_starts_station_requested", "remote_starts",
                    ["station_id", "requested_at"])


def downgrade() -> None:
    op.drop_index("ix_remote_starts_station_requested", table_name="remote_starts")
    op.drop_table("remote_starts")
    with op.batch_alter_table("id_tokens") as batch:
        batch.drop_index(batch.f("ix_id_tokens_token_key"))
        batch.drop_column("token_key")
