"""The platform client (csms.services.platform.delivery.PlatformClient) against a fake
platform on httpx's mock transport, with an injected clock: token reuse, renewal, 4002."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from csms.config import load_settings
from csms.services.platform.delivery import DeliveryError, PlatformClient
from simulators.platform.sim import Secrets, seal, sig, unseal

SECRETS = Secrets("MA0000001", "op-secret", "1234567890abcdef", "abcdef1234567890", "sig")
SETTINGS = load_settings(None, platform={
    "enabled": True, "url": "http://platform.test/evcs/v1", "operator_id": "MA0000001",
    "operator_secret": "op-secret", "data_secret": SECRETS.data_secret,
    "data_iv": SECRETS.data_iv, "sig_secret": "sig", "platform_id": "MA0000002",
    "platform_secret": "p"}).platform
AT = datetime(2027, 1, 31, 15, 59, 50, tzinfo=UTC)


class FakePlatform:
    """Issues tokens valid ``lifetime_s``; answers 4002 to a token it does not know."""

    def __init__(self, lifetime_s: int = 7200) -> None:
        self.lifetime_s = lifetime_s
        self.issued: list[str] = []
        self.known: set[str] = set()
        self.seqs: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        text = body["OperatorID"] + body["Data"] + body["TimeStamp"] + body["Seq"]
        assert sig(SECRETS, text) == body["Sig"]
        self.seqs.append(body["Seq"])
        data = unseal(SECRETS, body["Data"])
        if request.url.path.endswith("/query_token"):
            token = f"T{len(self.issued)}"
            self.issued.append(token)
            self.known.add(token)
            return self._answer(0, {"OperatorID": data["OperatorID"], "SuccStat": 0,
                                    "AccessToken": token,
                                    "TokenAvailableTime": self.lifetime_s, "FailReason": 0})
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.known:
            return self._answer(4002, None)
        return self._answer(0, {"Status": 0})

    @staticmethod
    def _answer(ret: int, data: dict[str, object] | None) -> httpx.Response:
        sealed = "" if data is None else seal(SECRETS, data)
        return httpx.Response(200, json={"Ret": ret, "Msg": "", "Data": sealed,
                                         "Sig": sig(SECRETS, f"{ret}{sealed}")})


class TestPlatformClient:
    async def test_token_reused_then_renewed_near_expiry(self) -> None:
        """One token while it has more than a tenth of its lifetime left, then a new one."""
        now = [AT]
        platform = FakePlatform(lifetime_s=1000)
        client = PlatformClient(SETTINGS, lambda: now[0])
        async with httpx.AsyncClient(transport=httpx.MockTransport(platform)) as http:
            assert "T0" == await client.token(http)
            now[0] = AT + timedelta(seconds=899)
            assert "T0" == await client.token(http)
            now[0] = AT + timedelta(seconds=901)
            assert "T1" == await client.token(http)
        assert ["0001", "0002"] == platform.seqs

    async def test_4002_drops_the_token(self) -> None:
        """A push answered 4002 makes the next push fetch a new token."""
        platform = FakePlatform()
        client = PlatformClient(SETTINGS, lambda: AT)
        async with httpx.AsyncClient(transport=httpx.MockTransport(platform)) as http:
            token = await client.token(http)
            platform.known.clear()
            answer = await client.call(http, "notification_stationStatus", {}, token)
            assert 4002 == answer.ret
            assert "T1" == await client.token(http)

    async def test_unverifiable_answer_is_a_delivery_error(self) -> None:
        """An answer signed with other keys is not taken for a delivery."""
        def forged(_: httpx.Request) -> httpx.Response:
            return httpx.Response(200, json={"Ret": 0, "Msg": "", "Data": "", "Sig": "X"})

        client = PlatformClient(SETTINGS, lambda: AT)
        async with httpx.AsyncClient(transport=httpx.MockTransport(forged)) as http:
            with pytest.raises(DeliveryError, match="verify"):
                await client.call(http, "notification_stationStatus", {}, "T")

    async def test_seq_wraps_after_9999(self) -> None:
        """Seq counts 0001-9999 and wraps to 0001."""
        platform = FakePlatform()
        client = PlatformClient(SETTINGS, lambda: AT)
        client._seq = 9998
        async with httpx.AsyncClient(transport=httpx.MockTransport(platform)) as http:
            for _ in range(3):
                await client.call(http, "query_token", {"OperatorID": "MA0000001",
                                                        "OperatorSecret": "op-secret"}, None)
        assert ["9999", "0001", "0002"] == platform.seqs
