"""The evening benchmark's OCPP frames, 1.6 and 2.0.1, pre-serialised around what varies.

Every frame is bytes glued from constant pieces built once at import and the few fields a
call changes: the message id, a timestamp, the connector, the transaction id, the card, the
seqNo and the energy register. The eight sampled values of a sample (energy register,
active power, current, voltage, offered current and power, state of charge, and the body
temperature in 1.6 or the frequency in 2.0.1, which has no temperature measurand) are one
constant tail behind the register, which is the only reading that changes.

Rules:
1. Timestamps carry milliseconds and never repeat for one connector (``Clock.stamp``): a
   session's samples are keyed by their instant, so two in one second must not collide.
2. 1.6 registers are whole Wh (``meterStart``/``meterStop`` are integers), sent as the
   decimal string 1.6 wants; 2.0.1 sends the same number as a JSON number.
3. Nothing here does I/O; ``bench.evening_chargers`` sends what these return.
"""

from __future__ import annotations

import time
from typing import Final

import orjson

V16: Final = "ocpp1.6"
V201: Final = "ocpp2.0.1"


class Clock:
    """Wall-clock instants in milliseconds, formatted as OCPP timestamps."""

    def __init__(self) -> None:
        self._second = -1
        self._head = b""

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def stamp(self, ms: int) -> bytes:
        """``ms`` (milliseconds since the epoch) as ``2026-12-06T20:15:03.042Z``."""
        second, milli = divmod(ms, 1000)
        if second != self._second:
            self._second = second
            self._head = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)).encode()
        return self._head + b".%03dZ" % milli


def _sv16(value: str, measurand: str, unit: str, location: str = "Outlet",
          phase: str | None = None) -> dict[str, str]:
    sv = {"value": value, "context": "Sample.Periodic", "format": "Raw",
          "measurand": measurand, "location": location, "unit": unit}
    if phase is not None:
        sv["phase"] = phase
    return sv


def _sv201(value: float, measurand: str, unit: str, phase: str | None = None
           ) -> dict[str, object]:
    sv: dict[str, object] = {"value": value, "context": "Sample.Periodic",
                             "measurand": measurand, "unitOfMeasure": {"unit": unit}}
    if phase is not None:
        sv["phase"] = phase
    return sv


def _tail(values: list[dict[str, object]] | list[dict[str, str]]) -> bytes:
    """The constant sampled values after the register, as ``,{...},{...}]``."""
    return b"," + orjson.dumps(values)[1:]


SAMPLES_PER_CALL: Final = 8
_REST16: Final = _tail([
    _sv16("7040", "Power.Active.Import", "W"),
    _sv16("30.5", "Current.Import", "A", phase="L1"),
    _sv16("230.4", "Voltage", "V", phase="L1-N"),
    _sv16("32", "Current.Offered", "A"),
    _sv16("7040", "Power.Offered", "W"),
    _sv16("55", "SoC", "Percent", location="EV"),
    _sv16("38.5", "Temperature", "Celsius", location="Body"),
])
_REST201: Final = _tail([
    _sv201(7040.0, "Power.Active.Import", "W"),
    _sv201(30.5, "Current.Import", "A", phase="L1"),
    _sv201(230.4, "Voltage", "V", phase="L1-N"),
    _sv201(32.0, "Current.Offered", "A"),
    _sv201(7040.0, "Power.Offered", "W"),
    _sv201(55.0, "SoC", "Percent"),
    _sv201(50.0, "Frequency", "Hz"),
])
_E16: Final = (b'[{"value":"', b'","context":"Sample.Periodic","format":"Raw",'
               b'"measurand":"Energy.Active.Import.Register","location":"Outlet","unit":"Wh"}')
_E201: Final = (b'[{"value":', b',"context":"%s","measurand":"Energy.Active.Import.Register",'
                b'"unitOfMeasure":{"unit":"Wh"}}')


def _head(message_id: bytes, action: bytes) -> bytes:
    return b'[2,"' + message_id + b'","' + action + b'",'


# -- both versions ----------------------------------------------------------------------------

def heartbeat(message_id: bytes) -> bytes:
    return _head(message_id, b"Heartbeat") + b"{}]"


def boot(version: str, message_id: bytes, station_id: str) -> bytes:
    if version == V16:
        payload: dict[str, object] = {
            "chargePointVendor": "Bench", "chargePointModel": "Evening-1",
            "chargePointSerialNumber": station_id, "firmwareVersion": "1.0.0"}
    else:
        payload = {"reason": "PowerUp", "chargingStation": {
            "vendorName": "Bench", "model": "Evening-2", "serialNumber": station_id,
            "firmwareVersion": "1.0.0"}}
    return _head(message_id, b"BootNotification") + orjson.dumps(payload) + b"]"


def status(version: str, message_id: bytes, connector: int, state: bytes, at: bytes) -> bytes:
    """``state`` in the version's spelling (1.6 Charging, 2.0.1 Occupied, ...)."""
    c = b"%d" % connector
    if version == V16:
        body = (b'{"connectorId":' + c + b',"errorCode":"NoError","status":"' + state
                + b'","timestamp":"' + at + b'"}]')
    else:
        body = (b'{"timestamp":"' + at + b'","connectorStatus":"' + state + b'","evseId":' + c
                + b',"connectorId":1}]')
    return _head(message_id, b"StatusNotification") + body


