"""What a station does about firmware updates and log requests, both versions.

Rules:
1. UpdateFirmware / SignedUpdateFirmware is Accepted; at the retrieve date (simulated
   time; before it, DownloadScheduled where the version has it) the station downloads the
   file from the URL over HTTP(S) and reports Downloading, Downloaded (or DownloadFailed),
   SignatureVerified (signed updates), Installing (2.0.1: then InstallRebooting), then
   reboots: the connection closes, comes back, BootNotification carries the new firmware
   version, and the station reports Installed (or InstallationFailed, keeping the old one).
2. The new version is the file's first line after ``SIMFW `` (the test fixtures' format),
   else ``sha-<first 12 hex digits of its SHA-256>``.
3. :attr:`FileTransfers.fail_update` makes the next updates fail: ``"download"`` (the file
   is fetched, then reported DownloadFailed), ``"install"`` (InstallationFailed after
   Installing, no reboot) or ``"signature"`` (InvalidSignature; signed updates only).
4. GetDiagnostics / GetLog is answered with the file name; the station then uploads a text
   log to the URL (GetDiagnostics: POST multipart/form-data, as FTP-less 1.6 chargers do;
   GetLog: PUT raw) and reports Uploading, then Uploaded or the failure.
5. Plain 1.6 messages (FirmwareStatusNotification, DiagnosticsStatusNotification) carry no
   requestId; the security extension's and 2.0.1's do.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from csms.handlers.ocppj import OcppVersion
from csms.handlers.timefmt import parse_time

if TYPE_CHECKING:
    from csms.handlers.rpc import Handler
    from simulators.protocol.link import Work
    from simulators.station import SimStation

Payload = dict[str, Any]
FIRMWARE_FAULTS = ("download", "install", "signature")  # rule 3


@dataclass(frozen=True, slots=True)
class UpdateRequest:
    location: str
    retrieve_at: datetime
    request_id: int | None  # None: plain 1.6
    signed: bool
    extension: bool  # 1.6 security extension message names


@dataclass(frozen=True, slots=True)
class LogRequest:
    location: str
    request_id: int | None
    kind: str  # DiagnosticsLog / SecurityLog
    legacy: bool  # 1.6 GetDiagnostics


class FileTransfers:
    """Firmware updates and log uploads of one :class:`SimStation` (module rules)."""

    def __init__(self, station: SimStation) -> None:
        self._st = station
        self.fail_update: str | None = None
        self.downloads: list[bytes] = []  # what was downloaded
        self.uploads: list[bytes] = []  # what was uploaded
        self._after_boot: Payload | None = None
        # what a triggered status notification reports: (status, request) while busy
        self._firmware_now: tuple[str, UpdateRequest] | None = None
        self._log_now: tuple[str, LogRequest] | None = None
        self._rebooted = station.link.on_rebooted
        station.link.on_rebooted = self._on_rebooted

    # --- firmware
    def update_firmware(self, request: UpdateRequest) -> str:
        """Accepted; the update runs once the answer is sent (rule 1)."""
        self._st.link.after_answer("firmware", lambda: self._update(request))
        return "Accepted"

    async def _update(self, request: UpdateRequest) -> None:
        st = self._st
        if request.request_id is not None and request.retrieve_at > st.clock.now():
            await self._firmware_status(request, "DownloadScheduled")  # 1.6 plain: no such
        await st.clock.sleep_until(request.retrieve_at)
        await self._firmware_status(request, "Downloading")
        try:
            async with httpx.AsyncClient(timeout=30) as http:
                answer = await http.get(request.location)
            answer.raise_for_status()
        except httpx.HTTPError as exc:
            st.log.warning("sim.firmware.download_failed", error=repr(exc))
            await self._firmware_status(request, "DownloadFailed")
            return
        data = answer.content
        self.downloads.append(data)
        if self.fail_update == "download":
            await self._firmware_status(request, "DownloadFailed")
            return
        await self._firmware_status(request, "Downloaded")
        if request.signed:
            if self.fail_update == "signature":
                await self._firmware_status(request, "InvalidSignature")
                return
            await self._firmware_status(request, "SignatureVerified")
        await self._firmware_status(request, "Installing")
        if self.fail_update == "install":
            await self._firmware_status(request, "InstallationFailed")
            return
        if st.version is OcppVersion.V201:
            await self._firmware_status(request, "InstallRebooting")
        st.identity = dataclasses.replace(st.identity, firmware=new_version(data))
        self._after_boot = self._firmware_payload(request, "Installed")
        st.log.info("sim.firmware.installed", version=st.identity.firmware)
        await st.reboot("FirmwareUpdate")

    async def _on_rebooted(self) -> None:
        if self._rebooted is not None:
            await self._rebooted()
        pending, self._after_boot = self._after_boot, None
        if pending is not None:
            self._firmware_now = None
            action = pending.pop("_action")
            await self._st.call(action, pending)

    def _firmware_payload(self, request: UpdateRequest, status: str) -> Payload:
        if request.request_id is None:
            return {"_action": "FirmwareStatusNotification", "status": status}
        action = ("SignedFirmwareStatusNotification" if request.extension
                  else "FirmwareStatusNotification")
        return {"_action": action, "status": status, "requestId": request.request_id}

    async def _firmware_status(self, request: UpdateRequest, status: str) -> None:
        final = status in {"DownloadFailed", "InstallationFailed", "InvalidSignature"}
        self._firmware_now = None if final else (status, request)
        payload = self._firmware_payload(request, status)
        await self._st.call(payload.pop("_action"), payload)

    # --- logs
    def get_log(self, request: LogRequest) -> str:
        """The file name the station will upload; the upload runs after the answer."""
        name = f"{self._st.station_id}-{request.kind}-{request.request_id or 'diag'}.log"
        self._st.link.after_answer("log-upload", lambda: self._upload(request, name))
        return name

    async def _upload(self, request: LogRequest, name: str) -> None:
        await self._log_status(request, "Uploading")
        content = self._log_text(request).encode()
        try:
            async with httpx.AsyncClient(timeout=30) as http:
                if request.legacy:
                    answer = await http.post(request.location, files={
                        "file": (name, content, "text/plain")})
                else:
                    answer = await http.put(request.location, content=content,
                                            headers={"Content-Type": "text/plain"})
            answer.raise_for_status()
        except httpx.HTTPError as exc:
            self._st.log.warning("sim.log.upload_failed", error=repr(exc))
            await self._log_status(request, "UploadFailed" if request.legacy
                                   else "UploadFailure")
            return
        self.uploads.append(content)
        await self._log_status(request, "Uploaded")

    def _log_text(self, request: LogRequest) -> str:
        st = self._st
        lines = [f"{st.station_id} {request.kind} firmware {st.identity.firmware}",
                 f"at {st.timestamp()}"]
        lines += [f"received {action}" for action, _ in st.received[-50:]]
        return "\n".join(lines) + "\n"

    async def _log_status(self, request: LogRequest, status: str) -> None:
        self._log_now = (status, request) if status == "Uploading" else None
        if request.legacy:
            await self._st.call("DiagnosticsStatusNotification", {"status": status})
            return
        payload: Payload = {"status": status}
        if request.request_id is not None:
            payload["requestId"] = request.request_id
        await self._st.call("LogStatusNotification", payload)


    def triggered(self, message: str) -> Work | None:
        """TriggerMessage of a firmware or log status: what runs now (Idle when nothing
        does, without a requestId), or None for other messages."""
        if message == "FirmwareStatusNotification":
            busy = self._firmware_now

            async def firmware() -> None:
                if busy is None:
                    await self._st.call(message, {"status": "Idle"})
                else:
                    payload = self._firmware_payload(busy[1], busy[0])
                    await self._st.call(payload.pop("_action"), payload)

            return firmware
        if message in ("DiagnosticsStatusNotification", "LogStatusNotification"):
            uploading = self._log_now

            async def logs() -> None:
                if uploading is None:
                    await self._st.call(message, {"status": "Idle"})
                else:
                    await self._log_status(uploading[1], uploading[0])

            return logs
        return None


def new_version(data: bytes) -> str:
    """The firmware version a downloaded file installs (rule 2)."""
    first = data.split(b"\n", 1)[0]
    if first.startswith(b"SIMFW "):
        return first[6:].strip().decode("utf-8", "replace")[:50] or "unknown"
    return f"sha-{hashlib.sha256(data).hexdigest()[:12]}"


def update_request(p: Payload, *, version: OcppVersion, signed_message: bool) -> UpdateRequest:
    """The neutral request of a 1.6 UpdateFirmware / SignedUpdateFirmware or 2.0.1
    UpdateFirmware payload."""
    if version is OcppVersion.V16 and not signed_message:
        return UpdateRequest(p["location"], parse_time(p["retrieveDate"]), None, False, False)
    firmware = p["firmware"]
    signed = "signature" in firmware and "signingCertificate" in firmware
    return UpdateRequest(firmware["location"], parse_time(firmware["retrieveDateTime"]),
                         p["requestId"], signed, version is OcppVersion.V16)


def log_request(p: Payload, *, legacy: bool) -> LogRequest:
    """The neutral request of a GetDiagnostics (``legacy``) or GetLog payload."""
    if legacy:
        return LogRequest(p["location"], None, "DiagnosticsLog", True)
    return LogRequest(p["log"]["remoteLocation"], p["requestId"], p["logType"], False)


def v16_handlers(files: FileTransfers) -> dict[str, Handler]:
    """UpdateFirmware, GetDiagnostics and the security extension's SignedUpdateFirmware and
    GetLog."""
    v16 = OcppVersion.V16

    async def update(p: Payload) -> Payload:
        files.update_firmware(update_request(p, version=v16, signed_message=False))
        return {}

    async def signed_update(p: Payload) -> Payload:
        request = update_request(p, version=v16, signed_message=True)
        return {"status": files.update_firmware(request)}

    async def diagnostics(p: Payload) -> Payload:
        return {"fileName": files.get_log(log_request(p, legacy=True))}

    async def get_log(p: Payload) -> Payload:
        return {"status": "Accepted", "filename": files.get_log(log_request(p, legacy=False))}

    return {"UpdateFirmware": update, "SignedUpdateFirmware": signed_update,
            "GetDiagnostics": diagnostics, "GetLog": get_log}


def v201_handlers(files: FileTransfers) -> dict[str, Handler]:
    """UpdateFirmware and GetLog."""

    async def update(p: Payload) -> Payload:
        request = update_request(p, version=OcppVersion.V201, signed_message=True)
        return {"status": files.update_firmware(request)}

    async def get_log(p: Payload) -> Payload:
        return {"status": "Accepted", "filename": files.get_log(log_request(p, legacy=False))}

    return {"UpdateFirmware": update, "GetLog": get_log}
