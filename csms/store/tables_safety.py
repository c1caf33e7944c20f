"""Alarms and their transitions (issue 7: alarm rules and lifecycle).

Tables on the shared :data:`csms.store.tables.metadata`; :mod:`csms.store.schema` imports
this module so the migrations and ``alembic check`` see them.
"""

from __future__ import annotations

from csms.store.tables import BigId, Stamp, metadata  # noqa: F401 - used once tables exist
