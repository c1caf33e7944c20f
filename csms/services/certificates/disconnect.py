"""Closing a charge point's connection on purpose, saying why (issue 15 point 5).

Used when its certificate is revoked: the connection is closed on whichever node holds it
(``CloseConnection`` through the command service and bus, as csms.api.routes.stations.network
does for a rejected charger or a new password); the close reason goes to the charger, a
station event and a security audit row record it.
"""

from __future__ import annotations

import structlog

from csms.domain.commands import CloseConnection
from csms.domain.model import StationEventReported
from csms.errors import CommandError, StationOffline
from csms.services.commands.service import CommandService
from csms.services.stations import StationService
from csms.store.repository import Store

log = structlog.get_logger(__name__)


async def disconnect(commands: CommandService, stations: StationService, store: Store,
                     station_id: str, reason: str, actor: str) -> bool:
    """Close the charge point's connection wherever it is; whether it had one."""
    try:
        await commands.send(station_id, CloseConnection(reason), requested_by=actor)
    except StationOffline:  # connected nowhere (or the bus is down: it reconnects refused)
        return False
    except CommandError as exc:
        log.warning("disconnect.failed", station_id=station_id, error=str(exc))
        return False
    details: dict[str, object] = {"reason": reason, "by": actor}
    await stations.reported([StationEventReported(
        station_id, "disconnected_by_csms", stations.now(), code=reason, details=details)])
    await store.security_audit(station_id, "disconnect", details)
    return True
