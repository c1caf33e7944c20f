"""Security profiles 2 and 3 on the wire: exactly the OCPP TLS 1.2 suites (and TLS 1.3) with an
RSA and an ECDSA certificate side by side, certificates reloaded without a restart, and client
certificates whose CN must be the charge point id (issue 15, parts 1 and 2)."""

from __future__ import annotations

import asyncio
import base64
import ssl
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import trustme
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidMessage, InvalidStatus
from websockets.typing import Subprotocol

from csms import passwords
from csms.app import Csms, running
from csms.config import load_settings
from csms.domain.model import RegistrationStatus
from csms.errors import ConfigError
from csms.handlers.tls import OCPP_TLS12_CIPHERS
from csms.store import tables as t
from tests.conftest import make_settings
from tests.integration.test_server import BOOT_16

REQUIRED = OCPP_TLS12_CIPHERS.split(":")
# With TLS 1.3 the server checks a client certificate after the client has finished its side
# of the handshake: the refusal is then an alert or a close before any HTTP answer.
TLS_REFUSED = (ssl.SSLError, ConnectionError, InvalidMessage)
WEAKER = ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA256", "AES128-SHA256",
          "AES128-SHA", "ECDHE-ECDSA-CHACHA20-POLY1305"]


@dataclass
class Pki:
    server_ca: trustme.CA
    client_ca: trustme.CA
    files: dict[str, Path]


def write_pair(cert: trustme.LeafCert, directory: Path, name: str) -> tuple[Path, Path]:
    cert_file, key_file = directory / f"{name}.pem", directory / f"{name}.key"
    cert_file.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(key_file))
    return cert_file, key_file


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    server_ca = trustme.CA(key_type=trustme.KeyType.RSA)
    rsa = server_ca.issue_cert("127.0.0.1", key_type=trustme.KeyType.RSA)
    ecdsa = server_ca.issue_cert("127.0.0.1", key_type=trustme.KeyType.ECDSA)
    client_ca = trustme.CA()
    files = {}
    files["rsa_cert"], files["rsa_key"] = write_pair(rsa, tmp_path, "rsa")
    files["ecdsa_cert"], files["ecdsa_key"] = write_pair(ecdsa, tmp_path, "ecdsa")
    files["client_ca"] = tmp_path / "client-ca.pem"
    client_ca.cert_pem.write_to_path(str(files["client_ca"]))
    return Pki(server_ca, client_ca, files)


def tls_settings(database_url: str, pki: Pki, profile: int = 2, **more: object) -> object:
    f = pki.files
    return make_settings(database_url, security_profile=profile, tls_cert_file=f["rsa_cert"],
                         tls_key_file=f["rsa_key"], tls_cert_file_2=f["ecdsa_cert"],
                         tls_key_file_2=f["ecdsa_key"], tls_client_ca_file=f["client_ca"],
                         **more)


def client_context(pki: Pki, *, ciphers: str | None = None,
                   version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    pki.server_ca.configure_trust(context)
    if version is not None:
        context.minimum_version = context.maximum_version = version
    if ciphers is not None:
        context.set_ciphers(ciphers)
    return context


async def handshake(port: int, context: ssl.SSLContext) -> tuple[str, str, bytes]:
    """(suite, protocol, DER of the server certificate) of one TLS handshake."""
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context,
                                              server_hostname="127.0.0.1")
    try:
        obj = writer.get_extra_info("ssl_object")
        cipher = obj.cipher()
        der = obj.getpeercert(binary_form=True)
        return cipher[0], cipher[1], der
    finally:
        writer.close()
        await writer.wait_closed()


