"""The whole database schema: the core tables and each area's own.

Import :data:`metadata` from here (not from :mod:`csms.store.tables`) wherever the complete
schema matters: the migrations' environment, ``alembic check``, test set-up.
"""

from __future__ import annotations

from csms.store import (  # noqa: F401 - imported for their tables
    tables_billing,
    tables_load,
    tables_safety,
    tables_sharing,
)
from csms.store.city import tables as city_tables  # noqa: F401 - for its tables
from csms.store.device_model import tables as device_model_tables  # noqa: F401
from csms.store.files import tables as files_tables  # noqa: F401 - for its tables
from csms.store.health import tables as tables_health  # noqa: F401 - for its tables
from csms.store.local_lists import tables as local_lists_tables  # noqa: F401
from csms.store.platform import tables as platform_tables  # noqa: F401 - for its tables
from csms.store.remote_starts import tables as remote_starts_tables  # noqa: F401
from csms.store.reservations import tables as reservations_tables  # noqa: F401
from csms.store.tables import metadata

__all__ = ["metadata"]
