"""OCPP 1.6 payloads to domain types and back. Pure: no I/O, no clock.

Payloads are the validated camelCase dicts of the wire. 1.6 connector ``n`` is EVSE ``n``,
connector 1; connector 0 is the station (EVSE 0, connector 0).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from csms.domain.model import (
    Authorization,
    AuthorizationStatus,
    BootVerdict,
    ConnectorStatus,
    ConnectorStatusChanged,
    IdToken,
    MeterSample,
    MeterValuesReported,
    SampledValue,
    SessionEvent,
    SessionEventKind,
    StationBooted,
)
from csms.handlers.timefmt import format_time, parse_time
from csms.handlers.translate.common import report as report  # the same in both versions
from csms.handlers.translate.common import security_event as security_event

Payload = dict[str, Any]


def evse_of(connector_id: int) -> tuple[int, int]:
    """(evse_id, connector_id) of a 1.6 connector id."""
    return (0, 0) if connector_id == 0 else (connector_id, 1)


def boot(station_id: str, p: Payload, now: datetime) -> StationBooted:
    return StationBooted(
        station_id=station_id,
        vendor=p["chargePointVendor"],
        model=p["chargePointModel"],
        serial_number=p.get("chargePointSerialNumber") or p.get("chargeBoxSerialNumber"),
        firmware_version=p.get("firmwareVersion"),
        reason=None,
        at=now,
    )


def boot_answer(verdict: BootVerdict) -> Payload:
    return {
        "status": verdict.status.value,
        "currentTime": format_time(verdict.current_time),
        "interval": verdict.interval_s,
    }


def status(station_id: str, p: Payload, now: datetime) -> ConnectorStatusChanged:
    evse_id, connector_id = evse_of(p["connectorId"])
    error = p["errorCode"]
    return ConnectorStatusChanged(
        station_id=station_id,
        evse_id=evse_id,
        connector_id=connector_id,
        status=ConnectorStatus(p["status"]),
        at=parse_time(p["timestamp"]) if "timestamp" in p else now,
        error_code=None if error == "NoError" else error,
        vendor_error_code=p.get("vendorErrorCode"),
        info=p.get("info"),
    )


_STATUS_V16 = {
    AuthorizationStatus.UNKNOWN: "Invalid",
    AuthorizationStatus.NO_CREDIT: "Blocked",
}


def id_tag_info(auth: Authorization) -> Payload:
    info: Payload = {"status": _STATUS_V16.get(auth.status, auth.status.value)}
    if auth.expires_at is not None:
        info["expiryDate"] = format_time(auth.expires_at)
    if auth.group_id is not None:
        info["parentIdTag"] = auth.group_id
    return info


def start_transaction(station_id: str, p: Payload) -> SessionEvent:
    evse_id, connector_id = evse_of(p["connectorId"])
    return SessionEvent(
        station_id=station_id, kind=SessionEventKind.STARTED, at=parse_time(p["timestamp"]),
        evse_id=evse_id, connector_id=connector_id, transaction_ref=None,
        id_token=IdToken(p["idTag"]), meter_wh=float(p["meterStart"]),
        reservation_id=p.get("reservationId"),
    )


def stop_transaction(station_id: str, p: Payload) -> SessionEvent:
    tag = p.get("idTag")
    return SessionEvent(
        station_id=station_id, kind=SessionEventKind.ENDED, at=parse_time(p["timestamp"]),
        evse_id=None, connector_id=None, transaction_ref=str(p["transactionId"]),
        id_token=IdToken(tag) if tag else None, meter_wh=float(p["meterStop"]),
        samples=samples(p.get("transactionData", [])), stop_reason=p.get("reason", "Local"),
    )


def meter_values(station_id: str, p: Payload) -> MeterValuesReported:
    evse_id, connector_id = evse_of(p["connectorId"])
    tx = p.get("transactionId")
    return MeterValuesReported(
        station_id=station_id, evse_id=evse_id, connector_id=connector_id,
        transaction_ref=None if tx is None else str(tx), samples=samples(p["meterValue"]),
    )


def samples(meter_value: list[Payload]) -> tuple[MeterSample, ...]:
    """1.6 meterValue entries; values that are not plain numbers (signed data) are skipped."""
    out = []
    for entry in meter_value:
        values = []
        for sv in entry["sampledValue"]:
            if sv.get("format") == "SignedData":
                continue
            try:
                number = float(sv["value"])
            except ValueError:
                continue
            if not math.isfinite(number):
                continue
            measurand = sv.get("measurand", "Energy.Active.Import.Register")
            values.append(SampledValue(
                value=number, measurand=measurand,
                unit=sv.get("unit", "Wh" if measurand.startswith("Energy") else None),
                phase=sv.get("phase"), context=sv.get("context"), location=sv.get("location"),
            ))
        out.append(MeterSample(parse_time(entry["timestamp"]), tuple(values)))
    return tuple(out)