class TestSuites:
    async def test_the_four_ocpp_suites_and_tls13_and_nothing_weaker(
            self, database_url: str, pki: Pki) -> None:
        async with running(tls_settings(database_url, pki)) as app:  # type: ignore[arg-type]
            port = app.ocpp.port
            seen = set()
            for suite in REQUIRED:
                name, protocol, der = await handshake(port, client_context(
                    pki, ciphers=suite, version=ssl.TLSVersion.TLSv1_2))
                assert (suite, "TLSv1.2") == (name, protocol)
                seen.add(der)
            assert 2 == len(seen)  # the ECDSA suites got the ECDSA certificate, RSA the RSA one
            for suite in WEAKER:  # an alert or a reset, never a session
                with pytest.raises((ssl.SSLError, ConnectionError)):
                    await handshake(port, client_context(pki, ciphers=suite,
                                                         version=ssl.TLSVersion.TLSv1_2))
            _, protocol, _ = await handshake(port, client_context(pki))
            assert "TLSv1.3" == protocol
            old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
            with warnings.catch_warnings():  # TLS 1.1 is deprecated: that is the point
                warnings.simplefilter("ignore", DeprecationWarning)
                old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
            old.set_ciphers("ALL:@SECLEVEL=0")
            with pytest.raises((ssl.SSLError, ConnectionError)):  # refused in the handshake
                await handshake(port, old)

    async def test_certificates_reload_without_a_restart(
            self, database_url: str, pki: Pki, tmp_path: Path) -> None:
        async with running(tls_settings(database_url, pki)) as app:  # type: ignore[arg-type]
            port = app.ocpp.port
            rsa = client_context(pki, ciphers="AES128-GCM-SHA256",
                                 version=ssl.TLSVersion.TLSv1_2)
            _, _, before = await handshake(port, rsa)
            renewed = pki.server_ca.issue_cert("127.0.0.1", key_type=trustme.KeyType.RSA)
            write_pair(renewed, tmp_path, "rsa")  # the configured files, replaced
            assert app.ocpp.reload_tls()
            _, _, after = await handshake(port, rsa)
            assert after != before
            assert after == renewed.cert_chain_pems[0].bytes() or after == ssl.PEM_cert_to_DER_cert(
                renewed.cert_chain_pems[0].bytes().decode())
            pki.files["rsa_key"].write_text("not a key")
            assert not app.ocpp.reload_tls()  # a bad file: logged, the old ones stay
            _, _, still = await handshake(port, rsa)
            assert still == after


def client_cert_context(pki: Pki, cert: trustme.LeafCert) -> ssl.SSLContext:
    context = client_context(pki)
    cert.configure_cert(context)
    return context


async def boots(app: Csms, station_id: str, context: ssl.SSLContext,
                headers: dict[str, str] | None = None) -> str:
    async with connect(f"wss://127.0.0.1:{app.ocpp.port}/{station_id}", ssl=context,
                       subprotocols=[Subprotocol("ocpp1.6")],
                       additional_headers=headers or {}) as ws:
        await ws.send(orjson.dumps([2, "1", "BootNotification", BOOT_16]).decode())
        return str(orjson.loads(await ws.recv())[2]["status"])


async def refused(app: Csms, station_id: str, context: ssl.SSLContext) -> int:
    with pytest.raises(InvalidStatus) as caught:
        await boots(app, station_id, context)
    return int(caught.value.response.status_code)


async def profile_of(app: Csms, station_id: str) -> int | None:
    cp = t.charge_points
    async with app.engine.connect() as conn:
        value = (await conn.execute(select(cp.c.security_profile).where(
            cp.c.id == station_id))).scalar_one()
    return None if value is None else int(value)


class TestProfile3:
    async def test_client_certificates(self, database_url: str, pki: Pki) -> None:
        """Valid with the id as CN: in, no password; wrong CN: 401; untrusted or expired:
        the TLS handshake fails."""
        async with running(tls_settings(database_url, pki, profile=3)) as app:  # type: ignore[arg-type]
            await app.store.add_station("CP-MTLS", RegistrationStatus.ACCEPTED)
            good = pki.client_ca.issue_cert("cp-mtls.example", common_name="CP-MTLS")
            assert "Accepted" == await boots(app, "CP-MTLS", client_cert_context(pki, good))
            other = pki.client_ca.issue_cert("cp-x.example", common_name="CP-OTHER")
            assert 401 == await refused(app, "CP-MTLS", client_cert_context(pki, other))
            assert 401 == await refused(app, "CP-MTLS", client_context(pki))  # no certificate
            stranger = trustme.CA().issue_cert("cp-mtls.example", common_name="CP-MTLS")
            with pytest.raises(TLS_REFUSED):
                await boots(app, "CP-MTLS", client_cert_context(pki, stranger))
            now = datetime.now(UTC)
            expired = pki.client_ca.issue_cert(
                "cp-mtls.example", common_name="CP-MTLS", not_before=now - timedelta(days=10),
                not_after=now - timedelta(days=1))
            with pytest.raises(TLS_REFUSED):
                await boots(app, "CP-MTLS", client_cert_context(pki, expired))

    async def test_a_charger_that_used_a_certificate_is_never_silently_moved_down(
            self, database_url: str, pki: Pki) -> None:
        """On a profile-2 server a charger may use a certificate; once it has, its password
        alone no longer lets it in, until an operator lowers its profile."""
        async with running(tls_settings(database_url, pki, profile=2)) as app:  # type: ignore[arg-type]
            await app.store.add_station("CP-UP", RegistrationStatus.ACCEPTED,
                                        passwords.hash_password("up-password-01234"))
            basic = {"Authorization": "Basic " + base64.b64encode(
                b"CP-UP:up-password-01234").decode()}
            assert "Accepted" == await boots(app, "CP-UP", client_context(pki), basic)
            assert await profile_of(app, "CP-UP") is None
            cert = pki.client_ca.issue_cert("cp-up.example", common_name="CP-UP")
            assert "Accepted" == await boots(app, "CP-UP", client_cert_context(pki, cert))
            assert 3 == await profile_of(app, "CP-UP")
            with pytest.raises(InvalidStatus) as caught:
                await boots(app, "CP-UP", client_context(pki), basic)
            assert 401 == caught.value.response.status_code
            await app.store.set_station("CP-UP", security_profile=2)  # the operator's PATCH
            assert "Accepted" == await boots(app, "CP-UP", client_context(pki), basic)


