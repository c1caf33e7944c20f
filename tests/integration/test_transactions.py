"""Transactions over real WebSockets: durability, idempotency, offline and seqNo rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, func, select

from csms.app import Csms
from csms.domain.model import AuthorizationStatus
from csms.store import tables as t
from tests.integration.test_server import BOOT_16, call, raw

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def ts(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


async def count(app: Csms, table: Table, *where: Any) -> int:
    async with app.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table).where(*where)))
                   .scalar_one())


async def session_rows(app: Csms, station_id: str) -> list[Any]:
    async with app.engine.connect() as conn:
        return list((await conn.execute(
            select(t.sessions).where(t.sessions.c.station_id == station_id)
            .order_by(t.sessions.c.id))).all())


def register(value_wh: float, minutes: float) -> dict[str, Any]:
    return {"timestamp": ts(minutes), "sampledValue": [
        {"value": str(value_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "7000", "measurand": "Power.Active.Import", "unit": "W"},
    ]}


class TestAuthorize:
    async def test_answers_from_the_id_token_table(self, csms: Csms) -> None:
        """Accepted, Blocked, Expired (past expiry) and Invalid (unknown) in 1.6."""
        await csms.store.put_token("OK", AuthorizationStatus.ACCEPTED)
        await csms.store.put_token("BLK", AuthorizationStatus.BLOCKED)
        await csms.store.put_token("OLD", AuthorizationStatus.ACCEPTED,
                                   expires_at=datetime(2020, 1, 1, tzinfo=UTC))
        async with raw(csms, "CP-AU") as ws:
            for tag, expected in [("OK", "Accepted"), ("BLK", "Blocked"), ("OLD", "Expired"),
                                  ("NEW", "Invalid")]:
                answer = await call(ws, "Authorize", {"idTag": tag}, tag)
                assert expected == answer[2]["idTagInfo"]["status"]

    async def test_2_0_1_unknown_token_is_invalid(self, csms: Csms) -> None:
        """2.0.1 Authorize of a token not in the table: Invalid under the reject policy."""
        async with raw(csms, "CP-AU2", "ocpp2.0.1") as ws:
            answer = await call(ws, "Authorize", {"idToken": {"idToken": "X", "type": "ISO14443"}})
            assert "Invalid" == answer[2]["idTokenInfo"]["status"]


class TestV16Transactions:
    async def test_start_and_stop_are_idempotent_and_energy_is_the_register_delta(
        self, csms: Csms
    ) -> None:
        """A retransmitted Start returns the same id; a repeated Stop changes nothing."""
        await csms.store.put_token("TAG", AuthorizationStatus.ACCEPTED)
        start = {"connectorId": 1, "idTag": "TAG", "meterStart": 1000, "timestamp": ts(0)}
        stop = {"transactionId": 0, "meterStop": 8500, "timestamp": ts(60), "reason": "Local",
                "transactionData": [register(8500, 60)]}
        async with raw(csms, "CP-16") as ws:
            await call(ws, "BootNotification", BOOT_16)
            first = (await call(ws, "StartTransaction", start, "s1"))[2]
            again = (await call(ws, "StartTransaction", start, "s2"))[2]
            assert first == again
            assert "Accepted" == first["idTagInfo"]["status"]
            mv = {"connectorId": 1, "transactionId": first["transactionId"],
                  "meterValue": [register(4000, 30)]}
            assert [3, "mv", {}] == await call(ws, "MeterValues", mv, "mv")
            stop["transactionId"] = first["transactionId"]
            assert (await call(ws, "StopTransaction", stop, "e1"))[2] == \
                (await call(ws, "StopTransaction", stop, "e2"))[2]
        rows = await session_rows(csms, "CP-16")
        assert 1 == len(rows)
        assert ("ended", 7500.0) == (rows[0].status, rows[0].energy_wh)
        assert 4 == await count(csms, t.meter_values, t.meter_values.c.session_id == rows[0].id)

    async def test_stop_of_an_unknown_transaction_is_accepted_and_recorded(
        self, csms: Csms
    ) -> None:
        """StopTransaction for an id we never issued: answered, kept as an event, no session."""
        async with raw(csms, "CP-U") as ws:
            answer = await call(ws, "StopTransaction",
                                {"transactionId": 424242, "meterStop": 10, "timestamp": ts(1)})
            assert 3 == answer[0]
        assert [] == await session_rows(csms, "CP-U")
        assert 1 == await count(csms, t.station_events,
                                t.station_events.c.kind == "unknown_transaction_stopped",
                                t.station_events.c.code == "424242")

    async def test_register_going_backwards_gives_zero_energy_and_an_event(
        self, csms: Csms
    ) -> None:
        """meterStop below meterStart: energy 0, an energy_register_backwards event."""
        await csms.store.put_token("TAG", AuthorizationStatus.ACCEPTED)
        async with raw(csms, "CP-BK") as ws:
            tx = (await call(ws, "StartTransaction", {"connectorId": 1, "idTag": "TAG",
                                                      "meterStart": 5000, "timestamp": ts(0)}))[2]
            await call(ws, "StopTransaction", {"transactionId": tx["transactionId"],
                                               "meterStop": 100, "timestamp": ts(5)}, "m2")
        rows = await session_rows(csms, "CP-BK")
        assert 0.0 == rows[0].energy_wh
        assert 1 == await count(csms, t.station_events,
                                t.station_events.c.kind == "energy_register_backwards")


def tx_event(
    event_type: str, seq_no: int, minutes: float, **extra: Any
) -> dict[str, Any]:
    payload = {"eventType": event_type, "timestamp": ts(minutes), "seqNo": seq_no,
               "triggerReason": "MeterValuePeriodic",
               "transactionInfo": {"transactionId": "TX-9"}}
    payload.update(extra)
    return payload


def v201_register(wh: float, minutes: float) -> list[dict[str, Any]]:
    return [{"timestamp": ts(minutes), "sampledValue": [
        {"value": wh, "measurand": "Energy.Active.Import.Register"}]}]


class TestV201Transactions:
    async def test_seq_no_dedupe_gaps_offline_and_energy(self, csms: Csms) -> None:
        """Duplicate seqNo changes nothing; a gap and offline events are recorded; energy is
        the last register minus the first."""
        await csms.store.put_token("T2", AuthorizationStatus.ACCEPTED)
        token = {"idToken": "T2", "type": "ISO14443"}
        async with raw(csms, "CP-20", "ocpp2.0.1") as ws:
            started = await call(ws, "TransactionEvent", tx_event(
                "Started", 0, 0, idToken=token, evse={"id": 1, "connectorId": 1},
                meterValue=v201_register(2000, 0)), "a")
            assert "Accepted" == started[2]["idTokenInfo"]["status"]
            update = tx_event("Updated", 1, 10, meterValue=v201_register(3000, 10))
            await call(ws, "TransactionEvent", update, "b")
            await call(ws, "TransactionEvent", update, "b-again")
            await call(ws, "TransactionEvent", tx_event(
                "Updated", 4, 40, offline=True, meterValue=v201_register(5000, 40)), "c")
            ended = tx_event("Ended", 5, 50, meterValue=v201_register(6500, 50))
            ended["transactionInfo"]["stoppedReason"] = "EVDisconnected"
            await call(ws, "TransactionEvent", ended, "d")
            await call(ws, "TransactionEvent", ended, "d-again")
        rows = await session_rows(csms, "CP-20")
        assert 1 == len(rows)
        session = rows[0]
        assert ("ended", 4500.0, True, 5) == (
            session.status, session.energy_wh, session.had_offline_events, session.last_seq_no)
        assert "EVDisconnected" == session.stop_reason
        assert 4 == await count(csms, t.transaction_events,
                                t.transaction_events.c.session_id == session.id)
        assert 4 == await count(csms, t.meter_values, t.meter_values.c.session_id == session.id)
        assert 1 == await count(csms, t.station_events,
                                t.station_events.c.kind == "transaction_seq_gap")

    async def test_an_implausible_baseline_found_by_the_ended_event_is_kept_with_the_end(
        self, csms: Csms
    ) -> None:
        """The first reading after the start comes with Ended, 900 kWh above the start
        register a minute later: the reading replaces the baseline and the session is
        flagged, in the same write as its end (energy 0, not 900 kWh)."""
        async with raw(csms, "CP-22", "ocpp2.0.1") as ws:
            await call(ws, "TransactionEvent", tx_event(
                "Started", 0, 0, evse={"id": 1, "connectorId": 1},
                meterValue=v201_register(10_000, 0)))
            await call(ws, "TransactionEvent", tx_event(
                "Ended", 1, 1, meterValue=v201_register(910_000, 1)))
        rows = await session_rows(csms, "CP-22")
        assert [("ended", 910_000.0, 0.0, ["implausible_baseline"], 1)] == [
            (r.status, r.meter_start_wh, r.energy_wh, r.flags, r.last_seq_no) for r in rows]

    async def test_an_event_for_an_unknown_transaction_creates_the_session(
        self, csms: Csms
    ) -> None:
        """An Ended whose Started never arrived still produces one ended session."""
        async with raw(csms, "CP-21", "ocpp2.0.1") as ws:
            await call(ws, "TransactionEvent", tx_event(
                "Ended", 3, 30, offline=True, evse={"id": 2},
                meterValue=v201_register(900, 30)))
        rows = await session_rows(csms, "CP-21")
        assert [("ended", 2, True)] == [(r.status, r.evse_id, r.had_offline_events) for r in rows]
