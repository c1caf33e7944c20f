"""The operator side of the exchange: what the municipal platform pulls from us.

Rules:
1. Every call is an envelope (csms.city.tcec.envelope) from ``platform.platform_id``,
   sealed with the agreed keys; the answer is sealed the same way. A bad body is 4003, a
   missing, foreign or expired token (every interface but ``query_token``) 4002, a bad
   signature 4001, Data that does not decrypt or business data we cannot use 4004, our own
   failure 500 (logged).
2. ``query_token`` gives a token (csms.city.tcec.tokens) valid ``token_lifetime_s`` for the
   platform's OperatorID and OperatorSecret; SuccStat 1 with FailReason 1 (unknown
   operator) or 2 (wrong secret) otherwise.
3. Lists are capped at 50: ``query_stations_info`` pages, ``query_station_status`` refuses
   more than 50 StationIDs.
4. ``check_charge_orders`` compares the platform's orders with the orders we queued whose
   EndTime lies in its [StartTime, EndTime].
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.city.tcec import envelope as env
from csms.city.tcec import orders, tokens
from csms.city.tcec.stations import MAX_ITEMS, connector_ref, station_status_info, stations_page
from csms.config import Settings
from csms.services.platform.delivery import keys_of
from csms.store.platform import PushStore
from csms.store.platform.reads import connector_energy, sites

log = structlog.get_logger(__name__)
Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
INTERFACES = ("query_token", "query_stations_info", "query_station_status",
              "query_station_stats", "check_charge_orders")


class PlatformAnswers:
    """Answers the platform's calls (rules 1–4)."""

    def __init__(self, engine: AsyncEngine, pushes: PushStore, settings: Settings,
                 clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._pushes = pushes
        self._p = settings.platform
        self._keys = keys_of(self._p)
        self._online_within = timedelta(seconds=3 * settings.server.heartbeat_interval_s)
        self._clock = clock
        self._handlers: dict[str, Handler] = {
            "query_token": self._token, "query_stations_info": self._stations,
            "query_station_status": self._status, "query_station_stats": self._stats,
            "check_charge_orders": self._check}

    async def answer(self, interface: str, body: object, authorization: str | None
                     ) -> dict[str, Any]:
        """The sealed answer to ``body`` posted to ``interface`` (rule 1)."""
        try:
            env.envelope_fields(body)
            if interface != "query_token" and not self._authorized(authorization):
                raise env.EnvelopeError(env.BAD_TOKEN, "missing, invalid or expired token")
            request = env.parse_request(self._keys, body)
            if request.operator_id != self._p.platform_id:
                raise env.EnvelopeError(env.BAD_ENVELOPE, "unknown OperatorID")
            data = await self._handlers[interface](request.data)
        except env.EnvelopeError as exc:
            log.info("platform.pull_refused", interface=interface, code=exc.code,
                     reason=str(exc))
            return env.build_answer(self._keys, exc.code, str(exc), None)
        except (ValueError, KeyError, TypeError) as exc:
            return env.build_answer(self._keys, env.BAD_PARAMETER, f"bad Data: {exc}", None)
        except Exception:
            log.exception("platform.pull_failed", interface=interface)
            return env.build_answer(self._keys, env.SERVER_ERROR, "server error", None)
        log.info("platform.pull_answered", interface=interface)
        return env.build_answer(self._keys, env.OK, "", data)

    def _authorized(self, header: str | None) -> bool:
        scheme, _, token = (header or "").partition(" ")
        return scheme.lower() == "bearer" and tokens.valid(
            self._p.sig_secret, token.strip(), self._p.platform_id, self._clock())

    async def _token(self, data: dict[str, Any]) -> dict[str, Any]:
        """Rule 2."""
        who = data.get("OperatorID")
        reason = 1 if who != self._p.platform_id else (
            2 if data.get("OperatorSecret") != self._p.platform_secret else 0)
        answer: dict[str, Any] = {"OperatorID": who, "SuccStat": 1 if reason else 0,
                                  "AccessToken": "", "TokenAvailableTime": 0,
                                  "FailReason": reason}
        if not reason:
            lifetime = self._p.token_lifetime_s
            answer["AccessToken"] = tokens.issue(self._p.sig_secret, self._p.platform_id,
                                                 self._clock() + timedelta(seconds=lifetime))
            answer["TokenAvailableTime"] = lifetime
        return answer

    async def _sites(self, site_ids: list[int] | None) -> list[Any]:
        async with self._engine.connect() as conn:
            return await sites(conn, communities=self._p.communities, site_ids=site_ids,
                               now=self._clock(), online_within=self._online_within,
                               fees=(self._p.electricity_fee, self._p.service_fee))

    async def _stations(self, data: dict[str, Any]) -> dict[str, Any]:
        page_no, size = int(data.get("PageNo", 1)), int(data.get("PageSize", 10))
        return stations_page(await self._sites(None), self._p.operator_id, page_no, size)

    async def _status(self, data: dict[str, Any]) -> dict[str, Any]:
        """Rule 3."""
        ids = data["StationIDs"]
        if not isinstance(ids, list) or len(ids) > MAX_ITEMS:
            raise ValueError(f"StationIDs must be a list of at most {MAX_ITEMS}")
        wanted = [int(i) for i in ids if str(i).isdigit()]
        found = await self._sites(wanted)
        return {"Total": len(found), "StationStatusInfos": [station_status_info(s)
                                                            for s in found]}

    async def _stats(self, data: dict[str, Any]) -> dict[str, Any]:
        site_id = int(data["StationID"])
        zone = ZoneInfo(self._p.timezone)
        first = date.fromisoformat(str(data["StartTime"])[:10])
        last = date.fromisoformat(str(data["EndTime"])[:10])
        start = datetime.combine(first, time(0), zone)
        end = datetime.combine(last + timedelta(days=1), time(0), zone)
        async with self._engine.connect() as conn:
            rows = await connector_energy(conn, site_id, start, end)
        energy = [orders.ConnectorEnergy(station, connector_ref(station, evse, conn_id), kwh)
                  for station, evse, conn_id, kwh in rows]
        return orders.station_stats(site_id, str(data["StartTime"]), str(data["EndTime"]),
                                    energy)

    async def _check(self, data: dict[str, Any]) -> dict[str, Any]:
        """Rule 4."""
        low, high = str(data.get("StartTime", "")), str(data.get("EndTime", "9999"))
        if len(high) == 10:  # a date: the whole day
            high += " 23:59:59"
        ours = [orders.OrderTotals(o["StartChargeSeq"], Decimal(str(o["TotalPower"])),
                                   Decimal(str(o["TotalMoney"])))
                for o in await self._pushes.sent_orders() if low <= o["EndTime"] <= high]
        return orders.reconcile(data, ours)
