"""Stations, equipment and connector status as the platform wants them. No I/O.

Rules:
1. A platform *station* is one of our charging sites (``StationID`` = the site id), its
   *equipment* our charge points (``EquipmentID`` = the charge point id), and a connector's
   ``ConnectorID`` is ``<charge point>-<evse>-<connector>``.
2. Connector status (:func:`platform_status`): 0 offline (the charger is not connected),
   1 idle, 2 occupied and not charging, 3 charging, 4 reserved, 255 fault. ``Unavailable``
   (taken out of service) counts as 255: it cannot be used.
3. Coordinates are stored WGS-84 and sent GCJ-02 rounded to 6 decimals.
4. A list holds at most :data:`MAX_ITEMS` (50) items; pages are numbered from 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from csms.city.geo import LatLon, wgs84_to_gcj02
from csms.domain.model import ConnectorStatus

MAX_ITEMS: Final = 50
OFFLINE, IDLE, OCCUPIED, CHARGING, RESERVED, FAULT = 0, 1, 2, 3, 4, 255
_STATUS: Final = {
    ConnectorStatus.AVAILABLE: IDLE,
    ConnectorStatus.OCCUPIED: OCCUPIED,
    ConnectorStatus.PREPARING: OCCUPIED,
    ConnectorStatus.SUSPENDED_EV: OCCUPIED,
    ConnectorStatus.SUSPENDED_EVSE: OCCUPIED,
    ConnectorStatus.FINISHING: OCCUPIED,
    ConnectorStatus.CHARGING: CHARGING,
    ConnectorStatus.RESERVED: RESERVED,
    ConnectorStatus.FAULTED: FAULT,
    ConnectorStatus.UNAVAILABLE: FAULT,
}
T = TypeVar("T")


def platform_status(status: ConnectorStatus | str | None, online: bool) -> int:
    """Rule 2: the platform's code for a connector (None: never reported, idle)."""
    if not online:
        return OFFLINE
    if status is None:
        return IDLE
    return _STATUS[ConnectorStatus(status)]


def connector_ref(station_id: str, evse_id: int, connector_id: int) -> str:
    """Rule 1."""
    return f"{station_id}-{evse_id}-{connector_id}"


def gcj02(lat: float, lon: float) -> tuple[float, float]:
    """Rule 3: (lng, lat) in GCJ-02, 6 decimals."""
    shifted = wgs84_to_gcj02(LatLon(lat, lon))
    return round(shifted.lon, 6), round(shifted.lat, 6)


@dataclass(frozen=True, slots=True)
class Connector:
    station_id: str
    evse_id: int
    connector_id: int
    status: str | None
    power_kw: float


@dataclass(frozen=True, slots=True)
class Equipment:
    station_id: str
    vendor: str | None
    model: str | None
    online: bool
    connectors: tuple[Connector, ...]


@dataclass(frozen=True, slots=True)
class Site:
    """A charging site with what the platform asks of it; ``lat``/``lon`` WGS-84."""

    site_id: int
    name: str
    area_code: str
    address: str
    lat: float | None
    lon: float | None
    electricity_fee: str
    service_fee: str
    equipment: tuple[Equipment, ...]


def connector_status_info(c: Connector, online: bool) -> dict[str, Any]:
    return {"ConnectorID": connector_ref(c.station_id, c.evse_id, c.connector_id),
            "Status": platform_status(c.status, online)}


def station_status_info(site: Site) -> dict[str, Any]:
    """A ``StationStatusInfo``: every connector of the site with its code."""
    return {"StationID": str(site.site_id), "ConnectorStatusInfos": [
        connector_status_info(c, e.online) for e in site.equipment for c in e.connectors]}


def station_info(site: Site, operator_id: str) -> dict[str, Any]:
    """A ``StationInfo`` (Construction 1: residential area; StationStatus 50: in use)."""
    lng, lat = (0.0, 0.0) if site.lat is None or site.lon is None else gcj02(
        site.lat, site.lon)
    return {
        "StationID": str(site.site_id), "OperatorID": operator_id,
        "EquipmentOwnerID": operator_id, "StationName": site.name, "CountryCode": "CN",
        "AreaCode": site.area_code, "Address": site.address, "StationType": 1,
        "StationStatus": 50, "ParkNums": sum(len(e.connectors) for e in site.equipment),
        "StationLng": lng, "StationLat": lat, "Construction": 1,
        "ElectricityFee": site.electricity_fee, "ServiceFee": site.service_fee,
        "EquipmentInfos": [_equipment(e) for e in site.equipment],
    }


def _equipment(e: Equipment) -> dict[str, Any]:
    return {
        "EquipmentID": e.station_id, "ManufacturerID": "", "ManufacturerName": e.vendor or "",
        "EquipmentModel": e.model or "", "EquipmentType": 2,  # AC
        "Power": round(sum(c.power_kw for c in e.connectors), 1),
        "ConnectorInfos": [{
            "ConnectorID": connector_ref(c.station_id, c.evse_id, c.connector_id),
            "ConnectorName": f"{e.station_id} #{c.evse_id}", "ConnectorType": 3,
            "VoltageUpperLimits": 220, "VoltageLowerLimits": 220,
            "Current": round(c.power_kw * 1000 / 220), "Power": c.power_kw,
            "NationalStandard": 2} for c in e.connectors],
    }


def page(items: Sequence[T], page_no: int, page_size: int) -> tuple[list[T], int]:
    """Rule 4: the items of page ``page_no`` (1-based) and the page count (at least 1)."""
    size = max(1, min(MAX_ITEMS, page_size))
    count = max(1, math.ceil(len(items) / size))
    start = (max(1, page_no) - 1) * size
    return list(items[start:start + size]), count


def stations_page(sites: Sequence[Site], operator_id: str, page_no: int,
                  page_size: int) -> dict[str, Any]:
    """The answer of ``query_stations_info``."""
    shown, count = page(sites, page_no, page_size)
    return {"PageNo": max(1, page_no), "PageCount": count, "ItemSize": len(sites),
            "StationInfos": [station_info(s, operator_id) for s in shown]}


def alarm_info(station_id: str, evse_id: int | None, connector_id: int | None, code: str,
               level: int, active: bool, at_local: str) -> dict[str, Any]:
    """A safety-platform ``AlarmInfo`` (U: city platforms differ): AlarmLevel 1 personal
    safety, 2 equipment, 3 notice; AlarmStatus 1 raised, 0 cleared; AlarmType our alarm
    code's rule; a charger-wide alarm names connector 1 of EVSE 1."""
    return {"ConnectorID": connector_ref(station_id, evse_id or 1, connector_id or 1),
            "AlarmCode": code, "AlarmType": code, "AlarmStatus": 1 if active else 0,
            "AlarmLevel": level, "AlarmTime": at_local}
