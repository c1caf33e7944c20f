"""What every message handler of one connection shares, and the handler tables.

Handlers are module-level functions ``handler(ctx, payload) -> answer``, one table per OCPP
version, built once; a connection binds its :class:`StationContext` to the table with
:class:`BoundHandlers`, so an idle connection carries no per-action closures.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from csms.domain.model import RegistrationStatus
from csms.handlers.ocppj import ErrorCode, OcppError
from csms.handlers.rpc import Handler, Payload
from csms.handlers.translate.common import report
from csms.services.stations import StationService


@dataclass(slots=True)
class StationContext:
    """Per-connection state the handlers read and update."""

    station_id: str
    service: StationService
    registration: RegistrationStatus
    # transaction id -> session id, for the transactions seen on this connection
    sessions: dict[str, int] = field(default_factory=dict)
    seen_at: datetime | None = None  # the last last_seen_at stamp of this connection


ContextHandler = Callable[[StationContext, Payload], Awaitable[Payload]]


def guarded(handler: ContextHandler, *, before_boot_ok: bool = False) -> ContextHandler:
    """Refuse messages from a station that is not Accepted (OCPP: SecurityError), and turn
    values the schema cannot catch (an unparseable timestamp) into a PropertyConstraint
    CALLERROR instead of an InternalError."""

    async def run(ctx: StationContext, payload: Payload) -> Payload:
        if not before_boot_ok and ctx.registration is not RegistrationStatus.ACCEPTED:
            raise OcppError(
                ErrorCode.SECURITY_ERROR,
                f"charge point is {ctx.registration.value}; only BootNotification is allowed",
            )
        try:
            answer = await handler(ctx, payload)
        except (ValueError, OverflowError) as exc:  # a value out of a type's range
            raise OcppError(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, str(exc)) from None
        ctx.seen_at = ctx.service.heard(ctx.station_id, ctx.seen_at)
        return answer

    return run


def handler_table(
    handlers: dict[str, ContextHandler], boot_action: str = "BootNotification"
) -> dict[str, ContextHandler]:
    """Guard every handler; only ``boot_action`` is allowed before registration."""
    return {
        action: guarded(handler, before_boot_ok=action == boot_action)
        for action, handler in handlers.items()
    }


def reporter(kind: str, answer: Payload | None = None) -> ContextHandler:
    """A handler that records the message as a station event and gives a fixed answer."""
    async def handle(ctx: StationContext, p: Payload) -> Payload:
        await ctx.service.reported([report(ctx.station_id, kind, p, ctx.service.now())])
        return dict(answer or {})

    return handle


class BoundHandlers(Mapping[str, Handler]):
    """A version's handler table seen through one connection's context."""

    __slots__ = ("_ctx", "_table")

    def __init__(self, ctx: StationContext, table: Mapping[str, ContextHandler]) -> None:
        self._ctx = ctx
        self._table = table

    def __getitem__(self, action: str) -> Handler:
        return partial(self._table[action], self._ctx)

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)
