"""The OCPP WebSocket server: handshake policy, then one task group per connection.

Handshake rules, in order (each refusal is logged with the reason):
1. The path is ``<path_prefix><charge point id>``; anything else is 404, and so is an id
   with a control or other unprintable character (``/AUTH-1%00``), before any database work.
   A database failure while admitting is a 503, logged, never a traceback.
2. Guessing is throttled (:class:`csms.domain.throttle.FailureThrottle`): an id or a source
   address whose failed attempts used up its bucket gets 429 with ``Retry-After`` before any
   database or password work; the attempt that locks it records a security event
   (``FailedToAuthenticateAtCsms``: an alarm and, like every security event, an audit row).
   Only attempts that present credentials (or a certificate) and fail count; a missing
   header is the usual challenge. An attempt holds a token of each bucket while its password
   is checked, so guesses sent all at once get no more checks than the bucket holds.
   Password checks run at the lowest CPU priority (csms.handlers.password_pool); when too
   many wait, the handshake gets 503 with ``Retry-After`` (not counted as a failure).
3. An unknown id is refused under the ``reject`` policy, else admitted as Pending or Accepted;
   it is registered (stored) only once the whole handshake has succeeded, so refused or
   abandoned handshakes leave nothing behind. Whenever credentials are required (profile 1
   and up) or presented, an unknown id is answered exactly as a wrong password (401, after a
   password check of the same cost), so answers do not tell which ids exist; otherwise 404.
4. Authentication: the profile a charge point is held to is the higher of the server's
   ``security_profile`` and its own recorded one. A verified client certificate (TLS with
   ``tls_client_ca_file``) whose subject CN is the id authenticates it (profile 3) and holds
   it to profile 3 from then on; a certificate for another id is refused, and so is one our
   certificate authority revoked (403; :attr:`OcppServer.revoked`). Below profile 3,
   Basic auth (profile 1 and 2, or any charge point that has a password): the user name must
   be the id and the password must match its stored hash (401 otherwise). A charge point
   held to profile 2 or 3 is refused on a plain connection. With a ``tls_port`` beside the
   plain port, a known charge point that authenticates over TLS is held to profile 2 from
   then on (it moved up: SetNetworkProfile, or 1.6's SecurityProfile key), never silently
   down; only an operator lowers a profile (the API, audited).
5. A charge point whose registration is Rejected is refused (403), after authentication.
6. The subprotocol is the highest version both sides offer (``ocpp2.0.1``, ``ocpp1.6``);
   a handshake without one is refused (400).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import ssl
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

import structlog
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, NegotiationError
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from csms.config import ServerSettings, UnknownStationPolicy
from csms.domain.model import RegistrationStatus, StationEventReported
from csms.domain.throttle import FailureThrottle
from csms.handlers import tls
from csms.handlers.connection import ConnectionRegistry, StationConnection
from csms.handlers.context import StationContext
from csms.handlers.forwarded import client_address, networks
from csms.handlers.messages import v16, v201
from csms.handlers.ocppj import OcppVersion, Schemas
from csms.handlers.password_pool import PasswordPool, PoolBusy, StationPasswords
from csms.handlers.rpc import BinaryFrame, RpcEndpoint, RpcObserver
from csms.services.stations import StationService
from csms.store.repository import StationRecord, Store

log = structlog.get_logger(__name__)
SUBPROTOCOLS = [Subprotocol(v.value) for v in OcppVersion]
MAX_ID_LENGTH = 48
LISTEN_BACKLOG = 4096  # the kernel caps it at net.core.somaxconn


class OcppServer:
    """Accepts charge points and runs their connections."""

    def __init__(
        self,
        settings: ServerSettings,
        store: Store,
        service: StationService,
        registry: ConnectionRegistry,
        clock: Callable[[], datetime],
        observer: RpcObserver | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._service = service
        self._registry = registry
        self._clock = clock
        self._observer = observer
        self._schemas = {version: Schemas(version) for version in OcppVersion}
        # the record, and whether it is new (to be stored once the handshake succeeds)
        self._admitted: weakref.WeakKeyDictionary[ServerConnection, tuple[StationRecord, bool]] = (
            weakref.WeakKeyDictionary()
        )
        self._passwords = StationPasswords(PasswordPool())
        self._by_id = FailureThrottle(settings.auth_failures_per_id,
                                      settings.auth_failure_refill_s)
        self._by_address = FailureThrottle(settings.auth_failures_per_address,
                                           settings.auth_failure_refill_s)
        self._tls = tls.server_context(settings)
        self._proxies = networks(settings.trusted_proxies)
        self.server: Server | None = None
        self.tls_server: Server | None = None  # the tls_port listener, when configured
        # serial (hex) -> whether our CA revoked it (csms.services.certificates), if one runs
        self.revoked: Callable[[str], Awaitable[bool]] | None = None

    async def start(self) -> Server:
        """Listen (and on ``tls_port``, when set); returns the websockets server of ``port``
        (its ``sockets`` tell the bound port)."""
        s = self._settings
        self.server = await self._serve(s.port, self._tls if s.security_profile >= 2 else None)
        if s.tls_port is not None:
            self.tls_server = await self._serve(s.tls_port, self._tls)
        log.info("ocpp.server.listening", host=s.host, port=self.port, prefix=s.path_prefix,
                 tls=s.security_profile >= 2, security_profile=s.security_profile,
                 tls_port=None if self.tls_server is None else self.tls_port,
                 unknown_charge_points=s.unknown_charge_points)
        return self.server

    async def _serve(self, port: int, context: ssl.SSLContext | None) -> Server:
        s = self._settings
        return await serve(
            self._handle, s.host, port, subprotocols=SUBPROTOCOLS,
            select_subprotocol=_select_subprotocol, process_request=self._admit,
            ping_interval=s.ping_interval_s, ping_timeout=s.ping_timeout_s,
            max_size=s.max_message_bytes, ssl=context, compression=None,
            server_header="csms",
            # A reconnect storm of thousands of chargers overflows asyncio's default of 100
            # pending handshakes (each overflow costs that charger a ~1 s SYN retry).
            backlog=LISTEN_BACKLOG,
        )

    def close(self) -> None:
        """Stop listening and close every connection (then :meth:`wait_closed`)."""
        for server in (self.server, self.tls_server):
            if server is not None:
                server.close()
        self._passwords.pool.close()

    async def wait_closed(self) -> None:
        for server in (self.server, self.tls_server):
            if server is not None:
                await server.wait_closed()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    @property
    def tls_port(self) -> int:
        """The bound port of the ``tls_port`` listener."""
        assert self.tls_server is not None
        return int(self.tls_server.sockets[0].getsockname()[1])

    def reload_tls(self) -> bool:
        """Load the TLS certificates, keys and client CA again (SIGHUP); new handshakes get
        them. False, logged, when a file is bad: the old ones stay in use."""
        if self._tls is None:
            return False
        try:
            tls.reload(self._tls, self._settings)
        except (OSError, ssl.SSLError) as exc:
            log.error("ocpp.tls.reload_failed", error=str(exc))
            return False
        log.info("ocpp.tls.reloaded")
        return True

    # -- handshake ---------------------------------------------------------------------------

    async def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        station_id = self._station_id(request.path)
        refuse = _refuser(connection, request)
        if station_id is None:
            return refuse(HTTPStatus.NOT_FOUND, "no charge point id in path", None)
        try:
            return await self._admit_station(connection, request, station_id)
        except Exception as exc:  # noqa: BLE001 - a handshake's outermost frame: log, refuse
            log.error("ocpp.handshake.failed", station_id=station_id, error=repr(exc))
            return refuse(HTTPStatus.SERVICE_UNAVAILABLE, "try again later", station_id)

    async def _admit_station(self, connection: ServerConnection, request: Request,
                             station_id: str) -> Response | None:
        refuse = _refuser(connection, request)
        address = self._address(connection, request)
        now = time.monotonic()
        if self._locked(station_id, address, now):
            return self._throttled(refuse, station_id, address, now)
        credentials = _basic_credentials(request.headers.get("Authorization"))
        ssl_object = connection.transport.get_extra_info("ssl_object")
        if credentials is None and ssl_object is None:
            return await self._admit_checked(connection, request, station_id, None, None)
        ids, addresses = [station_id], [address]
        if not self._by_id.begin(ids, now):  # the attempts in flight hold the tokens
            return self._throttled(refuse, station_id, address, now)
        if not self._by_address.begin(addresses, now):
            self._by_id.end(ids)
            return self._throttled(refuse, station_id, address, now)
        try:
            return await self._admit_checked(connection, request, station_id, credentials,
                                             ssl_object)
        except PoolBusy:
            self._count("busy")
            response = refuse(HTTPStatus.SERVICE_UNAVAILABLE, "busy", station_id)
            response.headers["Retry-After"] = "1"
            return response
        finally:
            self._by_id.end(ids)
            self._by_address.end(addresses)

    def _address(self, connection: ServerConnection, request: Request) -> str:
        """The client's address (csms.handlers.forwarded: behind a trusted proxy, the
        address it forwarded for)."""
        return client_address(_peer(connection), request.headers.get("X-Forwarded-For"),
                              self._proxies)

    def _locked(self, station_id: str, address: str, now: float) -> bool:
        return (self._by_id.retry_after_s([station_id], now) > 0
                or self._by_address.retry_after_s([address], now) > 0)

    def _throttled(self, refuse: Callable[[HTTPStatus, str, str | None], Response],
                   station_id: str, address: str, now: float) -> Response:
        """429 with Retry-After (rule 2)."""
        self._count("throttled")
        wait = max(self._by_id.retry_after_s([station_id], now),
                   self._by_address.retry_after_s([address], now), 1.0)
        response = refuse(HTTPStatus.TOO_MANY_REQUESTS, "too many failed attempts", station_id)
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response

    async def _admit_checked(self, connection: ServerConnection, request: Request,
                             station_id: str, credentials: tuple[str, str] | None,
                             ssl_object: Any) -> Response | None:
        """Rules 3-5, with the id's and address's buckets reserved for this attempt."""
        refuse = _refuser(connection, request)
        address = self._address(connection, request)
        common_name = tls.peer_common_name(ssl_object)
        record = await self._store.get_station(station_id)
        new = record is None
        if record is None:
            status = self._unknown_status()
            if status is None:
                if self._settings.security_profile == 0 and credentials is None:
                    return refuse(HTTPStatus.NOT_FOUND, "unknown charge point", station_id)
                if credentials is not None:  # the cost of a real check (rule 3)
                    await self._passwords.check_unknown(credentials[1])
                return await self._failed(connection, request, station_id, address,
                                          credentials is not None or common_name is not None)
            record = StationRecord(station_id, status, None, None)
        required = max(self._settings.security_profile, record.security_profile or 0)
        if common_name is not None and common_name != station_id:
            return await self._failed(connection, request, station_id, address, True,
                                      f"certificate is for {common_name!r}")
        by_certificate = common_name == station_id
        if by_certificate and await self._is_revoked(ssl_object):
            self._count("revoked")
            return refuse(HTTPStatus.FORBIDDEN, "certificate is revoked", station_id)
        if required >= 2 and ssl_object is None:
            return await self._failed(connection, request, station_id, address,
                                      credentials is not None,
                                      f"TLS is needed (security profile {required})")
        if required >= 3 and not by_certificate:
            return await self._failed(connection, request, station_id, address,
                                      credentials is not None, "a client certificate is needed")
        needs_password = not by_certificate and (
            required >= 1 or record.password_hash is not None)
        if needs_password and not await self._passwords.authenticated(record, credentials):
            return await self._failed(connection, request, station_id, address,
                                      credentials is not None)
        if record.registration_status is RegistrationStatus.REJECTED:
            return refuse(HTTPStatus.FORBIDDEN, "charge point is rejected", station_id)
        if by_certificate and not new and (record.security_profile or 0) < 3:
            await self._store.raise_security_profile(
                station_id, 3, {"reason": "connected with a client certificate"})
        elif (self._settings.tls_port is not None and ssl_object is not None and not new
              and (record.security_profile or 0) < 2):
            await self._store.raise_security_profile(
                station_id, 2, {"reason": "connected over TLS (tls_port)"})
        self._admitted[connection] = (record, new)
        return None

    async def _is_revoked(self, ssl_object: Any) -> bool:
        serial = tls.peer_serial(ssl_object)
        return serial is not None and self.revoked is not None and await self.revoked(serial)

    async def _failed(self, connection: ServerConnection, request: Request, station_id: str,
                      address: str, counts: bool, reason: str = "bad or missing credentials",
                      ) -> Response:
        """401; a failure that presented credentials takes a token from the id's and the
        address's buckets, and the one that locks either is recorded (rule 2)."""
        self._count("unauthorized")
        if counts:
            now = time.monotonic()
            locked = [("id", key) for key in self._by_id.failed([station_id], now)]
            locked += [("address", key) for key in self._by_address.failed([address], now)]
            for kind, key in locked:
                await self._record_lockout(station_id, address, kind, str(key))
        response = _refuser(connection, request)(HTTPStatus.UNAUTHORIZED, reason, station_id)
        response.headers["WWW-Authenticate"] = 'Basic realm="ocpp", charset="UTF-8"'
        return response

    async def _record_lockout(self, station_id: str, address: str, kind: str,
                              key: str) -> None:
        limits = {"id": self._settings.auth_failures_per_id,
                  "address": self._settings.auth_failures_per_address}
        details: dict[str, object] = {
            "source": "csms", "reason": "too many failed authentication attempts",
            "locked": kind, "key": key, "address": address, "failures": limits[kind],
            "refill_s": self._settings.auth_failure_refill_s}
        log.warning("ocpp.auth.locked", station_id=station_id, **details)
        self._count(f"locked_{kind}")
        await self._service.reported([StationEventReported(
            station_id, "security_event", self._clock(), code="FailedToAuthenticateAtCsms",
            details=details)])  # audited as every security event is (csms.services.sharing.service)

    def _count(self, reason: str) -> None:
        if self._observer is not None:
            self._observer.handshake_refused(reason)

    def _station_id(self, path: str) -> str | None:
        prefix = self._settings.path_prefix
        path = path.split("?", 1)[0]
        if not path.startswith(prefix):
            return None
        station_id = unquote(path[len(prefix):])
        if (not station_id or "/" in station_id or len(station_id) > MAX_ID_LENGTH
                or not station_id.isprintable()):
            return None
        return station_id

    def _unknown_status(self) -> RegistrationStatus | None:
        """The registration an unknown id gets under the policy; None: refused."""
        policy = self._settings.unknown_charge_points
        if policy is UnknownStationPolicy.REJECT or self._settings.security_profile >= 1:
            return None
        return (RegistrationStatus.ACCEPTED if policy is UnknownStationPolicy.ACCEPT
                else RegistrationStatus.PENDING)

    async def _register(self, admitted: StationRecord) -> StationRecord:
        """Store a charge point admitted under the policy (its handshake has succeeded)."""
        log.warning("ocpp.charge_point.auto_registered", station_id=admitted.station_id,
                    registration=admitted.registration_status.value,
                    policy=self._settings.unknown_charge_points.value)
        await self._store.add_station(admitted.station_id, admitted.registration_status)
        return await self._store.get_station(admitted.station_id) or admitted

    # -- connection ------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        record, new = self._admitted.pop(ws)
        version = OcppVersion(str(ws.subprotocol))
        station_id = record.station_id
        bound = log.bind(station_id=station_id, ocpp_version=version.value)
        ctx = StationContext(station_id, self._service, record.registration_status)
        handlers = (v16 if version is OcppVersion.V16 else v201).handlers(ctx)
        endpoint = RpcEndpoint(ws, version, self._schemas[version], handlers, log=bound,
                               observer=self._observer)
        connection = StationConnection(station_id, endpoint, ws.close, self._clock(),
                                       self._settings.command_queue_size)
        try:
            async with asyncio.TaskGroup() as group:  # holds the command drainer when busy
                connection.attach(group)
                await self._registry.register(connection)  # in handshake order: no await before
                if new:
                    ctx.registration = (await self._register(record)).registration_status
                bound.info("ocpp.connection.opened", remote=str(ws.remote_address))
                await self._service.connected(station_id, version.value)
                await endpoint.serve()
        except* BinaryFrame:
            bound.warning("ocpp.connection.binary_frame", close_code=1003)
            if self._observer is not None:
                self._observer.frame_refused("binary")
            await ws.close(1003, "OCPP-J uses text frames only")
        except* ConnectionClosed as closed:
            exc = closed.exceptions[0]
            assert isinstance(exc, ConnectionClosed)
            rcvd = exc.rcvd
            bound.info("ocpp.connection.closed", code=rcvd.code if rcvd else None,
                       reason=rcvd.reason if rcvd else None)
        except* Exception as failed:  # noqa: BLE001 - a connection's outermost loop: log, close
            bound.error("ocpp.connection.failed", errors=[repr(e) for e in failed.exceptions])
        finally:
            self._registry.unregister(connection)
            connection.closed()
            self._service.disconnected(station_id)


def _select_subprotocol(
    connection: ServerConnection, offered: Sequence[Subprotocol]
) -> Subprotocol:
    for version in SUBPROTOCOLS:
        if version in offered:
            return version
    log.warning("ocpp.handshake.refused", reason="no supported subprotocol",
                offered=list(offered), supported=list(SUBPROTOCOLS),
                path=connection.request.path if connection.request else None)
    raise NegotiationError("no supported OCPP subprotocol; offer ocpp2.0.1 or ocpp1.6")


def _refuser(
    connection: ServerConnection, request: Request
) -> Callable[[HTTPStatus, str, str | None], Response]:
    def refuse(status: HTTPStatus, reason: str, station_id: str | None) -> Response:
        log.warning("ocpp.handshake.refused", reason=reason, station_id=station_id,
                    path=request.path, status=int(status))
        return connection.respond(status, reason + "\n")

    return refuse


def _peer(connection: ServerConnection) -> str:
    peer = connection.remote_address
    return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if header is None or not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None

