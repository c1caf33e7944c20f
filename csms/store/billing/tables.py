"""Tariffs, packages, subscriptions, wallets and session charges (issue 6: tariffs and packages).

Tables on the shared :data:`csms.store.tables.metadata`; :mod:`csms.store.schema` imports
this module so the migrations and ``alembic check`` see them.

Rules:
1. Money that is posted (ledger amounts, charged totals and details) is an integer number of
   fen (``*_fen``, BigInteger): exact sums in SQL on both databases. Prices per kWh are
   ``Numeric(12, 6)`` yuan and energy ``Numeric(16, 6)`` kWh, read back as ``Decimal``.
2. Tariff and package rows are versions: never updated, never deleted. A new price is a new
   row with a later ``effective_from`` (tariffs) or a higher ``version`` (packages).
3. Ledger entries are immutable double-entry records (``csms.tariffs.ledger``); a balance
   is the sum of credits minus debits of an account. ``(ref, debit, credit)`` is unique, so
   a session is charged once even if its end is replayed.
4. A session's charge and details are written in the transaction that ends the session and
   never recomputed: a later tariff version cannot reprice an ended session.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Time,
    UniqueConstraint,
)

from csms.store.tables import BigId, Stamp, metadata

Price = Numeric(12, 6)
Kwh = Numeric(16, 6)

tariffs = Table(
    "tariffs", metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", ForeignKey("communities.id")),
    Column("site_id", ForeignKey("sites.id")),
    Column("name", String(100), nullable=False),
    Column("effective_from", Stamp, nullable=False),
    Column("zone", String(64), nullable=False),
    Column("currency", String(3), nullable=False, server_default="CNY"),
    Column("electricity_yuan_per_kwh", Price, nullable=False),
    Column("electricity_period", String(10), nullable=False),
    Column("service_yuan_per_kwh", Price, nullable=False),
    Column("service_period", String(10), nullable=False),
    Column("holidays", JSON, nullable=False),  # ["2026-10-01", ...] local dates
    Column("workdays", JSON, nullable=False),  # make-up workdays
    Column("created_by", String(100), nullable=False),
    Column("created_at", Stamp, nullable=False),
    CheckConstraint("(community_id IS NULL) <> (site_id IS NULL)", name="one_scope"),
    Index("ix_tariffs_scope", "community_id", "site_id", "effective_from"),
)

tariff_segments = Table(
    "tariff_segments", metadata,
    Column("id", Integer, primary_key=True),
    Column("tariff_id", ForeignKey("tariffs.id"), nullable=False, index=True),
    Column("component", String(12), nullable=False),  # electricity / service
    Column("position", Integer, nullable=False),  # first match wins
    Column("starts", Time, nullable=False),  # local wall time, [starts, ends)
    Column("ends", Time, nullable=False),  # 00:00 = midnight at the end of the day
    Column("period", String(10), nullable=False),
    Column("yuan_per_kwh", Price, nullable=False),
    Column("day_types", String(40), nullable=False),  # "weekday,weekend,holiday"
)

packages = Table(
    "packages", metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(50), nullable=False),
    Column("version", Integer, nullable=False),
    Column("name", String(100), nullable=False),
    Column("price_fen", BigInteger, nullable=False),
    Column("included_kwh", Kwh, nullable=False),
    Column("coverage", String(12), nullable=False),  # electricity / service / both
    Column("periods", String(40)),  # "valley" ...; null = any time
    Column("zone", String(64), nullable=False),
    Column("communities", JSON, nullable=False),  # [community id, ...]
    Column("created_by", String(100), nullable=False),
    Column("created_at", Stamp, nullable=False),
    UniqueConstraint("code", "version"),
)

subscriptions = Table(
    "subscriptions", metadata,
    Column("id", Integer, primary_key=True),
    Column("resident_id", ForeignKey("residents.id"), nullable=False, index=True),
    Column("package_id", ForeignKey("packages.id"), nullable=False),
    Column("valid_from", Stamp, nullable=False),
    Column("valid_until", Stamp, nullable=False),
    Column("included_kwh", Kwh, nullable=False),
    Column("auto_renew", Boolean, nullable=False, server_default="0"),
    Column("renewal_of", ForeignKey("subscriptions.id")),
    Column("purchased_at", Stamp, nullable=False),
    UniqueConstraint("resident_id", "package_id", "valid_from"),
)

package_usage = Table(
    "package_usage", metadata,
    Column("id", BigId, primary_key=True),
    Column("subscription_id", ForeignKey("subscriptions.id"), nullable=False, index=True),
    Column("session_id", ForeignKey("sessions.id"), nullable=False, index=True),
    Column("detail_index", Integer, nullable=False),
    Column("energy_kwh", Kwh, nullable=False),
    Column("at", Stamp, nullable=False),
)

wallet_entries = Table(
    "wallet_entries", metadata,
    Column("id", BigId, primary_key=True),
    Column("resident_id", ForeignKey("residents.id"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("at", Stamp, nullable=False),
    Column("debit", String(60), nullable=False),
    Column("credit", String(60), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("ref", String(80), nullable=False),
    Column("memo", String(200), nullable=False, server_default=""),
    Column("session_id", ForeignKey("sessions.id")),
    Column("created_by", String(100), nullable=False),
    CheckConstraint("amount_fen > 0", name="positive"),
    UniqueConstraint("ref", "debit", "credit"),
    Index("ix_wallet_entries_resident_at", "resident_id", "at"),
)

session_charges = Table(
    "session_charges", metadata,
    Column("session_id", ForeignKey("sessions.id"), primary_key=True),
    Column("resident_id", ForeignKey("residents.id"), index=True),
    Column("community_id", ForeignKey("communities.id")),
    Column("started_at", Stamp, nullable=False),
    Column("ended_at", Stamp, nullable=False),
    Column("energy_kwh", Kwh, nullable=False),
    Column("electricity_fen", BigInteger, nullable=False),  # the full price (order)
    Column("service_fen", BigInteger, nullable=False),
    Column("package_kwh", Kwh, nullable=False),
    Column("due_electricity_fen", BigInteger, nullable=False),  # after packages
    Column("due_service_fen", BigInteger, nullable=False),
    Column("wallet_fen", BigInteger, nullable=False),  # taken from the wallet
    Column("shortfall_fen", BigInteger, nullable=False),  # booked as owed
    Column("priced_at", Stamp, nullable=False),
)

session_charge_details = Table(
    "session_charge_details", metadata,
    Column("id", BigId, primary_key=True),
    Column("session_id", ForeignKey("session_charges.session_id"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("starts_at", Stamp, nullable=False),
    Column("ends_at", Stamp, nullable=False),
    Column("tariff_id", ForeignKey("tariffs.id"), nullable=False),
    Column("period", String(10), nullable=False),
    Column("energy_kwh", Kwh, nullable=False),
    Column("electricity_yuan_per_kwh", Price, nullable=False),
    Column("service_yuan_per_kwh", Price, nullable=False),
    Column("electricity_fen", BigInteger, nullable=False),
    Column("service_fen", BigInteger, nullable=False),
)

__all__ = [
    "package_usage",
    "packages",
    "session_charge_details",
    "session_charges",
    "subscriptions",
    "tariff_segments",
    "tariffs",
    "wallet_entries",
]
