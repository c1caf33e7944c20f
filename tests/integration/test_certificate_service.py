"""The CA's refusals, the expiry watch with everyday numbers, offline chargers, the ISO 15118
responder and who may act, over real WebSockets with the simulator (both databases)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from csms.api.access import Role
from csms.api.tokens import new_token
from csms.app import Csms, running
from csms.config import CertificateSettings, Settings
from csms.domain.model import RegistrationStatus
from csms.security import ca_files
from csms.store import tables as t
from simulators.station import SimStation
from tests.conftest import eventually, make_settings, ocpp_url, until

T0 = datetime(2025, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    certificates = CertificateSettings(
        enabled=True, ca_key_file=tmp_path / "ca.key", ca_cert_file=tmp_path / "ca.pem",
        organization="Community Charging", validity_days=365, renew_before_days=30,
        ev_certificate_responses=tmp_path / "ev")
    ca_files.init(certificates, "Test CA", T0, 3650)
    (tmp_path / "ev").mkdir()
    return make_settings(database_url).model_copy(update={"certificates": certificates})


@pytest.fixture
async def csms(settings: Settings, clock: Clock) -> AsyncIterator[Csms]:
    async with running(settings, clock) as app:
        yield app


async def client(csms: Csms, role: Role) -> httpx.AsyncClient:
    secret, record = new_token(role, created_by="test", now=csms.stations.now())
    await csms.access.add_token(record)
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{csms.api_port}", timeout=30,
                             headers={"Authorization": f"Bearer {secret}"})


async def statuses(csms: Csms, station_id: str) -> list[str]:
    assert csms.certificates is not None
    return [r.status for r in await csms.certificates.store.list_issued(station_id)]


async def events(csms: Csms, station_id: str, kind: str) -> list[str | None]:
    e = t.station_events
    async with csms.engine.connect() as conn:
        rows = (await conn.execute(select(e.c.code).where(
            e.c.station_id == station_id, e.c.kind == kind))).scalars().all()
    return list(rows)


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_bad_csrs_are_rejected_and_recorded(csms: Csms, version: str) -> None:
    """A CSR with the wrong O: SignCertificate Rejected, a certificate_refused event, nothing
    issued; 2.0.1 V2GCertificate requests are Rejected too."""
    st = SimStation("CP-BAD", version, ocpp_url(csms))
    st.certificates.organization = "Somebody Else"
    async with st.running():
        await st.boot()
        assert "Rejected" == await st.certificates.request()
        if version == "ocpp2.0.1":
            st.certificates.organization = "Community Charging"
            answer = await st.call("SignCertificate", {
                "csr": st.certificates.csr_pem(), "certificateType": "V2GCertificate"})
            assert "Rejected" == answer["status"]
    assert [] == await statuses(csms, "CP-BAD")
    assert ["CsrRefused"] == (await events(csms, "CP-BAD", "certificate_refused"))[:1]


async def test_the_watch_renews_30_days_before_expiry_and_waits_for_offline_chargers(
        csms: Csms, clock: Clock) -> None:
    """365-day certificates, renew_before_days 30: not due on day 334, due on day 336; a
    charger offline then is asked at the first tick after it is back."""
    service = csms.certificates
    assert service is not None
    st = SimStation("CP-RENEW", "ocpp2.0.1", ocpp_url(csms))
    st.certificates.organization = "Community Charging"
    async with st.running():
        await st.boot()
        assert "Accepted" == await st.certificates.request()
        await eventually(lambda: statuses(csms, "CP-RENEW"), lambda s: s == ["installed"])
        clock.now = T0 + timedelta(days=334)
        assert [] == await service.tick()
    clock.now = T0 + timedelta(days=336)
    assert [] == await service.tick()  # offline: deferred, not marked
    async with st.running():
        await st.boot()
        assert ["CP-RENEW"] == await service.tick()
        await eventually(lambda: statuses(csms, "CP-RENEW"),
                         lambda s: s == ["superseded", "installed"])
        assert [] == await service.tick()


async def test_ev_certificate_answers_come_from_the_configured_directory(
        csms: Csms, settings: Settings) -> None:
    """A prepared answer for this exiRequest: Accepted with it; none: Failed NoResponse."""
    directory = settings.certificates.ev_certificate_responses
    assert directory is not None
    (directory / (hashlib.sha256(b"REQ1").hexdigest() + ".b64")).write_text("UkVTUDE=\n")
    st = SimStation("CP-EV", "ocpp2.0.1", ocpp_url(csms))
    async with st.running():
        await st.boot()
        request = {"iso15118SchemaVersion": "urn:iso:15118:2:2013", "action": "Install"}
        found = await st.call("Get15118EVCertificate", {**request, "exiRequest": "REQ1"})
        assert {"status": "Accepted", "exiResponse": "UkVTUDE="} == found
        missing = await st.call("Get15118EVCertificate", {**request, "exiRequest": "REQ2"})
        assert ("Failed", "NoResponse") == (missing["status"],
                                            missing["statusInfo"]["reasonCode"])
        other = await st.call("GetCertificateStatus", {"ocspRequestData": {
            "hashAlgorithm": "SHA256", "issuerNameHash": "00", "issuerKeyHash": "00",
            "serialNumber": "1", "responderURL": "http://ocsp.invalid/"}})
        assert ("Failed", "UnknownIssuer") == (other["status"],
                                               other["statusInfo"]["reasonCode"])


async def test_only_operators_and_admins_act(csms: Csms) -> None:
    """A district token may not revoke or install (403); an operator may; the CRL is
    readable."""
    await csms.store.add_station("CP-SCOPE", RegistrationStatus.ACCEPTED)
    async with await client(csms, Role.DISTRICT) as district:
        answer = await district.post("/charge-points/CP-SCOPE/certificates/revoke",
                                     json={"reason": "x"})
        assert 403 == answer.status_code
        assert 403 == (await district.post("/charge-points/CP-SCOPE/installed-certificates",
                                           json={})).status_code
    async with await client(csms, Role.OPERATOR) as operator:
        answer = await operator.post("/charge-points/CP-SCOPE/certificates/revoke",
                                     json={"reason": "x"})
        assert (200, []) == (answer.status_code, answer.json()["revoked"])
        offline = await operator.post("/charge-points/CP-SCOPE/certificates/request")
        assert 409 == offline.status_code
        assert "BEGIN X509 CRL" in (await operator.get("/certificates/crl")).text


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_revoking_on_one_node_closes_the_connection_on_the_other(
        settings: Settings, clock: Clock) -> None:
    """Node A revokes, node B holds the charger: B closes it (CloseConnection over the
    command bus) with the reason, and A's handshake check would refuse the certificate."""
    clustered = settings.model_copy(update={"cluster": settings.cluster.model_copy(
        update={"command_bus": "postgres", "claim_timeout_s": 1.0})})
    async with running(clustered, clock) as a, running(clustered, clock) as b:
        st = SimStation("CP-FAR", "ocpp2.0.1", ocpp_url(b))
        st.certificates.organization = "Community Charging"
        async with st.running():
            await st.boot()
            assert "Accepted" == await st.certificates.request()
            await eventually(lambda: statuses(b, "CP-FAR"), lambda s: s == ["installed"])
            assert a.certificates is not None
            serial = (await a.certificates.store.list_issued("CP-FAR"))[0].serial
            assert [serial] == await a.certificates.revoke("CP-FAR", None, "compromised",
                                                            "test")
            await until(lambda: not st.link.connected)
        assert await a.certificates.is_revoked(serial)
        assert ["certificate revoked: compromised"] == await events(
            a, "CP-FAR", "disconnected_by_csms")