def authorize(version: str, message_id: bytes, tag: bytes) -> bytes:
    if version == V16:
        return _head(message_id, b"Authorize") + b'{"idTag":"' + tag + b'"}]'
    return (_head(message_id, b"Authorize") + b'{"idToken":{"idToken":"' + tag
            + b'","type":"ISO14443"}}]')


# -- OCPP 1.6 ---------------------------------------------------------------------------------

def start16(message_id: bytes, connector: int, tag: bytes, wh: int, at: bytes) -> bytes:
    return (_head(message_id, b"StartTransaction") + b'{"connectorId":%d,"idTag":"' % connector
            + tag + b'","meterStart":%d,"timestamp":"' % wh + at + b'"}]')


def sample16(message_id: bytes, connector: int, tx: bytes, wh: int, at: bytes) -> bytes:
    return (_head(message_id, b"MeterValues") + b'{"connectorId":%d,"transactionId":' % connector
            + tx + b',"meterValue":[{"timestamp":"' + at + b'","sampledValue":' + _E16[0]
            + b"%d" % wh + _E16[1] + _REST16 + b"}]}]")


def stop16(message_id: bytes, tx: bytes, tag: bytes, wh: int, at: bytes) -> bytes:
    return (_head(message_id, b"StopTransaction") + b'{"transactionId":' + tx + b',"idTag":"'
            + tag + b'","meterStop":%d,"timestamp":"' % wh + at
            + b'","reason":"EVDisconnected"}]')


# -- OCPP 2.0.1 -------------------------------------------------------------------------------

def _event(message_id: bytes, kind: bytes, at: bytes, trigger: bytes, seq: int, tx: bytes,
           state: bytes, rest: bytes) -> bytes:
    return (_head(message_id, b"TransactionEvent") + b'{"eventType":"' + kind
            + b'","timestamp":"' + at + b'","triggerReason":"' + trigger
            + b'","seqNo":%d,"transactionInfo":{"transactionId":"' % seq + tx
            + b'","chargingState":"' + state + b'"' + rest)


def _register(wh: int, at: bytes, context: bytes) -> bytes:
    return (b'"meterValue":[{"timestamp":"' + at + b'","sampledValue":' + _E201[0]
            + b"%d" % wh + _E201[1] % context + b"]}]")


def started201(message_id: bytes, connector: int, tx: bytes, seq: int, tag: bytes, wh: int,
               at: bytes) -> bytes:
    rest = (b'},"evse":{"id":%d,"connectorId":1},"idToken":{"idToken":"' % connector + tag
            + b'","type":"ISO14443"},' + _register(wh, at, b"Transaction.Begin") + b"}]")
    return _event(message_id, b"Started", at, b"Authorized", seq, tx, b"Charging", rest)


def updated201(message_id: bytes, tx: bytes, seq: int, wh: int, at: bytes, *,
               offline: bool = False) -> bytes:
    rest = (b'},"meterValue":[{"timestamp":"' + at + b'","sampledValue":' + _E201[0]
            + b"%d" % wh + _E201[1] % b"Sample.Periodic" + _REST201 + b"}]"
            + (b',"offline":true' if offline else b"") + b"}]")
    return _event(message_id, b"Updated", at, b"MeterValuePeriodic", seq, tx, b"Charging", rest)


def ended201(message_id: bytes, tx: bytes, seq: int, wh: int, at: bytes) -> bytes:
    rest = (b',"stoppedReason":"EVDisconnected"},'
            + _register(wh, at, b"Transaction.End") + b"}]")
    return _event(message_id, b"Ended", at, b"EVCommunicationLost", seq, tx, b"Idle", rest)


# -- answers to the CSMS's own calls -----------------------------------------------------------

_ANSWERS: Final[dict[str, dict[str, object]]] = {
    "SetChargingProfile": {"status": "Accepted"},
    "ClearChargingProfile": {"status": "Accepted"},
    "ChangeAvailability": {"status": "Accepted"},
    "RemoteStopTransaction": {"status": "Accepted"},
    "RequestStopTransaction": {"status": "Accepted"},
    "TriggerMessage": {"status": "Accepted"},
    "SendLocalList": {"status": "Accepted"},
    "GetBaseReport": {"status": "Accepted"},
    "CostUpdated": {},
    "GetTransactionStatus": {"ongoingIndicator": True, "messagesInQueue": False},
}
_LIST_VERSION: Final[dict[str, dict[str, object]]] = {
    V16: {"listVersion": 0}, V201: {"versionNumber": 0}}


def answer(version: str, message_id: str, action: str) -> bytes:
    """The charger's answer to a CSMS call: Accepted where that is the answer, a CALLERROR
    NotImplemented for what this charger does not model."""
    payload = _LIST_VERSION[version] if action == "GetLocalListVersion" else _ANSWERS.get(action)
    if action == "DataTransfer":
        payload = {"status": "Accepted"}  # 1.6 running cost (show_cost_charge_points)
    if payload is None:
        return orjson.dumps([4, message_id, "NotImplemented", f"bench: no {action}", {}])
    return orjson.dumps([3, message_id, payload])
