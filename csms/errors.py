"""The CSMS's own exceptions, one tree.

    CsmsError
    ├── ConfigError             the configuration file or environment is invalid
    └── CommandError            a CSMS-initiated command did not get an answer we can use
        ├── StationOffline      the charge point is not connected (to any node)
        │   └── CommandBusDown  ... as far as this node can tell: the cross-node bus is down
        ├── CommandTimeout      the charge point did not answer in time
        ├── CommandRejected     the charge point answered with a CALLERROR
        ├── CommandNotSupported the command has no equivalent in the station's OCPP version
        └── InvalidResponse     the charge point's answer violates the schema

OCPP protocol errors raised while handling a charger's message live in
:mod:`csms.handlers.ocppj` (``OcppError``), because only the handlers speak OCPP.
"""

from __future__ import annotations

from typing import Any


class CsmsError(Exception):
    """Root of every error the CSMS raises on purpose."""


class ConfigError(CsmsError):
    """The configuration is invalid; the message names the key."""


class CommandError(CsmsError):
    """A command to a charge point failed."""

    def __init__(self, station_id: str, message: str) -> None:
        super().__init__(f"{station_id}: {message}")
        self.station_id = station_id


class StationOffline(CommandError):
    def __init__(self, station_id: str) -> None:
        super().__init__(station_id, "charge point is not connected")


class CommandBusDown(StationOffline):
    """Not connected here, and the cross-node command bus is reconnecting: the charger may be
    on another node, but cannot be reached now (answered like an offline charger, 409)."""

    def __init__(self, station_id: str) -> None:
        CommandError.__init__(self, station_id,
                              "charge point is not reachable: the cluster command bus is down")


class CommandTimeout(CommandError):
    def __init__(self, station_id: str, action: str, waited_s: float) -> None:
        super().__init__(station_id, f"{action}: no answer within {waited_s:.1f} s")
        self.action = action
        self.waited_s = waited_s


class CommandRejected(CommandError):
    def __init__(
        self, station_id: str, action: str, code: str, description: str, details: Any
    ) -> None:
        super().__init__(station_id, f"{action}: CALLERROR {code}: {description}")
        self.action = action
        self.code = code
        self.description = description
        self.details = details


class CommandNotSupported(CommandError):
    def __init__(self, station_id: str, command: str, version: str) -> None:
        super().__init__(station_id, f"{command} has no OCPP {version} equivalent")
        self.command = command
        self.version = version


class InvalidResponse(CommandError):
    def __init__(self, station_id: str, action: str, problem: str) -> None:
        super().__init__(station_id, f"{action}: invalid answer: {problem}")
        self.action = action
        self.problem = problem
