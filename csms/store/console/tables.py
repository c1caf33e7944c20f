"""Console user accounts (csms.console): people who sign in with a name and a password.

A table on the shared :data:`csms.store.tables.metadata`; :mod:`csms.store.schema` imports
this module so the migrations and ``alembic check`` see it.

Rules:
1. ``password_hash`` is a salted scrypt hash (:mod:`csms.passwords`), never the password.
2. ``role``, ``district_id`` and ``community_id`` mean what they mean on an API token
   (:func:`csms.api.access.scope_valid` holds for them).
3. ``failed_count`` counts wrong passwords since the last good sign-in; reaching the limit
   sets ``locked_until`` (csms.console.auth).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table

from csms.store.tables import Stamp, metadata

console_users = Table(
    "console_users", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(32), nullable=False),
    Column("district_id", ForeignKey("districts.id")),
    Column("community_id", ForeignKey("communities.id")),
    Column("totp_secret", String(64)),  # base32 RFC 6238 secret; null: no second factor
    Column("failed_count", Integer, nullable=False, server_default="0"),
    Column("locked_until", Stamp),
    Column("disabled", Boolean, nullable=False, server_default="0"),
    Column("created_at", Stamp, nullable=False),
    Column("created_by", String(100), nullable=False),
)
