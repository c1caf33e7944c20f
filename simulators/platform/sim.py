"""A municipal platform (T/CEC 102.4 style) to point a CSMS at: ``python -m simulators.platform``.

It plays the city side of the exchange, written from the standard's text rather than from
the CSMS's code (its envelope functions are its own):

- ``POST /evcs/v1/query_token`` issues a token (``TokenAvailableTime`` seconds) for the
  operator's OperatorID and OperatorSecret;
- ``POST /evcs/v1/<notification>`` checks the body (4003), the token (4002), the signature
  (4001) and that Data decrypts to a JSON object (4004), records what it got and answers 0;
  while ``busy`` is above zero it answers -1 (busy) instead and counts down;
- ``GET /received`` lists what it recorded, ``GET /rejected`` what it refused,
  ``POST /control/busy?count=N`` makes it busy for the next N calls;
- :meth:`PlatformSim.pull` calls the CSMS's own interfaces (query_token first).

Example::

    python -m simulators.platform --port 8999 --operator-id MA0000001 \\
        --operator-secret opsecret --data-secret 1234567890abcdef \\
        --data-iv 1234567890abcdef --sig-secret 1234567890abcdef
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import httpx
import uvicorn
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

NOTIFICATIONS = ("notification_stationInfo", "notification_stationStatus",
                 "notification_charge_order_info", "notification_alarmInfo")


@dataclass(frozen=True)
class Secrets:
    operator_id: str  # the CSMS's
    operator_secret: str
    data_secret: str
    data_iv: str
    sig_secret: str
    platform_id: str = "MA0000002"  # ours, when we pull
    platform_secret: str = "platform-secret"  # noqa: S105 - a simulator's default


def _cipher(s: Secrets) -> Cipher[modes.CBC]:
    return Cipher(algorithms.AES(s.data_secret.encode()), modes.CBC(s.data_iv.encode()))


def seal(s: Secrets, data: dict[str, Any]) -> str:
    padder = padding.PKCS7(128).padder()
    raw = padder.update(json.dumps(data, ensure_ascii=False).encode()) + padder.finalize()
    enc = _cipher(s).encryptor()
    return base64.b64encode(enc.update(raw) + enc.finalize()).decode()


def unseal(s: Secrets, data: str) -> Any:
    dec = _cipher(s).decryptor()
    raw = dec.update(base64.b64decode(data, validate=True)) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return json.loads(unpadder.update(raw) + unpadder.finalize())


def sig(s: Secrets, text: str) -> str:
    return hmac.new(s.sig_secret.encode(), text.encode(), hashlib.md5).hexdigest().upper()


def answer(s: Secrets, ret: int, msg: str, data: dict[str, Any] | None) -> JSONResponse:
    sealed = "" if data is None else seal(s, data)
    return JSONResponse({"Ret": ret, "Msg": msg, "Data": sealed,
                         "Sig": sig(s, f"{ret}{msg}{sealed}")})


@dataclass
class Received:
    interface: str
    data: dict[str, Any]
    at: float  # time.time() on arrival
    seq: str
    timestamp: str


@dataclass
class PlatformSim:
    """The simulated platform's state; serve it with :func:`serving`."""

    secrets: Secrets
    token_lifetime_s: int = 7200
    busy: int = 0  # answer -1 to this many more calls
    received: list[Received] = field(default_factory=list)
    rejected: list[tuple[str, int, str]] = field(default_factory=list)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (time.time)
    tokens_issued: int = 0

    def of(self, interface: str) -> list[dict[str, Any]]:
        return [r.data for r in self.received if r.interface == interface]

    def repeated_orders(self) -> list[str]:
        """StartChargeSeq of every order received more than once (a resend)."""
        seqs = [o.get("StartChargeSeq") for o in self.of("notification_charge_order_info")]
        return sorted({str(s) for s in seqs if seqs.count(s) > 1})

    def _refuse(self, interface: str, code: int, msg: str) -> JSONResponse:
        self.rejected.append((interface, code, msg))
        return answer(self.secrets, code, msg, None)

    def _open(self, interface: str, body: Any) -> tuple[dict[str, Any] | None, JSONResponse |
                                                        None]:
        s = self.secrets
        names = ("OperatorID", "Data", "TimeStamp", "Seq", "Sig")
        if not isinstance(body, dict) or any(not isinstance(body.get(n), str) for n in names):
            return None, self._refuse(interface, 4003, "bad envelope")
        if len(body["TimeStamp"]) != 14 or not body["TimeStamp"].isdigit() \
                or len(body["Seq"]) != 4 or not body["Seq"].isdigit():
            return None, self._refuse(interface, 4003, "bad TimeStamp or Seq")
        text = body["OperatorID"] + body["Data"] + body["TimeStamp"] + body["Seq"]
        if not hmac.compare_digest(sig(s, text), body["Sig"]):
            return None, self._refuse(interface, 4001, "bad Sig")
        try:
            data = unseal(s, body["Data"])
        except ValueError:
            return None, self._refuse(interface, 4004, "Data does not decrypt")
        if not isinstance(data, dict):
            return None, self._refuse(interface, 4004, "Data is not an object")
        return data, None

    async def handle(self, request: Request) -> JSONResponse:
        interface = request.path_params["interface"]
        try:
            body = await request.json()
        except ValueError:
            return self._refuse(interface, 4003, "not JSON")
        if interface != "query_token":
            token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if self.tokens.get(token, 0) <= time.time():
                return self._refuse(interface, 4002, "bad token")
        data, refused = self._open(interface, body)
        if refused is not None or data is None:
            return refused or self._refuse(interface, 4004, "no data")
        if self.busy > 0:
            self.busy -= 1
            return self._refuse(interface, -1, "busy")
        if interface == "query_token":
            return self._token(data)
        self.received.append(Received(interface, data, time.time(), body["Seq"],
                                      body["TimeStamp"]))
        reply: dict[str, Any] = {"Status": 0}
        if interface == "notification_charge_order_info":
            reply = {"StartChargeSeq": data.get("StartChargeSeq"),
                     "ConnectorID": data.get("ConnectorID"), "ConfirmResult": 0}
        return answer(self.secrets, 0, "", reply)

    def _token(self, data: dict[str, Any]) -> JSONResponse:
        s = self.secrets
        reason = 1 if data.get("OperatorID") != s.operator_id else (
            2 if data.get("OperatorSecret") != s.operator_secret else 0)
        token = secrets.token_hex(16) if not reason else ""
        if token:
            self.tokens[token] = time.time() + self.token_lifetime_s
            self.tokens_issued += 1
        return answer(s, 0, "", {"OperatorID": data.get("OperatorID"),
                                 "SuccStat": 1 if reason else 0, "AccessToken": token,
                                 "TokenAvailableTime": self.token_lifetime_s if token else 0,
                                 "FailReason": reason})

    async def _received(self, _: Request) -> JSONResponse:
        return JSONResponse([asdict(r) for r in self.received])

    async def _rejected(self, _: Request) -> JSONResponse:
        return JSONResponse([list(r) for r in self.rejected])

    async def _busy(self, request: Request) -> JSONResponse:
        self.busy = int(request.query_params.get("count", "1"))
        return JSONResponse({"busy": self.busy})

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/evcs/v1/{interface}", self.handle, methods=["POST"]),
            Route("/received", self._received), Route("/rejected", self._rejected),
            Route("/control/busy", self._busy, methods=["POST"])])

    async def pull(self, csms_url: str, interface: str, data: dict[str, Any],
                   token: str | None = None) -> dict[str, Any]:
        """Call the CSMS's ``interface`` as the platform; the verified answer as
        ``{Ret, Msg, Data (decrypted or None)}``. Gets a token first unless given one
        (pass ``token=""`` to call without one)."""
        async with httpx.AsyncClient(timeout=10) as client:
            if token is None and interface != "query_token":
                got = await self.pull(csms_url, "query_token", {
                    "OperatorID": self.secrets.platform_id,
                    "OperatorSecret": self.secrets.platform_secret}, "")
                token = got["Data"]["AccessToken"]
            reply = await client.post(f"{csms_url.rstrip('/')}/{interface}",
                                      json=self.envelope(data),
                                      headers={"Authorization": f"Bearer {token}"} if token
                                      else {})
        body = reply.json()
        text = f"{body['Ret']}{body['Msg']}{body['Data']}"
        if not hmac.compare_digest(sig(self.secrets, text), body["Sig"]):
            raise ValueError("the CSMS's answer does not verify")
        return {"Ret": body["Ret"], "Msg": body["Msg"],
                "Data": unseal(self.secrets, body["Data"]) if body["Data"] else None}

    def envelope(self, data: dict[str, Any], seq: int = 1) -> dict[str, str]:
        """A request body from the platform (its OperatorID), signed."""
        s = self.secrets
        stamp = datetime.now().astimezone().strftime("%Y%m%d%H%M%S")
        body = {"OperatorID": s.platform_id, "Data": seal(s, data), "TimeStamp": stamp,
                "Seq": f"{seq:04d}"}
        body["Sig"] = sig(s, body["OperatorID"] + body["Data"] + stamp + body["Seq"])
        return body


