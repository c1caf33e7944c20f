"""The simulator's firmware updates and log uploads against the loopback CSMS and a small
HTTP server: the statuses in order, the download at the retrieve date (simulated time),
the reboot with the new version, the upload's body."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest

from csms.handlers.ocppj import OcppVersion
from csms.handlers.timefmt import format_time
from simulators.clock import SimClock
from simulators.protocol.loopback import station_on_loopback

IMAGE = b"SIMFW sim-9.9\nbinary\x00\xff"
START = datetime(2027, 1, 31, 15, 59, 50, tzinfo=UTC)


class TinyHttp:
    """GET answers IMAGE (404 for /missing); PUT/POST bodies are kept."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes]] = []
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        method, path = head.split(b" ", 2)[:2]
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        body = await reader.readexactly(length)
        self.requests.append((f"{method.decode()} {path.decode()}", body))
        if method == b"GET":
            status, out = (b"404 Not Found", b"") if path == b"/missing" else (b"200 OK", IMAGE)
        else:
            status, out = b"201 Created", b""
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: "
                     + str(len(out)).encode() + b"\r\nConnection: close\r\n\r\n" + out)
        await writer.drain()
        writer.close()


@asynccontextmanager
async def tiny_http() -> AsyncIterator[TinyHttp]:
    http = TinyHttp()
    server = await asyncio.start_server(http.handle, "127.0.0.1", 0)
    http.port = server.sockets[0].getsockname()[1]
    async with server:
        yield http


async def test_a_2_0_1_update_waits_for_its_retrieve_date_and_reboots_into_it() -> None:
    clock = SimClock(speed=3600.0, start=START)  # an hour a second
    async with tiny_http() as http, station_on_loopback(
            OcppVersion.V201, clock=clock, reboot_delay_s=1.0) as (csms, _):
        retrieve = START + timedelta(minutes=30)
        answer = await csms.call("CP-1", "UpdateFirmware", {"requestId": 4, "firmware": {
            "location": f"http://127.0.0.1:{http.port}/fw.bin",
            "retrieveDateTime": format_time(retrieve)}})
        assert {"status": "Accepted"} == answer
        await csms.wait_for("CP-1", "BootNotification", count=2)
        statuses = await csms.wait_for("CP-1", "FirmwareStatusNotification", count=6)
        assert clock.now() >= retrieve
    assert [("DownloadScheduled", 4), ("Downloading", 4), ("Downloaded", 4),
            ("Installing", 4), ("InstallRebooting", 4), ("Installed", 4)] == [
        (s["status"], s["requestId"]) for s in statuses]
    assert "sim-9.9" == csms.messages("CP-1", "BootNotification")[-1][
        "chargingStation"]["firmwareVersion"]
    assert [("GET /fw.bin", b"")] == http.requests


@pytest.mark.parametrize(("fault", "last"), [("install", "InstallationFailed"),
                                             ("download", "DownloadFailed")])
async def test_a_plain_1_6_update_that_fails(fault: str, last: str) -> None:
    async with tiny_http() as http, station_on_loopback(OcppVersion.V16) as (csms, st):
        st.files.fail_update = fault
        answer = await csms.call("CP-1", "UpdateFirmware", {
            "location": f"http://127.0.0.1:{http.port}/fw.bin",
            "retrieveDate": format_time(st.clock.now())})
        assert {} == answer
        await st.settle()
        statuses = [s["status"] for s in csms.messages("CP-1", "FirmwareStatusNotification")]
    assert last == statuses[-1]
    assert all("requestId" not in s for s in csms.messages("CP-1",
                                                            "FirmwareStatusNotification"))
    assert "sim-0.1" == st.identity.firmware


async def test_a_missing_file_is_download_failed() -> None:
    async with tiny_http() as http, station_on_loopback(OcppVersion.V16) as (csms, st):
        await csms.call("CP-1", "SignedUpdateFirmware", {"requestId": 2, "firmware": {
            "location": f"http://127.0.0.1:{http.port}/missing",
            "retrieveDateTime": format_time(st.clock.now()), "signingCertificate": "PEM",
            "signature": "c2ln"}})
        await st.settle()
        statuses = csms.messages("CP-1", "SignedFirmwareStatusNotification")
    assert [("Downloading", 2), ("DownloadFailed", 2)] == [
        (s["status"], s["requestId"]) for s in statuses]


async def test_get_diagnostics_posts_multipart_and_get_log_puts_raw() -> None:
    async with tiny_http() as http, station_on_loopback(OcppVersion.V16) as (csms, st):
        name = (await csms.call("CP-1", "GetDiagnostics", {
            "location": f"http://127.0.0.1:{http.port}/up/a"}))["fileName"]
        await st.settle()
        answer = await csms.call("CP-1", "GetLog", {
            "logType": "SecurityLog", "requestId": 3,
            "log": {"remoteLocation": f"http://127.0.0.1:{http.port}/up/b"}})
        await st.settle()
    [(first, multipart), (second, raw)] = http.requests
    assert ("POST /up/a", "PUT /up/b") == (first, second)
    assert name.encode() in multipart
    assert b"CP-1 DiagnosticsLog" in multipart
    assert raw.startswith(b"CP-1 SecurityLog")
    assert ("Accepted", [{"status": "Uploading"}, {"status": "Uploaded"}]) == (
        answer["status"], csms.messages("CP-1", "DiagnosticsStatusNotification"))
    assert [{"status": "Uploading", "requestId": 3}, {"status": "Uploaded", "requestId": 3}] \
        == csms.messages("CP-1", "LogStatusNotification")
