"""Closing a charge point's connection on purpose, saying why (issue 15 point 5).

Used when its password changes, it is rejected, or its certificate is revoked: the close
reason goes to the charger, a station event and a security audit row record it.
"""

from __future__ import annotations

from csms.domain.model import StationEventReported
from csms.handlers.connection import ConnectionRegistry
from csms.services.stations import StationService
from csms.store.repository import Store


async def disconnect(connections: ConnectionRegistry, stations: StationService, store: Store,
                     station_id: str, reason: str, actor: str) -> bool:
    """Close the charge point's connection on this node, if it has one; whether it had."""
    connection = connections.get(station_id)
    if connection is None:
        return False
    await connection.close(reason)
    details: dict[str, object] = {"reason": reason, "by": actor}
    await stations.reported([StationEventReported(
        station_id, "disconnected_by_csms", stations.now(), code=reason, details=details)])
    await store.security_audit(station_id, "disconnect", details)
    return True
