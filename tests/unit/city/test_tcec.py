"""The T/CEC 102.4 pure core: envelope, status codes, stations, charge orders, tokens."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csms.city.tcec import envelope as env
from csms.city.tcec import orders, stations, tokens
from csms.domain.model import ConnectorStatus
from csms.tariffs.examples import yunnan_residential
from csms.tariffs.pricing import price_session, register_sample
from csms.tariffs.rounding import post_order
from tests.unit.test_purity import ROOT, forbidden_in, loaded_with

KEYS = env.Keys("1234567890abcdef", "1234567890abcdef", "1234567890abcdef")
OTHER = env.Keys("fedcba0987654321", "fedcba0987654321", "fedcba0987654321")
AT = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**9, 10**9) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4), max_leaves=12)


class TestEnvelope:
    @given(st.dictionaries(st.text(max_size=10), json_values, max_size=6),
           st.integers(1, 9999))
    @settings(max_examples=150, deadline=None)
    def test_round_trip(self, data: dict[str, Any], seq: int) -> None:
        """A request built with the keys parses back to the same data."""
        body = env.build_request(KEYS, "MA0000001", data, "20261103180000", seq)
        parsed = env.parse_request(KEYS, json.loads(json.dumps(body)))
        assert (data, "MA0000001", f"{seq:04d}") == (parsed.data, parsed.operator_id,
                                                     parsed.seq)

    @given(st.sampled_from(["OperatorID", "Data", "TimeStamp", "Seq", "Sig"]),
           st.integers(0, 200), st.characters(min_codepoint=48, max_codepoint=122))
    @settings(max_examples=200, deadline=None)
    def test_any_tampered_field_is_refused(self, field: str, at: int, char: str) -> None:
        """Changing any character of any field is refused (4001, or 4003 for a bad shape)."""
        body = env.build_request(KEYS, "MA0000001", {"a": 1}, "20261103180000", 12)
        value = body[field]
        i = at % len(value)
        if value[i] == char:
            return
        body[field] = value[:i] + char + value[i + 1:]
        with pytest.raises(env.EnvelopeError) as err:
            env.parse_request(KEYS, body)
        assert err.value.code in (env.BAD_SIGNATURE, env.BAD_ENVELOPE)

    def test_signature_is_upper_hex_hmac_md5(self) -> None:
        """Sig is the upper-case HMAC-MD5 of OperatorID+Data+TimeStamp+Seq."""
        import hashlib
        import hmac

        body = env.build_request(KEYS, "MA0000001", {"a": 1}, "20261103180000", 1)
        text = body["OperatorID"] + body["Data"] + body["TimeStamp"] + body["Seq"]
        mac = hmac.new(b"1234567890abcdef", text.encode(), hashlib.md5).hexdigest().upper()
        assert mac == body["Sig"]

    def test_known_vector(self) -> None:
        """AES-128-CBC/PKCS#5 with key = IV = 1234567890abcdef, as the standard's example."""
        assert env.encrypt(KEYS, b'{"a":1}') == env.encrypt(KEYS, b'{"a":1}')
        assert json.loads(env.decrypt(KEYS, env.encrypt(KEYS, b'{"a":1}'))) == {"a": 1}
        assert len(env.encrypt(KEYS, b"x" * 16)) == 44  # a full block of padding added

    def test_wrong_keys_fail_signature(self) -> None:
        """A body signed with other keys is a 4001."""
        body = env.build_request(OTHER, "MA0000001", {"a": 1}, "20261103180000", 1)
        with pytest.raises(env.EnvelopeError) as err:
            env.parse_request(KEYS, body)
        assert err.value.code == env.BAD_SIGNATURE

    def test_undecryptable_data_is_4004(self) -> None:
        """A correctly signed body whose Data does not decrypt is a 4004."""
        other = env.encrypt(OTHER, b'{"a":1}')
        body = {"OperatorID": "X", "Data": other, "TimeStamp": "20261103180000", "Seq": "0001"}
        body["Sig"] = env.sign(KEYS, *body.values())
        with pytest.raises(env.EnvelopeError) as err:
            env.parse_request(KEYS, body)
        assert err.value.code == env.BAD_PARAMETER

    @pytest.mark.parametrize("body", [
        [], {"OperatorID": "X"}, {"OperatorID": "X", "Data": "a", "TimeStamp": "2026",
                                  "Seq": "0001", "Sig": "A"},
        {"OperatorID": "X", "Data": "a", "TimeStamp": "20261103180000", "Seq": "0000",
         "Sig": "A"}])
    def test_bad_shape_is_4003(self, body: object) -> None:
        """Missing fields, a bad TimeStamp or Seq are a 4003."""
        with pytest.raises(env.EnvelopeError) as err:
            env.parse_request(KEYS, body)
        assert err.value.code == env.BAD_ENVELOPE

    def test_answer_round_trip_and_tamper(self) -> None:
        """An answer verifies with Sig over Ret+Msg+Data; a changed Ret does not."""
        body = env.build_answer(KEYS, 0, "", {"Status": 0})
        assert env.parse_answer(KEYS, body) == env.Answer(0, "", {"Status": 0})
        assert env.parse_answer(KEYS, env.build_answer(KEYS, -1, "busy", None)).data is None
        with pytest.raises(env.EnvelopeError):
            env.parse_answer(KEYS, {**body, "Ret": 500})


