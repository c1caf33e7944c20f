"""Firmware updates and log uploads as OCPP 1.6 / 2.0.1 CALLs, and the answers as results.

Pure: no I/O, no clock. See :mod:`csms.domain.commands_files` for which 1.6 message is
chosen. Strings longer than the schema allows (location 512, certificate 5500, signature
800) are refused before anything is sent (``ValueError``; the callers turn it into
``CommandNotSupported``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from csms.domain.commands import CommandResult, CommandStatus
from csms.domain.commands_files import GetLog, LogAnswer, LogKind, UpdateFirmware
from csms.handlers.timefmt import format_time

Payload = dict[str, Any]
FileCommand = UpdateFirmware | GetLog


def to_call_v16(command: FileCommand) -> tuple[str, Payload]:
    """The 1.6 (or 1.6 security extension) CALL; raises ValueError if inexpressible."""
    if isinstance(command, UpdateFirmware):
        if command.signed:
            return "SignedUpdateFirmware", {
                "requestId": command.request_id, "firmware": _firmware(command),
                **_retries(command.retries, command.retry_interval_s)}
        if command.signing_certificate is not None or command.signature is not None:
            raise ValueError("a signed update needs both the certificate and the signature")
        return "UpdateFirmware", {
            "location": _fit(command.location, 512, "location"),
            "retrieveDate": format_time(command.retrieve_at),
            **_retries(command.retries, command.retry_interval_s)}
    if command.kind is LogKind.DIAGNOSTICS and not command.security_extension:
        return "GetDiagnostics", {
            "location": _fit(command.location, 512, "location"),
            **_retries(command.retries, command.retry_interval_s),
            **_present(startTime=_time(command.oldest), stopTime=_time(command.latest))}
    return "GetLog", _get_log(command)


def to_call_v201(command: FileCommand) -> tuple[str, Payload]:
    """The 2.0.1 CALL; raises ValueError if inexpressible."""
    if isinstance(command, UpdateFirmware):
        return "UpdateFirmware", {
            "requestId": command.request_id, "firmware": _firmware(command),
            **_retries(command.retries, command.retry_interval_s)}
    return "GetLog", _get_log(command)


def from_answer_v16(command: FileCommand, payload: Payload) -> CommandResult:
    if isinstance(command, UpdateFirmware):
        # plain UpdateFirmware.conf is empty: the charger took the request
        return CommandStatus(payload.get("status", "Accepted"))
    if "status" in payload:  # GetLog
        return LogAnswer(payload["status"], payload.get("filename"))
    name = payload.get("fileName")  # GetDiagnostics
    return LogAnswer("Accepted" if name else "NoFile", name)


def from_answer_v201(command: FileCommand, payload: Payload) -> CommandResult:
    info = payload.get("statusInfo")
    reason = None if info is None else info.get("reasonCode")
    if isinstance(command, UpdateFirmware):
        return CommandStatus(payload["status"], reason)
    return LogAnswer(payload["status"], payload.get("filename"), reason)


def _firmware(command: UpdateFirmware) -> Payload:
    return {
        "location": _fit(command.location, 512, "location"),
        "retrieveDateTime": format_time(command.retrieve_at),
        **_present(
            installDateTime=_time(command.install_at),
            signingCertificate=None if command.signing_certificate is None
            else _fit(command.signing_certificate, 5500, "signingCertificate"),
            signature=None if command.signature is None
            else _fit(command.signature, 800, "signature"),
        ),
    }


def _get_log(command: GetLog) -> Payload:
    return {
        "logType": command.kind.value, "requestId": command.request_id,
        "log": {
            "remoteLocation": _fit(command.location, 512, "remoteLocation"),
            **_present(oldestTimestamp=_time(command.oldest),
                       latestTimestamp=_time(command.latest)),
        },
        **_retries(command.retries, command.retry_interval_s),
    }


def _retries(retries: int | None, interval_s: int | None) -> Payload:
    return _present(retries=retries, retryInterval=interval_s)


def _fit(text: str, max_length: int, field: str) -> str:
    if len(text) > max_length:
        raise ValueError(f"{field} holds at most {max_length} characters")
    return text


def _time(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def _present(**fields: Any) -> Payload:
    return {name: value for name, value in fields.items() if value is not None}
