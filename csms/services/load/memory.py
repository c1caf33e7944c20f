"""What a site's load passes remember, as JSON, so that the next owner of the site in a
cluster carries on where the last one stopped (csms.services.load.cluster).

Rules:
1. Remembered: the TxProfile leases each EVSE accepted (a new owner renews them before they
   end, and knows what the chargers may draw now), the safe shares installed, the refusals
   (an EVSE that refused keeps being counted at its maximum: forgetting it would allocate
   power it does not obey), and the needs declared by running sessions.
2. Also written: the pass's allocation as the API shows it (``view``), so that every node
   answers ``GET /sites/{id}/load/allocations`` with the owner's, and when it was written.
3. Not remembered: the previous allocation (its minimum-run hysteresis starts again), the
   overload timers (an overload is observed again within ``overload_hold_s``) and the
   draws (read from the database's meter values by every pass of a cluster owner).
4. Pure functions over plain data; an entry that does not parse is dropped, never raised:
   the memory is an optimisation over starting afresh, which is always safe (safe shares
   and profiles are sent again).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from csms.services.load.site import EvseKey, Need, Refusal, SiteState, SiteView
from csms.smartcharging.leases import Lease

Memory = dict[str, Any]
T = TypeVar("T")


def evse_key(key: EvseKey) -> str:
    """An EVSE as a JSON object key."""
    return f"{key[0]}\x1f{key[1]}"


def _evse(text: str) -> EvseKey:
    station, evse = text.rsplit("\x1f", 1)
    return station, int(evse)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def encode(state: SiteState, needs: Mapping[EvseKey, Need], view: SiteView | None,
           now: datetime) -> Memory:
    """Rules 1 and 2: ``state``, the site's ``needs`` and ``view`` as JSON-ready data."""
    return {
        "at": now.isoformat(),
        "view": None if view is None else view_body(view),
        "leases": {evse_key(k): {"tx": v.transaction_ref, "a": v.limit_a,
                             "to": _time(v.valid_to), "since": _time(v.since)}
                   for k, v in state.leases.items()},
        "safe": {evse_key(k): v for k, v in state.safe.items()},
        "refused": {evse_key(k): {"at": _time(v.at), "tx": v.transaction_ref}
                    for k, v in state.refused.items()},
        "needs": {evse_key(k): {"wh": v.energy_wh, "by": _time(v.departure_at)}
                  for k, v in needs.items()},
    }


def restore(state: SiteState, memory: Memory) -> dict[EvseKey, Need]:
    """Rules 1 and 4: fill ``state`` from ``memory``; returns the remembered needs."""
    state.leases = dict(_entries(memory, "leases", lambda v: Lease(
        str(v["tx"]), float(v["a"]), _required(v["to"]), _parse(v.get("since")))))
    state.safe = dict(_entries(memory, "safe", float))
    state.refused = dict(_entries(memory, "refused", lambda v: Refusal(
        _required(v["at"]), None if v.get("tx") is None else str(v["tx"]))))
    return dict(_entries(memory, "needs", lambda v: Need(float(v["wh"]),
                                                         _required(v["by"]))))


def written_at(memory: Memory) -> datetime | None:
    """When ``memory`` was written (None: not said)."""
    try:
        return _parse(memory.get("at"))
    except (ValueError, TypeError):
        return None


def view_body(view: SiteView) -> dict[str, Any]:
    """Rule 2: the allocation with the fields of the API's ``AllocationsOut``."""
    return {
        "at": view.at.isoformat(), "headroom_w": view.headroom.available_w,
        "allocated_w": view.allocated_w, "measured_w": view.measured_w,
        "overloaded": view.overloaded, "safe_shares_a": dict(view.safe_shares_a),
        "connectors": [{**dataclasses.asdict(c), "lease_until": _time(c.lease_until)}
                       for c in view.connectors],
    }


def _required(value: Any) -> datetime:
    parsed = _parse(value)
    if parsed is None:
        raise ValueError("a time is missing")
    return parsed


def _entries(memory: Memory, part: str, build: Callable[[Any], T]
             ) -> list[tuple[EvseKey, T]]:
    out = []
    found = memory.get(part)
    for text, value in (found.items() if isinstance(found, dict) else ()):
        try:
            out.append((_evse(text), build(value)))
        except (KeyError, ValueError, TypeError, AttributeError):
            continue  # rule 4
    return out