class TestStatus:
    @pytest.mark.parametrize(("status", "online", "code"), [
        (ConnectorStatus.AVAILABLE, True, 1), (ConnectorStatus.PREPARING, True, 2),
        (ConnectorStatus.OCCUPIED, True, 2), (ConnectorStatus.SUSPENDED_EV, True, 2),
        (ConnectorStatus.FINISHING, True, 2), (ConnectorStatus.CHARGING, True, 3),
        (ConnectorStatus.RESERVED, True, 4), (ConnectorStatus.FAULTED, True, 255),
        (ConnectorStatus.UNAVAILABLE, True, 255), (ConnectorStatus.CHARGING, False, 0),
        (None, True, 1)])
    def test_codes(self, status: ConnectorStatus | None, online: bool, code: int) -> None:
        """Each connector state maps to its platform code; offline wins."""
        assert code == stations.platform_status(status, online)


def _site(n_chargers: int = 1) -> stations.Site:
    equipment = tuple(stations.Equipment(f"CP-{i}", "V", "M", True, (
        stations.Connector(f"CP-{i}", 1, 1, "Charging", 7.0),)) for i in range(n_chargers))
    return stations.Site(3, "Site", "530102", "Road 1", 25.04, 102.71, "0.31", "0.8",
                         equipment)


class TestStations:
    def test_coordinates_are_gcj02_with_6_decimals(self) -> None:
        """The WGS-84 site is sent shifted to GCJ-02, rounded to 6 decimals."""
        info = stations.station_info(_site(), "MA0000001")
        assert (info["StationLng"], info["StationLat"]) != (102.71, 25.04)
        assert abs(info["StationLng"] - 102.71) < 0.01
        assert info["StationLng"] == round(info["StationLng"], 6)
        assert (info["Construction"], info["StationStatus"]) == (1, 50)
        connector = info["EquipmentInfos"][0]["ConnectorInfos"][0]
        assert connector["ConnectorID"] == "CP-0-1-1"

    def test_pages_hold_at_most_50(self) -> None:
        """query_stations_info pages are capped at 50 items, numbered from 1."""
        sites = [_site() for _ in range(120)]
        first = stations.stations_page(sites, "MA0000001", 1, 500)
        last = stations.stations_page(sites, "MA0000001", 3, 500)
        assert (len(first["StationInfos"]), first["PageCount"], first["ItemSize"]) == (
            50, 3, 120)
        assert len(last["StationInfos"]) == 20

    def test_status_info(self) -> None:
        """A station's status lists every connector with its code."""
        expected = {"StationID": "3", "ConnectorStatusInfos": [
            {"ConnectorID": "CP-0-1-1", "Status": 3}, {"ConnectorID": "CP-1-1-1", "Status": 3}]}
        assert expected == stations.station_status_info(_site(2))


def _sum(items: list[dict[str, Any]], key: str) -> Decimal:
    return sum((Decimal(str(i[key])) for i in items), Decimal(0))


REF = orders.OrderRef("MA0000001", 42, "CP-1-1-1", "Local", "Asia/Shanghai")


