"""Commands, results and command errors as JSON-able dicts, for the cross-node command bus.

Every command and result type of :mod:`csms.domain.commands` is included automatically (the
``Command`` and ``CommandResult`` unions are read at import); values are validated when
decoded, so a malformed message from another node fails loudly instead of half-working.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import TypeAdapter

from csms.domain.commands import Command, CommandResult
from csms.errors import (
    CommandError,
    CommandNotSupported,
    CommandRejected,
    CommandTimeout,
    InvalidResponse,
    StationOffline,
)

_COMMANDS: dict[str, TypeAdapter[Any]] = {c.__name__: TypeAdapter(c) for c in get_args(Command)}
_RESULTS: dict[str, TypeAdapter[Any]] = {
    c.__name__: TypeAdapter(c) for c in get_args(CommandResult)
}


class CodecError(ValueError):
    """A message from another node could not be decoded."""


def _encode(value: Any, known: dict[str, TypeAdapter[Any]]) -> dict[str, Any]:
    name = type(value).__name__
    return {"type": name, "data": known[name].dump_python(value, mode="json")}


def _decode(message: Any, known: dict[str, TypeAdapter[Any]]) -> Any:
    try:
        return known[message["type"]].validate_python(message["data"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CodecError(f"cannot decode {message!r:.200}: {exc}") from exc


def encode_command(command: Command) -> dict[str, Any]:
    return _encode(command, _COMMANDS)


def decode_command(message: Any) -> Command:
    """Raises: CodecError."""
    return _decode(message, _COMMANDS)  # type: ignore[no-any-return]


def encode_result(result: CommandResult) -> dict[str, Any]:
    return _encode(result, _RESULTS)


def decode_result(message: Any) -> CommandResult:
    """Raises: CodecError."""
    return _decode(message, _RESULTS)  # type: ignore[no-any-return]


def encode_error(exc: CommandError) -> dict[str, Any]:
    """The error's kind and the fields needed to raise the same error on another node."""
    fields: dict[str, Any] = {"station_id": exc.station_id, "message": str(exc)}
    if isinstance(exc, CommandTimeout):
        fields |= {"kind": "timeout", "action": exc.action, "waited_s": exc.waited_s}
    elif isinstance(exc, CommandRejected):
        fields |= {"kind": "rejected", "action": exc.action, "code": exc.code,
                   "description": exc.description, "details": exc.details}
    elif isinstance(exc, StationOffline):
        fields |= {"kind": "offline"}
    elif isinstance(exc, CommandNotSupported):
        fields |= {"kind": "not_supported", "command": exc.command, "version": exc.version}
    elif isinstance(exc, InvalidResponse):
        fields |= {"kind": "invalid", "action": exc.action, "problem": exc.problem}
    else:
        fields |= {"kind": "other"}
    return fields


def decode_error(fields: dict[str, Any]) -> CommandError:
    """The error :func:`encode_error` described.

    Raises: CodecError if the fields do not describe an error.
    """
    try:
        station_id = str(fields["station_id"])
        kind = fields["kind"]
        if kind == "timeout":
            return CommandTimeout(station_id, str(fields["action"]), float(fields["waited_s"]))
        if kind == "rejected":
            return CommandRejected(station_id, str(fields["action"]), str(fields["code"]),
                                   str(fields["description"]), fields.get("details"))
        if kind == "offline":
            return StationOffline(station_id)
        if kind == "not_supported":
            return CommandNotSupported(station_id, str(fields["command"]),
                                       str(fields["version"]))
        if kind == "invalid":
            return InvalidResponse(station_id, str(fields["action"]), str(fields["problem"]))
        message = str(fields["message"]).removeprefix(f"{station_id}: ")
        return CommandError(station_id, message)
    except (KeyError, TypeError, ValueError) as exc:
        raise CodecError(f"cannot decode error {fields!r:.200}: {exc}") from exc
