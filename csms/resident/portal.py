"""What a resident may do from the page behind the QR code: sign in with card and PIN, start
a session with their card, stop their own session.

Rules:
1. Wrong PINs are throttled per card and per source address
   (:class:`csms.domain.throttle.FailureThrottle`, ``[resident]`` settings): a locked card or
   address is refused before any PIN is checked, and every wrong PIN is counted on the card
   (its PIN record) and logged. Checks in flight count too: one at a time per card and at
   most :data:`IN_FLIGHT_PER_ADDRESS` per address, so a burst of guesses sent at once gets
   no more checks than the buckets hold (429 for the rest). An unknown card or one without
   a PIN costs the same scrypt work as a known one and answers the same, so card numbers
   cannot be probed.
2. Only a card whose status is Accepted and which has not expired may sign in or act; a
   signed-in visit whose card was blocked, or whose PIN changed, acts no more.
3. Starts and stops are throttled per card and per address; a card runs one session at a
   time; a start goes through :class:`csms.services.sessions.remote_starts.RemoteStarts` with the
   card's own token, and each start and stop is audited with the actor ``resident:<card>``.
4. A resident sees only sessions started with their own card as registered (remote starts
   send that spelling) and stops only sessions of their card's token key; anything else is
   "not found", never "forbidden", so others' sessions are not revealed.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import structlog

from csms import passwords
from csms.app import Csms
from csms.config import ResidentSettings
from csms.domain.authorization import token_key
from csms.domain.commands import RemoteStart, RemoteStop
from csms.domain.model import IdToken
from csms.domain.throttle import FailureThrottle
from csms.errors import CommandError, CommandTimeout, StationOffline
from csms.services.sessions.remote_starts import RemoteStartFailed
from csms.store.queries import Queries, SessionFilter, SessionRecord, Window
from csms.store.resident_pins import Card, PinStore

log = structlog.get_logger(__name__)

ACTIVE: Final = "active"
IN_FLIGHT_PER_ADDRESS: Final = 4  # PIN checks at once from one address (rule 1)
BUSY: Final = frozenset({"Charging", "SuspendedEV", "SuspendedEVSE", "Occupied", "Reserved",
                         "Unavailable", "Faulted"})


@dataclass(frozen=True, slots=True)
class SignIn:
    """The outcome of a sign-in: ``ok``, ``wrong`` (card or PIN), ``locked`` (throttled,
    ``retry_after_s``) or ``card`` (the card may not charge)."""

    outcome: str
    card: Card | None = None
    retry_after_s: float = 0.0


class ResidentPortal:
    """The resident page's actions (module rules); one per API app."""

    def __init__(self, csms: Csms, settings: ResidentSettings,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.csms = csms
        self.settings = settings
        self.pins = PinStore(csms.engine, csms.store.writer)
        self._monotonic = monotonic
        self._by_card = FailureThrottle(settings.pin_failures_per_card,
                                        settings.pin_failure_refill_s)
        self._by_address = FailureThrottle(settings.pin_failures_per_address,
                                           settings.pin_failure_refill_s)
        self._actions = FailureThrottle(settings.actions_per_card, settings.action_refill_s)
        self._actions_by_address = FailureThrottle(settings.actions_per_address,
                                                   settings.action_refill_s)
        self._dummy_hash: str | None = None
        self._checking: dict[str, int] = {}  # PIN checks in flight per card key and address

    def now(self) -> datetime:
        return self.csms.stations.now()

    def usable(self, card: Card) -> bool:
        """Rule 2."""
        expired = card.expires_at is not None and card.expires_at <= self.now()
        return card.status == "Accepted" and not expired

    async def sign_in(self, card_number: str, pin: str, address: str) -> SignIn:
        """Check card and PIN (rules 1-2)."""
        now = self._monotonic()
        key = token_key(card_number)
        wait = max(self._by_card.retry_after_s([key], now),
                   self._by_address.retry_after_s([address], now))
        busy = (self._checking.get(key, 0) >= 1
                or self._checking.get(address, 0) >= IN_FLIGHT_PER_ADDRESS)
        if wait > 0 or busy:
            log.warning("resident.signin_locked", card=key, address=address,
                        retry_after_s=round(wait, 1), in_flight=busy)
            return SignIn("locked", retry_after_s=max(wait, 1.0))
        for held in (key, address):
            self._checking[held] = self._checking.get(held, 0) + 1
        try:
            return await self._check(card_number, key, pin, address, now)
        finally:
            for held in (key, address):
                self._checking[held] -= 1
                if not self._checking[held]:
                    del self._checking[held]

    async def _check(self, card_number: str, key: str, pin: str, address: str,
                     now: float) -> SignIn:
        card = await self.pins.card(card_number)
        stored = None if card is None else card.pin_hash
        matches = await asyncio.to_thread(passwords.verify, pin,
                                          stored or await self._dummy())
        if not matches or stored is None or card is None:
            self._by_card.failed([key], now)
            self._by_address.failed([address], now)
            if stored is not None and card is not None:
                await self.pins.failed(card.id_token)
            log.warning("resident.pin_wrong", card=key, address=address,
                        known=stored is not None)
            return SignIn("wrong")
        if not self.usable(card):
            return SignIn("card", card)
        log.info("resident.signed_in", card=card.id_token, address=address)
        return SignIn("ok", card)

    async def _dummy(self) -> str:
        """A hash to check unknown cards against (rule 1), made once, off the loop."""
        if self._dummy_hash is None:
            self._dummy_hash = await asyncio.to_thread(passwords.hash_password,
                                                       secrets.token_urlsafe(12))
        return self._dummy_hash

    async def card_of(self, card_id: str, pin_tag: str | None,
                      tag: Callable[[str], str]) -> Card | None:
        """The signed-in card if it may still act (rule 2); ``tag`` makes a PIN tag."""
        card = await self.pins.card(card_id)
        if card is None or card.pin_hash is None or pin_tag != tag(card.pin_hash):
            return None
        return card if self.usable(card) else None

    async def sessions(self, card: Card) -> tuple[SessionRecord, ...]:
        """The card's active sessions, newest first (rule 4)."""
        found = await Queries(self.csms.engine).sessions(
            SessionFilter(id_token=card.id_token, status=ACTIVE), Window(10))
        return found.items

    async def last_session(self, card: Card) -> SessionRecord | None:
        """The card's most recent session, running or not."""
        found = await Queries(self.csms.engine).sessions(SessionFilter(id_token=card.id_token),
                                                         Window(1))
        return found.items[0] if found.items else None

    def _allowed(self, card: Card, address: str) -> bool:
        now = self._monotonic()
        key = token_key(card.id_token)
        if max(self._actions.retry_after_s([key], now),
               self._actions_by_address.retry_after_s([address], now)) > 0:
            log.warning("resident.actions_locked", card=key, address=address)
            return False
        self._actions.failed([key], now)  # every action takes a token
        self._actions_by_address.failed([address], now)
        return True

    async def start(self, card: Card, station_id: str, evse_id: int,
                    connector_status: str | None, address: str) -> str:
        """Start charging on the connector with the card (rule 3): ``started``, or why not
        (``locked``, ``running``, ``busy``, ``offline``, ``timeout``, ``rejected``,
        ``failed``)."""
        if not self._allowed(card, address):
            return "locked"
        if await self.sessions(card):
            return "running"
        if connector_status in BUSY:
            return "busy"
        starts = self.csms.remote_starts
        assert starts is not None, "composed in csms.app.running"
        actor = f"resident:{card.id_token}"
        await self.pins.record(actor, "command", station_id,
                               {"command": "remote-start", "evse_id": evse_id})
        try:
            _, result = await starts.start(
                station_id, RemoteStart(IdToken(card.id_token, card.kind), evse_id),
                requested_by=actor)
        except RemoteStartFailed as failed:
            return _failure(failed.error)
        status = getattr(result, "status", None)
        log.info("resident.start", card=card.id_token, station_id=station_id,
                 evse_id=evse_id, status=status)
        return "started" if status == "Accepted" else "rejected"

    async def stop(self, card: Card, session_id: int, address: str) -> str:
        """Stop the card's own session (rules 3-4): ``stopped``, ``not_found`` or why not."""
        session = await Queries(self.csms.engine).session(session_id)
        if (session is None or session.status != ACTIVE or session.id_token is None
                or token_key(session.id_token) != token_key(card.id_token)
                or session.transaction_id is None):
            return "not_found"
        if not self._allowed(card, address):
            return "locked"
        actor = f"resident:{card.id_token}"
        await self.pins.record(actor, "command", session.station_id,
                               {"command": "remote-stop", "session_id": session_id})
        try:
            result = await self.csms.commands.send(
                session.station_id, RemoteStop(session.transaction_id), requested_by=actor)
        except CommandError as exc:
            return _failure(exc)
        status = getattr(result, "status", None)
        log.info("resident.stop", card=card.id_token, session_id=session_id, status=status)
        return "stopped" if status == "Accepted" else "rejected"


def _failure(exc: CommandError) -> str:
    if isinstance(exc, StationOffline):
        return "offline"
    if isinstance(exc, CommandTimeout):
        return "timeout"
    return "failed"