class _Quiet(uvicorn.Server):
    """A uvicorn server that leaves signals to its host (a test, the CSMS)."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@asynccontextmanager
async def serving(sim: PlatformSim, port: int = 0, host: str = "127.0.0.1"
                  ) -> AsyncIterator[str]:
    """Serve ``sim`` in this event loop; yields its base URL (``.../evcs/v1``)."""
    config = uvicorn.Config(sim.app(), host=host, port=port, log_config=None,
                            access_log=False, lifespan="off")
    server = _Quiet(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
        await asyncio.sleep(0.01)  # uvicorn offers no start-up event to await
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}/evcs/v1"
    finally:
        server.should_exit = True
        with suppress(asyncio.CancelledError):
            await task


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.platform",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8999)
    for name in ("operator-id", "operator-secret", "data-secret", "data-iv", "sig-secret"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--platform-id", default="MA0000002")
    parser.add_argument("--platform-secret", default="platform-secret")
    parser.add_argument("--token-lifetime-s", type=int, default=7200)
    args = parser.parse_args(argv)
    sim = PlatformSim(Secrets(args.operator_id, args.operator_secret, args.data_secret,
                              args.data_iv, args.sig_secret, args.platform_id,
                              args.platform_secret), args.token_lifetime_s)
    uvicorn.run(sim.app(), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
