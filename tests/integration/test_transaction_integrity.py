"""Every transaction lands once with the right energy, whatever the charger gets wrong
(issue 20): raw OCPP frames over real WebSockets, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from csms.app import Csms
from csms.domain.model import AuthorizationStatus
from csms.services.events import DomainEvent, SessionRecorded
from csms.store import tables as t
from csms.store.safety import tables as ts_
from csms.store.sessions.review import Correction, Decision, SessionReviews
from tests.conftest import eventually
from tests.integration.test_server import BOOT_16, call, raw
from tests.integration.test_transactions import (
    count,
    register,
    session_rows,
    ts,
    tx_event,
    v201_register,
)

EVSE_1 = {"id": 1, "connectorId": 1}


def start16(connector: int, minutes: float = 0, meter: int = 0, tag: str = "FREE"
            ) -> dict[str, Any]:
    return {"connectorId": connector, "idTag": tag, "meterStart": meter,
            "timestamp": ts(minutes)}


def stop16(transaction_id: int, meter: int, minutes: float, **extra: Any) -> dict[str, Any]:
    return {"transactionId": transaction_id, "meterStop": meter, "timestamp": ts(minutes),
            "reason": "Local", **extra}


async def events_of(app: Csms, station_id: str, kind: str) -> list[Any]:
    e = t.station_events
    async with app.engine.connect() as conn:
        return list((await conn.execute(select(e).where(
            e.c.station_id == station_id, e.c.kind == kind).order_by(e.c.id))).all())


async def alarms_of(app: Csms, station_id: str) -> list[tuple[str, int]]:
    a = ts_.alarms
    async with app.engine.connect() as conn:
        rows = (await conn.execute(select(a.c.code, a.c.level).where(
            a.c.station_id == station_id).order_by(a.c.id))).all()
    return [(r.code, r.level) for r in rows]


class TestStartsThatDiffer:
    async def test_two_connectors_with_equal_fields_are_two_sessions(self, csms: Csms) -> None:
        """Defect 1: the same idTag, meterStart and timestamp on connectors 1 and 2 are two
        transactions; both stops are stored and have their energy."""
        async with raw(csms, "CP-D1") as ws:
            await call(ws, "BootNotification", BOOT_16)
            one = (await call(ws, "StartTransaction", start16(1), "s1"))[2]["transactionId"]
            two = (await call(ws, "StartTransaction", start16(2), "s2"))[2]["transactionId"]
            again = (await call(ws, "StartTransaction", start16(2), "s3"))[2]["transactionId"]
            assert one != two
            assert two == again  # a retransmission is still the same session
            await call(ws, "StopTransaction", stop16(one, 1000, 30), "e1")
            await call(ws, "StopTransaction", stop16(two, 2500, 30), "e2")
        rows = await session_rows(csms, "CP-D1")
        assert [(1, "ended", 1000.0), (2, "ended", 2500.0)] == [
            (r.evse_id, r.status, r.energy_wh) for r in rows]


class TestSeqNo:
    async def test_seq_no_zero_on_every_event_still_applies_them(self, csms: Csms) -> None:
        """Defect 2: a charger that sends seqNo 0 on every event: each event is applied, the
        reuse is recorded; an exact retransmission changes nothing."""
        async with raw(csms, "CP-D2", "ocpp2.0.1") as ws:
            await call(ws, "TransactionEvent", tx_event(
                "Started", 0, 0, evse=EVSE_1, meterValue=v201_register(100, 0)), "a")
            await call(ws, "TransactionEvent", tx_event(
                "Updated", 0, 10, meterValue=v201_register(1100, 10)), "b")
            ended = tx_event("Ended", 0, 20, meterValue=v201_register(2100, 20))
            await call(ws, "TransactionEvent", ended, "c")
            await call(ws, "TransactionEvent", ended, "c-again")
        [session] = await session_rows(csms, "CP-D2")
        assert ("ended", 2000.0) == (session.status, session.energy_wh)
        assert 2 == len(await events_of(csms, "CP-D2", "transaction_seq_reused"))
        assert 3 == await count(csms, t.transaction_events,
                                t.transaction_events.c.session_id == session.id)

    async def test_only_what_was_applied_is_published(self, csms: Csms) -> None:
        """Defect 3: a retransmitted event is answered but not published on the bus."""
        seen: list[DomainEvent] = []
        csms.bus.subscribe(seen.append)
        async with raw(csms, "CP-D3", "ocpp2.0.1") as ws:
            started = tx_event("Started", 0, 0, evse=EVSE_1, meterValue=v201_register(5, 0))
            update = tx_event("Updated", 1, 5, meterValue=v201_register(700, 5))
            for payload, mid in ((started, "a"), (update, "b"), (update, "b2"),
                                 (started, "a2")):
                assert 3 == (await call(ws, "TransactionEvent", payload, mid))[0]
        recorded = [e for e in seen if isinstance(e, SessionRecorded)]
        assert ["Started", "Updated"] == [r.event.kind.value for r in recorded]


class TestEndedSessions:
    async def test_an_updated_after_ended_keeps_the_stop(self, csms: Csms) -> None:
        """Defect 4: an Updated after Ended changes nothing on the session; its readings are
        kept, not linked to it, and the late event is recorded."""
        async with raw(csms, "CP-D4", "ocpp2.0.1") as ws:
            await call(ws, "TransactionEvent", tx_event(
                "Started", 0, 0, evse=EVSE_1, meterValue=v201_register(0, 0)), "a")
            await call(ws, "TransactionEvent", tx_event(
                "Ended", 1, 10, meterValue=v201_register(54.1, 10)), "b")
            await call(ws, "TransactionEvent", tx_event(
                "Updated", 2, 11, meterValue=v201_register(60, 11)), "c")
        [session] = await session_rows(csms, "CP-D4")
        assert (54.1, 54.1) == (session.meter_stop_wh, session.energy_wh)
        assert 1 == len(await events_of(csms, "CP-D4", "late_transaction_event"))
        mv = t.meter_values
        assert 1 == await count(csms, mv, mv.c.station_id == "CP-D4", mv.c.session_id.is_(None))

    async def test_a_second_v16_stop_with_other_values_is_a_recorded_conflict(
        self, csms: Csms
    ) -> None:
        """Defect 7: the first stop stays (and is the answer); the second is recorded and the
        session flagged; meter values after the stop are late readings, not attached."""
        async with raw(csms, "CP-D7") as ws:
            await call(ws, "BootNotification", BOOT_16)
            tx = (await call(ws, "StartTransaction", start16(1), "s"))[2]["transactionId"]
            first = await call(ws, "StopTransaction", stop16(tx, 0, 5), "e1")
            await call(ws, "MeterValues", {"connectorId": 1, "transactionId": tx,
                                           "meterValue": [register(29.83, 6)]}, "mv")
            second = await call(ws, "StopTransaction", stop16(tx, 30, 7), "e2")
            assert first[2] == second[2]
        [session] = await session_rows(csms, "CP-D7")
        assert (0.0, 0.0, ["stop_conflict"]) == (session.meter_stop_wh, session.energy_wh,
                                                 session.flags)
        [conflict] = await events_of(csms, "CP-D7", "stop_conflict")
        assert (0.0, 30.0) == (conflict.details["kept"]["meter_stop_wh"],
                               conflict.details["received"]["meter_stop_wh"])
        assert 1 == len(await events_of(csms, "CP-D7", "late_meter_values"))
        mv = t.meter_values
        assert 0 == await count(csms, mv, mv.c.session_id == session.id)


class TestSuperseded:
    async def test_a_new_v16_start_ends_the_older_session_on_its_connector(
        self, csms: Csms
    ) -> None:
        """Defect 5: the older session ends at its last reading, flagged, with a notice."""
        async with raw(csms, "CP-D5") as ws:
            await call(ws, "BootNotification", BOOT_16)
            old = (await call(ws, "StartTransaction", start16(1, 0, 1000), "s1"))[2]
            await call(ws, "MeterValues", {"connectorId": 1, "transactionId":
                                           old["transactionId"],
                                           "meterValue": [register(4200, 20)]}, "mv")
            new = (await call(ws, "StartTransaction", start16(1, 30, 4300), "s2"))[2]
            assert old["transactionId"] != new["transactionId"]
        older, newer = await session_rows(csms, "CP-D5")
        assert ("ended", 3200.0, ["superseded"], "Other") == (
            older.status, older.energy_wh, older.flags, older.stop_reason)
        assert "active" == newer.status
        assert 1 == len(await events_of(csms, "CP-D5", "session_superseded"))
        await eventually(lambda: alarms_of(csms, "CP-D5"),
                         lambda found: ("transaction_anomaly", 3) in found)

    async def test_a_new_v201_transaction_on_a_busy_evse_ends_the_older(
        self, csms: Csms
    ) -> None:
        """Defect 5 on 2.0.1: one active session per EVSE."""
        async with raw(csms, "CP-D5B", "ocpp2.0.1") as ws:
            first = tx_event("Started", 0, 0, evse=EVSE_1, meterValue=v201_register(10, 0))
            await call(ws, "TransactionEvent", first, "a")
            second = tx_event("Started", 0, 30, evse=EVSE_1, meterValue=v201_register(0, 30))
            second["transactionInfo"]["transactionId"] = "TX-10"
            await call(ws, "TransactionEvent", second, "b")
        rows = await session_rows(csms, "CP-D5B")
        assert [("TX-9", "ended"), ("TX-10", "active")] == [
            (r.transaction_id, r.status) for r in rows]


class TestSamplesAreStoredOnce:
    async def test_repeated_readings_inside_events_are_stored_once(self, csms: Csms) -> None:
        """Defect 8: the start reading repeated inside Ended is one sample."""
        begin = v201_register(500, 0)
        async with raw(csms, "CP-D8", "ocpp2.0.1") as ws:
            await call(ws, "TransactionEvent", tx_event(
                "Started", 0, 0, evse=EVSE_1, meterValue=begin), "a")
            await call(ws, "TransactionEvent", tx_event(
                "Ended", 1, 10, meterValue=[*begin, *v201_register(900, 10)]), "b")
        [session] = await session_rows(csms, "CP-D8")
        assert 2 == await count(csms, t.meter_values,
                                t.meter_values.c.session_id == session.id)

    async def test_retransmitted_meter_values_and_statuses_are_stored_once(
        self, csms: Csms
    ) -> None:
        """Issue 14 defect 6: after a lost answer, the same MeterValues (with its
        transaction) and StatusNotification are stored once."""
        status = {"connectorId": 1, "status": "Charging", "errorCode": "NoError",
                  "timestamp": ts(1)}
        async with raw(csms, "CP-D14") as ws:
            await call(ws, "BootNotification", BOOT_16)
            tx = (await call(ws, "StartTransaction", start16(1), "s"))[2]["transactionId"]
            mv = {"connectorId": 1, "transactionId": tx, "meterValue": [register(300, 2)]}
            for mid in ("m1", "m2"):
                await call(ws, "MeterValues", mv, mid)
                await call(ws, "StatusNotification", status, f"st-{mid}")
        h = t.connector_status_history
        assert 1 == await count(csms, h, h.c.station_id == "CP-D14", h.c.status == "Charging")
        assert 2 == await count(csms, t.meter_values, t.meter_values.c.station_id == "CP-D14")


class TestSuspectReadings:
    async def test_a_zero_baseline_offline_is_replaced_flagged_and_not_billed(
        self, csms: Csms
    ) -> None:
        """Defect 9: Transaction.Begin = 0, then the real register: the energy is from the
        first plausible reading, the session is flagged and billing waits; the operator's
        decision is audited."""
        async with raw(csms, "CP-D9", "ocpp2.0.1") as ws:
            await call(ws, "TransactionEvent", tx_event(
                "Started", 0, 0, offline=True, evse=EVSE_1,
                meterValue=v201_register(0, 0)), "a")
            await call(ws, "TransactionEvent", tx_event(
                "Updated", 1, 1, offline=True, meterValue=v201_register(909_948, 1)), "b")
            await call(ws, "TransactionEvent", tx_event(
                "Ended", 2, 31, meterValue=v201_register(912_948, 31)), "c")
        [session] = await session_rows(csms, "CP-D9")
        assert (909_948.0, 3000.0, ["implausible_baseline"]) == (
            session.meter_start_wh, session.energy_wh, session.flags)
        assert 1 == len(await events_of(csms, "CP-D9", "implausible_baseline"))
        reviews = SessionReviews(csms.store.writer, lambda: None)
        await reviews.decide(session.id, Decision.CORRECT, "token:t1", "meter read on site",
                             Correction(meter_start_wh=909_900.0))
        [reviewed] = await session_rows(csms, "CP-D9")
        assert (3048.0, ["implausible_baseline", "reviewed"]) == (
            reviewed.energy_wh, reviewed.flags)
        a = t.audit_log
        async with csms.engine.connect() as conn:
            audited = (await conn.execute(select(a.c.details).where(
                a.c.action == "review", a.c.resource_id == str(session.id)))).scalar_one()
        assert (3000.0, 3048.0) == (audited["before"]["energy_wh"],
                                    audited["after"]["energy_wh"])

    async def test_fractional_readings_and_a_whole_wh_stop_raise_no_alarm(
        self, csms: Csms
    ) -> None:
        """Defect 6: MeterValues 12.44 Wh then meterStop 12 is rounding, not a fall; a meter
        that restarts at 0 per transaction is learnt; a fall within a transaction alarms."""
        async with raw(csms, "CP-D6") as ws:
            await call(ws, "BootNotification", BOOT_16)
            tx = (await call(ws, "StartTransaction", start16(1), "s"))[2]["transactionId"]
            await call(ws, "MeterValues", {"connectorId": 1, "transactionId": tx,
                                           "meterValue": [register(12.44, 1)]}, "m")
            await call(ws, "StopTransaction", stop16(tx, 12, 2), "e")
            tx = (await call(ws, "StartTransaction", start16(1, 3), "s2"))[2]["transactionId"]
            await call(ws, "MeterValues", {"connectorId": 1, "transactionId": tx,
                                           "meterValue": [register(800, 4)]}, "m2")
            await call(ws, "MeterValues", {"connectorId": 1, "transactionId": tx,
                                           "meterValue": [register(300, 5)]}, "m3")
        found = await eventually(lambda: alarms_of(csms, "CP-D6"),
                                 lambda a: ("energy_register_backwards", 2) in a)
        assert [("energy_register_backwards", 2)] == found
        assert [] == await events_of(csms, "CP-D6", "energy_register_backwards")


class TestEvseAndConnectorZero:
    async def test_a_session_learns_its_evse_from_a_later_event(self, csms: Csms) -> None:
        """Defect 10: first event without evse; the next one names it; readings backfilled."""
        async with raw(csms, "CP-D10", "ocpp2.0.1") as ws:
            await call(ws, "TransactionEvent", tx_event(
                "Started", 0, 0, meterValue=v201_register(0, 0)), "a")
            await call(ws, "TransactionEvent", tx_event(
                "Updated", 1, 5, evse={"id": 2, "connectorId": 1},
                meterValue=v201_register(500, 5)), "b")
        [session] = await session_rows(csms, "CP-D10")
        assert (2, 1) == (session.evse_id, session.connector_id)
        mv = t.meter_values
        assert 2 == await count(csms, mv, mv.c.session_id == session.id, mv.c.evse_id == 2)

    async def test_a_start_on_connector_0_is_invalid_and_opens_no_session(
        self, csms: Csms
    ) -> None:
        """Defect 11: an id is returned (the same on retransmission), Invalid, recorded."""
        await csms.store.put_token("OK0", AuthorizationStatus.ACCEPTED)
        async with raw(csms, "CP-D11") as ws:
            await call(ws, "BootNotification", BOOT_16)
            first = (await call(ws, "StartTransaction", start16(0, tag="OK0"), "s"))[2]
            again = (await call(ws, "StartTransaction", start16(0, tag="OK0"), "s2"))[2]
        assert first == again
        assert "Invalid" == first["idTagInfo"]["status"]
        assert [] == await session_rows(csms, "CP-D11")
        assert 1 == len(await events_of(csms, "CP-D11", "start_on_connector_0"))


class TestSignsOfLife:
    async def test_any_message_moves_last_seen_at(self, csms: Csms) -> None:
        """Defect 14: a StatusNotification (not only a Heartbeat) moves last_seen_at."""
        cp = t.charge_points

        async def last_seen() -> Any:
            async with csms.engine.connect() as conn:
                return (await conn.execute(select(cp.c.last_seen_at).where(
                    cp.c.id == "CP-D14L"))).scalar_one_or_none()

        async with raw(csms, "CP-D14L") as ws:
            await call(ws, "BootNotification", BOOT_16)
            booted = await eventually(last_seen)
            status = {"connectorId": 1, "status": "Available", "errorCode": "NoError"}
            async def moved() -> Any:
                await call(ws, "StatusNotification", status, "st")
                return await last_seen()
            await eventually(moved, lambda at: at > booted)
