"""The whole database schema: the core tables and each area's own.

Import :data:`metadata` from here (not from :mod:`csms.store.tables`) wherever the complete
schema matters: the migrations' environment, ``alembic check``, test set-up.
"""

from __future__ import annotations

from csms.store.billing import tables as billing_tables  # noqa: F401 - for its tables
from csms.store.certificates import tables as certificates_tables  # noqa: F401
from csms.store.city import tables as city_tables  # noqa: F401 - for its tables
from csms.store.cluster import tables as cluster_tables  # noqa: F401 - for its tables
from csms.store.console import tables as console_tables  # noqa: F401 - for its tables
from csms.store.device_model import tables as device_model_tables  # noqa: F401
from csms.store.files import tables as files_tables  # noqa: F401 - for its tables
from csms.store.health import tables as tables_health  # noqa: F401 - for its tables
from csms.store.load import tables as load_tables  # noqa: F401 - for its tables
from csms.store.local_lists import tables as local_lists_tables  # noqa: F401
from csms.store.platform import tables as platform_tables  # noqa: F401 - for its tables
from csms.store.remote_starts import tables as remote_starts_tables  # noqa: F401
from csms.store.reservations import tables as reservations_tables  # noqa: F401
from csms.store.resident_pins import tables as resident_pins_tables  # noqa: F401
from csms.store.safety import tables as safety_tables  # noqa: F401 - for its tables
from csms.store.sharing import tables as sharing_tables  # noqa: F401 - for its tables
from csms.store.tables import metadata

__all__ = ["metadata"]
