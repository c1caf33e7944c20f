"""Orderly charging: site headroom, the limit tree and the allocator. Pure: no I/O, no
clock of its own (time is an argument)."""

from csms.smartcharging.allocator import (
    DEFAULT_SETTINGS,
    Allocation,
    AllocatorSettings,
    LimitReason,
    SessionDemand,
    SessionLimit,
    allocate,
)
from csms.smartcharging.headroom import (
    BaseLoadProfile,
    DayType,
    available_w,
    residential_profile,
    site_available_w,
)
from csms.smartcharging.tree import Node, SiteTree

__all__ = [
    "DEFAULT_SETTINGS",
    "Allocation",
    "AllocatorSettings",
    "BaseLoadProfile",
    "DayType",
    "LimitReason",
    "Node",
    "SessionDemand",
    "SessionLimit",
    "SiteTree",
    "allocate",
    "available_w",
    "residential_profile",
    "site_available_w",
]