class TestChargeOrders:
    @given(st.integers(0, 48 * 60), st.integers(1, 30 * 60),
           st.lists(st.integers(0, 20_000), min_size=1, max_size=12))
    @settings(max_examples=200, deadline=None)
    def test_details_sum_exactly_to_totals(self, start_min: int, length_min: int,
                                           steps_wh: list[int]) -> None:
        """Whatever the session, the sent details sum exactly to the sent totals."""
        start = AT + timedelta(minutes=start_min)
        end = start + timedelta(minutes=length_min)
        gap = (end - start) / len(steps_wh)
        samples, wh = [register_sample(start, 0)], Decimal(0)
        for i, step in enumerate(steps_wh):
            wh += step + Decimal(1) / 3  # fractions of a Wh make rounding matter
            samples.append(register_sample(start + gap * (i + 1), wh))
        priced = price_session([yunnan_residential()], samples, start, end)
        data = json.loads(json.dumps(orders.charge_order(REF, post_order(priced))))
        details = data["ChargeDetails"]
        assert Decimal(str(data["TotalPower"])) == _sum(details, "DetailPower")
        assert Decimal(str(data["TotalElecMoney"])) == _sum(details, "DetailElecMoney")
        assert Decimal(str(data["TotalSeviceMoney"])) == _sum(details, "DetailSeviceMoney")
        assert Decimal(str(data["TotalMoney"])) == Decimal(str(data["TotalElecMoney"])) + \
            Decimal(str(data["TotalSeviceMoney"]))

    def test_split_at_valley_boundary(self) -> None:
        """A session over local 08:00 is two details with the valley and non-valley prices."""
        start = datetime(2026, 11, 3, 23, 0, tzinfo=UTC)  # 07:00 Shanghai
        end = start + timedelta(hours=2)
        samples = [register_sample(start, 0), register_sample(end, 14_000)]
        order = post_order(price_session([yunnan_residential()], samples, start, end))
        data = orders.charge_order(REF, order)
        assert [d["DetailStartTime"] for d in data["ChargeDetails"]] == [
            "2026-11-04 07:00:00", "2026-11-04 08:00:00"]
        assert data["StartChargeSeq"] == "MA0000001000000000000000042"
        assert len(data["StartChargeSeq"]) == 27

    def test_refuses_inexact_order(self) -> None:
        """An order whose details do not sum is never built."""
        order = orders.unpriced_order(AT, AT + timedelta(hours=1), Decimal("1.5"))
        from dataclasses import replace
        with pytest.raises(ValueError, match="sum"):
            orders.charge_order(REF, replace(order, energy_kwh=Decimal("1.6")))

    def test_unpriced_order(self) -> None:
        """An unpriced session is one zero-price detail carrying its energy."""
        data = orders.charge_order(REF, orders.unpriced_order(
            AT, AT + timedelta(hours=1), Decimal("1.5")))
        assert (data["TotalPower"], data["TotalMoney"], len(data["ChargeDetails"])) == (
            1.5, 0.0, 1)


class TestReconcile:
    def test_disputes(self) -> None:
        """Missing, money, energy and unlisted orders are disputed with their reasons."""
        ours = [orders.OrderTotals("A", Decimal("1.000"), Decimal("1.00")),
                orders.OrderTotals("B", Decimal("2.000"), Decimal("2.00")),
                orders.OrderTotals("C", Decimal("3.000"), Decimal("3.00")),
                orders.OrderTotals("D", Decimal("4.000"), Decimal("4.00"))]
        request = {"CheckOrderSeq": "X", "ChargeOrders": [
            {"StartChargeSeq": "A", "TotalPower": 1.0, "TotalMoney": 1.0},
            {"StartChargeSeq": "B", "TotalPower": 2.0, "TotalMoney": 2.5},
            {"StartChargeSeq": "C", "TotalPower": 3.5, "TotalMoney": 3.0},
            {"StartChargeSeq": "Z", "TotalPower": 1, "TotalMoney": 1}]}
        answer = orders.reconcile(request, ours)
        reasons = {d["StartChargeSeq"]: d["DisputeReason"] for d in answer["DisputeOrders"]}
        assert reasons == {"B": 2, "C": 3, "Z": 1, "D": 5}
        assert answer["TotalDisputeOrder"] == 4

    def test_malformed(self) -> None:
        """A ChargeOrders item without its seq is refused."""
        with pytest.raises(ValueError, match="StartChargeSeq"):
            orders.reconcile({"ChargeOrders": [{}]}, [])


class TestTokens:
    def test_valid_until_expiry(self) -> None:
        """A token is valid for its platform until it expires, not with another secret."""
        token = tokens.issue("s" * 16, "MA0000002", AT + timedelta(hours=2))
        assert tokens.valid("s" * 16, token, "MA0000002", AT)
        assert not tokens.valid("s" * 16, token, "MA0000002", AT + timedelta(hours=2))
        assert not tokens.valid("t" * 16, token, "MA0000002", AT)
        assert not tokens.valid("s" * 16, token, "MA0000003", AT)
        assert not tokens.valid("s" * 16, token + "0", "MA0000002", AT)


def test_core_is_pure() -> None:
    """The tcec package imports no I/O library, directly or through other modules."""
    for name in ("envelope", "stations", "orders", "tokens"):
        path = ROOT / "csms" / "city" / "tcec" / f"{name}.py"
        for module, imports in loaded_with(path).items():
            assert forbidden_in(imports) == set(), module
