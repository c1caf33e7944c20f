"""Firmware and log status notifications, handed to the services that track them."""

from __future__ import annotations

from csms.services.files.firmware import FirmwareService
from csms.services.files.logs import LogService


class FileStatus:
    """csms.services.stations.FileHooks over the firmware and log services."""

    def __init__(self, firmware: FirmwareService, logs: LogService) -> None:
        self._firmware = firmware
        self._logs = logs

    async def firmware_status(self, station_id: str, request_id: int | None,
                              status: str) -> None:
        await self._firmware.status_reported(station_id, request_id, status)

    async def log_status(self, station_id: str, request_id: int | None, status: str) -> None:
        await self._logs.status_reported(station_id, request_id, status)
