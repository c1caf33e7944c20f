"""certificates: what the CSMS's CA issued, and what chargers report as installed

Revision ID: 0024
Revises: 0026
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0026'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
STAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table("issued_certificates",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("station_id", sa.String(48), nullable=False),
        sa.Column("serial", sa.String(40), nullable=False),
        sa.Column("certificate_type", sa.String(32), nullable=False),
        sa.Column("common_name", sa.String(64), nullable=True),
        sa.Column("not_before", STAMP, nullable=False),
        sa.Column("not_after", STAMP, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("pem", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("issued_at", STAMP, nullable=False),
        sa.Column("installed_at", STAMP, nullable=True),
        sa.Column("renewal_requested_at", STAMP, nullable=True),
        sa.Column("revoked_at", STAMP, nullable=True),
        sa.Column("revoked_reason", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issued_certificates")),
        sa.UniqueConstraint("serial", name=op.f("uq_issued_certificates_serial")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_issued_certificates_station", "issued_certificates",
                    ["station_id", "issued_at"])
    op.create_index("ix_issued_certificates_not_after", "issued_certificates", ["not_after"])
    op.create_table("installed_certificates",
        sa.Column("station_id", sa.String(48), nullable=False),
        sa.Column("certificate_type", sa.String(32), nullable=False),
        sa.Column("hash_algorithm", sa.String(8), nullable=False),
        sa.Column("issuer_name_hash", sa.String(128), nullable=False),
        sa.Column("issuer_key_hash", sa.String(128), nullable=False),
        sa.Column("serial_number", sa.String(40), nullable=False),
        sa.Column("reported_at", STAMP, nullable=False),
        sa.PrimaryKeyConstraint("station_id", "certificate_type", "hash_algorithm",
                                "issuer_name_hash", "issuer_key_hash", "serial_number",
                                name=op.f("pk_installed_certificates")),
    )


def downgrade() -> None:
    op.drop_table("installed_certificates")
    op.drop_index("ix_issued_certificates_not_after", table_name="issued_certificates")
    op.drop_index("ix_issued_certificates_station", table_name="issued_certificates")
    op.drop_table("issued_certificates")
