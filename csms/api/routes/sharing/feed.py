"""The live safety feed (family ``safety``, read): Server-Sent Events of alarms, connector
status changes and station events, scoped to the token's district or community.

``GET /feed/safety`` with ``Accept: text/event-stream`` streams until the client leaves:
``event: alarm|connector_status|station_event``, ``id:`` a per-server counter, ``data:``
the notice as JSON; a ``: keep-alive`` comment every ``[sharing] feed_keepalive_s``. A
subscriber too slow to keep up is dropped with a final ``: dropped`` comment (rule 1 of
csms.services.sharing.feed) and should reconnect. Without ``Accept: text/event-stream`` the answer
is 406: a plain GET would otherwise never end.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import StreamingResponse

from csms.api.access import Family, Principal, in_scope
from csms.api.deps import CsmsDep, require
from csms.api.models import FORBIDDEN
from csms.services.sharing.feed import CLOSED, DROPPED, FeedHub, Notice

router = APIRouter(tags=["safety"])
Reader = Annotated[Principal, Depends(require(Family.SAFETY, "read"))]
EVENT_STREAM = "text/event-stream"


def frame(event_id: int, notice: Notice) -> bytes:
    """One SSE event for ``notice``."""
    data = json.dumps(notice.body(), ensure_ascii=False, separators=(",", ":"))
    return f"id: {event_id}\nevent: {notice.kind}\ndata: {data}\n\n".encode()


async def stream(hub: FeedHub, principal: Principal, keepalive_s: float
                 ) -> AsyncIterator[bytes]:
    """Subscribe, then yield events in the principal's scope until dropped or cancelled."""
    subscriber = hub.subscribe(lambda d, c: in_scope(principal, d, c))
    try:
        yield b": connected\n\n"
        while True:
            try:
                item = await asyncio.wait_for(subscriber.get(), keepalive_s)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if item is CLOSED:
                yield b": closing: the server is stopping; reconnect\n\n"
                return
            if item is DROPPED or not isinstance(item, tuple):
                yield b": dropped: too slow to keep up; reconnect\n\n"
                return
            yield frame(*item)
    finally:
        hub.unsubscribe(subscriber)


@router.get("/feed/safety", response_class=StreamingResponse,
            responses={**FORBIDDEN, 200: {"content": {EVENT_STREAM: {}},
                                          "description": "the event stream"},
                       406: {"description": "Accept does not name text/event-stream"}})
async def safety_feed(request: Request, csms: CsmsDep, principal: Reader
                      ) -> StreamingResponse:
    """Live alarms and safety data in the token's scope, as Server-Sent Events. Send
    ``Accept: text/event-stream`` (406 otherwise)."""
    if EVENT_STREAM not in request.headers.get("accept", "").lower():
        raise HTTPException(status.HTTP_406_NOT_ACCEPTABLE,
                            f"this endpoint streams; send Accept: {EVENT_STREAM}")
    assert csms.sharing is not None
    return StreamingResponse(
        stream(csms.sharing.hub, principal, csms.settings.sharing.feed_keepalive_s),
        media_type=EVENT_STREAM, headers={"Cache-Control": "no-cache",
                                          "X-Accel-Buffering": "no"})
