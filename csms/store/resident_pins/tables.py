"""Residents' PINs for the page behind the charger QR code (csms.resident).

A table on the shared :data:`csms.store.tables.metadata`; :mod:`csms.store.schema` imports
this module so the migrations and ``alembic check`` see it.

Rules:
1. One PIN per id token (card), set by the operator; only its salted scrypt hash is stored
   (:mod:`csms.passwords`), never the PIN.
2. A PIN goes with its card: deleting the id token deletes the PIN (``ON DELETE CASCADE``),
   so a card registered again later does not inherit an old PIN.
3. ``failures`` counts wrong PINs entered for the card since the PIN was last set; setting a
   PIN resets it.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table

from csms.store.tables import Stamp, metadata

resident_pins = Table(
    "resident_pins", metadata,
    Column("id_token", ForeignKey("id_tokens.id_token", ondelete="CASCADE"), primary_key=True),
    Column("pin_hash", String(200), nullable=False),
    Column("set_at", Stamp, nullable=False),
    Column("set_by", String(100), nullable=False),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("last_failure_at", Stamp),
)
