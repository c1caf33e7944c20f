"""OCPP-J framing and validation: a pure core, no I/O.

Contract: feed a received text frame to :func:`parse_frame`; it returns a :class:`Call`,
:class:`CallResult` or :class:`CallError`, or raises :class:`OcppError` whose ``code`` and
``message_id`` are what the CALLERROR to send back needs. Validate a call's payload with
:meth:`Schemas.check_request` before acting on it, and build every frame you send with the
``encode_*`` functions.

Rules:
1. Error codes are named once, in their OCPP 2.0.1 spelling; :func:`wire_code` gives the
   spelling of the connection's version (1.6 has ``FormationViolation`` and
   ``OccurenceConstraintViolation``).
2. Schemas are the ones the ``ocpp`` package ships, compiled with fastjsonschema on first use
   (about 30 µs per MeterValues instead of about 650 µs with jsonschema); validation is
   complete, only faster.
3. Payload keys stay camelCase as on the wire: translation to the domain model reads them
   directly, so no per-message case conversion is paid.
4. What the schemas leave open but OCPP and the store do not is checked here too, so a value
   is refused alike on SQLite and PostgreSQL before any handler sees it: an integer is 32-bit
   signed (OCPP's ``integer``; PostgreSQL's ``int4``), ids and sequence numbers
   (``connectorId``, ``evseId``, an EVSE's ``id``, ``seqNo``) are not negative, and no
   string holds NUL (U+0000, which PostgreSQL text cannot store).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any, Final

import fastjsonschema
import orjson

CALL: Final = 2
CALLRESULT: Final = 3
CALLERROR: Final = 4

UNKNOWN_MESSAGE_ID: Final = "-1"
INT32_MIN: Final = -(2**31)
INT32_MAX: Final = 2**31 - 1
NON_NEGATIVE: Final = frozenset({"connectorId", "evseId", "seqNo"})
_FALLBACK_PARSE_MAX_CHARS: Final = 1 << 16


class OcppVersion(StrEnum):
    """The WebSocket subprotocols the CSMS speaks, most preferred first."""

    V201 = "ocpp2.0.1"
    V16 = "ocpp1.6"


class ErrorCode(StrEnum):
    """RPC error codes, OCPP 2.0.1 spelling."""

    FORMAT_VIOLATION = "FormatViolation"
    GENERIC_ERROR = "GenericError"
    INTERNAL_ERROR = "InternalError"
    MESSAGE_TYPE_NOT_SUPPORTED = "MessageTypeNotSupported"
    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    OCCURRENCE_CONSTRAINT_VIOLATION = "OccurrenceConstraintViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    PROTOCOL_ERROR = "ProtocolError"
    RPC_FRAMEWORK_ERROR = "RpcFrameworkError"
    SECURITY_ERROR = "SecurityError"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"


_V16_SPELLING: Final = {
    ErrorCode.FORMAT_VIOLATION: "FormationViolation",
    ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION: "OccurenceConstraintViolation",
    # 1.6 knows neither; the closest 1.6 codes carry the same meaning.
    ErrorCode.RPC_FRAMEWORK_ERROR: "FormationViolation",
    ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED: "NotSupported",
}


def wire_code(code: ErrorCode, version: OcppVersion) -> str:
    """The spelling of ``code`` on a connection of ``version``."""
    if version is OcppVersion.V16:
        return _V16_SPELLING.get(code, code.value)
    return code.value


class OcppError(Exception):
    """A message we received breaks the protocol; answer it with a CALLERROR."""

    def __init__(
        self,
        code: ErrorCode,
        description: str,
        *,
        message_id: str = UNKNOWN_MESSAGE_ID,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code.value}: {description}")
        self.code = code
        self.description = description
        self.message_id = message_id
        self.details = details or {}


@dataclass(frozen=True, slots=True)
class Call:
    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallResult:
    message_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallError:
    message_id: str
    code: str
    description: str
    details: dict[str, Any]


Message = Call | CallResult | CallError


def parse_frame(frame: str | bytes) -> Message:
    """Decode one OCPP-J frame.

    Raises:
        OcppError: not JSON, not an OCPP-J array, or an unknown message type; ``message_id``
            is the frame's if it could be read, else ``"-1"``. JSON that only a lenient
            parser reads (1e400, NaN, a lone surrogate, integers beyond 64 bits written as
            such) is a FormatViolation with the frame's id; a CALL with NUL in a string a
            PropertyConstraintViolation.
    """
    try:
        msg = orjson.loads(frame)
    except orjson.JSONDecodeError:
        message_id = _readable_id(frame)
        if message_id is None:
            raise OcppError(ErrorCode.RPC_FRAMEWORK_ERROR, "message is not valid JSON") from None
        raise OcppError(ErrorCode.FORMAT_VIOLATION,
                        "a number or string in the message cannot be read (out of range?)",
                        message_id=message_id) from None
    if not isinstance(msg, list) or len(msg) < 2:
        raise OcppError(ErrorCode.RPC_FRAMEWORK_ERROR, "message is not an OCPP-J array")
    type_id, message_id = msg[0], msg[1]
    if not _is_message_id(message_id):
        raise OcppError(ErrorCode.RPC_FRAMEWORK_ERROR, "message id must be a string of 1-36")
    if len(msg) < 3:
        raise OcppError(ErrorCode.RPC_FRAMEWORK_ERROR, "message is missing elements",
                        message_id=message_id)
    if type_id == CALL:
        return _call(msg, message_id, _may_hold_nul(frame))
    if type_id == CALLRESULT and len(msg) == 3 and isinstance(msg[2], dict):
        return CallResult(message_id, msg[2])
    if type_id == CALLERROR and len(msg) in (4, 5):
        details = msg[4] if len(msg) == 5 and isinstance(msg[4], dict) else {}
        if contains_nul(details):
            details = {}
        return CallError(message_id, _printable(msg[2]), _printable(msg[3]), details)
    if type_id in (CALLRESULT, CALLERROR):
        raise OcppError(
            ErrorCode.RPC_FRAMEWORK_ERROR, "malformed CALLRESULT or CALLERROR",
            message_id=message_id,
        )
    raise OcppError(
        ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, f"message type {type_id!r} is not supported",
        message_id=message_id,
    )


def _call(msg: list[Any], message_id: str, may_hold_nul: bool) -> Call:
    if len(msg) != 4 or not isinstance(msg[2], str):
        raise OcppError(
            ErrorCode.RPC_FRAMEWORK_ERROR, "CALL must be [2, id, action, payload]",
            message_id=message_id,
        )
    if not isinstance(msg[3], dict):
        raise OcppError(
            ErrorCode.FORMAT_VIOLATION, "payload must be a JSON object", message_id=message_id,
        )
    if may_hold_nul and contains_nul(msg[3]):
        raise OcppError(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
                        "text must not contain NUL (U+0000)", message_id=message_id)
    return Call(message_id, msg[2], msg[3])


def _printable(value: Any) -> str:
    return str(value).replace("\x00", "\ufffd")


def _is_message_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 36


def _readable_id(frame: str | bytes) -> str | None:
    """The message id of a frame orjson refuses, if Python's lenient parser reads it."""
    if len(frame) > _FALLBACK_PARSE_MAX_CHARS:
        return None
    try:
        msg = json.loads(frame)
    except (ValueError, RecursionError):
        return None
    if isinstance(msg, list) and len(msg) >= 2 and _is_message_id(msg[1]):
        return str(msg[1])
    return None


