"""A simulated charger's local authorization list and authorization cache, both versions.

Rules:
1. The list has a version (0: no list) and entries by upper-cased id token, each with its
   status, expiry and group. A full update replaces the list; a differential one upserts
   the entries with an ``idTagInfo``/``idTokenInfo`` and removes those without.
2. A differential update whose version is not above the list's is refused with
   VersionMismatch, as both versions say; a message with more entries than the per-message
   setting, or a list that would grow past the maximum length, is Failed and changes
   nothing. With the list disabled 1.6 answers NotSupported (version -1), 2.0.1 Failed.
3. The cache holds the Authorize answers the station received; ClearCache empties it.
   Offline, the station authorizes from the list, then the cache
   (:meth:`LocalList.offline_status`); a token in neither cannot be authorized.
4. Settings (added to the station's): 1.6 ``LocalAuthListEnabled``,
   ``LocalAuthListMaxLength``, ``SendLocalListMaxLength``; 2.0.1 ``LocalAuthListCtrlr``
   ``Enabled``, ``Entries`` (the count, read-only), ``ItemsPerMessage``, and the maximum
   length as :attr:`LocalList.max_length`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from csms.handlers.ocppj import OcppVersion
from simulators.settings import Setting, SettingsStore

if TYPE_CHECKING:
    from csms.handlers.rpc import Handler

Payload = dict[str, Any]

V16_ENABLED: Final = "LocalAuthListEnabled"
V16_MAX_LENGTH: Final = "LocalAuthListMaxLength"
V16_PER_MESSAGE: Final = "SendLocalListMaxLength"
CTRLR: Final = "LocalAuthListCtrlr"


@dataclass(frozen=True, slots=True)
class LocalEntry:
    id_tag: str
    status: str
    expiry: str | None = None
    group: str | None = None


class LocalList:
    """The list, the cache and their handlers (module rules)."""

    def __init__(self, version: OcppVersion, settings: SettingsStore[Any], *,
                 max_length: int = 100, per_message: int = 10) -> None:
        self.ocpp = version
        self.version = 0
        self.entries: dict[str, LocalEntry] = {}
        self.cache: dict[str, str] = {}
        self.max_length = max_length
        self.updates: list[tuple[str, int, int]] = []  # (updateType, version, entries)
        self._settings = settings
        entries = settings.entries
        if version is OcppVersion.V16:
            entries[V16_ENABLED] = Setting("true", kind="bool")
            entries[V16_MAX_LENGTH] = Setting(str(max_length), readonly=True, kind="int")
            entries[V16_PER_MESSAGE] = Setting(str(per_message), readonly=True, kind="int")
            profiles = entries.get("SupportedFeatureProfiles")
            if profiles is not None and "LocalAuthListManagement" not in profiles.value:
                profiles.value += ",LocalAuthListManagement"
        else:
            entries[CTRLR, "Enabled"] = Setting("true", kind="bool")
            entries[CTRLR, "ItemsPerMessage"] = Setting(str(per_message), readonly=True,
                                                        kind="int")
            entries[CTRLR, "Entries"] = Setting("0", readonly=True, kind="int")

    def status_of(self, id_tag: str) -> str | None:
        """The list's status for ``id_tag`` (case-insensitive), if it holds it."""
        entry = self.entries.get(id_tag.upper())
        return None if entry is None else entry.status

    def offline_status(self, id_tag: str) -> str | None:
        """How the station decides on ``id_tag`` while offline: the list's status if the list
        is enabled and holds it, else the cached answer, else None (it cannot decide)."""
        listed = self.status_of(id_tag) if self._enabled() else None
        return listed if listed is not None else self.cache.get(id_tag.upper())

    def remember(self, id_tag: str, status: str) -> None:
        """An Authorize answer, for the cache (rule 3)."""
        self.cache[id_tag.upper()] = status

    def handlers(self) -> dict[str, Handler]:
        return {"SendLocalList": self.send_local_list,
                "GetLocalListVersion": self.get_version, "ClearCache": self.clear_cache}

    def _enabled(self) -> bool:
        key = V16_ENABLED if self.ocpp is OcppVersion.V16 else (CTRLR, "Enabled")
        setting = self._settings.get(key)
        return setting is None or setting.value.lower() == "true"

    def _per_message(self) -> int:
        key = V16_PER_MESSAGE if self.ocpp is OcppVersion.V16 else (CTRLR, "ItemsPerMessage")
        setting = self._settings.get(key)
        return 10 if setting is None else int(setting.value)

    async def get_version(self, _: Payload) -> Payload:
        if self.ocpp is OcppVersion.V16:
            return {"listVersion": self.version if self._enabled() else -1}
        return {"versionNumber": self.version}

    async def clear_cache(self, _: Payload) -> Payload:
        self.cache.clear()
        return {"status": "Accepted"}

    async def send_local_list(self, p: Payload) -> Payload:
        """Apply a full or differential update (rules 1-2)."""
        v16 = self.ocpp is OcppVersion.V16
        version = int(p["listVersion"] if v16 else p["versionNumber"])
        full = p["updateType"] == "Full"
        items = p.get("localAuthorizationList") or []
        if not self._enabled():
            return {"status": "NotSupported" if v16 else "Failed"}
        if not full and version <= self.version:
            return {"status": "VersionMismatch"}
        if len(items) > self._per_message():
            return {"status": "Failed"}
        held = {} if full else dict(self.entries)
        for item in items:
            tag, info = _parse(item, v16)
            if info is None:
                held.pop(tag.upper(), None)
            else:
                held[tag.upper()] = LocalEntry(tag, *info)
        if len(held) > self.max_length:
            return {"status": "Failed"}
        self.entries, self.version = held, version
        self.updates.append((p["updateType"], version, len(items)))
        if not v16:
            self._settings.entries[CTRLR, "Entries"].value = str(len(held))
        return {"status": "Accepted"}


def _parse(item: Payload, v16: bool) -> tuple[str, tuple[str, str | None, str | None] | None]:
    """(id tag, (status, expiry, group) or None for a removal) of one list item."""
    if v16:
        info = item.get("idTagInfo")
        tag = str(item["idTag"])
        if info is None:
            return tag, None
        return tag, (info["status"], info.get("expiryDate"), info.get("parentIdTag"))
    info = item.get("idTokenInfo")
    tag = str(item["idToken"]["idToken"])
    if info is None:
        return tag, None
    group = info.get("groupIdToken")
    return tag, (info["status"], info.get("cacheExpiryDateTime"),
                 None if group is None else group["idToken"])
