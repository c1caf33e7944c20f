"""A simulated charger's reservations, both versions.

Rules:
1. ReserveNow on a connector (1.6 ``connectorId``, 2.0.1 ``evseId``): Accepted when it is
   operative, not faulted and free (no transaction, nothing starting, no other
   reservation); then it reports ``Reserved``. Otherwise Faulted, Unavailable or Occupied;
   an unknown connector (or an unsupported connector type) is Rejected. A reservation with
   the id of one held is replaced.
2. Connector 0 (1.6) or no EVSE (2.0.1) reserves any connector: no status changes, but the
   station keeps one free connector for the reserved token (other tokens are refused when
   only as many connectors are free as such reservations need).
3. Only the reserved token (case-insensitive) or its group may use a reserved connector;
   a start on it carries the ``reservationId`` and ends the reservation.
4. At ``expiryDate`` (simulated time) a reservation ends: the connector is Available again
   and 2.0.1 sends ReservationStatusUpdate Expired. CancelReservation: Accepted and
   Available for a held reservation, else Rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from csms.handlers.ocppj import OcppVersion
from csms.handlers.timefmt import parse_time
from simulators.model import Status

if TYPE_CHECKING:
    from csms.handlers.rpc import Handler
    from simulators.station import SimStation

Payload = dict[str, Any]

CONNECTOR_TYPE: Final = "cType2"


@dataclass(frozen=True, slots=True)
class Reservation:
    reservation_id: int
    connector_id: int | None  # None: any connector
    id_tag: str
    expires_at: datetime
    group: str | None = None

    def admits(self, id_tag: str, group: str | None = None) -> bool:
        """Rule 3."""
        if id_tag.upper() == self.id_tag.upper():
            return True
        return self.group is not None and group is not None and group.upper() == \
            self.group.upper()


class Reservations:
    """The station's reservations and their handlers (module rules)."""

    def __init__(self, station: SimStation) -> None:
        self._st = station
        self.held: dict[int, Reservation] = {}
        settings = station.settings.entries
        if station.version is OcppVersion.V16:
            from simulators.settings import Setting

            settings["ReserveConnectorZeroSupported"] = Setting("true", readonly=True,
                                                                kind="bool")
            profiles = settings.get("SupportedFeatureProfiles")
            if profiles is not None and "Reservation" not in profiles.value:
                profiles.value += ",Reservation"

    def handlers(self) -> dict[str, Handler]:
        return {"ReserveNow": self.reserve_now, "CancelReservation": self.cancel}

    def on_connector(self, connector_id: int) -> Reservation | None:
        return next((r for r in self.held.values() if r.connector_id == connector_id), None)

    def may_start(self, connector_id: int, id_tag: str) -> bool:
        """Whether ``id_tag`` may charge at ``connector_id`` (rules 2-3)."""
        own = self.on_connector(connector_id)
        if own is not None:
            return own.admits(id_tag)
        anywhere = [r for r in self.held.values() if r.connector_id is None]
        if not anywhere or any(r.admits(id_tag) for r in anywhere):
            return True
        free = [c for c in self._st.connectors.values()
                if c.operative and not c.busy and self.on_connector(c.connector_id) is None]
        return len(free) > len(anywhere)

    def use(self, connector_id: int, id_tag: str) -> int | None:
        """The reservation a start by ``id_tag`` at ``connector_id`` consumes, if any."""
        found = self.on_connector(connector_id)
        if found is None or not found.admits(id_tag):
            found = next((r for r in self.held.values()
                          if r.connector_id is None and r.admits(id_tag)), None)
        if found is None:
            return None
        self._end(found.reservation_id)
        return found.reservation_id

    async def reserve_now(self, p: Payload) -> Payload:
        """Rules 1-2."""
        if self._st.version is OcppVersion.V16:
            cid, tag, group = p["connectorId"] or None, p["idTag"], p.get("parentIdTag")
            expiry, rid = p["expiryDate"], p["reservationId"]
        else:
            if p.get("connectorType") not in (None, CONNECTOR_TYPE):
                return {"status": "Rejected"}
            group_token = p.get("groupIdToken")
            cid, tag, rid = p.get("evseId") or None, p["idToken"]["idToken"], p["id"]
            group = None if group_token is None else group_token["idToken"]
            expiry = p["expiryDateTime"]
        status = self._refusal(cid, rid)
        if status is not None:
            return {"status": status}
        self._end(rid)
        reservation = Reservation(rid, cid, tag, parse_time(expiry), group)
        self.held[rid] = reservation
        self._st.link.start_service(f"reservation-{rid}", lambda: self._expire(reservation))
        if cid is not None:
            self._st.link.after_answer("reserved",
                                       lambda: self._st.send_status(cid, Status.RESERVED))
        return {"status": "Accepted"}

    def _refusal(self, connector_id: int | None, reservation_id: int) -> str | None:
        if connector_id is None:
            free = [c for c in self._st.connectors.values() if c.operative and not c.busy]
            return None if free else "Occupied"
        connector = self._st.connectors.get(connector_id)
        if connector is None:
            return "Rejected"
        if connector.status is Status.FAULTED:
            return "Faulted"
        if not connector.operative:
            return "Unavailable"
        other = self.on_connector(connector_id)
        if connector.busy or (other is not None and other.reservation_id != reservation_id):
            return "Occupied"
        return None

    async def cancel(self, p: Payload) -> Payload:
        """Rule 4."""
        reservation = self.held.get(p["reservationId"])
        if reservation is None:
            return {"status": "Rejected"}
        self._end(reservation.reservation_id)
        self._release(reservation)
        return {"status": "Accepted"}

    async def _expire(self, reservation: Reservation) -> None:
        await self._st.clock.sleep_until(reservation.expires_at)
        if self.held.get(reservation.reservation_id) is not reservation:
            return
        del self.held[reservation.reservation_id]
        await self._announce_release(reservation)
        if self._st.version is OcppVersion.V201:
            await self._st.call("ReservationStatusUpdate", {
                "reservationId": reservation.reservation_id,
                "reservationUpdateStatus": "Expired"})

    def _end(self, reservation_id: int) -> None:
        if self.held.pop(reservation_id, None) is not None:
            self._st.link.stop_service(f"reservation-{reservation_id}")

    def _release(self, reservation: Reservation) -> None:
        self._st.link.after_answer("unreserved", lambda: self._announce_release(reservation))

    async def _announce_release(self, reservation: Reservation) -> None:
        cid = reservation.connector_id
        connector = None if cid is None else self._st.connectors.get(cid)
        if connector is not None and connector.status is Status.RESERVED and not connector.busy:
            await self._st.send_status(connector.connector_id, Status.AVAILABLE)