async def boots_plain(app: Csms, station_id: str, headers: dict[str, str]) -> str:
    async with connect(f"ws://127.0.0.1:{app.ocpp.port}/{station_id}",
                       subprotocols=[Subprotocol("ocpp1.6")], additional_headers=headers) as ws:
        await ws.send(orjson.dumps([2, "1", "BootNotification", BOOT_16]).decode())
        return str(orjson.loads(await ws.recv())[2]["status"])


class TestMovingUpToProfile2:
    async def test_a_tls_port_beside_the_plain_one_holds_a_charger_that_used_it(
            self, database_url: str, pki: Pki) -> None:
        """Profile 1 on ``port`` and TLS on ``tls_port`` (TC_083's upgrade path): once a
        charger has authenticated over TLS it is held to profile 2 (audited), so its password
        on the plain port is refused, until an operator lowers it."""
        f = pki.files
        settings = make_settings(database_url, security_profile=1, tls_port=0,
                                 tls_cert_file=f["rsa_cert"], tls_key_file=f["rsa_key"])
        basic = {"Authorization": "Basic " + base64.b64encode(
            b"CP-MOVE:move-password-0123").decode()}
        async with running(settings) as app:
            await app.store.add_station("CP-MOVE", RegistrationStatus.ACCEPTED,
                                        passwords.hash_password("move-password-0123"))
            assert "Accepted" == await boots_plain(app, "CP-MOVE", basic)
            assert await profile_of(app, "CP-MOVE") is None
            async with connect(f"wss://127.0.0.1:{app.ocpp.tls_port}/CP-MOVE",
                               ssl=client_context(pki), subprotocols=[Subprotocol("ocpp1.6")],
                               additional_headers=basic) as ws:
                await ws.send(orjson.dumps([2, "1", "BootNotification", BOOT_16]).decode())
                assert "Accepted" == orjson.loads(await ws.recv())[2]["status"]
            assert 2 == await profile_of(app, "CP-MOVE")
            async with app.engine.connect() as conn:
                raised = (await conn.execute(select(t.audit_log.c.details).where(
                    t.audit_log.c.action == "raise_security_profile"))).scalars().all()
            assert [2] == [d["security_profile"] for d in raised]
            with pytest.raises(InvalidStatus) as caught:
                await boots_plain(app, "CP-MOVE", basic)
            assert 401 == caught.value.response.status_code
            await app.store.set_station("CP-MOVE", security_profile=1)  # the operator's PATCH
            assert "Accepted" == await boots_plain(app, "CP-MOVE", basic)

    @pytest.mark.parametrize(("server", "message"), [
        ({"security_profile": 2, "tls_port": 9443}, "tls_port is only for security_profile"),
        ({"security_profile": 1, "tls_port": 9443}, "tls_port needs tls_cert_file"),
    ])
    def test_a_tls_port_where_it_cannot_work_is_refused(
            self, pki: Pki, server: dict[str, object], message: str) -> None:
        f = pki.files
        if server["security_profile"] == 2:
            server = {**server, "tls_cert_file": f["rsa_cert"], "tls_key_file": f["rsa_key"]}
        with pytest.raises(ConfigError, match=message) as caught:
            load_settings(None, server=server)
        assert "server" in str(caught.value)