def _may_hold_nul(frame: str | bytes) -> bool:
    """A cheap test on the raw frame: JSON must escape NUL, so no ``\\u0000``, no NUL."""
    return (b"\\u0000" in frame) if isinstance(frame, bytes) else ("\\u0000" in frame)


def contains_nul(value: Any) -> bool:
    """Whether any string (key or value) inside ``value`` holds U+0000."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in key or contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(contains_nul(item) for item in value)
    return False


def encode_call(message_id: str, action: str, payload: dict[str, Any]) -> str:
    return orjson.dumps([CALL, message_id, action, payload]).decode()


def encode_result(message_id: str, payload: dict[str, Any]) -> str:
    return orjson.dumps([CALLRESULT, message_id, payload]).decode()


def encode_error(
    message_id: str,
    code: ErrorCode,
    description: str,
    version: OcppVersion,
    details: dict[str, Any] | None = None,
) -> str:
    frame = [CALLERROR, message_id, wire_code(code, version), description[:255], details or {}]
    return orjson.dumps(frame).decode()


# fastjsonschema names the failed rule; this is the CALLERROR code for each.
_RULE_CODES: Final = {
    "type": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "required": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    "minItems": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    "maxItems": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    "additionalProperties": ErrorCode.FORMAT_VIOLATION,
}

Validator = Callable[[Any], Any]


class Schemas:
    """Compiled request and response validators for one OCPP version."""

    def __init__(self, version: OcppVersion) -> None:
        self.version = version
        self._package = "v16" if version is OcppVersion.V16 else "v201"
        self._cache: dict[tuple[str, bool], Validator | None] = {}

    def has_action(self, action: str) -> bool:
        """Whether the version defines ``action`` at all."""
        return self._validator(action, response=False) is not None

    def check_request(self, action: str, payload: dict[str, Any], message_id: str) -> None:
        """Validate a CALL payload.

        Raises:
            OcppError: NotImplemented for an action the version lacks, else the code for the
                broken rule (TypeConstraintViolation, PropertyConstraintViolation, ...).
        """
        validator = self._validator(action, response=False)
        if validator is None:
            raise OcppError(
                ErrorCode.NOT_IMPLEMENTED, f"unknown action {action!r}", message_id=message_id
            )
        self._run(validator, payload, message_id)

    def check_response(self, action: str, payload: dict[str, Any], message_id: str) -> None:
        """Validate a CALLRESULT payload for ``action``; raises :class:`OcppError`."""
        validator = self._validator(action, response=True)
        if validator is None:
            raise OcppError(
                ErrorCode.NOT_IMPLEMENTED, f"unknown action {action!r}", message_id=message_id
            )
        self._run(validator, payload, message_id)

    @staticmethod
    def _run(validator: Validator, payload: dict[str, Any], message_id: str) -> None:
        try:
            validator(payload)
        except fastjsonschema.JsonSchemaValueException as exc:
            code = _RULE_CODES.get(exc.rule or "", ErrorCode.PROPERTY_CONSTRAINT_VIOLATION)
            if exc.rule in ("minimum", "maximum") and not _is_int32(exc.value):
                code = ErrorCode.TYPE_CONSTRAINT_VIOLATION  # not an OCPP integer at all
            raise OcppError(
                code, str(exc.message), message_id=message_id,
                details={"path": str(exc.name), "rule": str(exc.rule)},
            ) from None

    def _validator(self, action: str, *, response: bool) -> Validator | None:
        key = (action, response)
        try:
            return self._cache[key]
        except KeyError:
            pass
        if action not in actions(self.version):
            return None  # not cached: made-up names must not grow the cache
        validator: Validator | None = None
        if _is_action_name(action):
            suffix = "Response" if response else (
                "" if self.version is OcppVersion.V16 else "Request")
            path = resources.files("ocpp") / self._package / "schemas" / f"{action}{suffix}.json"
            if path.is_file():
                schema = constrain(json.loads(path.read_text(encoding="utf-8-sig")))
                # use_default=False: validation must never add defaults to the payload.
                validator = fastjsonschema.compile(schema, use_default=False)
        self._cache[key] = validator
        return validator


@functools.cache
def actions(version: OcppVersion) -> frozenset[str]:
    """Every action ``version`` defines (from the schema files the ``ocpp`` package ships):
    a bounded set, for metric labels and caches keyed by action."""
    package = "v16" if version is OcppVersion.V16 else "v201"
    names = set()
    for entry in (resources.files("ocpp") / package / "schemas").iterdir():
        stem = entry.name.removesuffix(".json")
        if entry.name.endswith(".json") and not stem.endswith("Response"):
            names.add(stem.removesuffix("Request"))
    return frozenset(names)


def _is_action_name(action: str) -> bool:
    """An OCPP action: CamelCase identifier, not a schema's Request/Response variant."""
    return (
        action.isidentifier() and action[:1].isupper()
        and not action.endswith(("Response", "Request"))
    )


def constrain(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with rule 4's bounds added (a copy): every integer within 32 bits signed,
    the ids and sequence numbers of :data:`NON_NEGATIVE` (and an EVSE's ``id``) from 0."""
    out: dict[str, Any] = _bounded(schema, non_negative=False)
    evse = out.get("definitions", {}).get("EVSEType", {}).get("properties", {}).get("id")
    if isinstance(evse, dict) and evse.get("type") == "integer":
        evse["minimum"] = max(evse.get("minimum", 0), 0)
    return out


def _bounded(node: Any, *, non_negative: bool) -> Any:
    if isinstance(node, list):
        return [_bounded(item, non_negative=False) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _bounded(sub, non_negative=name in NON_NEGATIVE)
                        for name, sub in value.items()}
        else:
            out[key] = _bounded(value, non_negative=False)
    if out.get("type") == "integer":
        low = 0 if non_negative else INT32_MIN
        out["minimum"] = max(out.get("minimum", low), low)
        out["maximum"] = min(out.get("maximum", INT32_MAX), INT32_MAX)
    return out


def _is_int32(value: Any) -> bool:
    return isinstance(value, int) and INT32_MIN <= value <= INT32_MAX
