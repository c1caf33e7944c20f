"""Configuration keys (1.6) and device-model variables (2.0.1) of a simulated station.

One store class serves both versions: 1.6 keys are strings, 2.0.1 keys are
``(component, variable)`` pairs. Entries may carry a version-neutral ``role``
("heartbeat_interval", "meter_interval", "authorize_remote_start") so that the station
reacts to a change without knowing how the version names the setting.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Generic, Literal, TypeVar

K = TypeVar("K", bound=Hashable)

HEARTBEAT_INTERVAL: Final = "heartbeat_interval"
METER_INTERVAL: Final = "meter_interval"
AUTHORIZE_REMOTE_START: Final = "authorize_remote_start"

Kind = Literal["int", "bool", "str"]


class Change(StrEnum):
    """The outcome of a change request; dialects spell it for their version."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"  # read-only, or the value does not fit the setting's kind
    UNKNOWN = "Unknown"


@dataclass(slots=True)
class Setting:
    """One setting's value (always a string, as on the wire) and how it may change."""

    value: str
    readonly: bool = False
    kind: Kind = "str"
    role: str | None = None


def _fits(kind: Kind, value: str) -> bool:
    if kind == "int":
        return value.strip().lstrip("-").isdigit() and int(value) >= 0
    if kind == "bool":
        return value.lower() in ("true", "false")
    return True


class SettingsStore(Generic[K]):
    """Settings keyed by ``K``; ``on_change(role, value)`` hears accepted changes to roles."""

    def __init__(self, entries: Mapping[K, Setting]) -> None:
        self.entries: dict[K, Setting] = dict(entries)
        self.on_change: Callable[[str, str], None] | None = None

    def __iter__(self) -> Iterator[tuple[K, Setting]]:
        return iter(self.entries.items())

    def get(self, key: K) -> Setting | None:
        """The setting at ``key``, or ``None``."""
        return self.entries.get(key)

    def change(self, key: K, value: str) -> Change:
        """Apply a CSMS change request; read-only and ill-typed values are Rejected."""
        setting = self.entries.get(key)
        if setting is None:
            return Change.UNKNOWN
        if setting.readonly or not _fits(setting.kind, value):
            return Change.REJECTED
        setting.value = value
        if setting.role is not None and self.on_change is not None:
            self.on_change(setting.role, value)
        return Change.ACCEPTED

    def by_role(self, role: str) -> Setting | None:
        """The setting playing ``role``, if this version has one."""
        return next((s for s in self.entries.values() if s.role == role), None)

    def role_value(self, role: str, default: str) -> str:
        """The value of the setting playing ``role``, or ``default``."""
        setting = self.by_role(role)
        return default if setting is None else setting.value

    def set_role(self, role: str, value: str) -> None:
        """Set a role's value from the station itself (e.g. the interval a boot returned)."""
        setting = self.by_role(role)
        if setting is not None:
            setting.value = value
