"""A charger's whole certificate life, both versions, both databases, real TLS WebSockets and
HTTP: CSR -> signed -> CA installed -> profile 3 with that certificate -> renewed before
expiry (the expiry watch on the injected clock) -> revoked -> refused at the handshake.

Fixed instants: the CA and the first certificate are made at 2024-01-01 and the renewal
happens at 2025-02-04 (fake clock), with a validity long enough (100 years) that OpenSSL,
which checks validity against the real clock, accepts every certificate in the test; the
renewal window (``renew_before_days``) is set so the watch finds the first certificate due
at the second instant and not at the first.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from cryptography import x509
from cryptography.x509 import ocsp as x509_ocsp
from websockets.exceptions import InvalidStatus

from csms import passwords
from csms.api.access import Role
from csms.api.tokens import new_token
from csms.app import Csms, running
from csms.config import CertificateSettings, Settings
from csms.domain.model import RegistrationStatus
from csms.security import ca, ca_files
from simulators.station import SimStation
from tests.conftest import eventually, make_settings, until
from tests.integration.test_security_tls import profile_of, write_pair

VERSIONS = ["ocpp1.6", "ocpp2.0.1"]
T0 = datetime(2024, 1, 1, tzinfo=UTC)
RENEWAL_AT = T0 + timedelta(days=400)
VALIDITY_DAYS = 36500
ORG = "Community Charging"
PASSWORD = "cert-life-password-0123"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Pki:
    def __init__(self, tmp_path: Path) -> None:
        self.server_ca = trustme.CA()
        self.server_ca_file = tmp_path / "server-ca.pem"
        self.server_ca.cert_pem.write_to_path(str(self.server_ca_file))
        self.cert, self.key = write_pair(self.server_ca.issue_cert("127.0.0.1"), tmp_path,
                                         "server")
        self.certificates = CertificateSettings(
            enabled=True, ca_key_file=tmp_path / "ca.key", ca_cert_file=tmp_path / "ca.pem",
            organization=ORG, validity_days=VALIDITY_DAYS,
            renew_before_days=VALIDITY_DAYS - 365, crl_file=tmp_path / "crl.pem")
        self.authority = ca_files.init(self.certificates, "Test CSMS CA", T0, VALIDITY_DAYS)

    def server_only(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.server_ca.configure_trust(context)
        return context


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def settings(database_url: str, pki: Pki) -> Settings:
    base = make_settings(database_url, security_profile=2, tls_cert_file=pki.cert,
                         tls_key_file=pki.key,
                         tls_client_ca_file=pki.certificates.ca_cert_file)
    return base.model_copy(update={"certificates": pki.certificates})


@pytest.fixture
async def csms(settings: Settings, clock: Clock) -> AsyncIterator[Csms]:
    async with running(settings, clock) as app:
        yield app


@pytest.fixture
async def api(csms: Csms) -> AsyncIterator[httpx.AsyncClient]:
    secret, record = new_token(Role.OPERATOR, created_by="test", now=csms.stations.now())
    await csms.access.add_token(record)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{csms.api_port}", timeout=30,
                                 headers={"Authorization": f"Bearer {secret}"}) as client:
        yield client


async def ok(answer: httpx.Response, code: int = 200) -> Any:
    assert code == answer.status_code, answer.text
    return answer.json()


async def issued(api: httpx.AsyncClient, station_id: str) -> list[dict[str, Any]]:
    return list(await ok(await api.get(f"/charge-points/{station_id}/certificates")))


def newest_installed(count: int) -> Any:
    return lambda rows: len(rows) == count and rows[-1]["status"] == "installed"


async def sign_and_install_ca(api: httpx.AsyncClient, csms: Csms, st: SimStation,
                              station_id: str) -> dict[str, Any]:
    """CSR -> CertificateSigned, then our CA into the charger's trust store (and out and
    in again, through DeleteCertificate)."""
    answer = await ok(await api.post(f"/charge-points/{station_id}/certificates/request"))
    assert "Accepted" == answer["status"]
    rows = await eventually(lambda: issued(api, station_id), newest_installed(1))
    first: dict[str, Any] = rows[0]
    assert st.certificates.certificate_pem == first["pem"]
    assert (station_id, "ChargingStationCertificate") == (first["common_name"],
                                                          first["certificate_type"])
    leaf = x509.load_pem_x509_certificate(first["pem"].encode())
    leaf.verify_directly_issued_by(csms.certificates.authority.certificate)  # type: ignore[union-attr]
    path = f"/charge-points/{station_id}/installed-certificates"
    assert "Accepted" == (await ok(await api.post(path, json={}), 200))["status"]
    stored = await ok(await api.get(path))
    ours = ca.hash_data(csms.certificates.authority.certificate)  # type: ignore[union-attr]
    assert [("CSMSRootCertificate", ours.serial_number, ours.issuer_key_hash)] == [
        (s["use"], s["serial_number"], s["issuer_key_hash"]) for s in stored]
    target = {k: stored[0][k] for k in ("hash_algorithm", "issuer_name_hash",
                                        "issuer_key_hash", "serial_number")}
    assert "Accepted" == (await ok(await api.post(f"{path}/delete", json=target)))["status"]
    assert [] == await ok(await api.get(path))
    assert [] == st.certificates.installed["CSMSRootCertificate"]
    assert "Accepted" == (await ok(await api.post(path, json={})))["status"]
    assert 1 == len(await ok(await api.get(path)))
    return first


async def check_ocsp(st: SimStation, pem: str, authority: ca.Authority,
                     expected: x509_ocsp.OCSPCertStatus) -> None:
    """2.0.1 GetCertificateStatus is answered by our local responder."""
    data = ca.hash_data(x509.load_pem_x509_certificate(pem.encode()), authority.certificate)
    answer = await st.call("GetCertificateStatus", {"ocspRequestData": {
        "hashAlgorithm": "SHA256", "issuerNameHash": data.issuer_name_hash,
        "issuerKeyHash": data.issuer_key_hash, "serialNumber": data.serial_number,
        "responderURL": "http://ocsp.invalid/"}})
    assert "Accepted" == answer["status"]
    response = x509_ocsp.load_der_ocsp_response(base64.b64decode(answer["ocspResult"]))
    assert expected == response.certificate_status
    ev = await st.call("Get15118EVCertificate", {"iso15118SchemaVersion": "urn:iso:15118:2:2013",
                                                 "action": "Install", "exiRequest": "AAAA"})
    assert ("Failed", "NoResponder") == (ev["status"], ev["statusInfo"]["reasonCode"])


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_chargers_certificate_life(csms: Csms, api: httpx.AsyncClient, pki: Pki,
                                           clock: Clock, version: str) -> None:
    """Signed, installed, used for profile 3, renewed before expiry, revoked, refused."""
    station_id = f"CP-CERT-{version[-3:].replace('.', '')}"
    await csms.store.add_station(station_id, RegistrationStatus.ACCEPTED,
                                 passwords.hash_password(PASSWORD))
    url = f"wss://127.0.0.1:{csms.ocpp.port}/"
    st = SimStation(station_id, version, url, password=PASSWORD)
    st.certificates.organization = ORG
    st.link.ssl = pki.server_only()
    async with st.running():  # profile 2: TLS and a password
        assert "Accepted" == await st.boot()
        first = await sign_and_install_ca(api, csms, st, station_id)
    assert await profile_of(csms, station_id) is None

    st.link.password = None  # profile 3: the certificate alone
    st.link.ssl = st.certificates.tls_context(pki.server_ca_file)
    async with st.running():
        assert "Accepted" == await st.boot()
        assert 3 == await profile_of(csms, station_id)
        if version == "ocpp2.0.1":
            await check_ocsp(st, first["pem"], pki.authority, x509_ocsp.OCSPCertStatus.GOOD)
        service = csms.certificates
        assert service is not None
        assert [] == await service.tick()  # at T0 nothing is due
        clock.now = RENEWAL_AT
        assert [station_id] == await service.tick()
        rows = await eventually(lambda: issued(api, station_id), newest_installed(2))
        assert ["superseded", "installed"] == [r["status"] for r in rows]
        renewed = rows[1]
        assert RENEWAL_AT - timedelta(minutes=5) == datetime.fromisoformat(
            renewed["not_before"])
        assert rows[0]["renewal_requested_at"] is not None
        assert [] == await service.tick()  # asked once; the new one is not due
    assert st.certificates.certificate_pem == renewed["pem"]
    st.link.ssl, st.link.password = pki.server_only(), PASSWORD
    with pytest.raises(InvalidStatus) as password_only:  # held to profile 3 now
        async with st.running():
            pass
    assert 401 == password_only.value.response.status_code
    st.link.password = None

    st.link.ssl = st.certificates.tls_context(pki.server_ca_file)  # the renewed certificate
    async with st.running():
        assert "Accepted" == await st.boot()
        revoked = await ok(await api.post(f"/charge-points/{station_id}/certificates/revoke",
                                          json={"reason": "charger stolen"}))
        assert {first["serial"], renewed["serial"]} == set(revoked["revoked"])
        await until(lambda: not st.link.connected)  # its open connection was closed
    with pytest.raises(InvalidStatus) as refused:
        async with st.running():
            pass
    assert 403 == refused.value.response.status_code

    crl = x509.load_pem_x509_crl((await api.get("/certificates/crl")).text.encode())
    assert crl.get_revoked_certificate_by_serial_number(int(renewed["serial"], 16))
    on_disk = x509.load_pem_x509_crl(pki.certificates.crl_file.read_bytes())  # type: ignore[union-attr]
    assert 2 == len(list(on_disk))
    rows = await issued(api, station_id)
    assert [("revoked", "charger stolen")] * 2 == [(r["status"], r["revoked_reason"])
                                                   for r in rows]
