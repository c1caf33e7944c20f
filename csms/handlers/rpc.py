"""One OCPP-J endpoint over one WebSocket: answers calls, makes calls, correlates results.

Both ends use it: the CSMS for each charge point, and the simulator for each simulated
charge point.

Rules:
1. Incoming CALLs are handled one at a time, in order (OCPP lets a peer have one CALL
   outstanding); a handler must never await :meth:`RpcEndpoint.call` itself, or the receive
   loop waits on its own result.
2. Every CALL gets exactly one answer: the handler's result, validated against the response
   schema, or a CALLERROR. A handler error is an InternalError for that message alone; the
   connection lives on.
3. :meth:`RpcEndpoint.call` may run from any other task; it raises, never returns ``None``.
4. OCPP-J is text frames only: a binary frame ends :meth:`RpcEndpoint.serve` with
   :class:`BinaryFrame` (the server closes the connection with 1003), whatever it holds.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import structlog
from websockets.exceptions import ConnectionClosed

from csms.handlers.ocppj import (
    Call,
    CallError,
    CallResult,
    ErrorCode,
    OcppError,
    OcppVersion,
    Schemas,
    contains_nul,
    encode_call,
    encode_error,
    encode_result,
    parse_frame,
)

Payload = dict[str, Any]
Handler = Callable[[Payload], Awaitable[Payload]]


class Transport(Protocol):
    """What the endpoint needs of a WebSocket connection."""

    async def send(self, message: str) -> None: ...
    async def recv(self) -> str | bytes: ...


class RpcObserver(Protocol):
    """Counts what goes through an endpoint (metrics); every method must be cheap."""

    def message_handled(self, action: str, seconds: float, error_code: str | None) -> None: ...
    def frame_refused(self, reason: str) -> None: ...
    def handshake_refused(self, reason: str) -> None: ...


class CallFailed(Exception):
    """Our CALL got a CALLERROR back."""

    def __init__(self, action: str, error: CallError) -> None:
        super().__init__(f"{action}: {error.code}: {error.description}")
        self.action = action
        self.error = error


class ResponseInvalid(Exception):
    """Our CALL got a CALLRESULT that breaks the response schema."""

    def __init__(self, action: str, problem: str) -> None:
        super().__init__(f"{action}: {problem}")
        self.action = action
        self.problem = problem


class ConnectionLost(Exception):
    """The connection closed while our CALL waited for its answer."""


class BinaryFrame(Exception):
    """The peer sent a binary frame (rule 4)."""


_ids = itertools.count(1)
_PREFIX = os.urandom(4).hex()


def new_message_id() -> str:
    """A message id unique within this process (at most 36 characters)."""
    return f"{_PREFIX}-{next(_ids)}"


class RpcEndpoint:
    """The OCPP-J side of one connection; run :meth:`serve` in the connection's task group."""

    def __init__(
        self,
        transport: Transport,
        version: OcppVersion,
        schemas: Schemas,
        handlers: Mapping[str, Handler],
        *,
        log: structlog.typing.FilteringBoundLogger,
        observer: RpcObserver | None = None,
    ) -> None:
        self.version = version
        self._transport = transport
        self._schemas = schemas
        self._handlers = handlers
        self._log = log
        self._observer = observer
        self._pending: dict[str, tuple[str, asyncio.Future[Payload]]] = {}
        self.received_at: float | None = None  # time.time() of the last frame from the peer
        self._idle = asyncio.Event()  # set while no CALL of the peer is being handled
        self._idle.set()

    async def serve(self) -> None:
        """Receive frames until the transport closes (its exception propagates)."""
        try:
            while True:
                frame = await self._transport.recv()
                self.received_at = time.time()
                if isinstance(frame, bytes):
                    raise BinaryFrame(f"{len(frame)} bytes")
                await self._on_frame(frame)
        finally:
            for action, future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionLost(action))
            self._pending.clear()

    async def call(self, action: str, payload: Payload, timeout_s: float) -> Payload:
        """Send a CALL and return the validated CALLRESULT payload.

        Raises:
            OcppError: our own payload breaks the schema (a bug on our side).
            CallFailed: the peer answered with a CALLERROR.
            ResponseInvalid: the peer's answer breaks the response schema.
            TimeoutError: no answer within ``timeout_s`` seconds.
            ConnectionLost: the connection closed first.
        """
        message_id = new_message_id()
        self._schemas.check_request(action, payload, message_id)
        future: asyncio.Future[Payload] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = (action, future)
        started = time.perf_counter()
        try:
            try:
                await self._transport.send(encode_call(message_id, action, payload))
            except ConnectionClosed as exc:
                raise ConnectionLost(action) from exc
            self._log.info("ocpp.call.sent", action=action, message_id=message_id)
            async with asyncio.timeout(timeout_s):
                result = await future
        finally:
            self._pending.pop(message_id, None)
            if future.done() and not future.cancelled():
                future.exception()  # retrieved: the caller gets the error raised here
        self._log.info(
            "ocpp.result.received", action=action, message_id=message_id,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
        )
        return result

    async def answered(self) -> None:
        """Return once no CALL of the peer is being handled: its answer has been sent.

        A command that follows from what a peer's CALL did (a charging profile for the
        transaction a StartTransaction just created) must not reach the peer before the
        answer that tells it about that. The peer's CALLs are handled one at a time, in
        :meth:`serve`'s task; do not await this from a handler.
        """
        await self._idle.wait()

    async def _on_frame(self, frame: str | bytes) -> None:
        try:
            message = parse_frame(frame)
        except OcppError as exc:
            self._log.warning("ocpp.frame.invalid", code=exc.code.value, problem=exc.description)
            await self._send_error(exc.message_id, exc)
            return
        if isinstance(message, Call):
            await self._on_call(message)
        else:
            self._on_answer(message)

    async def _on_call(self, call: Call) -> None:
        self._idle.clear()
        try:
            await self._answer(call)
        finally:
            self._idle.set()

    async def _answer(self, call: Call) -> None:
        started = time.perf_counter()
        log = self._log.bind(action=call.action, message_id=call.message_id)
        log.info("ocpp.call.received")
        error_code: str | None = None
        try:
            self._schemas.check_request(call.action, call.payload, call.message_id)
            handler = self._handlers.get(call.action)
            if handler is None:
                raise OcppError(
                    ErrorCode.NOT_SUPPORTED, f"{call.action} is not supported",
                    message_id=call.message_id,
                )
            payload = await handler(call.payload)
            self._schemas.check_response(call.action, payload, call.message_id)
            frame = encode_result(call.message_id, payload)
        except OcppError as exc:
            error_code = exc.code.value
            log.warning("ocpp.call.refused", code=error_code, problem=exc.description)
            frame = self._error_frame(call.message_id, exc)
        except Exception:  # the connection outlives a bug in one handler
            error_code = ErrorCode.INTERNAL_ERROR.value
            log.exception("ocpp.handler.failed")
            frame = encode_error(
                call.message_id, ErrorCode.INTERNAL_ERROR, "internal error handling the call",
                self.version,
            )
        await self._transport.send(frame)
        elapsed = time.perf_counter() - started
        log.info("ocpp.result.sent", error=error_code, latency_ms=round(elapsed * 1000, 3))
        if self._observer is not None:
            self._observer.message_handled(call.action, elapsed, error_code)

    def _on_answer(self, message: CallResult | CallError) -> None:
        entry = self._pending.get(message.message_id)
        if entry is None or entry[1].done():
            self._log.warning("ocpp.answer.unexpected", message_id=message.message_id)
            return
        action, future = entry
        if isinstance(message, CallError):
            future.set_exception(CallFailed(action, message))
            return
        try:
            self._schemas.check_response(action, message.payload, message.message_id)
        except OcppError as exc:
            future.set_exception(ResponseInvalid(action, exc.description))
            return
        if contains_nul(message.payload):  # ocppj rule 4, as for a CALL
            future.set_exception(ResponseInvalid(action, "text must not contain NUL"))
            return
        future.set_result(message.payload)

    def _error_frame(self, message_id: str, exc: OcppError) -> str:
        return encode_error(message_id, exc.code, exc.description, self.version, exc.details)

    async def _send_error(self, message_id: str, exc: OcppError) -> None:
        await self._transport.send(self._error_frame(message_id, exc))
