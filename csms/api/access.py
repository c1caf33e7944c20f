"""Who may do what: roles, endpoint families and scopes. Pure: no I/O.

Rules:
1. Every endpoint belongs to one family and is a read or a write; :data:`PERMISSIONS` is the
   whole policy, one row per role.
2. A scoped principal (district or community) sees only what lies in its scope; a request for
   anything outside it is refused (403), never silently filtered, except in list endpoints,
   which list only what is in scope.
3. Only admin and operator write; every write is recorded with the principal's ``actor``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    DISTRICT = "district"
    PROPERTY = "property"
    SAFETY_PLATFORM = "safety-platform"


class Family(StrEnum):
    ORGANISATION = "organisation"  # districts, communities
    NETWORK = "network"  # sites, charge points, connectors, live state
    COMMANDS = "commands"  # commands to charge points
    RESIDENTS = "residents"  # residents and their id tokens
    SESSIONS = "sessions"  # sessions and their meter values
    SAFETY = "safety"  # status history, faults, events, alarms (write: acknowledge, clear)
    LOAD = "load"  # site load limits, feeders, base load, allocations, site series
    BILLING = "billing"  # tariffs, packages, subscriptions, wallets, statements
    ADMIN = "admin"  # API tokens, audit log, webhook subscriptions


READ, WRITE = "read", "write"
_ALL = frozenset(Family)

PERMISSIONS: dict[Role, dict[str, frozenset[Family]]] = {
    Role.ADMIN: {READ: _ALL, WRITE: _ALL},
    Role.OPERATOR: {
        READ: _ALL - {Family.ADMIN},
        WRITE: frozenset({Family.NETWORK, Family.COMMANDS, Family.RESIDENTS, Family.SAFETY,
                          Family.LOAD, Family.BILLING}),
    },
    # Districts oversee coverage, load and safety; residents' money is not theirs to see.
    Role.DISTRICT: {
        READ: _ALL - {Family.ADMIN, Family.COMMANDS, Family.BILLING},
        WRITE: frozenset(),
    },
    Role.PROPERTY: {READ: _ALL - {Family.ADMIN, Family.COMMANDS}, WRITE: frozenset()},
    Role.SAFETY_PLATFORM: {
        READ: frozenset({Family.ORGANISATION, Family.NETWORK, Family.SAFETY, Family.LOAD}),
        WRITE: frozenset(),
    },
}


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    token_id: str
    role: Role
    district_id: int | None = None
    community_id: int | None = None

    @property
    def actor(self) -> str:
        return f"token:{self.token_id}"

    @property
    def scoped(self) -> bool:
        return self.district_id is not None or self.community_id is not None


def permitted(role: Role, family: Family, mode: str) -> bool:
    """Whether ``role`` may ``mode`` ("read"/"write") endpoints of ``family``."""
    return family in PERMISSIONS[role][mode]


def in_scope(principal: Principal, district_id: int | None, community_id: int | None) -> bool:
    """Whether a resource that lies in ``community_id`` of ``district_id`` is visible.

    A resource that lies in no community (a charge point not yet assigned to a site) is
    visible only to unscoped principals.
    """
    if principal.community_id is not None:
        return community_id == principal.community_id
    if principal.district_id is not None:
        return district_id == principal.district_id
    return True


def scope_valid(role: Role, district_id: int | None, community_id: int | None) -> str | None:
    """Why a token with this role and scope cannot exist, or None if it can."""
    if district_id is not None and community_id is not None:
        return "a token is scoped to a district or a community, not both"
    if role is Role.DISTRICT and district_id is None:
        return "a district token needs --district"
    if role is Role.PROPERTY and community_id is None:
        return "a property token needs --community"
    if role in (Role.ADMIN, Role.OPERATOR) and (district_id or community_id):
        return f"an {role.value} token has no scope"
    return None
