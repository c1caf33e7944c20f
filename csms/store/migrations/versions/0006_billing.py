"""billing: tariffs, packages, subscriptions, wallet ledger, session charges

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
STAMP = sa.DateTime(timezone=True)
PRICE = sa.Numeric(precision=12, scale=6)
KWH = sa.Numeric(precision=16, scale=6)


def upgrade() -> None:
    op.create_table("packages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(50), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("included_kwh", KWH, nullable=False),
        sa.Column("coverage", sa.String(12), nullable=False),
        sa.Column("periods", sa.String(40), nullable=True),
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("communities", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", STAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_packages")),
        sa.UniqueConstraint("code", "version", name=op.f("uq_packages_code_version"))
        )
    op.create_table("subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("valid_from", STAMP, nullable=False),
        sa.Column("valid_until", STAMP, nullable=False),
        sa.Column("included_kwh", KWH, nullable=False),
        sa.Column("auto_renew", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("renewal_of", sa.Integer(), nullable=True),
        sa.Column("purchased_at", STAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["package_id"], ["packages.id"],
            name=op.f("fk_subscriptions_package_id_packages")),
        sa.ForeignKeyConstraint(
            ["renewal_of"], ["subscriptions.id"],
            name=op.f("fk_subscriptions_renewal_of_subscriptions")),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"],
            name=op.f("fk_subscriptions_resident_id_residents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("resident_id", "package_id", "valid_from",
            name=op.f("uq_subscriptions_resident_id_package_id_valid_from"))
        )
    op.create_index(op.f("ix_subscriptions_resident_id"), "subscriptions",
        ["resident_id"], unique=False)
    op.create_table("tariffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("effective_from", STAMP, nullable=False),
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), server_default="CNY", nullable=False),
        sa.Column("electricity_yuan_per_kwh", PRICE, nullable=False),
        sa.Column("electricity_period", sa.String(10), nullable=False),
        sa.Column("service_yuan_per_kwh", PRICE, nullable=False),
        sa.Column("service_period", sa.String(10), nullable=False),
        sa.Column("holidays", sa.JSON(), nullable=False),
        sa.Column("workdays", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", STAMP, nullable=False),
        sa.CheckConstraint("(community_id IS NULL) <> (site_id IS NULL)",
                           name=op.f("ck_tariffs_one_scope")),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"],
            name=op.f("fk_tariffs_community_id_communities")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_tariffs_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariffs"))
        )
    op.create_index("ix_tariffs_scope", "tariffs",
        ["community_id", "site_id", "effective_from"], unique=False)
    op.create_table("tariff_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tariff_id", sa.Integer(), nullable=False),
        sa.Column("component", sa.String(12), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("starts", sa.Time(), nullable=False),
        sa.Column("ends", sa.Time(), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("yuan_per_kwh", PRICE, nullable=False),
        sa.Column("day_types", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(
            ["tariff_id"], ["tariffs.id"],
            name=op.f("fk_tariff_segments_tariff_id_tariffs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariff_segments"))
        )
    op.create_index(op.f("ix_tariff_segments_tariff_id"), "tariff_segments",
        ["tariff_id"], unique=False)
    op.create_table("package_usage",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("session_id", BIG_ID, nullable=False),
        sa.Column("detail_index", sa.Integer(), nullable=False),
        sa.Column("energy_kwh", KWH, nullable=False),
        sa.Column("at", STAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"],
            name=op.f("fk_package_usage_session_id_sessions")),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["subscriptions.id"],
            name=op.f("fk_package_usage_subscription_id_subscriptions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_package_usage"))
        )
    op.create_index(op.f("ix_package_usage_session_id"), "package_usage",
        ["session_id"], unique=False)
    op.create_index(op.f("ix_package_usage_subscription_id"), "package_usage",
        ["subscription_id"], unique=False)
    op.create_table("session_charges",
        sa.Column("session_id", BIG_ID, nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("started_at", STAMP, nullable=False),
        sa.Column("ended_at", STAMP, nullable=False),
        sa.Column("energy_kwh", KWH, nullable=False),
        sa.Column("electricity_fen", sa.BigInteger(), nullable=False),
        sa.Column("service_fen", sa.BigInteger(), nullable=False),
        sa.Column("package_kwh", KWH, nullable=False),
        sa.Column("due_electricity_fen", sa.BigInteger(), nullable=False),
        sa.Column("due_service_fen", sa.BigInteger(), nullable=False),
        sa.Column("wallet_fen", sa.BigInteger(), nullable=False),
        sa.Column("shortfall_fen", sa.BigInteger(), nullable=False),
        sa.Column("priced_at", STAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"],
            name=op.f("fk_session_charges_community_id_communities")),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"],
            name=op.f("fk_session_charges_resident_id_residents")),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"],
            name=op.f("fk_session_charges_session_id_sessions")),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_session_charges"))
        )
    op.create_index(op.f("ix_session_charges_resident_id"), "session_charges",
        ["resident_id"], unique=False)
    op.create_table("wallet_entries",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("at", STAMP, nullable=False),
        sa.Column("debit", sa.String(60), nullable=False),
        sa.Column("credit", sa.String(60), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("ref", sa.String(80), nullable=False),
        sa.Column("memo", sa.String(200), server_default="", nullable=False),
        sa.Column("session_id", BIG_ID, nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_wallet_entries_positive")),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"],
            name=op.f("fk_wallet_entries_resident_id_residents")),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"],
            name=op.f("fk_wallet_entries_session_id_sessions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_entries")),
        sa.UniqueConstraint("ref", "debit", "credit",
            name=op.f("uq_wallet_entries_ref_debit_credit"))
        )
    op.create_index("ix_wallet_entries_resident_at", "wallet_entries",
        ["resident_id", "at"], unique=False)
    op.create_table("session_charge_details",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("session_id", BIG_ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("starts_at", STAMP, nullable=False),
        sa.Column("ends_at", STAMP, nullable=False),
        sa.Column("tariff_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("energy_kwh", KWH, nullable=False),
        sa.Column("electricity_yuan_per_kwh", PRICE, nullable=False),
        sa.Column("service_yuan_per_kwh", PRICE, nullable=False),
        sa.Column("electricity_fen", sa.BigInteger(), nullable=False),
        sa.Column("service_fen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["session_charges.session_id"],
            name=op.f("fk_session_charge_details_session_id_session_charges")),
        sa.ForeignKeyConstraint(
            ["tariff_id"], ["tariffs.id"],
            name=op.f("fk_session_charge_details_tariff_id_tariffs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_charge_details"))
        )
    op.create_index(op.f("ix_session_charge_details_session_id"), "session_charge_details",
        ["session_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_session_charge_details_session_id"),
        table_name="session_charge_details")
    op.drop_table("session_charge_details")
    op.drop_index("ix_wallet_entries_resident_at", table_name="wallet_entries")
    op.drop_table("wallet_entries")
    op.drop_index(op.f("ix_session_charges_resident_id"), table_name="session_charges")
    op.drop_table("session_charges")
    op.drop_index(op.f("ix_package_usage_subscription_id"), table_name="package_usage")
    op.drop_index(op.f("ix_package_usage_session_id"), table_name="package_usage")
    op.drop_table("package_usage")
    op.drop_index(op.f("ix_tariff_segments_tariff_id"), table_name="tariff_segments")
    op.drop_table("tariff_segments")
    op.drop_index("ix_tariffs_scope", table_name="tariffs")
    op.drop_table("tariffs")
    op.drop_index(op.f("ix_subscriptions_resident_id"), table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_table("packages")
