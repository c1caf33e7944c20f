"""Commands for local authorization and reservations, version-neutral.

Rules:
1. A local-list entry carries the token's :class:`~csms.domain.model.Authorization`, or
   ``None`` for "remove this token" (only in a differential update).
2. ``SendLocalList.version`` is the version the charger's list has once it applied the
   message; :mod:`csms.domain.local_list` decides versions and splitting.
3. ``ReserveNow.evse_id`` ``None`` (1.6 connector 0) reserves any EVSE; 2.0.1 may name a
   ``connector_type`` instead. Times are aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from csms.domain.model import Authorization, IdToken


@dataclass(frozen=True, slots=True)
class LocalAuthEntry:
    """One token of a local authorization list; ``authorization`` None: remove it."""

    id_token: IdToken
    authorization: Authorization | None


@dataclass(frozen=True, slots=True)
class SendLocalList:
    version: int
    full: bool
    entries: tuple[LocalAuthEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class GetLocalListVersion:
    """The version of the charger's local list (1.6 ``listVersion``, 2.0.1 ``versionNumber``)."""


@dataclass(frozen=True, slots=True)
class ClearCache:
    """Empty the charger's authorization cache (not its local list)."""


@dataclass(frozen=True, slots=True)
class ReserveNow:
    reservation_id: int
    id_token: IdToken
    expires_at: datetime
    evse_id: int | None = None  # None: any EVSE (1.6 connector 0)
    connector_type: str | None = None  # 2.0.1 only
    group_id: str | None = None  # 1.6 parentIdTag, 2.0.1 groupIdToken


@dataclass(frozen=True, slots=True)
class CancelReservation:
    reservation_id: int


@dataclass(frozen=True, slots=True)
class LocalListVersion:
    """The charger's local-list version: 0 no list, -1 (1.6) local lists not supported."""

    version: int
