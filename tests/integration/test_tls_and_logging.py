"""Security profile 2 (TLS + Basic auth) and the per-message log events."""

from __future__ import annotations

import base64
import io
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import structlog
import trustme
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from csms import passwords
from csms.app import Csms, running
from csms.domain.model import RegistrationStatus
from csms.logs import configure_logging
from tests.conftest import make_settings
from tests.integration.test_server import BOOT_16, call, raw


@pytest.fixture
def certificates(tmp_path: Path) -> tuple[Path, Path, ssl.SSLContext]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    cert.private_key_pem.write_to_path(str(key_file))
    cert_file.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return cert_file, key_file, client


class TestSecurityProfile2:
    async def test_wss_with_basic_auth(
        self, database_url: str, certificates: tuple[Path, Path, ssl.SSLContext]
    ) -> None:
        """Profile 2: wss:// with the right password boots; without a password gets 401."""
        cert_file, key_file, client = certificates
        settings = make_settings(database_url, security_profile=2, tls_cert_file=cert_file,
                                 tls_key_file=key_file)
        async with running(settings) as app:
            await app.store.add_station("CP-TLS", RegistrationStatus.ACCEPTED,
                                        passwords.hash_password("tls-password-0123"))
            url = f"wss://127.0.0.1:{app.ocpp.port}/CP-TLS"
            auth = base64.b64encode(b"CP-TLS:tls-password-0123").decode()
            async with connect(url, ssl=client, subprotocols=[Subprotocol("ocpp1.6")],
                               additional_headers={"Authorization": f"Basic {auth}"}) as ws:
                await ws.send(orjson.dumps([2, "1", "BootNotification", BOOT_16]).decode())
                assert "Accepted" == orjson.loads(await ws.recv())[2]["status"]
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url, ssl=client, subprotocols=[Subprotocol("ocpp1.6")]):
                    pass
            assert 401 == refused.value.response.status_code

    async def test_profile_1_refuses_unknown_ids_even_when_accepting(
        self, database_url: str
    ) -> None:
        """Under profile 1 an unknown id has no password, so it is refused, not registered."""
        async with running(make_settings(database_url, security_profile=1)) as app:
            with pytest.raises(InvalidStatus):
                async with raw(app, "NEWCOMER"):
                    pass
            assert await app.store.get_station("NEWCOMER") is None


@pytest.fixture
def info_logs() -> Iterator[None]:
    """Let info events through (the suite runs at warning) for the duration of a test."""
    configure_logging("info", "json", stream=io.StringIO(), cache=False)
    yield
    configure_logging("warning", "json", stream=sys.__stderr__, cache=False)


class TestLogging:
    @pytest.mark.usefixtures("info_logs")
    async def test_one_event_per_message_in_and_out(self, csms: Csms) -> None:
        """Each CALL logs ocpp.call.received and ocpp.result.sent with station, action, id."""
        with structlog.testing.capture_logs() as logs:
            async with raw(csms, "CP-LOG") as ws:
                await call(ws, "Heartbeat", {}, "hb-1")
        received = [e for e in logs if e["event"] == "ocpp.call.received"]
        sent = [e for e in logs if e["event"] == "ocpp.result.sent"]
        assert [("CP-LOG", "Heartbeat", "hb-1")] == [
            (e["station_id"], e["action"], e["message_id"]) for e in received]
        assert ["CP-LOG"] == [e["station_id"] for e in sent]
        assert sent[0]["latency_ms"] >= 0
        assert sent[0]["error"] is None
