"""A reserved connector is not allocated power until the car arrives. Pure.

Rules:
1. A reservation holds a connector for a resident, not a share of the site's power: the
   allocator keeps no headroom for it, and a connector that reports ``Reserved`` is given
   no current even if a session is recorded there.
2. A session that consumed a reservation starts drawing only once the charger reports the
   car (a status in :data:`CAR_PRESENT`); until then it is held at 0 A and what it would
   have had goes to the other sessions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, TypeVar

CAR_PRESENT: Final = frozenset(
    {"Occupied", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing"})

K = TypeVar("K")


def awaiting_car(connector_status: str | None, consumed_reservation: bool) -> bool:
    """Whether the session on a connector in ``connector_status`` is held at 0 A (rules)."""
    if connector_status == "Reserved":
        return True
    return consumed_reservation and connector_status not in CAR_PRESENT


def held(keys: Iterable[K], statuses: Mapping[K, str | None],
         reserved: frozenset[K]) -> set[K]:
    """The keys (EVSEs) whose sessions wait for their car: :func:`awaiting_car` of each."""
    return {k for k in keys if awaiting_car(statuses.get(k), k in reserved)}
