"""OCPP 2.0.1 payloads to domain types and back. Pure: no I/O, no clock.

Payloads are the validated camelCase dicts of the wire.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any

from csms.domain.model import (
    Authorization,
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
    StationEventReported,
)
from csms.handlers.timefmt import format_time, parse_time
from csms.handlers.translate.common import report as report  # the same in both versions
from csms.handlers.translate.common import security_event as security_event

Payload = dict[str, Any]
MAX_MULTIPLIER = 18  # 10**18: far beyond any physical meter range
LOCAL_STOP = "Local"  # ReasonEnumType default when an Ended event carries no stoppedReason


def boot(station_id: str, p: Payload, now: datetime) -> StationBooted:
    station = p["chargingStation"]
    return StationBooted(
        station_id=station_id, vendor=station["vendorName"], model=station["model"],
        serial_number=station.get("serialNumber"),
        firmware_version=station.get("firmwareVersion"), reason=p["reason"], at=now,
    )


def boot_answer(verdict: BootVerdict) -> Payload:
    return {
        "status": verdict.status.value,
        "currentTime": format_time(verdict.current_time),
        "interval": verdict.interval_s,
    }


def status(station_id: str, p: Payload) -> ConnectorStatusChanged:
    connector_status = ConnectorStatus(p["connectorStatus"])
    return ConnectorStatusChanged(
        station_id=station_id, evse_id=p["evseId"], connector_id=p["connectorId"],
        status=connector_status, at=parse_time(p["timestamp"]),
        # 2.0.1 reports the fault itself through NotifyEvent; Faulted is the status.
        error_code="Faulted" if connector_status is ConnectorStatus.FAULTED else None,
    )


def id_token(p: Payload) -> IdToken:
    return IdToken(p["idToken"], p["type"])


def id_token_info(auth: Authorization) -> Payload:
    info: Payload = {"status": auth.status.value}
    if auth.expires_at is not None:
        info["cacheExpiryDateTime"] = format_time(auth.expires_at)
    if auth.group_id is not None:
        info["groupIdToken"] = {"idToken": auth.group_id, "type": "Central"}
    return info


def money(amount: Decimal) -> float:
    """A posted amount (whole fen) as the JSON number 2.0.1 cost fields take."""
    return float(amount)


def transaction_event(station_id: str, p: Payload) -> SessionEvent:
    info = p["transactionInfo"]
    evse = p.get("evse") or {}
    token = p.get("idToken")
    return SessionEvent(
        station_id=station_id, kind=SessionEventKind(p["eventType"]),
        at=parse_time(p["timestamp"]), evse_id=evse.get("id"),
        connector_id=evse.get("connectorId", 1 if evse else None),
        transaction_ref=info["transactionId"], id_token=id_token(token) if token else None,
        samples=samples(p.get("meterValue", [])), seq_no=p["seqNo"],
        offline=p.get("offline", False), trigger_reason=p["triggerReason"],
        stop_reason=_stop_reason(p["eventType"], info),
        charging_state=info.get("chargingState"),
        reservation_id=p.get("reservationId"), remote_start_id=info.get("remoteStartId"),
    )


def _stop_reason(event_type: str, info: Payload) -> str | None:
    """``stoppedReason``; an Ended event without one stopped for "Local" (the 2.0.1 spec: it
    may only be omitted when the reason is Local, as 1.6 StopTransaction's ``reason``)."""
    reason = info.get("stoppedReason")
    if reason is None and event_type == SessionEventKind.ENDED.value:
        return LOCAL_STOP
    return reason


def meter_values(station_id: str, p: Payload) -> MeterValuesReported:
    return MeterValuesReported(
        station_id=station_id, evse_id=p["evseId"], connector_id=None, transaction_ref=None,
        samples=samples(p["meterValue"]),
    )


def samples(meter_value: list[Payload]) -> tuple[MeterSample, ...]:
    """2.0.1 meterValue entries; values are scaled by the unit's multiplier.

    A multiplier outside ±MAX_MULTIPLIER (the schema sets no bound, and ``10 ** 2**31`` would
    stall the server) or a value that scales out of the float range is skipped.
    """
    out = []
    for entry in meter_value:
        values = []
        for sv in entry["sampledValue"]:
            measurand = sv.get("measurand", "Energy.Active.Import.Register")
            unit_of_measure = sv.get("unitOfMeasure", {})
            multiplier = unit_of_measure.get("multiplier", 0)
            if abs(multiplier) > MAX_MULTIPLIER:
                continue
            value = float(sv["value"]) * 10.0 ** multiplier
            if not math.isfinite(value):
                continue
            values.append(SampledValue(
                value=value, measurand=measurand,
                unit=unit_of_measure.get("unit", "Wh" if measurand.startswith("Energy") else None),
                phase=sv.get("phase"), context=sv.get("context"), location=sv.get("location"),
            ))
        out.append(MeterSample(parse_time(entry["timestamp"]), tuple(values)))
    return tuple(out)


def notify_events(station_id: str, p: Payload) -> list[StationEventReported]:
    """One station event per entry of a NotifyEvent."""
    events = []
    for data in p["eventData"]:
        component = data["component"]
        evse = component.get("evse") or {}
        events.append(StationEventReported(
            station_id, "notify_event", parse_time(data["timestamp"]),
            code=f"{component['name']}.{data['variable']['name']}",
            evse_id=evse.get("id"), connector_id=evse.get("connectorId"), details=dict(data),
        ))
    return events
