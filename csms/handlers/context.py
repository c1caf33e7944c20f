"""What every message handler of one connection shares, and the guard around handlers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from csms.domain.model import RegistrationStatus
from csms.handlers.ocppj import ErrorCode, OcppError
from csms.handlers.rpc import Handler, Payload
from csms.services.stations import StationService


@dataclass(slots=True)
class StationContext:
    """Per-connection state the handlers read and update."""

    station_id: str
    service: StationService
    registration: RegistrationStatus


def guarded(ctx: StationContext, handler: Handler, *, before_boot_ok: bool = False) -> Handler:
    """Refuse messages from a station that is not Accepted (OCPP: SecurityError), and turn
    values the schema cannot catch (an unparseable timestamp) into a PropertyConstraint
    CALLERROR instead of an InternalError."""

    async def run(payload: Payload) -> Payload:
        if not before_boot_ok and ctx.registration is not RegistrationStatus.ACCEPTED:
            raise OcppError(
                ErrorCode.SECURITY_ERROR,
                f"charge point is {ctx.registration.value}; only BootNotification is allowed",
            )
        try:
            return await handler(payload)
        except ValueError as exc:
            raise OcppError(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, str(exc)) from None

    return run


def handler_map(
    ctx: StationContext,
    handlers: dict[str, Callable[[Payload], Awaitable[Payload]]],
    boot_action: str = "BootNotification",
) -> dict[str, Handler]:
    return {
        action: guarded(ctx, handler, before_boot_ok=action == boot_action)
        for action, handler in handlers.items()
    }
